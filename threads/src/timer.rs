//! [`Timer`]: Python's `threading.Timer`, a function run once after a delay
//! unless cancelled first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_sys::Deadline;

use parking_lot::{Condvar, Mutex};

use crate::Target;
use crate::error::Error;
use crate::thread::{JoinHandle, Thread};
use crate::thread_info::ThreadInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerState {
    Waiting,
    Cancelled,
    Fired,
}

struct TimerShared {
    state: Mutex<TimerState>,
    changed: Condvar,
}

/// A function to call once, on its own thread, after `interval`, unless
/// [`cancel`](TimerHandle::cancel)led first: Python's `threading.Timer(interval,
/// function, args)`.
///
/// [`start`](Timer::start) returns a [`TimerHandle`]. Like Python's `Timer`, it
/// is a thread: named `Thread-N` by default, and not a daemon unless set, so a
/// pending non-daemon timer keeps the process alive at exit until it fires.
///
/// ```
/// use std::time::Duration;
/// use mp_threads::Timer;
///
/// let timer = Timer::new(Duration::from_millis(10), |who: &str| format!("hello, {who}"), ("world",))
///     .start()?;
/// assert_eq!(timer.join()?, Some("hello, world".to_string()));
/// # Ok::<(), mp_threads::Error>(())
/// ```
#[must_use = "a Timer does nothing until start() is called"]
pub struct Timer<F, A> {
    interval: Duration,
    function: F,
    args: A,
    name: Option<String>,
    daemon: Option<bool>,
}

impl<F, A> Timer<F, A>
where
    F: Target<A> + Send + 'static,
    F::Output: Send + 'static,
    A: Send + 'static,
{
    /// A timer that calls `function` with `args` after `interval`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let timer = Timer::new(Duration::ZERO, || 1, ()).start()?;
    /// assert_eq!(timer.join()?, Some(1));
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn new(interval: Duration, function: F, args: A) -> Self {
        Timer {
            interval,
            function,
            args,
            name: None,
            daemon: None,
        }
    }

    /// Names the timer's thread.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::{Timer, current_thread};
    ///
    /// let timer = Timer::new(Duration::ZERO, || current_thread().name().to_owned(), ())
    ///     .name("alarm")
    ///     .start()?;
    /// assert_eq!(timer.join()?.as_deref(), Some("alarm"));
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the daemon flag of the timer's thread (see [`Thread`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let timer = Timer::new(Duration::from_secs(3600), || (), ()).daemon(true).start()?;
    /// assert!(timer.thread().is_daemon());
    /// assert!(timer.cancel());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = Some(daemon);
        self
    }

    /// Starts the timer's thread; the interval counts from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let timer = Timer::new(Duration::from_secs(3600), || (), ()).start()?;
    /// assert!(timer.cancel());
    /// assert_eq!(timer.join()?, None);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn start(self) -> Result<TimerHandle<F::Output>, Error> {
        let Timer {
            interval,
            function,
            args,
            name,
            daemon,
        } = self;
        let shared = Arc::new(TimerShared {
            state: Mutex::new(TimerState::Waiting),
            changed: Condvar::new(),
        });
        // Computed before the thread starts, so a slow thread start does not
        // lengthen the interval.
        let fire_at = Deadline::after(interval).instant();
        let body = {
            let shared = Arc::clone(&shared);
            move || {
                if !wait_for_firing(&shared, fire_at) {
                    tracing::debug!("timer cancelled before firing");
                    return None;
                }
                tracing::debug!("timer fired");
                Some(function.call(args))
            }
        };
        let mut thread = Thread::new(body, ());
        if let Some(name) = name {
            thread = thread.name(name);
        }
        if let Some(daemon) = daemon {
            thread = thread.daemon(daemon);
        }
        Ok(TimerHandle {
            handle: thread.start()?,
            shared,
        })
    }
}

/// Sleeps until `fire_at` (forever if it overflowed) unless cancelled; decides
/// firing under the lock so `cancel` and firing cannot both win.
fn wait_for_firing(shared: &TimerShared, fire_at: Option<Instant>) -> bool {
    let mut state = shared.state.lock();
    loop {
        if *state == TimerState::Cancelled {
            return false;
        }
        match fire_at {
            Some(fire_at) if Instant::now() >= fire_at => {
                *state = TimerState::Fired;
                return true;
            }
            Some(fire_at) => {
                let _ = shared.changed.wait_until(&mut state, fire_at);
            }
            None => shared.changed.wait(&mut state),
        }
    }
}

/// A started [`Timer`]: cancel it, or join it for the function's result.
///
/// ```
/// use std::time::Duration;
/// use mp_threads::Timer;
///
/// let timer = Timer::new(Duration::from_secs(3600), || unreachable!(), ()).start()?;
/// assert!(timer.cancel(), "cancelled before it fired, so it never runs");
/// assert_eq!(timer.join()?, None::<()>);
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub struct TimerHandle<T> {
    handle: JoinHandle<Option<T>>,
    shared: Arc<TimerShared>,
}

impl<T> TimerHandle<T> {
    /// Stops the timer if it has not fired yet. Returns `true` when the function
    /// has not run and now never will, `false` when it already fired (it may
    /// still be running; [`join`](TimerHandle::join) waits for it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let mut timer = Timer::new(Duration::ZERO, || 7, ()).start()?;
    /// assert_eq!(timer.join_timeout(Duration::from_secs(5))?, Some(7));
    /// assert!(!timer.cancel(), "too late: it already fired");
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        let mut state = self.shared.state.lock();
        match *state {
            TimerState::Waiting | TimerState::Cancelled => {
                *state = TimerState::Cancelled;
                drop(state);
                self.shared.changed.notify_all();
                true
            }
            TimerState::Fired => false,
        }
    }

    /// Whether the timer has fired (its function has started or finished).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let timer = Timer::new(Duration::from_secs(3600), || (), ()).start()?;
    /// assert!(!timer.fired());
    /// timer.cancel();
    /// timer.join()?;
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn fired(&self) -> bool {
        *self.shared.state.lock() == TimerState::Fired
    }

    /// Waits for the timer's thread: `Some(result)` if the function ran, `None`
    /// if the timer was cancelled. A panic in the function is
    /// [`Error::Panicked`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let timer = Timer::new(Duration::from_millis(1), || "done", ()).start()?;
    /// assert_eq!(timer.join()?, Some("done"));
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn join(self) -> Result<Option<T>, Error> {
        self.handle.join()
    }

    /// [`join`](TimerHandle::join) with a time limit; on [`Error::TimedOut`] the
    /// timer is untouched and can be joined or cancelled again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::{Error, Timer};
    ///
    /// let timer = Timer::new(Duration::from_secs(3600), || (), ()).start()?;
    /// assert!(matches!(timer.join_timeout(Duration::from_millis(5)), Err(Error::TimedOut)));
    /// timer.cancel();
    /// assert_eq!(timer.join_timeout(Duration::from_secs(5))?, None);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<Option<T>, Error> {
        self.handle.join_timeout(timeout)
    }

    /// Whether the timer's thread is still alive (waiting or running).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let timer = Timer::new(Duration::from_secs(3600), || (), ()).start()?;
    /// assert!(timer.is_alive());
    /// timer.cancel();
    /// timer.join()?;
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        self.handle.is_alive()
    }

    /// The timer thread's name, ident and flags.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Timer;
    ///
    /// let timer = Timer::new(Duration::from_secs(3600), || (), ()).name("t").start()?;
    /// assert_eq!(timer.thread().name(), "t");
    /// timer.cancel();
    /// timer.join()?;
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn thread(&self) -> &ThreadInfo {
        self.handle.thread()
    }
}

impl<T> std::fmt::Debug for TimerHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerHandle")
            .field("thread", self.handle.thread())
            .field("state", &*self.shared.state.lock())
            .finish()
    }
}
