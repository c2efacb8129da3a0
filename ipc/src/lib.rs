//! Messages between processes: Python's `multiprocessing` queues and
//! connections.
//!
//! | Python | here |
//! |---|---|

mod connection;
mod error;
mod listener;
pub mod queue;
mod wait;

pub use connection::{Connection, DEFAULT_MAX_MESSAGE_SIZE, pipe};
pub use error::Error;
pub use listener::{Address, Client, Listener};
pub use queue::{
    DEFAULT_RING_BYTES, JoinableQueue, MAX_MAXSIZE, MAX_RING_BYTES, MIN_RING_BYTES, Queue,
    QueueBuilder, SimpleQueue,
};
pub use wait::{Waitable, wait};
