//! Messages between processes: Python's `multiprocessing` queues and
//! connections.
//!
//! | Python | here |
//! |---|---|

mod connection;
mod error;
mod listener;
mod wait;

pub use connection::{Connection, DEFAULT_MAX_MESSAGE_SIZE, pipe};
pub use error::Error;
pub use listener::{Address, Client, Listener};
pub use wait::{Waitable, wait};
