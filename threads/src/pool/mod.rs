//! Python's `concurrent.futures` for threads: [`ThreadPool`], [`Future`],
//! [`wait`], [`as_completed`].

pub(crate) mod future;
#[cfg(feature = "async")]
pub(crate) mod into_future;
pub(crate) mod map;
pub(crate) mod task;
pub(crate) mod thread_pool;
pub(crate) mod wait;
