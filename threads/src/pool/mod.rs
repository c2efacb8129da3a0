//! Python's `concurrent.futures` for threads: [`ThreadPool`], [`Future`],
//! [`wait`], [`as_completed`].

mod executor;
pub(crate) mod future;
pub(crate) mod map;
pub(crate) mod task;
pub(crate) mod thread_pool;
