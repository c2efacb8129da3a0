//! `Condition`: Python's `threading.Condition`, holding the state it guards.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crate::Error;
use crate::error::{LockResult, OwnerDied, TryLockResult};
use crate::mutex::{Mutex, MutexGuard};
use crate::raw_condvar::RawCondvar;
use crate::raw_lock::Acquired;
use mp_sys::Deadline;

/// A lock and a condition variable in one, as Python's `Condition`, which also owns the
/// state the condition is about (use `()` for none).
///
/// Python's `Condition` wraps a lock passed to it. Here the lock is inline, so the whole
/// `Condition` is plain data that can live in shared memory between processes; waiting and
/// notifying are methods of the guard, so nobody can notify without holding the lock
/// (Python's `RuntimeError: cannot notify on un-acquired lock` cannot happen). The lock is
/// not re-entrant (Python's default is an `RLock`): a guard that derefs to the state
/// cannot be taken twice.
///
/// ```
/// use std::sync::Arc;
/// use mp_sync::Condition;
///
/// let ready = Arc::new(Condition::new(false));
/// let waiter = {
///     let ready = Arc::clone(&ready);
///     std::thread::spawn(move || {
///         let mut guard = ready.lock().unwrap();
///         guard.wait_for(|ready| *ready).unwrap();
///     })
/// };
/// let mut guard = ready.lock().unwrap();
/// *guard = true;
/// guard.notify_all();
/// drop(guard);
/// waiter.join().unwrap();
/// ```
#[repr(C)]
pub struct Condition<T = ()> {
    mutex: Mutex<T>,
    condvar: RawCondvar,
}

/// The lock of a [`Condition`], held: derefs to the state, and waits and notifies.
///
/// ```
/// let cond = mp_sync::Condition::new(0u32);
/// let mut guard = cond.lock().unwrap();
/// *guard += 1;
/// guard.notify(1);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ConditionGuard<'a, T> {
    guard: MutexGuard<'a, T>,
    condvar: &'a RawCondvar,
}

impl<T> Condition<T> {
    crate::const_unless_loom! {
        /// A condition over `state`.
        ///
        /// ```
        /// static QUEUE_LEN: mp_sync::Condition<usize> = mp_sync::Condition::new(0);
        /// assert_eq!(*QUEUE_LEN.lock().unwrap(), 0);
        /// ```
        pub fn new(state: T) -> Self {
            Self { mutex: Mutex::new(state), condvar: RawCondvar::new() }
        }
    }

    /// Blocks until the lock is held (Python's `with cond:`).
    ///
    /// ```
    /// let cond = mp_sync::Condition::new(());
    /// let _guard = cond.lock().unwrap();
    /// ```
    pub fn lock(&self) -> LockResult<ConditionGuard<'_, T>> {
        self.mutex
            .lock()
            .map(|g| self.wrap(g))
            .map_err(|e| e.map(|g| self.wrap(g)))
    }

    /// Takes the lock if it is free, without waiting (else `Err(TryLockError::WouldBlock)`).
    ///
    /// ```
    /// let cond = mp_sync::Condition::new(());
    /// assert!(cond.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> TryLockResult<ConditionGuard<'_, T>> {
        self.mutex
            .try_lock()
            .map(|g| self.wrap(g))
            .map_err(|e| e.map(|g| self.wrap(g)))
    }

    /// Blocks until the lock is held or `timeout` elapses (then
    /// `Err(TryLockError::TimedOut)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sync::TryLockError;
    /// let cond = mp_sync::Condition::new(());
    /// let held = cond.lock_timeout(Duration::from_millis(5)).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let waited = cond.lock_timeout(Duration::ZERO);
    ///         assert!(matches!(waited, Err(TryLockError::TimedOut)));
    ///     });
    /// });
    /// # drop(held);
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> TryLockResult<ConditionGuard<'_, T>> {
        self.mutex
            .lock_timeout(timeout)
            .map(|g| self.wrap(g))
            .map_err(|e| e.map(|g| self.wrap(g)))
    }

    /// Whether a holder died holding the lock since the last `clear_poison`.
    ///
    /// ```
    /// assert!(!mp_sync::Condition::new(()).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.mutex.is_poisoned()
    }

    /// Clears the owner-died mark.
    ///
    /// ```
    /// mp_sync::Condition::new(()).clear_poison();
    /// ```
    pub fn clear_poison(&self) {
        self.mutex.clear_poison();
    }

    /// The state, consuming the condition.
    ///
    /// ```
    /// assert_eq!(mp_sync::Condition::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.mutex.into_inner()
    }

    fn wrap<'a>(&'a self, guard: MutexGuard<'a, T>) -> ConditionGuard<'a, T> {
        ConditionGuard {
            guard,
            condvar: &self.condvar,
        }
    }
}

impl<T> ConditionGuard<'_, T> {
    /// Releases the lock, sleeps until notified, and takes the lock back (Python's `wait()`).
    ///
    /// Check the state in a loop, or use [`wait_for`](ConditionGuard::wait_for): another
    /// thread may take the lock between the notify and this wait's return and change the
    /// state again, and a notify after a waiting process died may wake one waiter more. `Err` means the lock was taken
    /// back from a holder that died; this guard holds it either way.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let cond = Arc::new(mp_sync::Condition::new(0u32));
    /// let c = Arc::clone(&cond);
    /// let t = std::thread::spawn(move || {
    ///     let mut g = c.lock().unwrap();
    ///     *g = 1;
    ///     g.notify(1);
    /// });
    /// let mut g = cond.lock().unwrap();
    /// while *g == 0 {
    ///     g.wait().unwrap();
    /// }
    /// # drop(g);
    /// t.join().unwrap();
    /// ```
    pub fn wait(&mut self) -> LockResult<()> {
        let (_, acquired) = self.wait_until(Deadline::NEVER);
        owner_died_result(acquired, ())
    }

    /// As [`wait`](ConditionGuard::wait), for at most `timeout`: `Err(Error::TimedOut)` when
    /// it elapsed without a notify (Python's `wait(timeout)` returning `False`, so
    /// `wait_timeout(t).is_ok()` is Python's value), `Err(Error::OwnerDied)` when the lock
    /// was taken back from a holder that died (reported first: a caller cannot miss it;
    /// check the state to know whether a notify came too). The guard holds the lock again
    /// in every case. `Duration::ZERO` releases and retakes the lock once; `Duration::MAX`
    /// waits for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = mp_sync::Condition::new(());
    /// let mut g = cond.lock().unwrap();
    /// assert_eq!(g.wait_timeout(Duration::from_millis(5)), Err(mp_sync::Error::TimedOut));
    /// g.notify_all(); // still held
    /// ```
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        let (woken, acquired) = self.wait_until(Deadline::after(timeout));
        timed_wait_result(acquired, woken)
    }

    /// Waits until `predicate` holds for the state (Python's `wait_for`).
    ///
    /// ```
    /// let cond = mp_sync::Condition::new(5u32);
    /// let mut g = cond.lock().unwrap();
    /// g.wait_for(|n| *n == 5).unwrap(); // already true: returns at once
    /// ```
    pub fn wait_for(&mut self, mut predicate: impl FnMut(&mut T) -> bool) -> LockResult<()> {
        let mut owner_died = false;
        while !predicate(&mut self.guard) {
            owner_died |= self.wait_until(Deadline::NEVER).1 == Acquired::Poisoned;
        }
        owner_died_result(
            if owner_died {
                Acquired::Poisoned
            } else {
                Acquired::Clean
            },
            (),
        )
    }

    /// Waits until `predicate` holds or `timeout` elapses (Python's
    /// `wait_for(predicate, timeout)`): `Ok(())` when the predicate holds,
    /// `Err(Error::TimedOut)` when it still did not at the deadline, `Err(Error::OwnerDied)`
    /// when the lock was taken back from a holder that died during the wait (reported
    /// first; check the state to know whether the predicate holds). The guard holds the lock
    /// again in every case. `Duration::ZERO` checks the predicate once, without waiting.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cond = mp_sync::Condition::new(0u32);
    /// let mut g = cond.lock().unwrap();
    /// let waited = g.wait_for_timeout(|n| *n > 0, Duration::from_millis(5));
    /// assert_eq!(waited, Err(mp_sync::Error::TimedOut));
    /// assert_eq!(g.wait_for_timeout(|n| *n == 0, Duration::ZERO), Ok(()));
    /// ```
    pub fn wait_for_timeout(
        &mut self,
        mut predicate: impl FnMut(&mut T) -> bool,
        timeout: Duration,
    ) -> Result<(), Error> {
        let deadline = Deadline::after(timeout);
        let mut owner_died = false;
        let satisfied = loop {
            if predicate(&mut self.guard) {
                break true;
            }
            if deadline.has_passed() {
                break false;
            }
            owner_died |= self.wait_until(deadline).1 == Acquired::Poisoned;
        };
        timed_wait_result(
            if owner_died {
                Acquired::Poisoned
            } else {
                Acquired::Clean
            },
            satisfied,
        )
    }

    /// Wakes `count` waiters, or every waiter if fewer wait (Python's `notify(n)`).
    ///
    /// Exactly `min(count, waiting)` return from their wait for this notify, never one
    /// that started waiting after it; which ones is not specified. (Should a waiting
    /// process die, a later notify may wake one waiter more.)
    ///
    /// ```
    /// let cond = mp_sync::Condition::new(());
    /// cond.lock().unwrap().notify(1); // nobody waits: nothing happens
    /// ```
    pub fn notify(&self, count: usize) {
        self.condvar
            .notify(u32::try_from(count).unwrap_or(u32::MAX));
    }

    /// Wakes every waiter (Python's `notify_all()`).
    ///
    /// ```
    /// let cond = mp_sync::Condition::new(());
    /// cond.lock().unwrap().notify_all();
    /// ```
    pub fn notify_all(&self) {
        self.condvar.notify(u32::MAX);
    }

    fn wait_until(&mut self, deadline: Deadline) -> (bool, Acquired) {
        let guard = &self.guard;
        self.condvar.wait(guard.raw(), || guard.relock(), deadline)
    }
}

/// The outcome of a timed wait: owner death first (the caller must not miss it), then
/// whether the wait ended before its deadline.
fn timed_wait_result(acquired: Acquired, woken: bool) -> Result<(), Error> {
    match (acquired, woken) {
        (Acquired::Poisoned, _) => Err(Error::OwnerDied),
        (Acquired::Clean, true) => Ok(()),
        (Acquired::Clean, false) => Err(Error::TimedOut),
    }
}

fn owner_died_result<V>(acquired: Acquired, value: V) -> LockResult<V> {
    match acquired {
        Acquired::Clean => Ok(value),
        Acquired::Poisoned => Err(OwnerDied::new(value)),
    }
}

impl<T> Deref for ConditionGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for ConditionGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: Default> Default for Condition<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("poisoned", &self.is_poisoned())
            .finish_non_exhaustive()
    }
}

impl<T: fmt::Debug> fmt::Debug for ConditionGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
