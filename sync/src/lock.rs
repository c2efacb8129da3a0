//! `Lock`: Python's `threading.Lock` / `multiprocessing.Lock`.

use std::fmt;
use std::time::Duration;

use crate::Error;
use crate::error::{LockResult, TryLockResult, lock_result, timed_lock_result, try_lock_result};
use crate::owner::current_process_id;
use crate::raw_lock::{RawLock, ReleaseError};
use mp_sys::Deadline;

/// A mutual-exclusion lock that any thread of any process may release, as Python's `Lock`
/// (a binary semaphore, not an owned mutex).
///
/// Use the guard form (`lock`) where one scope takes and releases it, and the Python form
/// (`acquire` / `release`) where one thread takes it and another hands it back. The lock
/// records its holder's *process*: if that process dies holding it, the next acquirer gets
/// the lock within about 100 ms, marked with [`OwnerDied`](crate::OwnerDied); the mark
/// stays until [`clear_poison`](Lock::clear_poison). A thread that exits while its process
/// lives does not count as dead: another thread may still release the lock for it.
///
/// ```
/// use std::sync::Arc;
/// use mp_sync::Lock;
///
/// let lock = Arc::new(Lock::new());
/// let worker = {
///     let lock = Arc::clone(&lock);
///     std::thread::spawn(move || {
///         let _guard = lock.lock().unwrap();
///         // ... critical section ...
///     })
/// };
/// worker.join().unwrap();
/// assert!(!lock.locked());
/// ```
#[repr(C)]
pub struct Lock {
    raw: RawLock,
}

/// Holds a [`Lock`] until dropped.
///
/// ```
/// let lock = mp_sync::Lock::new();
/// {
///     let _guard = lock.lock().unwrap();
///     assert!(lock.locked());
/// }
/// assert!(!lock.locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Lock {
    crate::const_unless_loom! {
        /// A new, unlocked lock.
        ///
        /// ```
        /// static LOCK: mp_sync::Lock = mp_sync::Lock::new();
        /// assert!(!LOCK.locked());
        /// ```
        pub fn new() -> Self {
            Self { raw: RawLock::new() }
        }
    }

    /// Blocks until the lock is held; the guard releases it.
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// let guard = lock.lock().unwrap();
    /// assert!(lock.locked());
    /// drop(guard);
    /// ```
    #[inline]
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        self.acquire()
            .map(|()| self.guard())
            .map_err(|e| e.map(|()| self.guard()))
    }

    /// Takes the lock if it is free, without waiting.
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// let first = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_err());
    /// # drop(first);
    /// ```
    pub fn try_lock(&self) -> TryLockResult<LockGuard<'_>> {
        try_lock_result(self.raw.try_lock(current_process_id()), || self.guard())
    }

    /// Blocks until the lock is held or `timeout` elapses (then
    /// `Err(TryLockError::TimedOut)`). `Duration::ZERO` tries once; `Duration::MAX` waits
    /// for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sync::TryLockError;
    /// let lock = mp_sync::Lock::new();
    /// let _held = lock.lock().unwrap();
    /// assert!(matches!(lock.lock_timeout(Duration::from_millis(10)), Err(TryLockError::TimedOut)));
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> TryLockResult<LockGuard<'_>> {
        let outcome = self
            .raw
            .lock(current_process_id(), Deadline::after(timeout));
        timed_lock_result(outcome, || self.guard())
    }

    /// Python's `acquire()`: blocks until the lock is held, with no guard. Pair it with
    /// [`release`](Lock::release), possibly from another thread or process.
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// lock.acquire().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| lock.release().unwrap());
    /// });
    /// assert!(!lock.locked());
    /// ```
    #[inline]
    pub fn acquire(&self) -> LockResult<()> {
        lock_result(self.raw.lock_blocking(current_process_id()), ())
    }

    /// Python's `acquire(blocking=False)`: `Err(TryLockError::WouldBlock)` if the lock is
    /// held.
    ///
    /// ```
    /// use mp_sync::TryLockError;
    /// let lock = mp_sync::Lock::new();
    /// assert!(lock.try_acquire().is_ok());
    /// assert!(matches!(lock.try_acquire(), Err(TryLockError::WouldBlock)));
    /// lock.release().unwrap();
    /// ```
    pub fn try_acquire(&self) -> TryLockResult<()> {
        try_lock_result(self.raw.try_lock(current_process_id()), || ())
    }

    /// Python's `acquire(timeout=t)` (`acquire_timeout(t).is_ok()` is Python's `True`):
    /// `Err(TryLockError::TimedOut)` if the lock stayed held for the whole `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sync::TryLockError;
    /// let lock = mp_sync::Lock::new();
    /// assert!(lock.acquire_timeout(Duration::from_millis(5)).is_ok());
    /// assert!(matches!(lock.acquire_timeout(Duration::from_millis(5)), Err(TryLockError::TimedOut)));
    /// lock.release().unwrap();
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> TryLockResult<()> {
        timed_lock_result(
            self.raw
                .lock(current_process_id(), Deadline::after(timeout)),
            || (),
        )
    }

    /// Python's `release()`: any thread of any process may release; releasing an unlocked
    /// lock is [`Error::NotLocked`].
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// lock.acquire().unwrap();
    /// assert_eq!(lock.release(), Ok(()));
    /// assert_eq!(lock.release(), Err(mp_sync::Error::NotLocked));
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.raw
            .unlock()
            .map_err(|ReleaseError::NotLocked| Error::NotLocked)
    }

    /// Python's `locked()`.
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// assert!(!lock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether a holder died holding the lock since the last [`clear_poison`](Lock::clear_poison).
    ///
    /// ```
    /// assert!(!mp_sync::Lock::new().is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.raw.is_poisoned()
    }

    /// Clears the owner-died mark, once what the lock guards is consistent again.
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// lock.clear_poison();
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.raw.clear_poison();
    }

    fn guard(&self) -> LockGuard<'_> {
        LockGuard { lock: self }
    }
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // The guard proves the lock is held, so this cannot report NotLocked unless user code
        // released it behind the guard's back with `release()`; then there is nothing to do.
        let _ = self.lock.raw.unlock();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}
