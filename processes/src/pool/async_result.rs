//! [`AsyncResult`]: the result of one task of a [`Pool`](crate::Pool), to come.

use std::fmt;
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use mp_sys::Deadline;
use mp_sys::reactor::WakerList;

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;

use super::sink::{Sink, decode_outcomes};
use crate::Error;

type Callback<R> = Box<dyn FnOnce(Result<&R, &Error>) + Send>;

/// The result of [`Pool::apply_async`](crate::Pool::apply_async) (or
/// [`submit`](crate::Pool::submit)): Python's `AsyncResult`, and the `Future` of
/// `ProcessPoolExecutor`.
///
/// [`get`](AsyncResult::get) waits for the value; [`get_timeout`](AsyncResult::get_timeout),
/// [`wait`](AsyncResult::wait), [`ready`](AsyncResult::ready) and
/// [`successful`](AsyncResult::successful) are Python's methods of the same names.
/// Callbacks ([`on_success`](AsyncResult::on_success), [`on_error`](AsyncResult::on_error),
/// [`add_done_callback`](AsyncResult::add_done_callback)) are Python's `callback` and
/// `error_callback`.
///
/// The result always comes: the value, the task's panic, the signal that killed its
/// worker, its timeout, or [`Error::Terminated`] when the pool is terminated or dropped
/// first. So a `get` never waits for something that cannot come.
///
/// ```
/// use mp_processes::{Pool, StartMethod};
///
/// fn slow_square(n: u64) -> u64 {
///     std::thread::sleep(std::time::Duration::from_millis(10));
///     n * n
/// }
///
/// let pool = Pool::builder().processes(2).start_method(StartMethod::Fork).build()?;
/// let result = pool.apply_async(slow_square, (7,))?;
/// result.wait();
/// assert!(result.ready());
/// assert_eq!(result.successful(), Some(true));
/// assert_eq!(result.get()?, 49);
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub struct AsyncResult<R> {
    pub(super) cell: Arc<Cell<R>>,
}

pub(crate) struct Cell<R> {
    pub(super) state: Mutex<State<R>>,
    done: Condvar,
}

pub(super) struct State<R> {
    pub(super) outcome: Outcome<R>,
    callbacks: Vec<Callback<R>>,
    /// The task of an `.await` on the result, woken when it is done.
    pub(super) wakers: WakerList,
}

pub(super) enum Outcome<R> {
    Pending,
    Ready(Result<R, Error>),
    Taken,
}

impl<R> Cell<R> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Cell {
            state: Mutex::new(State {
                outcome: Outcome::Pending,
                callbacks: Vec::new(),
                wakers: WakerList::new(),
            }),
            done: Condvar::new(),
        })
    }

    /// Sets the outcome (the first one wins), runs the callbacks, wakes the waiters.
    fn complete(&self, result: Result<R, Error>) {
        let mut state = self.state.lock();
        if !matches!(state.outcome, Outcome::Pending) {
            return;
        }
        // Callbacks run before the waiters wake, as Python's: a `get` that returns sees
        // the callbacks' effects.
        for callback in std::mem::take(&mut state.callbacks) {
            // A panicking callback must not cost the task its result, nor the supervisor
            // its thread; its message was printed by the panic hook.
            if catch_unwind(AssertUnwindSafe(|| callback(result.as_ref()))).is_err() {
                tracing::debug!("pool: a result callback panicked");
            }
        }
        state.outcome = Outcome::Ready(result);
        let wakers = state.wakers.take();
        drop(state);
        self.done.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl<R: DeserializeOwned + Send + 'static> Sink for Cell<R> {
    fn deliver(&self, outcomes: &[u8], fds: Vec<OwnedFd>, worker: &str) {
        match decode_outcomes::<R>(outcomes, fds, worker, 1) {
            Ok(mut items) => {
                if let Some(Some(result)) = items.pop() {
                    self.complete(result);
                }
            }
            Err(err) => self.complete(Err(err)),
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

impl<R> AsyncResult<R> {
    pub(crate) fn new(cell: Arc<Cell<R>>) -> Self {
        AsyncResult { cell }
    }

    /// Waits for the task and returns its value, or why there is none (Python's
    /// `get()`): [`Error::Panicked`] with the panic message, [`Error::Signaled`] naming
    /// the signal that killed the worker running it, [`Error::Exited`] if the task made
    /// its worker exit, [`Error::TaskTimedOut`], [`Error::Terminated`], or
    /// [`Error::ResultTaken`] if [`get_timeout`](AsyncResult::get_timeout) took it already.
    ///
    /// ```
    /// use mp_processes::{Error, Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let fails = pool.apply_async(|| -> u8 { panic!("no luck") }, ())?;
    /// match fails.get() {
    ///     Err(Error::Panicked { message, .. }) => assert_eq!(message, "no luck"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn get(self) -> Result<R, Error> {
        let mut state = self.cell.state.lock();
        while matches!(state.outcome, Outcome::Pending) {
            self.cell.done.wait(&mut state);
        }
        take(&mut state.outcome)
    }

    /// [`get`](AsyncResult::get), waiting at most `timeout` (Python's `get(timeout)`):
    /// [`Error::TimedOut`] if the task is not done by then, and the result stays to come.
    /// The value is handed out once; a later call gives [`Error::ResultTaken`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Error, Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let slow = pool.apply_async(|| std::thread::sleep(Duration::from_millis(300)), ())?;
    /// assert!(matches!(slow.get_timeout(Duration::from_millis(1)), Err(Error::TimedOut)));
    /// slow.get_timeout(Duration::from_secs(30))?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<R, Error> {
        let deadline = Deadline::after(timeout).instant();
        let mut state = self.cell.state.lock();
        while matches!(state.outcome, Outcome::Pending) {
            match deadline {
                Some(deadline) => {
                    if self.cell.done.wait_until(&mut state, deadline).timed_out()
                        && matches!(state.outcome, Outcome::Pending)
                    {
                        return Err(Error::TimedOut);
                    }
                }
                None => self.cell.done.wait(&mut state),
            }
        }
        take(&mut state.outcome)
    }

    /// Waits until the task is done, without taking its value (Python's `wait()`).
    ///
    /// ```
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let result = pool.apply_async(|| 5u8, ())?;
    /// result.wait();
    /// assert!(result.ready());
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn wait(&self) {
        let mut state = self.cell.state.lock();
        while matches!(state.outcome, Outcome::Pending) {
            self.cell.done.wait(&mut state);
        }
    }

    /// Waits at most `timeout` for the task to be done (Python's `wait(timeout)`);
    /// whether it is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let result = pool.apply_async(|| std::thread::sleep(Duration::from_millis(300)), ())?;
    /// assert!(!result.wait_timeout(Duration::from_millis(1)));
    /// assert!(result.wait_timeout(Duration::from_secs(30)));
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let Some(deadline) = Deadline::after(timeout).instant() else {
            self.wait();
            return true;
        };
        let mut state = self.cell.state.lock();
        while matches!(state.outcome, Outcome::Pending) {
            if self.cell.done.wait_until(&mut state, deadline).timed_out() {
                return !matches!(state.outcome, Outcome::Pending);
            }
        }
        true
    }

    /// Whether the task is done (Python's `ready()`), successfully or not.
    ///
    /// ```
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let result = pool.apply_async(|| 1u8, ())?;
    /// result.wait();
    /// assert!(result.ready());
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn ready(&self) -> bool {
        !matches!(self.cell.state.lock().outcome, Outcome::Pending)
    }

    /// Whether the task returned a value (Python's `successful()`): `None` while it
    /// runs (where Python raises `ValueError`), and after the value was taken.
    ///
    /// ```
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let fails = pool.apply_async(|| -> u8 { panic!("no") }, ())?;
    /// fails.wait();
    /// assert_eq!(fails.successful(), Some(false));
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn successful(&self) -> Option<bool> {
        match &self.cell.state.lock().outcome {
            Outcome::Ready(result) => Some(result.is_ok()),
            Outcome::Pending | Outcome::Taken => None,
        }
    }

    /// Runs `callback` with the outcome when the task is done: on the pool's supervisor
    /// thread, before [`get`](AsyncResult::get) returns; at once, on this thread, if it is
    /// done already; never if the value was taken already. Keep it short (it holds up
    /// the results of other tasks); do not call this result's own methods from it, nor
    /// wait there for other results of the pool (they are delivered by the same thread,
    /// as in Python). A callback that panics is skipped; the result is kept.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let (tx, rx) = mpsc::channel();
    /// let result = pool.apply_async(|a: u8, b: u8| a + b, (2, 3))?;
    /// result.add_done_callback(move |outcome| tx.send(outcome.ok().copied()).unwrap());
    /// assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap(), Some(5));
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(Result<&R, &Error>) + Send + 'static) {
        let mut state = self.cell.state.lock();
        match &state.outcome {
            Outcome::Pending => state.callbacks.push(Box::new(callback)),
            Outcome::Ready(result) => callback(result.as_ref()),
            Outcome::Taken => {}
        }
    }

    /// Python's `callback`: runs `callback` with the value if the task succeeds (see
    /// [`add_done_callback`](AsyncResult::add_done_callback) for where and when).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let (tx, rx) = mpsc::channel();
    /// pool.apply_async(|| 42u32, ())?.on_success(move |value| tx.send(*value).unwrap());
    /// assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap(), 42);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn on_success(&self, callback: impl FnOnce(&R) + Send + 'static) {
        self.add_done_callback(move |outcome| {
            if let Ok(value) = outcome {
                callback(value);
            }
        });
    }

    /// Python's `error_callback`: runs `callback` with the error if the task fails (see
    /// [`add_done_callback`](AsyncResult::add_done_callback) for where and when).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let (tx, rx) = mpsc::channel();
    /// pool.apply_async(|| -> u8 { panic!("bad") }, ())?
    ///     .on_error(move |error| tx.send(error.to_string()).unwrap());
    /// assert!(rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap().ends_with("bad"));
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn on_error(&self, callback: impl FnOnce(&Error) + Send + 'static) {
        self.add_done_callback(move |outcome| {
            if let Err(error) = outcome {
                callback(error);
            }
        });
    }
}

/// The names of `concurrent.futures.Future` (and of mp-threads' `Future`), for code
/// written against `ProcessPoolExecutor`.
impl<R> AsyncResult<R> {
    /// [`get`](AsyncResult::get) under the executor's name, `Future.result()`.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(1)?;
    /// assert_eq!(pool.submit(|| 4u8, ())?.result()?, 4);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn result(self) -> Result<R, Error> {
        self.get()
    }

    /// [`get_timeout`](AsyncResult::get_timeout) under the executor's name,
    /// `Future.result(timeout)`.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(1)?;
    /// let future = pool.submit(|| 4u8, ())?;
    /// assert_eq!(future.result_timeout(std::time::Duration::from_secs(30))?, 4);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn result_timeout(&self, timeout: Duration) -> Result<R, Error> {
        self.get_timeout(timeout)
    }

    /// [`ready`](AsyncResult::ready) under the executor's name, `Future.done()`.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(1)?;
    /// let future = pool.submit(|| 4u8, ())?;
    /// future.wait();
    /// assert!(future.done());
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn done(&self) -> bool {
        self.ready()
    }
}

pub(super) fn take<R>(outcome: &mut Outcome<R>) -> Result<R, Error> {
    match std::mem::replace(outcome, Outcome::Taken) {
        Outcome::Ready(result) => result,
        Outcome::Taken | Outcome::Pending => Err(Error::ResultTaken),
    }
}

impl<R> fmt::Debug for AsyncResult<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.cell.state.lock().outcome {
            Outcome::Pending => "pending",
            Outcome::Ready(Ok(_)) => "succeeded",
            Outcome::Ready(Err(_)) => "failed",
            Outcome::Taken => "taken",
        };
        f.debug_struct("AsyncResult")
            .field("state", &state)
            .finish()
    }
}
