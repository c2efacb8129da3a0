//! Messages between processes: Python's `multiprocessing` queues and
//! connections.
//!
//! | Python | here |
//! |---|---|

mod error;
mod wait;

pub use error::Error;
pub use wait::{Waitable, wait};
