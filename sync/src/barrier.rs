//! `Barrier`: Python's `threading.Barrier`, with abort, reset, timeouts and a broken state.

use std::fmt;
use std::time::Duration;

use crate::Error;
use crate::owner::current_thread_id;
use crate::raw_condvar::RawCondvar;
use crate::raw_lock::{Acquired, RawLock};
use mp_sys::Deadline;
use mp_sys::futex::{AtomicU32, Ordering};

/// Waiters are arriving.
const FILLING: u32 = 0;
/// The barrier tripped; the parties are leaving and newcomers wait until they all have.
const DRAINING: u32 = 1;
/// `reset` was called while parties waited; they leave with an error.
const RESETTING: u32 = 2;
/// Aborted or timed out: every wait fails until `reset`.
const BROKEN: u32 = 3;

/// Makes `parties` threads or processes wait for each other, as Python's `Barrier`.
///
/// The last to arrive releases them all; each gets its arrival index, `0..parties`. A
/// timeout, an [`abort`](Barrier::abort), or a party that died holding the barrier's inner
/// lock breaks it: every waiter then gets [`Error::BrokenBarrier`] (the one whose timeout
/// broke it gets [`Error::TimedOut`]) until [`reset`](Barrier::reset). It follows CPython's
/// algorithm: after a trip, newcomers wait until every released party has left, so a
/// barrier can be reused at once.
///
/// ```
/// use std::sync::Arc;
/// use mp_sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(3).unwrap());
/// let threads: Vec<_> = (0..3)
///     .map(|_| {
///         let barrier = Arc::clone(&barrier);
///         std::thread::spawn(move || barrier.wait().unwrap())
///     })
///     .collect();
/// let mut indices: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// ```
#[repr(C)]
pub struct Barrier {
    lock: RawLock,
    changed: RawCondvar,
    parties: u32,
    /// Parties inside `wait` (arrived and not yet left); under `lock`.
    count: AtomicU32,
    /// One of FILLING, DRAINING, RESETTING, BROKEN; under `lock`.
    state: AtomicU32,
}

/// Releases the barrier's inner lock when dropped.
struct Inner<'a> {
    barrier: &'a Barrier,
}

impl Drop for Inner<'_> {
    fn drop(&mut self) {
        let _ = self.barrier.lock.unlock();
    }
}

impl Inner<'_> {
    fn state(&self) -> u32 {
        self.barrier.state.load(Ordering::Relaxed)
    }

    fn set_state(&self, state: u32) {
        self.barrier.state.store(state, Ordering::Relaxed);
    }

    fn count(&self) -> u32 {
        self.barrier.count.load(Ordering::Relaxed)
    }

    fn set_count(&self, count: u32) {
        self.barrier.count.store(count, Ordering::Relaxed);
    }

    fn notify_all(&self) {
        self.barrier.changed.notify(u32::MAX);
    }

    /// Sleeps until notified or `deadline`; false if the deadline passed.
    fn wait(&self, deadline: Deadline) -> bool {
        let barrier = self.barrier;
        let (woken, acquired) = barrier.changed.wait(
            &barrier.lock,
            || barrier.lock.lock_blocking(current_thread_id()),
            deadline,
        );
        if acquired == Acquired::Poisoned {
            self.break_on_owner_death();
        }
        woken
    }

    fn break_on_owner_death(&self) {
        tracing::debug!("a barrier party died inside the barrier: breaking it");
        self.barrier.lock.clear_poison();
        self.set_state(BROKEN);
        self.notify_all();
    }

    fn break_barrier(&self) {
        self.set_state(BROKEN);
        self.notify_all();
    }
}

impl Barrier {
    crate::const_unless_loom! {
        /// A barrier for `parties` parties; zero parties is [`Error::InvalidArgument`].
        ///
        /// ```
        /// assert!(mp_sync::Barrier::new(0).is_err());
        /// assert_eq!(mp_sync::Barrier::new(2).unwrap().parties(), 2);
        /// ```
        pub fn new(parties: u32) -> Result<Self, Error> {
            if parties == 0 {
                return Err(Error::InvalidArgument {
                    argument: "parties",
                    requirement: "a barrier needs at least one party",
                });
            }
            Ok(Self {
                lock: RawLock::new(),
                changed: RawCondvar::new(),
                parties,
                count: AtomicU32::new(0),
                state: AtomicU32::new(FILLING),
            })
        }
    }

    /// Waits until all parties have arrived; returns this party's arrival index.
    ///
    /// ```
    /// let barrier = mp_sync::Barrier::new(1).unwrap();
    /// assert_eq!(barrier.wait(), Ok(0));
    /// ```
    pub fn wait(&self) -> Result<u32, Error> {
        self.wait_until(Deadline::NEVER)
    }

    /// As [`wait`](Barrier::wait), but gives up after `timeout`, which breaks the barrier for
    /// everyone (as Python does): this caller gets [`Error::TimedOut`], the others
    /// [`Error::BrokenBarrier`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let barrier = mp_sync::Barrier::new(2).unwrap();
    /// assert_eq!(barrier.wait_timeout(Duration::from_millis(5)), Err(mp_sync::Error::TimedOut));
    /// assert!(barrier.broken());
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, Error> {
        self.wait_until(Deadline::after(timeout))
    }

    /// Breaks the barrier: current and future waiters get [`Error::BrokenBarrier`] until
    /// [`reset`](Barrier::reset).
    ///
    /// ```
    /// let barrier = mp_sync::Barrier::new(2).unwrap();
    /// barrier.abort();
    /// assert_eq!(barrier.wait(), Err(mp_sync::Error::BrokenBarrier));
    /// ```
    pub fn abort(&self) {
        self.enter().break_barrier();
    }

    /// Returns the barrier to its empty state; parties waiting now get
    /// [`Error::BrokenBarrier`].
    ///
    /// ```
    /// let barrier = mp_sync::Barrier::new(2).unwrap();
    /// barrier.abort();
    /// barrier.reset();
    /// assert!(!barrier.broken());
    /// ```
    pub fn reset(&self) {
        let inner = self.enter();
        if inner.count() > 0 {
            if matches!(inner.state(), FILLING | BROKEN) {
                inner.set_state(RESETTING);
            }
        } else {
            inner.set_state(FILLING);
        }
        inner.notify_all();
    }

    /// The number of parties needed to trip the barrier.
    ///
    /// ```
    /// assert_eq!(mp_sync::Barrier::new(4).unwrap().parties(), 4);
    /// ```
    pub fn parties(&self) -> u32 {
        self.parties
    }

    /// The number of parties waiting now.
    ///
    /// ```
    /// assert_eq!(mp_sync::Barrier::new(4).unwrap().n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> u32 {
        let inner = self.enter();
        if inner.state() == FILLING {
            inner.count()
        } else {
            0
        }
    }

    /// Whether the barrier is broken.
    ///
    /// ```
    /// assert!(!mp_sync::Barrier::new(4).unwrap().broken());
    /// ```
    pub fn broken(&self) -> bool {
        self.state.load(Ordering::Relaxed) == BROKEN
    }

    fn enter(&self) -> Inner<'_> {
        let acquired = self.lock.lock_blocking(current_thread_id());
        let inner = Inner { barrier: self };
        if acquired == Acquired::Poisoned {
            inner.break_on_owner_death();
        }
        inner
    }

    fn wait_until(&self, deadline: Deadline) -> Result<u32, Error> {
        let inner = self.enter();
        // Wait for the previous round to drain or finish resetting.
        while matches!(inner.state(), DRAINING | RESETTING) {
            if !inner.wait(deadline) && matches!(inner.state(), DRAINING | RESETTING) {
                return Err(Error::TimedOut);
            }
        }
        if inner.state() == BROKEN {
            return Err(Error::BrokenBarrier);
        }
        let index = inner.count();
        inner.set_count(index + 1);
        let outcome = if index + 1 == self.parties {
            inner.set_state(DRAINING);
            inner.notify_all();
            Ok(index)
        } else {
            self.wait_for_trip(&inner, index, deadline)
        };
        // Leave: the last party out of a tripped or reset barrier re-opens it.
        inner.set_count(inner.count() - 1);
        if inner.count() == 0 && matches!(inner.state(), DRAINING | RESETTING) {
            inner.set_state(FILLING);
            inner.notify_all();
        }
        outcome
    }

    fn wait_for_trip(
        &self,
        inner: &Inner<'_>,
        index: u32,
        deadline: Deadline,
    ) -> Result<u32, Error> {
        while inner.state() == FILLING {
            if !inner.wait(deadline) && inner.state() == FILLING && deadline.has_passed() {
                inner.break_barrier();
                return Err(Error::TimedOut);
            }
        }
        if inner.state() == DRAINING {
            Ok(index)
        } else {
            Err(Error::BrokenBarrier)
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("broken", &self.broken())
            .finish_non_exhaustive()
    }
}
