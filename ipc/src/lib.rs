//! Messages between processes: Python's `multiprocessing` queues and
//! connections.
//!
//! | Python | here |
//! |---|---|

mod error;

pub use error::Error;
