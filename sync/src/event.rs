//! `Event`: Python's `threading.Event` / `multiprocessing.Event`.

use std::fmt;
use std::time::Duration;

use crate::Error;
use mp_sys::Deadline;
use mp_sys::futex::{self, AtomicU32, Ordering};

pub(crate) const SET: u32 = 1;
pub(crate) const SLEEPERS: u32 = 2;
/// The rest of the word counts `set` calls that found the flag clear, so that a waiter woken
/// by a `set` returns even if a `clear` came before it ran, as Python's waiters do.
const GENERATION_ONE: u32 = 4;
/// The generation bits of the word.
#[cfg_attr(any(loom, not(feature = "async")), allow(dead_code))]
pub(crate) const GENERATION_MASK: u32 = !(SET | SLEEPERS);

/// A flag that threads and processes wait for: `set` wakes every waiter, `clear` resets it.
///
/// A waiter polls briefly (spinning and yielding its CPU) before it sleeps, because a
/// wake-up across CPUs costs more than the few microseconds a ping-pong partner
/// usually takes to answer.
///
/// ```
/// use std::sync::Arc;
/// use mp_sync::Event;
///
/// let started = Arc::new(Event::new());
/// let worker = {
///     let started = Arc::clone(&started);
///     std::thread::spawn(move || started.set())
/// };
/// started.wait();
/// assert!(started.is_set());
/// worker.join().unwrap();
/// ```
#[repr(C)]
pub struct Event {
    state: AtomicU32,
}

impl Event {
    crate::const_unless_loom! {
        /// A new event, not set.
        ///
        /// ```
        /// static DONE: mp_sync::Event = mp_sync::Event::new();
        /// assert!(!DONE.is_set());
        /// ```
        pub fn new() -> Self {
            Self { state: AtomicU32::new(0) }
        }
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// let e = mp_sync::Event::new();
    /// e.set();
    /// assert!(e.is_set());
    /// ```
    pub fn set(&self) {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            if current & SET != 0 {
                return;
            }
            let next = (current & !SLEEPERS).wrapping_add(GENERATION_ONE) | SET;
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        if current & SLEEPERS != 0 {
            futex::wake(&self.state, u32::MAX);
        }
    }

    /// Clears the flag.
    ///
    /// ```
    /// let e = mp_sync::Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.fetch_and(!SET, Ordering::Relaxed);
    }

    /// The futex word, for the async wait (which follows the protocol of `wait_until`).
    #[cfg(all(feature = "async", not(loom)))]
    pub(crate) fn state_word(&self) -> &AtomicU32 {
        &self.state
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// assert!(!mp_sync::Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.state.load(Ordering::Acquire) & SET != 0
    }

    /// Waits until the flag is set (at once if it is).
    ///
    /// ```
    /// let e = mp_sync::Event::new();
    /// e.set();
    /// e.wait();
    /// ```
    pub fn wait(&self) {
        while !self.wait_until(Deadline::NEVER) {}
    }

    /// Waits until the flag is set or `timeout` elapses: `Ok(())` once set,
    /// [`Error::TimedOut`] if it was not (Python's `wait(timeout)`, whose value is
    /// `wait_timeout(t).is_ok()`). `Duration::ZERO` looks once; `Duration::MAX` waits for
    /// ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = mp_sync::Event::new();
    /// assert_eq!(e.wait_timeout(Duration::from_millis(5)), Err(mp_sync::Error::TimedOut));
    /// e.set();
    /// assert_eq!(e.wait_timeout(Duration::ZERO), Ok(()));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        if self.wait_until(Deadline::after(timeout)) {
            Ok(())
        } else {
            Err(Error::TimedOut)
        }
    }

    fn wait_until(&self, deadline: Deadline) -> bool {
        let generation = self.state.load(Ordering::Acquire) & !(SET | SLEEPERS);
        if self.is_set() || self.spin_until_set() {
            return true;
        }
        loop {
            let current = self.state.load(Ordering::Acquire);
            if current & SET != 0 || current & !(SET | SLEEPERS) != generation {
                return true;
            }
            if current & SLEEPERS == 0
                && self
                    .state
                    .compare_exchange(
                        current,
                        current | SLEEPERS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_err()
            {
                continue;
            }
            if !futex::wait(&self.state, current | SLEEPERS, deadline) {
                // A `set` that raced with the timeout still counts, even if cleared since.
                let now = self.state.load(Ordering::Acquire);
                return now & SET != 0 || now & !(SET | SLEEPERS) != generation;
            }
        }
    }

    /// Polls for a `set` for about the cost of one wake-up across CPUs
    /// (waiting longer in user space would cost more than sleeping), short
    /// bursts of spinning between yields. Pure spinning does well on an idle
    /// machine but falls far behind a bare futex on a loaded one: the setter,
    /// woken on a busy CPU, waits for the one we are spinning on. Yielding
    /// gives it that CPU. To compare, run mp-bench's `event-pingpong` row
    /// (`cargo run --release -p mp-bench -- --filter event-pingpong`) on an
    /// idle and on a loaded machine.
    #[cfg(not(loom))]
    fn spin_until_set(&self) -> bool {
        const WAIT_FOR: Duration = Duration::from_micros(10);
        let start = std::time::Instant::now();
        loop {
            for _ in 0..32 {
                std::hint::spin_loop();
                if self.is_set() {
                    return true;
                }
            }
            if start.elapsed() >= WAIT_FOR {
                return false;
            }
            std::thread::yield_now();
        }
    }

    #[cfg(loom)]
    fn spin_until_set(&self) -> bool {
        false
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}
