//! [`Future`]: the handle to one task submitted to a [`ThreadPool`](crate::ThreadPool),
//! as Python's `concurrent.futures.Future`.
//!
//! It is mp-futures' [`Future`](mp_futures::Future), the one the process `Pool` gives
//! too, with this crate's [`Error`]: code that waits for, cancels, or awaits a task is
//! the same for threads and for processes. `wait`, `as_completed` and `.await` come from
//! there as well; the aliases below only fix the error type.

use mp_futures::TaskError;

use crate::error::Error;

/// The result of a [`ThreadPool`](crate::ThreadPool) task, to come: mp-futures'
/// [`Future`](mp_futures::Future) with this crate's [`Error`] (a task's panic is
/// [`Error::Panicked`], a cancellation [`Error::Cancelled`]).
///
/// ```
/// use std::time::Duration;
/// use mp_threads::{Error, ThreadPool};
///
/// let pool = ThreadPool::new(2)?;
/// let square = pool.submit(|n: u64| n * n, (12,))?;
/// assert_eq!(square.result_timeout(Duration::from_secs(10))?, 144);
/// let failing = pool.submit(|| -> u8 { panic!("bad task") }, ())?;
/// assert!(matches!(failing.result(), Err(Error::Panicked { message, .. }) if message == "bad task"));
/// # Ok::<(), Error>(())
/// ```
pub type Future<T> = mp_futures::Future<T, Error>;

/// A [`Future`] being awaited (see mp-futures' [`ResultFuture`](mp_futures::ResultFuture)).
///
/// ```
/// use mp_threads::ThreadPool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mp_threads::Error> {
/// let pool = ThreadPool::new(2)?;
/// assert_eq!(pool.submit(|n: u64| n + 1, (41,))?.await?, 42);
/// # Ok(())
/// # }
/// ```
pub type ResultFuture<T> = mp_futures::ResultFuture<T, Error>;

/// What [`wait`](crate::wait) returns for thread-pool futures.
///
/// ```
/// use mp_threads::{ReturnWhen, ThreadPool, Waited, wait};
///
/// let pool = ThreadPool::new(2)?;
/// let futures = vec![pool.submit(|| 1, ())?, pool.submit(|| 2, ())?];
/// let waited: Waited<i32> = wait(futures, ReturnWhen::AllCompleted, None);
/// assert_eq!(waited.done.len(), 2);
/// assert!(waited.not_done.is_empty());
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub type Waited<T> = mp_futures::Waited<T, Error>;

/// What [`as_completed`](crate::as_completed) returns for thread-pool futures.
///
/// ```
/// use mp_threads::{AsCompleted, ThreadPool, as_completed};
///
/// let pool = ThreadPool::new(3)?;
/// let futures = (1..=3).map(|n| pool.submit(move || n * 10, ())).collect::<Result<Vec<_>, _>>()?;
/// let completed: AsCompleted<i32> = as_completed(futures);
/// let mut total = 0;
/// for future in completed {
///     total += future.result()?;
/// }
/// assert_eq!(total, 60);
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub type AsCompleted<T> = mp_futures::AsCompleted<T, Error>;

impl TaskError for Error {
    fn cancelled() -> Self {
        Error::Cancelled
    }

    fn timed_out() -> Self {
        Error::TimedOut
    }

    fn already_taken() -> Self {
        Error::AlreadyTaken
    }

    /// A thread pool never lets go of a started task (its workers finish what they
    /// start, a panic included); a task it drops before it starts is cancelled.
    fn abandoned() -> Self {
        Error::Cancelled
    }
}
