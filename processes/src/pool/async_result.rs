//! [`AsyncResult`]: the result of one task of a [`Pool`](crate::Pool), to come.
//!
//! It is mp-futures' [`Future`](mp_futures::Future), the one mp-threads' `ThreadPool`
//! gives too, with this crate's [`Error`]: the pool keeps the task's
//! [`Promise`] as the task's [`Sink`] and settles it from its supervisor thread.

use std::os::fd::OwnedFd;

use mp_futures::{Promise, TaskError};
use serde::de::DeserializeOwned;

use super::sink::{Sink, decode_outcomes};
use crate::Error;

/// The result of a [`Pool`](crate::Pool) task, to come: Python's `AsyncResult` (`get`,
/// `wait`, `ready`, `successful`, callbacks) and `concurrent.futures.Future` (`result`,
/// `done`, `cancel`, `.await`) in one, mp-futures' [`Future`](mp_futures::Future) with
/// this crate's [`Error`].
///
/// [`cancel`](mp_futures::Future::cancel) succeeds while no worker has been sent the
/// task; a cancelled task is never sent.
///
/// ```
/// use std::time::Duration;
/// use mp_processes::{Error, Pool};
///
/// fn add(a: u32, b: u32) -> u32 {
///     a + b
/// }
///
/// let pool = Pool::new(2)?;
/// let sum = pool.apply_async(add, (2, 3))?;
/// assert_eq!(sum.get_timeout(Duration::from_secs(30))?, 5);
/// let crash = pool.apply_async(|| -> u8 { panic!("no luck") }, ())?;
/// match crash.get() {
///     Err(Error::Panicked { message, .. }) => assert_eq!(message, "no luck"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
pub type AsyncResult<R> = mp_futures::Future<R, Error>;

/// An [`AsyncResult`] being awaited (see mp-futures'
/// [`ResultFuture`](mp_futures::ResultFuture)): the supervisor thread wakes the awaiting
/// task, so no runtime thread blocks and no thread is parked per waiter.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mp_processes::Error> {
/// let pool = mp_processes::Pool::new(1)?;
/// assert_eq!(pool.submit(|n: u64| n * 2, (21,))?.await?, 42);
/// # Ok(())
/// # }
/// ```
pub type ResultFuture<R> = mp_futures::ResultFuture<R, Error>;

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

    /// The pool let go of a task it had sent to a worker without an outcome: it was
    /// terminated, or dropped, under it.
    fn abandoned() -> Self {
        Error::Terminated
    }
}

impl<R: DeserializeOwned + Send + 'static> Sink for Promise<R, Error> {
    fn claim(&self) -> bool {
        self.set_running()
    }

    fn deliver(&self, outcomes: &[u8], fds: Vec<OwnedFd>, worker: &str) {
        match decode_outcomes::<R>(outcomes, fds, worker, 1) {
            Ok(mut items) => {
                if let Some(Some(result)) = items.pop() {
                    self.complete(result);
                }
            }
            Err(err) => {
                self.complete(Err(err));
            }
        }
    }

    fn fail_item(&self, _index: usize, error: Error) {
        self.complete(Err(error));
    }

    fn fail_rest(&self, error: Error, skip: &[u32]) {
        if skip.is_empty() {
            self.complete(Err(error));
        }
    }
}
