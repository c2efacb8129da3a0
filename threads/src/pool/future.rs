//! [`Future`]: the handle to one task submitted to a [`ThreadPool`](crate::ThreadPool),
//! as Python's `concurrent.futures.Future`.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
#[cfg(feature = "async")]
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use mp_sys::Deadline;
use mp_sys::reactor::WakerList;
#[cfg(feature = "async")]
use mp_sys::reactor::WakerSlot;
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::Error;
use mp_sys::panic::panic_message;
use mp_sys::{Backoff, BackoffPolicy};

pub(crate) type Callback<T> = Box<dyn FnOnce(Result<&T, &Error>) + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Running,
    Finished,
    Cancelled,
}

enum Outcome<T> {
    /// Not finished yet.
    None,
    Value(T),
    /// Kept after `result` returned it, so `exception()` still reports it.
    Failed(Error),
    /// The value was moved out by `result_timeout`.
    Taken,
}

struct Inner<T> {
    status: Status,
    outcome: Outcome<T>,
    callbacks: Vec<(u64, Callback<T>)>,
    /// Async tasks awaiting the outcome (see `into_future.rs`), woken with the waiters.
    wakers: WakerList,
    next_callback_id: u64,
}

/// The state one task and its [`Future`] share.
pub(crate) struct FutureShared<T> {
    inner: Mutex<Inner<T>>,
    finished: Condvar,
    /// Set (after the callbacks ran) once the task finished or was cancelled,
    /// so a waiter can spin on it briefly before going to sleep.
    settled: AtomicBool,
}

impl<T> FutureShared<T> {
    pub(crate) fn new() -> Self {
        FutureShared {
            inner: Mutex::new(Inner {
                status: Status::Pending,
                outcome: Outcome::None,
                callbacks: Vec::new(),
                wakers: WakerList::new(),
                next_callback_id: 0,
            }),
            finished: Condvar::new(),
            settled: AtomicBool::new(false),
        }
    }

    /// Python's `set_running_or_notify_cancel`: false if the task was cancelled.
    pub(crate) fn set_running(&self) -> bool {
        let mut inner = self.inner.lock();
        match inner.status {
            Status::Pending => {
                inner.status = Status::Running;
                true
            }
            _ => false,
        }
    }

    /// Records the task's outcome, runs the callbacks, then wakes waiters, so
    /// a waiter that wakes up sees every callback's effects.
    pub(crate) fn finish(&self, outcome: Result<T, Error>) {
        let mut inner = self.inner.lock();
        if matches!(inner.status, Status::Finished | Status::Cancelled) {
            return;
        }
        inner.status = Status::Finished;
        inner.outcome = match outcome {
            Ok(value) => Outcome::Value(value),
            Err(error) => Outcome::Failed(error),
        };
        Self::run_callbacks(&mut inner);
        self.settled.store(true, Ordering::Release);
        let wakers = inner.wakers.take();
        drop(inner);
        self.finished.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Cancels a task that has not started; false once it is running or done.
    pub(crate) fn cancel(&self) -> bool {
        let mut inner = self.inner.lock();
        match inner.status {
            Status::Pending => {
                inner.status = Status::Cancelled;
                inner.outcome = Outcome::Failed(Error::Cancelled);
                Self::run_callbacks(&mut inner);
                self.settled.store(true, Ordering::Release);
                let wakers = inner.wakers.take();
                drop(inner);
                self.finished.notify_all();
                wakers.into_iter().for_each(Waker::wake);
                true
            }
            Status::Cancelled => true,
            Status::Running | Status::Finished => false,
        }
    }

    fn run_callbacks(inner: &mut MutexGuard<'_, Inner<T>>) {
        let callbacks = std::mem::take(&mut inner.callbacks);
        for (_, callback) in callbacks {
            Self::run_callback(&inner.outcome, callback);
        }
    }

    /// Python logs and ignores an exception raised by a callback; so do we.
    fn run_callback(outcome: &Outcome<T>, callback: Callback<T>) {
        let argument = match outcome {
            Outcome::Value(value) => Ok(value),
            Outcome::Failed(error) => Err(error),
            Outcome::Taken | Outcome::None => Err(&Error::AlreadyTaken),
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(argument))) {
            tracing::warn!(
                message = %panic_message(&*payload),
                "a future's done-callback panicked; the panic is ignored"
            );
        }
    }

    /// Adds a callback, or runs it now if the task is done. Returns its id
    /// while it is pending.
    pub(crate) fn add_callback(&self, callback: Callback<T>) -> Option<u64> {
        let mut inner = self.inner.lock();
        if matches!(inner.status, Status::Finished | Status::Cancelled) {
            Self::run_callback(&inner.outcome, callback);
            None
        } else {
            let id = inner.next_callback_id;
            inner.next_callback_id += 1;
            inner.callbacks.push((id, callback));
            Some(id)
        }
    }

    pub(crate) fn remove_callback(&self, id: u64) {
        self.inner
            .lock()
            .callbacks
            .retain(|(other, _)| *other != id);
    }

    fn status(&self) -> Status {
        self.inner.lock().status
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.status(), Status::Finished | Status::Cancelled)
    }

    /// Finished by panicking (a cancelled task is not counted, as in Python's
    /// `FIRST_EXCEPTION`).
    pub(crate) fn has_failed(&self) -> bool {
        let inner = self.inner.lock();
        inner.status == Status::Finished && matches!(inner.outcome, Outcome::Failed(_))
    }

    /// Waits until done, or fails with `TimedOut` at the deadline.
    fn wait_done<'a>(
        &'a self,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'a, Inner<T>>, Error> {
        self.spin_until_settled(deadline);
        let mut inner = self.inner.lock();
        while !matches!(inner.status, Status::Finished | Status::Cancelled) {
            match deadline {
                None => self.finished.wait(&mut inner),
                Some(deadline) => {
                    if self.finished.wait_until(&mut inner, deadline).timed_out()
                        && !matches!(inner.status, Status::Finished | Status::Cancelled)
                    {
                        return Err(Error::TimedOut);
                    }
                }
            }
        }
        Ok(inner)
    }

    /// A short task is often done within microseconds: spin before sleeping.
    fn spin_until_settled(&self, deadline: Option<Instant>) {
        let mut backoff = Backoff::new(BackoffPolicy::THREAD_HANDOFF);
        while !self.settled.load(Ordering::Acquire)
            && deadline.is_none_or(|deadline| Instant::now() < deadline)
        {
            if !backoff.snooze() {
                return;
            }
        }
    }

    fn take_result(&self, deadline: Option<Instant>) -> Result<T, Error> {
        let mut inner = self.wait_done(deadline)?;
        match std::mem::replace(&mut inner.outcome, Outcome::Taken) {
            Outcome::Value(value) => Ok(value),
            Outcome::Failed(error) => {
                inner.outcome = Outcome::Failed(error.clone());
                Err(error)
            }
            Outcome::Taken | Outcome::None => Err(Error::AlreadyTaken),
        }
    }

    /// The async form of `take_result`: the outcome if the task is done, else `Pending`
    /// with `cx`'s waker registered in `slot` (replacing the one of a previous poll).
    #[cfg(feature = "async")]
    pub(crate) fn poll_take_result(
        &self,
        cx: &mut Context<'_>,
        slot: &mut WakerSlot,
    ) -> Poll<Result<T, Error>> {
        let mut inner = self.inner.lock();
        if matches!(inner.status, Status::Finished | Status::Cancelled) {
            // `finish`/`cancel` took every registered waker already; this clears the slot.
            inner.wakers.remove(slot);
            return Poll::Ready(
                match std::mem::replace(&mut inner.outcome, Outcome::Taken) {
                    Outcome::Value(value) => Ok(value),
                    Outcome::Failed(error) => {
                        inner.outcome = Outcome::Failed(error.clone());
                        Err(error)
                    }
                    Outcome::Taken | Outcome::None => Err(Error::AlreadyTaken),
                },
            );
        }
        // Registered under the lock that `finish` and `cancel` take: no wake-up is lost.
        inner.wakers.register(slot, cx.waker());
        Poll::Pending
    }

    /// Takes the waker of `slot` out, if it is still there (a dropped await).
    #[cfg(feature = "async")]
    pub(crate) fn remove_waker(&self, slot: &mut WakerSlot) {
        if slot.is_registered() {
            self.inner.lock().wakers.remove(slot);
        }
    }

    /// How many async tasks are registered to be woken by this task's end.
    #[cfg(feature = "async")]
    pub(crate) fn registered_wakers(&self) -> usize {
        self.inner.lock().wakers.len()
    }

    fn exception(&self, deadline: Option<Instant>) -> Result<Option<Error>, Error> {
        let inner = self.wait_done(deadline)?;
        Ok(match &inner.outcome {
            Outcome::Failed(error) => Some(error.clone()),
            Outcome::Value(_) | Outcome::Taken | Outcome::None => None,
        })
    }
}

/// The pending result of a task submitted to a [`ThreadPool`](crate::ThreadPool):
/// Python's `concurrent.futures.Future`.
///
/// [`result`](Future::result) waits for the task and returns its value; a
/// panic in the task comes back as [`Error::Panicked`] (Python's exception),
/// and only this future fails. A task can be [`cancel`](Future::cancel)led
/// until a worker starts it. Dropping a `Future` does not cancel its task.
///
/// ```
/// use mp_threads::ThreadPool;
///
/// let pool = ThreadPool::new(2)?;
/// let future = pool.submit(|a: u64, b: u64| a.pow(b as u32), (2, 10))?;
/// assert_eq!(future.result()?, 1024);
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub struct Future<T> {
    pub(crate) shared: Arc<FutureShared<T>>,
}

impl<T> Future<T> {
    pub(crate) fn from_shared(shared: Arc<FutureShared<T>>) -> Self {
        Future { shared }
    }

    /// Waits for the task and returns its value.
    ///
    /// Errors: [`Error::Panicked`] if the task panicked, [`Error::Cancelled`]
    /// if it was cancelled, [`Error::AlreadyTaken`] if
    /// [`result_timeout`](Future::result_timeout) already returned the value.
    ///
    /// ```
    /// use mp_threads::{Error, ThreadPool};
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let failing = pool.submit(|| -> u8 { panic!("bad task") }, ())?;
    /// assert!(matches!(failing.result(), Err(Error::Panicked { message, .. }) if message == "bad task"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn result(self) -> Result<T, Error> {
        self.shared.take_result(None)
    }

    /// [`result`](Future::result) waiting at most `timeout`; on
    /// [`Error::TimedOut`] the future is untouched and can be asked again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let mut future = pool.submit(|| "ok", ())?;
    /// assert_eq!(future.result_timeout(Duration::from_secs(5))?, "ok");
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<T, Error> {
        self.shared.take_result(Deadline::after(timeout).instant())
    }

    /// Waits for the task and returns how it failed: `Some(Error::Panicked)` or
    /// `Some(Error::Cancelled)`, or `None` if it succeeded (Python's
    /// `exception()`). The value stays in the future.
    ///
    /// ```
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let fine = pool.submit(|| 1, ())?;
    /// assert!(fine.exception().is_none());
    /// let failing = pool.submit(|| -> i32 { panic!("oops") }, ())?;
    /// assert!(failing.exception().is_some());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn exception(&self) -> Option<Error> {
        self.shared.exception(None).unwrap_or(None)
    }

    /// [`exception`](Future::exception) waiting at most `timeout`
    /// (`Err(Error::TimedOut)` if the task is not done by then).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let future = pool.submit(|| 1, ())?;
    /// assert!(future.exception_timeout(Duration::from_secs(5))?.is_none());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn exception_timeout(&self, timeout: Duration) -> Result<Option<Error>, Error> {
        self.shared.exception(Deadline::after(timeout).instant())
    }

    /// Cancels the task if no worker has started it. Returns `true` if the
    /// task is (now or already) cancelled, `false` if it is running or done.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::{Error, ThreadPool};
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let (release, gate) = std::sync::mpsc::channel::<()>();
    /// let busy = pool.submit(move || gate.recv_timeout(Duration::from_secs(5)).is_ok(), ())?;
    /// let queued = pool.submit(|| 2, ())?;
    /// assert!(queued.cancel());
    /// assert!(queued.cancelled());
    /// assert!(matches!(queued.result(), Err(Error::Cancelled)));
    /// release.send(()).expect("the busy task is waiting");
    /// assert!(busy.result()?);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.shared.cancel()
    }

    /// Whether the task was cancelled.
    ///
    /// ```
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let mut future = pool.submit(|| (), ())?;
    /// future.result_timeout(std::time::Duration::from_secs(5))?;
    /// assert!(!future.cancelled());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        self.shared.status() == Status::Cancelled
    }

    /// Whether a worker is running the task right now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let (started_tx, started) = std::sync::mpsc::channel();
    /// let (release, gate) = std::sync::mpsc::channel::<()>();
    /// let future = pool.submit(move || {
    ///     started_tx.send(()).ok();
    ///     gate.recv_timeout(Duration::from_secs(5)).ok();
    /// }, ())?;
    /// started.recv_timeout(Duration::from_secs(5)).expect("the task starts");
    /// assert!(future.running());
    /// release.send(()).ok();
    /// future.result()?;
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn running(&self) -> bool {
        self.shared.status() == Status::Running
    }

    /// Whether the task finished (with a value or a panic) or was cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let future = pool.submit(|| (), ())?;
    /// assert!(future.exception_timeout(Duration::from_secs(5))?.is_none());
    /// assert!(future.done());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn done(&self) -> bool {
        self.shared.is_done()
    }

    /// Calls `callback` when the task finishes or is cancelled, with `Ok(&value)`
    /// or `Err(&error)`; at once, on this thread, if that already happened.
    /// Otherwise it runs on the worker thread, before waiters of
    /// [`result`](Future::result) are woken. A panic in a callback is logged and
    /// ignored, as Python does. The callback must not use this future.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let seen = Arc::new(AtomicU32::new(0));
    /// let future = pool.submit(|| 41, ())?;
    /// let record = Arc::clone(&seen);
    /// future.add_done_callback(move |outcome| {
    ///     if let Ok(value) = outcome {
    ///         record.store(value + 1, Ordering::SeqCst);
    ///     }
    /// });
    /// assert_eq!(future.result()?, 41);
    /// assert_eq!(seen.load(Ordering::SeqCst), 42);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(Result<&T, &Error>) + Send + 'static) {
        self.shared.add_callback(Box::new(callback));
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("state", &self.shared.status())
            .finish()
    }
}
