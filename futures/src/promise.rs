//! [`Promise`]: the executor's side of a [`Future`].

use std::fmt;
use std::sync::Arc;

use crate::error::TaskError;
use crate::future::Future;
use crate::id::TaskId;
use crate::shared::Shared;

/// The side of one task that an executor keeps: it marks the task running and gives it
/// its outcome, which every [`Future`] of the task then sees.
///
/// A promise that is dropped without an outcome settles its task, so no waiter is ever
/// left waiting for a task its executor lost: a task that had not started is
/// cancelled ([`TaskError::cancelled`]), one that had is abandoned
/// ([`TaskError::abandoned`]).
///
/// ```
/// use mp_futures::{FutureError, Promise};
///
/// let (promise, future) = Promise::<String, FutureError>::new();
/// let worker = std::thread::spawn(move || {
///     if promise.set_running() {
///         promise.complete(Ok("done".to_string()));
///     }
/// });
/// assert_eq!(future.result()?, "done");
/// worker.join().unwrap();
/// # Ok::<(), FutureError>(())
/// ```
pub struct Promise<T, E: TaskError> {
    shared: Arc<Shared<T, E>>,
    id: TaskId,
}

impl<T, E: TaskError> Promise<T, E> {
    /// A new pending task: its promise, and its first future.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(promise.id(), future.id());
    /// assert!(!future.done() && !future.running());
    /// ```
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> (Promise<T, E>, Future<T, E>) {
        let shared = Arc::new(Shared::new());
        let id = TaskId::next();
        let future = Future::from_shared(Arc::clone(&shared), id);
        (Promise { shared, id }, future)
    }

    /// The task's id, the one its futures carry.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(promise.id(), future.clone().id());
    /// ```
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Marks the task as started, unless it was cancelled: `false` then, and the
    /// executor must not run it (Python's `set_running_or_notify_cancel`).
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert!(promise.set_running());
    /// assert!(future.running());
    /// assert!(!future.cancel()); // too late: it runs
    /// ```
    pub fn set_running(&self) -> bool {
        self.shared.set_running()
    }

    /// Gives the task its outcome: the futures' waiters wake, the done-callbacks run.
    /// `false` if the task was settled already (cancelled), and the outcome is dropped.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert!(promise.complete(Ok(3)));
    /// assert!(!promise.complete(Ok(4))); // the first outcome stays
    /// assert_eq!(future.result(), Ok(3));
    /// ```
    pub fn complete(&self, outcome: Result<T, E>) -> bool {
        self.shared.finish(outcome)
    }

    /// Cancels the task if it has not started, as a caller's
    /// [`Future::cancel`](crate::Future::cancel) would: for an executor that drops its
    /// queue (Python's `shutdown(cancel_futures=True)`). `true` if it is cancelled.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert!(promise.cancel());
    /// assert_eq!(future.result(), Err(FutureError::Cancelled));
    /// ```
    pub fn cancel(&self) -> bool {
        self.shared.cancel()
    }

    /// Whether a caller cancelled the task (before it started).
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// future.cancel();
    /// assert!(promise.is_cancelled());
    /// assert!(!promise.set_running());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.shared.is_cancelled()
    }

    /// Whether the task is settled (finished or cancelled).
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, _future) = Promise::<u8, FutureError>::new();
    /// assert!(!promise.is_done());
    /// promise.complete(Err(FutureError::Abandoned));
    /// assert!(promise.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.shared.is_done()
    }
}

impl<T, E: TaskError> Drop for Promise<T, E> {
    fn drop(&mut self) {
        self.shared.abandon();
    }
}

impl<T, E: TaskError> fmt::Debug for Promise<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise")
            .field("id", &self.id)
            .field("done", &self.is_done())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FutureError;

    #[test]
    fn a_dropped_promise_cancels_a_pending_task_and_abandons_a_running_one() {
        let (promise, pending) = Promise::<u8, FutureError>::new();
        drop(promise);
        assert!(pending.cancelled());
        assert_eq!(pending.result(), Err(FutureError::Cancelled));

        let (promise, running) = Promise::<u8, FutureError>::new();
        assert!(promise.set_running());
        drop(promise);
        assert!(running.done() && !running.cancelled());
        assert_eq!(running.result(), Err(FutureError::Abandoned));
    }

    #[test]
    fn a_completed_promise_keeps_its_outcome_when_dropped() {
        let (promise, future) = Promise::<u8, FutureError>::new();
        promise.complete(Ok(9));
        drop(promise);
        assert_eq!(future.result(), Ok(9));
    }
}
