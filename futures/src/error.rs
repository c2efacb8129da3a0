//! [`TaskError`]: what a future needs from its executor's error type.

/// The outcomes every executor's error must be able to say, so that one [`Future`]
/// serves them all.
///
/// mp-threads' and mp-processes' `Error` implement it; so does an executor of your own.
///
/// ```
/// use mp_futures::{Promise, TaskError};
///
/// #[derive(Clone, Debug, PartialEq)]
/// enum MyError {
///     Cancelled,
///     TimedOut,
///     AlreadyTaken,
///     Lost,
/// }
///
/// impl TaskError for MyError {
///     fn cancelled() -> Self { MyError::Cancelled }
///     fn timed_out() -> Self { MyError::TimedOut }
///     fn already_taken() -> Self { MyError::AlreadyTaken }
///     fn abandoned() -> Self { MyError::Lost }
/// }
///
/// let (promise, future) = Promise::<u8, MyError>::new();
/// drop(promise); // the executor lost the task before it ran
/// assert_eq!(future.result(), Err(MyError::Cancelled));
/// ```
///
/// [`Future`]: crate::Future
pub trait TaskError: Clone + Send + 'static {
    /// The task was cancelled before it started (Python's `CancelledError`).
    fn cancelled() -> Self;
    /// A timed wait for the task ended first (Python's `TimeoutError`); the task goes on.
    fn timed_out() -> Self;
    /// The value was taken already, by an earlier `result` of this future or a clone.
    fn already_taken() -> Self;
    /// The executor let go of a task that had started, without an outcome (it was shut
    /// down or terminated under it).
    fn abandoned() -> Self;
}

/// A ready-made [`TaskError`], for executors (and examples) that need no other.
///
/// ```
/// use mp_futures::{FutureError, Promise};
///
/// let (promise, future) = Promise::<u8, FutureError>::new();
/// assert!(future.cancel());
/// promise.complete(Ok(1)); // too late: a cancelled task keeps its cancellation
/// assert_eq!(future.result(), Err(FutureError::Cancelled));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FutureError {
    /// The task was cancelled before it started.
    Cancelled,
    /// A timed wait ended before the task did; the task goes on.
    TimedOut,
    /// The value was taken already by an earlier `result` of this future or a clone.
    AlreadyTaken,
    /// The executor let go of a started task without an outcome.
    Abandoned,
}

impl std::fmt::Display for FutureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FutureError::Cancelled => "the task was cancelled before it started; submit it again to run it",
            FutureError::TimedOut => "timed out waiting for the task; it goes on",
            FutureError::AlreadyTaken => {
                "the task's value was taken already (by an earlier result() of this future or a clone); keep it from the first call"
            }
            FutureError::Abandoned => {
                "the executor let go of the task without an outcome (shut down or terminated under it)"
            }
        })
    }
}

impl std::error::Error for FutureError {}

impl TaskError for FutureError {
    fn cancelled() -> Self {
        FutureError::Cancelled
    }
    fn timed_out() -> Self {
        FutureError::TimedOut
    }
    fn already_taken() -> Self {
        FutureError::AlreadyTaken
    }
    fn abandoned() -> Self {
        FutureError::Abandoned
    }
}
