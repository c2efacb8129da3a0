//! The crate's error type, and [`PutError`], which hands a rejected item back.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Everything that can go wrong in this crate.
///
/// The variants mirror Python's exceptions where there is one: [`Error::Empty`]
/// and [`Error::Full`] are `queue.Empty` and `queue.Full`, [`Error::ShutDown`] is
/// `queue.ShutDown`, [`Error::Cancelled`] is `concurrent.futures.CancelledError`,
/// [`Error::TimedOut`] is `TimeoutError`. A panic in a thread's target or a pool
/// task comes back as [`Error::Panicked`], carrying the panic message.
///
/// ```
/// use mp_threads::{Error, Thread};
///
/// let handle = Thread::new(|| -> u32 { panic!("no luck") }, ()).start()?;
/// match handle.join() {
///     Err(Error::Panicked { message, .. }) => assert_eq!(message, "no luck"),
///     other => panic!("expected a panic, got {other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused to start a thread (Python: "can't start new thread").
    #[error(
        "cannot start thread {name:?}: {source}; the system is out of threads or memory, end some threads"
    )]
    Spawn {
        /// The name the thread would have had.
        name: String,
        /// The OS error.
        #[source]
        source: Arc<io::Error>,
    },
    /// A thread's target, a pool task or a timer's function panicked.
    ///
    /// A thread's or a timer's panic is also printed to stderr when it happens, as
    /// Python's `threading.excepthook` prints; a pool task's is not: it is kept here for
    /// whoever asks for the result, as `concurrent.futures` keeps a task's exception.
    #[error("thread {thread:?} panicked: {message}")]
    Panicked {
        /// The name of the thread the panic happened on.
        thread: String,
        /// The panic message (`&str` and `String` payloads; other payloads are described).
        message: String,
        /// Where the panic happened (`file:line:column`), when known.
        location: Option<String>,
        /// The backtrace, when `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`) asked for one.
        backtrace: Option<String>,
    },
    /// A timed wait ended before the thing waited for happened; it goes on.
    #[error("timed out; the thread or task goes on, wait again or give up on it")]
    TimedOut,
    /// The value was already taken by an earlier successful `join_timeout` or `result_timeout`.
    #[error(
        "the result was already taken by an earlier join or result; keep it from the first call"
    )]
    AlreadyTaken,
    /// A thread tried to join itself, which would wait forever.
    #[error("cannot join the current thread: it would wait for ever; join it from another thread")]
    JoinCurrentThread,
    /// The future was cancelled before it started (Python's `CancelledError`).
    #[error("the task was cancelled before it started; submit it again to run it")]
    Cancelled,
    /// An argument out of range, such as a [`ThreadPool`](crate::ThreadPool) of zero
    /// workers.
    #[error("invalid argument {argument}: {requirement}")]
    InvalidArgument {
        /// The argument (or option) at fault.
        argument: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
    /// A task was submitted to a pool that is shut down.
    #[error("the pool is closed: no new tasks can be submitted; create a new ThreadPool")]
    PoolClosed,
    /// A non-blocking or timed `get` found the queue empty (Python's `queue.Empty`).
    #[error("the queue is empty; wait with get() or get_timeout()")]
    Empty,
    /// A non-blocking or timed `put` found the queue full (Python's `queue.Full`).
    #[error("the queue is full; wait with put() or put_timeout()")]
    Full,
    /// The queue was shut down (Python 3.13's `queue.ShutDown`).
    #[error("the queue is shut down; no more items go in, and none come out once it is empty")]
    ShutDown,
    /// `task_done` was called more times than items were put.
    #[error("task_done() called too many times; call it once per item taken")]
    TaskDoneTooManyTimes,
}

impl Error {
    pub(crate) fn spawn(name: &str, source: io::Error) -> Self {
        Error::Spawn {
            name: name.to_owned(),
            source: Arc::new(source),
        }
    }
}

/// A `put` that did not happen, with the item handed back.
///
/// Blocking `put` only fails with [`PutError::ShutDown`]; `try_put` and
/// `put_timeout` also fail with [`PutError::Full`].
///
/// ```
/// use mp_threads::{PutError, Queue};
///
/// let queue = Queue::with_maxsize(1);
/// queue.put("first")?;
/// match queue.try_put("second") {
///     Err(PutError::Full(item)) => assert_eq!(item, "second"),
///     other => panic!("expected Full, got {other:?}"),
/// }
/// # Ok::<(), PutError<&str>>(())
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum PutError<T> {
    /// The queue stayed full (Python's `queue.Full`).
    Full(T),
    /// The queue is shut down (Python's `queue.ShutDown`).
    ShutDown(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    ///
    /// ```
    /// use mp_threads::PutError;
    ///
    /// assert_eq!(PutError::Full(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::ShutDown(item) => item,
        }
    }
}

// Debug without requiring `T: Debug`, so `?` and `unwrap` work for any item type.
impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("the queue is full; wait with put() or put_timeout()"),
            PutError::ShutDown(_) => f.write_str(
                "the queue is shut down; no more items go in, and none come out once it is empty",
            ),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

impl Error {
    /// The error for a panic caught on the thread named `thread`.
    pub(crate) fn panicked(thread: String, caught: mp_sys::panic::CaughtPanic) -> Self {
        Error::Panicked {
            thread,
            message: caught.message,
            location: caught.location,
            backtrace: caught.backtrace,
        }
    }
}

impl<T> From<PutError<T>> for Error {
    /// Drops the item and keeps the reason.
    fn from(error: PutError<T>) -> Self {
        match error {
            PutError::Full(_) => Error::Full,
            PutError::ShutDown(_) => Error::ShutDown,
        }
    }
}
