//! [`Future`]: one task's result, to come, whichever executor runs it.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use mp_sys::Deadline;

use crate::error::TaskError;
use crate::id::TaskId;
use crate::shared::{self, Shared};

/// The result of one submitted task, to come: Python's `concurrent.futures.Future`, and
/// `multiprocessing.pool.AsyncResult` under the same roof.
///
/// A `ThreadPool` and a process `Pool` give the same `Future` (with their own error
/// type `E`), so code that waits, polls, cancels, attaches callbacks, or awaits is
/// written once for both; [`wait`](crate::wait) and [`as_completed`](crate::as_completed)
/// take the futures of either.
///
/// | Python | `Future` |
/// |---|---|
/// | `fut.result()`, `fut.result(timeout)` | [`result()`](Future::result), [`result_timeout(d)`](Future::result_timeout) |
/// | `fut.exception()`, `fut.exception(timeout)` | [`exception()`](Future::exception), [`exception_timeout(d)`](Future::exception_timeout) |
/// | `fut.cancel()`, `fut.cancelled()`, `fut.running()`, `fut.done()` | [`cancel`](Future::cancel), [`cancelled`](Future::cancelled), [`running`](Future::running), [`done`](Future::done) |
/// | `fut.add_done_callback(f)` | [`add_done_callback(f)`](Future::add_done_callback) (`f` gets the outcome, not the future) |
/// | `apply_async(..., callback, error_callback)` | [`on_success(f)`](Future::on_success), [`on_error(f)`](Future::on_error) |
/// | `r.get()`, `r.get(timeout)`, `r.wait()`, `r.wait(timeout)` | [`get()`](Future::get), [`get_timeout(d)`](Future::get_timeout), [`wait()`](Future::wait), [`wait_timeout(d)`](Future::wait_timeout) |
/// | `r.ready()`, `r.successful()` | [`ready()`](Future::ready), [`successful()`](Future::successful) (`None` until settled, where Python raises) |
/// | `await asyncio.wrap_future(fut)` | `future.await` (any runtime; see [`ResultFuture`](crate::ResultFuture)) |
/// | `{executor.submit(f, x): x for x in xs}` | a map keyed by [`future.id()`](Future::id) (futures are `Hash + Eq` by it too, but clippy's `mutable_key_type` flags a map keyed by them) |
///
/// The value is *taken*: [`result`](Future::result) moves it out, so it can be had once
/// per task; a second `result` (of this future or of a clone) gets the error's
/// [`taken`](TaskError::taken) kind. An error stays and every taker gets it. Timeouts
/// follow the workspace's rule: `Duration::MAX` (or any that overflows the clock) waits
/// forever, zero looks once.
///
/// Dropping a `Future` does not cancel its task (as in Python): the task runs, and its
/// value is dropped with the task's state.
///
/// ```
/// use std::time::Duration;
/// use mp_futures::{FutureError, Promise};
///
/// let (promise, future) = Promise::<u64, FutureError>::new();
/// let worker = std::thread::spawn(move || {
///     promise.set_running();
///     promise.complete(Ok(6 * 7));
/// });
/// assert_eq!(future.result_timeout(Duration::from_secs(10))?, 42);
/// assert_eq!(future.result_timeout(Duration::ZERO), Err(FutureError::AlreadyTaken));
/// worker.join().unwrap();
/// # Ok::<(), FutureError>(())
/// ```
pub struct Future<T, E: TaskError> {
    shared: Arc<Shared<T, E>>,
    id: TaskId,
}

impl<T, E: TaskError> Future<T, E> {
    pub(crate) fn from_shared(shared: Arc<Shared<T, E>>, id: TaskId) -> Self {
        Future { shared, id }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<T, E>> {
        &self.shared
    }

    /// The task's id: the same for every clone, different from every other task's.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(future.id(), future.clone().id());
    /// assert_eq!(future, future.clone());
    /// ```
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Waits for the task and takes its value, or its error.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<&str, FutureError>::new();
    /// promise.complete(Ok("value"));
    /// assert_eq!(future.result(), Ok("value"));
    /// ```
    pub fn result(self) -> Result<T, E> {
        self.shared.take(None)
    }

    /// [`result`](Future::result), waiting at most `timeout`: the timed-out error if the
    /// task is not settled by then (it goes on, and a later call can still take it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(future.result_timeout(Duration::from_millis(1)), Err(FutureError::TimedOut));
    /// promise.complete(Ok(1));
    /// assert_eq!(future.result_timeout(Duration::MAX), Ok(1));
    /// ```
    pub fn result_timeout(&self, timeout: Duration) -> Result<T, E> {
        self.shared.take(Deadline::after(timeout).instant())
    }

    /// Waits for the task; its error if it failed or was cancelled, `None` if it returned.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// future.cancel();
    /// assert_eq!(future.exception(), Some(FutureError::Cancelled));
    /// ```
    pub fn exception(&self) -> Option<E> {
        self.shared.exception(None).unwrap_or_else(Some)
    }

    /// [`exception`](Future::exception), waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(future.exception_timeout(Duration::ZERO), Err(FutureError::TimedOut));
    /// promise.complete(Ok(1));
    /// assert_eq!(future.exception_timeout(Duration::ZERO), Ok(None));
    /// ```
    pub fn exception_timeout(&self, timeout: Duration) -> Result<Option<E>, E> {
        self.shared.exception(Deadline::after(timeout).instant())
    }

    /// Cancels the task if it has not started: `true` if it is cancelled (now or
    /// before), `false` if it runs or ran.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert!(future.cancel());
    /// assert!(future.cancelled() && future.done());
    /// assert!(!promise.set_running());
    /// ```
    pub fn cancel(&self) -> bool {
        self.shared.cancel()
    }

    /// Whether the task was cancelled.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// assert!(!future.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.shared.is_cancelled()
    }

    /// Whether the task is running now.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// promise.set_running();
    /// assert!(future.running());
    /// ```
    pub fn running(&self) -> bool {
        self.shared.status() == shared::RUNNING
    }

    /// Whether the task is settled: it returned, failed, or was cancelled.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// promise.complete(Ok(0));
    /// assert!(future.done());
    /// ```
    pub fn done(&self) -> bool {
        self.shared.is_done()
    }

    /// Runs `callback` with the outcome when the task settles, or at once if it has. It
    /// runs on the thread that settles the task, before that task's waiters wake (so
    /// they see what it did); it may ask this future [`done`](Future::done) and the
    /// like, but not wait for its result. A panic in it is logged and ignored.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// let (seen, outcome) = mpsc::channel();
    /// future.add_done_callback(move |result| seen.send(result.copied().map_err(|e| *e)).unwrap());
    /// promise.complete(Ok(5));
    /// assert_eq!(outcome.recv().unwrap(), Ok(5));
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(Result<&T, &E>) + Send + 'static) {
        self.shared.add_callback(Box::new(callback));
    }

    /// Runs `callback` with the value if the task returns one (Python's `callback=`).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// let (seen, value) = mpsc::channel();
    /// future.on_success(move |v| seen.send(*v).unwrap());
    /// promise.complete(Ok(8));
    /// assert_eq!(value.recv().unwrap(), 8);
    /// ```
    pub fn on_success(&self, callback: impl FnOnce(&T) + Send + 'static) {
        self.add_done_callback(move |outcome| {
            if let Ok(value) = outcome {
                callback(value);
            }
        });
    }

    /// Runs `callback` with the error if the task fails or is cancelled (Python's
    /// `error_callback=`).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// let (seen, error) = mpsc::channel();
    /// future.on_error(move |e| seen.send(*e).unwrap());
    /// future.cancel();
    /// assert_eq!(error.recv().unwrap(), FutureError::Cancelled);
    /// ```
    pub fn on_error(&self, callback: impl FnOnce(&E) + Send + 'static) {
        self.add_done_callback(move |outcome| {
            if let Err(error) = outcome {
                callback(error);
            }
        });
    }

    /// Python's `AsyncResult.get()`: the same as [`result`](Future::result).
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// promise.complete(Ok(2));
    /// assert_eq!(future.get(), Ok(2));
    /// ```
    pub fn get(self) -> Result<T, E> {
        self.result()
    }

    /// Python's `AsyncResult.get(timeout)`: the same as
    /// [`result_timeout`](Future::result_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(future.get_timeout(Duration::ZERO), Err(FutureError::TimedOut));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, E> {
        self.result_timeout(timeout)
    }

    /// Waits until the task is settled, without taking anything.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// promise.complete(Ok(1));
    /// future.wait();
    /// assert!(future.ready());
    /// ```
    pub fn wait(&self) {
        self.shared.wait(None);
    }

    /// Waits at most `timeout` for the task to settle, without taking anything: `Ok(())`
    /// once it has, the timed-out error ([`TaskError::timed_out`]) if it has not, as
    /// [`result_timeout`](Future::result_timeout) (Python's `r.wait(t)` returns nothing;
    /// `r.ready()` after it is `wait_timeout(t).is_ok()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(future.wait_timeout(Duration::from_millis(1)), Err(FutureError::TimedOut));
    /// promise.complete(Ok(1));
    /// assert_eq!(future.wait_timeout(Duration::ZERO), Ok(()));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), E> {
        if self.shared.wait(Deadline::after(timeout).instant()) {
            Ok(())
        } else {
            Err(E::timed_out())
        }
    }

    /// Python's `AsyncResult.ready()`: the same as [`done`](Future::done).
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// assert!(!future.ready());
    /// ```
    pub fn ready(&self) -> bool {
        self.done()
    }

    /// Whether the task returned a value: `None` until it is settled (Python raises
    /// `ValueError` there).
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// assert_eq!(future.successful(), None);
    /// promise.complete(Err(FutureError::Abandoned));
    /// assert_eq!(future.successful(), Some(false));
    /// ```
    pub fn successful(&self) -> Option<bool> {
        self.shared.succeeded()
    }
}

impl<T, E: TaskError> Clone for Future<T, E> {
    fn clone(&self) -> Self {
        Future {
            shared: Arc::clone(&self.shared),
            id: self.id,
        }
    }
}

impl<T, E: TaskError> PartialEq for Future<T, E> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T, E: TaskError> Eq for Future<T, E> {}

impl<T, E: TaskError> PartialOrd for Future<T, E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T, E: TaskError> Ord for Future<T, E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id.cmp(&other.id)
    }
}

impl<T, E: TaskError> Hash for Future<T, E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<T, E: TaskError> fmt::Debug for Future<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (self.shared.status(), self.shared.is_done()) {
            (shared::CANCELLED, true) => "cancelled",
            (_, true) => "finished",
            (shared::RUNNING, false) => "running",
            _ => "pending",
        };
        f.debug_struct("Future")
            .field("id", &self.id)
            .field("state", &state)
            .finish()
    }
}
