//! `Semaphore` and `BoundedSemaphore`: Python's counting semaphores.

use std::fmt;
use std::time::Duration;

use crate::Error;
use mp_sys::Deadline;
use mp_sys::futex::{self, AtomicU32, Ordering};

/// A counter of permits: `acquire` takes one (waiting while there are none), `release` gives
/// permits back. As Python's `Semaphore`, nothing ties a release to an earlier acquire.
///
/// ```
/// use std::sync::Arc;
/// use mp_sync::Semaphore;
///
/// let slots = Arc::new(Semaphore::new(2));
/// slots.acquire();
/// slots.acquire();
/// assert_eq!(slots.try_acquire(), Err(mp_sync::Error::WouldBlock));
/// slots.release(1).unwrap();
/// assert_eq!(slots.try_acquire(), Ok(()));
/// ```
#[repr(C)]
pub struct Semaphore {
    permits: AtomicU32,
    /// Threads about to sleep or sleeping on `permits`; `release` skips the wake-up call
    /// when there are none.
    sleepers: AtomicU32,
}

impl Semaphore {
    crate::const_unless_loom! {
        /// A semaphore with `permits` initial permits.
        ///
        /// ```
        /// static SLOTS: mp_sync::Semaphore = mp_sync::Semaphore::new(3);
        /// assert_eq!(SLOTS.value(), 3);
        /// ```
        pub fn new(permits: u32) -> Self {
            Self { permits: AtomicU32::new(permits), sleepers: AtomicU32::new(0) }
        }
    }

    /// Takes a permit, waiting for one if needed.
    ///
    /// ```
    /// let s = mp_sync::Semaphore::new(1);
    /// s.acquire();
    /// assert_eq!(s.value(), 0);
    /// ```
    pub fn acquire(&self) {
        while !self.acquire_until(Deadline::NEVER) {}
    }

    /// Takes a permit if one is free, without waiting (Python's `acquire(blocking=False)`,
    /// whose `True` is `try_acquire().is_ok()`); [`Error::WouldBlock`] if none is.
    ///
    /// ```
    /// let s = mp_sync::Semaphore::new(0);
    /// assert_eq!(s.try_acquire(), Err(mp_sync::Error::WouldBlock));
    /// ```
    pub fn try_acquire(&self) -> Result<(), Error> {
        if self.take_permit() {
            Ok(())
        } else {
            Err(Error::WouldBlock)
        }
    }

    fn take_permit(&self) -> bool {
        let mut current = self.permits.load(Ordering::Relaxed);
        while current > 0 {
            match self.permits.compare_exchange_weak(
                current,
                current - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
        false
    }

    /// Takes a permit, waiting at most `timeout` (Python's `acquire(timeout=t)`, whose
    /// `True` is `acquire_timeout(t).is_ok()`); [`Error::TimedOut`] if none came.
    /// `Duration::ZERO` tries once; `Duration::MAX` waits for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = mp_sync::Semaphore::new(0);
    /// assert_eq!(s.acquire_timeout(Duration::from_millis(5)), Err(mp_sync::Error::TimedOut));
    /// s.release(1).unwrap();
    /// assert_eq!(s.acquire_timeout(Duration::ZERO), Ok(()));
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), Error> {
        if self.acquire_until(Deadline::after(timeout)) {
            Ok(())
        } else {
            Err(Error::TimedOut)
        }
    }

    /// Gives back `count` permits and wakes as many waiters.
    /// [`Error::Overflow`] if the value would pass `u32::MAX` (nothing is released then).
    ///
    /// ```
    /// let s = mp_sync::Semaphore::new(0);
    /// s.release(2).unwrap();
    /// assert_eq!(s.value(), 2);
    /// assert_eq!(s.release(u32::MAX), Err(mp_sync::Error::Overflow));
    /// ```
    pub fn release(&self, count: u32) -> Result<(), Error> {
        self.release_within(count, u32::MAX, Error::Overflow)
    }

    /// The number of free permits now.
    ///
    /// ```
    /// assert_eq!(mp_sync::Semaphore::new(4).value(), 4);
    /// ```
    pub fn value(&self) -> u32 {
        self.permits.load(Ordering::Relaxed)
    }

    fn acquire_until(&self, deadline: Deadline) -> bool {
        loop {
            if self.take_permit() {
                return true;
            }
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            let woken = futex::wait(&self.permits, 0, deadline);
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            if !woken {
                // A permit released right at the deadline still counts.
                return self.take_permit();
            }
        }
    }

    /// Adds `count` permits unless the value would pass `limit`.
    pub(crate) fn release_within(
        &self,
        count: u32,
        limit: u32,
        past_limit: Error,
    ) -> Result<(), Error> {
        if count == 0 {
            return Ok(());
        }
        let mut current = self.permits.load(Ordering::Relaxed);
        loop {
            let next = match current.checked_add(count) {
                Some(next) if next <= limit => next,
                _ => return Err(past_limit),
            };
            match self.permits.compare_exchange_weak(
                current,
                next,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        // A read-modify-write, not a load: it reads the latest `sleepers`, so either it sees a
        // sleeper's increment (and wakes it), or that increment comes later in the counter's
        // order and synchronizes with this one, and the sleeper's futex check then sees the
        // new permits. A plain load would lean on the SeqCst total order, which loom cannot
        // check.
        if self.sleepers.fetch_add(0, Ordering::SeqCst) > 0 {
            futex::wake(&self.permits, count);
        }
        Ok(())
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish()
    }
}

/// A semaphore that refuses to be released past its initial value, as Python's
/// `BoundedSemaphore`: over-release is a bug, reported as [`Error::TooManyReleases`].
///
/// ```
/// let s = mp_sync::BoundedSemaphore::new(1);
/// s.acquire();
/// s.release(1).unwrap();
/// assert_eq!(s.release(1), Err(mp_sync::Error::TooManyReleases));
/// ```
#[repr(C)]
pub struct BoundedSemaphore {
    semaphore: Semaphore,
    bound: u32,
}

impl BoundedSemaphore {
    crate::const_unless_loom! {
        /// A bounded semaphore with `permits` permits, which is also its bound.
        ///
        /// ```
        /// assert_eq!(mp_sync::BoundedSemaphore::new(2).value(), 2);
        /// ```
        pub fn new(permits: u32) -> Self {
            Self { semaphore: Semaphore::new(permits), bound: permits }
        }
    }

    /// Takes a permit, waiting for one if needed.
    ///
    /// ```
    /// let s = mp_sync::BoundedSemaphore::new(1);
    /// s.acquire();
    /// ```
    pub fn acquire(&self) {
        self.semaphore.acquire();
    }

    /// Takes a permit if one is free; [`Error::WouldBlock`] if none is.
    ///
    /// ```
    /// let s = mp_sync::BoundedSemaphore::new(1);
    /// assert_eq!(s.try_acquire(), Ok(()));
    /// assert_eq!(s.try_acquire(), Err(mp_sync::Error::WouldBlock));
    /// ```
    pub fn try_acquire(&self) -> Result<(), Error> {
        self.semaphore.try_acquire()
    }

    /// Takes a permit, waiting at most `timeout`; [`Error::TimedOut`] if none came.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = mp_sync::BoundedSemaphore::new(0);
    /// assert_eq!(s.acquire_timeout(Duration::from_millis(5)), Err(mp_sync::Error::TimedOut));
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.semaphore.acquire_timeout(timeout)
    }

    /// Gives back `count` permits; [`Error::TooManyReleases`] (and nothing released) if
    /// that would pass the bound.
    ///
    /// ```
    /// let s = mp_sync::BoundedSemaphore::new(2);
    /// s.acquire();
    /// assert_eq!(s.release(2), Err(mp_sync::Error::TooManyReleases));
    /// assert_eq!(s.release(1), Ok(()));
    /// ```
    pub fn release(&self, count: u32) -> Result<(), Error> {
        self.semaphore
            .release_within(count, self.bound, Error::TooManyReleases)
    }

    /// The number of free permits now.
    ///
    /// ```
    /// assert_eq!(mp_sync::BoundedSemaphore::new(3).value(), 3);
    /// ```
    pub fn value(&self) -> u32 {
        self.semaphore.value()
    }

    /// The bound: the initial number of permits.
    ///
    /// ```
    /// assert_eq!(mp_sync::BoundedSemaphore::new(3).bound(), 3);
    /// ```
    pub fn bound(&self) -> u32 {
        self.bound
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("value", &self.value())
            .field("bound", &self.bound)
            .finish()
    }
}
