//! `RLock`: Python's re-entrant lock.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use crate::Error;
use crate::error::{LockResult, TryLockResult, lock_result, timed_lock_result, try_lock_result};
use crate::owner::current_thread_id;
use crate::raw_lock::{Acquired, NotAcquired, RawLock};
use mp_sys::Deadline;
use mp_sys::futex::{AtomicU32, Ordering};

/// A re-entrant lock, owned by the thread that took it, as Python's `RLock`.
///
/// The holding thread may take it again; it is free once released as many times as it was
/// taken. Only the holder may release ([`Error::NotOwner`] otherwise). If the holding thread
/// dies (its process killed, or the thread gone without releasing), the next acquirer gets
/// the lock marked with [`OwnerDied`](crate::OwnerDied).
///
/// Taking it more than `u32::MAX` times without releasing panics, as std's re-entrant lock
/// does: that many levels can only come from a bug, and no result type of a successful
/// acquisition could carry the error.
///
/// ```
/// let lock = mp_sync::RLock::new();
/// let outer = lock.lock().unwrap();
/// let inner = lock.lock().unwrap(); // the same thread again: no deadlock
/// assert_eq!(lock.count(), 2);
/// drop(inner);
/// drop(outer);
/// assert!(!lock.locked());
/// ```
#[repr(C)]
pub struct RLock {
    raw: RawLock,
    /// How many times the holder took it; only the holder reads or writes it.
    count: AtomicU32,
}

/// Holds one level of an [`RLock`] until dropped. It cannot be sent to another thread.
///
/// ```
/// let lock = mp_sync::RLock::new();
/// let guard = lock.lock().unwrap();
/// assert!(lock.is_owned());
/// drop(guard);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    not_send: PhantomData<*const ()>,
}

// SAFETY: a shared reference to the guard only gives `&RLock`, which is `Sync`.
unsafe impl Sync for RLockGuard<'_> {}

impl RLock {
    crate::const_unless_loom! {
        /// A new, unlocked re-entrant lock.
        ///
        /// ```
        /// static LOCK: mp_sync::RLock = mp_sync::RLock::new();
        /// assert!(!LOCK.locked());
        /// ```
        pub fn new() -> Self {
            Self { raw: RawLock::new(), count: AtomicU32::new(0) }
        }
    }

    /// Blocks until the calling thread holds the lock (at once if it already does).
    ///
    /// ```
    /// let lock = mp_sync::RLock::new();
    /// let _a = lock.lock().unwrap();
    /// let _b = lock.lock().unwrap();
    /// ```
    pub fn lock(&self) -> LockResult<RLockGuard<'_>> {
        self.acquire()
            .map(|()| self.guard())
            .map_err(|e| e.map(|()| self.guard()))
    }

    /// Takes the lock if it is free or already ours, without waiting.
    ///
    /// ```
    /// let lock = mp_sync::RLock::new();
    /// let _a = lock.try_lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_lock().is_err()));
    /// });
    /// ```
    pub fn try_lock(&self) -> TryLockResult<RLockGuard<'_>> {
        let outcome = self.enter(|raw, id| raw.try_lock(id));
        try_lock_result(outcome, || self.guard())
    }

    /// Blocks until the lock is held or `timeout` elapses (then
    /// `Err(TryLockError::TimedOut)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sync::TryLockError;
    /// let lock = mp_sync::RLock::new();
    /// let _a = lock.lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let waited = lock.lock_timeout(Duration::from_millis(5));
    ///         assert!(matches!(waited, Err(TryLockError::TimedOut)));
    ///     });
    /// });
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> TryLockResult<RLockGuard<'_>> {
        let deadline = Deadline::after(timeout);
        let outcome = self.enter(|raw, id| raw.lock(id, deadline));
        timed_lock_result(outcome, || self.guard())
    }

    /// Python's `acquire()`; pair with [`release`](RLock::release) on the same thread.
    ///
    /// ```
    /// let lock = mp_sync::RLock::new();
    /// lock.acquire().unwrap();
    /// lock.acquire().unwrap();
    /// lock.release().unwrap();
    /// lock.release().unwrap();
    /// assert!(!lock.locked());
    /// ```
    pub fn acquire(&self) -> LockResult<()> {
        let acquired = match self.enter(|raw, id| Ok(raw.lock_blocking(id))) {
            Ok(acquired) => acquired,
            Err(NotAcquired::WouldBlock) => Acquired::Clean,
        };
        lock_result(acquired, ())
    }

    /// Python's `acquire(blocking=False)`: `Err(TryLockError::WouldBlock)` if another
    /// thread holds the lock.
    ///
    /// ```
    /// let lock = mp_sync::RLock::new();
    /// assert!(lock.try_acquire().is_ok());
    /// lock.release().unwrap();
    /// ```
    pub fn try_acquire(&self) -> TryLockResult<()> {
        try_lock_result(self.enter(|raw, id| raw.try_lock(id)), || ())
    }

    /// Python's `acquire(timeout=t)`: `Err(TryLockError::TimedOut)` if another thread held
    /// the lock for the whole `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = mp_sync::RLock::new();
    /// assert!(lock.acquire_timeout(Duration::from_millis(5)).is_ok());
    /// lock.release().unwrap();
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> TryLockResult<()> {
        let deadline = Deadline::after(timeout);
        timed_lock_result(self.enter(|raw, id| raw.lock(id, deadline)), || ())
    }

    /// Python's `release()`: one level; only the holding thread may release.
    ///
    /// ```
    /// let lock = mp_sync::RLock::new();
    /// assert_eq!(lock.release(), Err(mp_sync::Error::NotLocked));
    /// lock.acquire().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(lock.release(), Err(mp_sync::Error::NotOwner)));
    /// });
    /// lock.release().unwrap();
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        let holder = self.raw.holder();
        if holder == 0 {
            return Err(Error::NotLocked);
        }
        if holder != current_thread_id() {
            return Err(Error::NotOwner);
        }
        self.leave();
        Ok(())
    }

    /// Whether any thread holds the lock.
    ///
    /// ```
    /// assert!(!mp_sync::RLock::new().locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the calling thread holds the lock.
    ///
    /// ```
    /// let lock = mp_sync::RLock::new();
    /// assert!(!lock.is_owned());
    /// ```
    pub fn is_owned(&self) -> bool {
        self.raw.holder() == current_thread_id()
    }

    /// How many times the calling thread holds the lock (0 if it does not).
    ///
    /// ```
    /// let lock = mp_sync::RLock::new();
    /// let _g = lock.lock().unwrap();
    /// assert_eq!(lock.count(), 1);
    /// ```
    pub fn count(&self) -> u32 {
        if self.is_owned() {
            self.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Whether a holder died holding the lock since the last `clear_poison`.
    ///
    /// ```
    /// assert!(!mp_sync::RLock::new().is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.raw.is_poisoned()
    }

    /// Clears the owner-died mark.
    ///
    /// ```
    /// mp_sync::RLock::new().clear_poison();
    /// ```
    pub fn clear_poison(&self) {
        self.raw.clear_poison();
    }

    /// Re-enters if the calling thread holds the lock, otherwise runs `take` on the raw lock.
    fn enter(
        &self,
        take: impl FnOnce(&RawLock, u32) -> Result<Acquired, NotAcquired>,
    ) -> Result<Acquired, NotAcquired> {
        let id = current_thread_id();
        if self.raw.holder() == id {
            let count = self.count.load(Ordering::Relaxed);
            let next = count
                .checked_add(1)
                .expect("RLock acquired more than u32::MAX times");
            self.count.store(next, Ordering::Relaxed);
            return Ok(Acquired::Clean);
        }
        let acquired = take(&self.raw, id)?;
        self.count.store(1, Ordering::Relaxed);
        Ok(acquired)
    }

    /// Drops one level, held by the calling thread.
    fn leave(&self) {
        let count = self.count.load(Ordering::Relaxed);
        if count > 1 {
            self.count.store(count - 1, Ordering::Relaxed);
        } else {
            self.count.store(0, Ordering::Relaxed);
            let _ = self.raw.unlock();
        }
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            not_send: PhantomData,
        }
    }
}

impl Default for RLock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("locked", &self.locked())
            .field("owned", &self.is_owned())
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // The guard was made on this thread (it is not Send) and holds one level.
        if self.lock.is_owned() {
            self.lock.leave();
        }
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard").finish_non_exhaustive()
    }
}
