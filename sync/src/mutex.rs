//! `Mutex<T>`: data under an owned lock, as Python's synchronized `Value` keeps its value.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crate::error::{LockResult, TryLockResult, lock_result, timed_lock_result, try_lock_result};
use crate::owner::current_thread_id;
use crate::raw_lock::{Acquired, RawLock};
use mp_sys::Deadline;

/// A value under a lock owned by the thread that took it.
///
/// In an `Arc` it is a mutex like std's (without poisoning on panic, like parking_lot's).
/// Placed in shared memory (with plain-data `T`: no pointers, no file descriptors) it
/// guards data between processes; if the holding thread dies, its process killed, the next
/// `lock` gets the guard inside [`OwnerDied`](crate::OwnerDied), and keeps getting it until
/// [`clear_poison`](Mutex::clear_poison).
///
/// ```
/// use std::sync::Arc;
/// use mp_sync::Mutex;
///
/// let counter = Arc::new(Mutex::new(0u64));
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         std::thread::spawn(move || {
///             for _ in 0..1000 {
///                 *counter.lock().unwrap() += 1;
///             }
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 4000);
/// ```
#[repr(C)]
pub struct Mutex<T: ?Sized> {
    raw: RawLock,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one thread at a time, so sharing the mutex only
// ever moves access to `T` between threads, which `T: Send` allows.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// SAFETY: owning the mutex is owning a `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped. Not `Send`: the lock
/// records the thread that holds it.
///
/// ```
/// let m = mp_sync::Mutex::new(vec![1, 2]);
/// m.lock().unwrap().push(3);
/// assert_eq!(m.lock().unwrap().len(), 3);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    not_send: PhantomData<*const ()>,
}

// SAFETY: `&MutexGuard` gives only `&T`, which may be shared when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    crate::const_unless_loom! {
        /// A new, unlocked mutex holding `value`.
        ///
        /// ```
        /// static TOTAL: mp_sync::Mutex<u64> = mp_sync::Mutex::new(0);
        /// *TOTAL.lock().unwrap() += 2;
        /// assert_eq!(*TOTAL.lock().unwrap(), 2);
        /// ```
        pub fn new(value: T) -> Self {
            Self { raw: RawLock::new(), data: UnsafeCell::new(value) }
        }
    }

    /// The value, consuming the mutex.
    ///
    /// ```
    /// assert_eq!(mp_sync::Mutex::new(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Blocks until the calling thread holds the lock.
    ///
    /// ```
    /// let m = mp_sync::Mutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        lock_result(self.raw.lock_blocking(current_thread_id()), self.guard())
    }

    /// Takes the lock if it is free, without waiting.
    ///
    /// ```
    /// let m = mp_sync::Mutex::new(());
    /// let held = m.lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(m.try_lock().is_err()));
    /// });
    /// # drop(held);
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        try_lock_result(self.raw.try_lock(current_thread_id()), || self.guard())
    }

    /// Blocks until the lock is held or `timeout` elapses (then
    /// `Err(TryLockError::TimedOut)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sync::TryLockError;
    /// let m = mp_sync::Mutex::new(0);
    /// let held = m.lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let waited = m.lock_timeout(Duration::from_millis(5));
    ///         assert!(matches!(waited, Err(TryLockError::TimedOut)));
    ///     });
    /// });
    /// # drop(held);
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> TryLockResult<MutexGuard<'_, T>> {
        let outcome = self.raw.lock(current_thread_id(), Deadline::after(timeout));
        timed_lock_result(outcome, || self.guard())
    }

    /// The value, through exclusive access (no locking needed).
    ///
    /// ```
    /// let mut m = mp_sync::Mutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(m.into_inner(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Whether a holder died holding the lock since the last `clear_poison`.
    ///
    /// ```
    /// assert!(!mp_sync::Mutex::new(0).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.raw.is_poisoned()
    }

    /// Clears the owner-died mark, once the data is consistent again.
    ///
    /// ```
    /// mp_sync::Mutex::new(0).clear_poison();
    /// ```
    pub fn clear_poison(&self) {
        self.raw.clear_poison();
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            not_send: PhantomData,
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Lets a condition variable release the lock while it sleeps, and take it back.
    pub(crate) fn raw(&self) -> &'a RawLock {
        &self.mutex.raw
    }

    /// Takes the lock back after a condition wait released it.
    pub(crate) fn relock(&self) -> Acquired {
        self.mutex.raw.lock_blocking(current_thread_id())
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock, so no other
        // reference to the data is live.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let _ = self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(crate::TryLockError::OwnerDied(guard)) => d.field("data", &&**guard.get_ref()),
            Err(crate::TryLockError::WouldBlock | crate::TryLockError::TimedOut) => {
                d.field("data", &format_args!("<locked>"))
            }
        };
        d.field("poisoned", &self.is_poisoned()).finish()
    }
}
