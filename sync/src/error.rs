//! The crate's error type, and the owner-died wrappers that carry a guard.

use std::fmt;

/// Everything that can go wrong in mp-sync.
///
/// ```
/// use mp_sync::{Error, Lock};
///
/// let lock = Lock::new();
/// assert_eq!(lock.release(), Err(Error::NotLocked));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A holder died (or its process did) while holding the lock. The lock was handed on and
    /// stays marked until `clear_poison`; the data it guarded may be half-updated.
    #[error(
        "a previous holder died while holding the lock; what it guarded may be inconsistent, check it and call clear_poison"
    )]
    OwnerDied,
    /// Not now: the lock is held elsewhere, or no permit is free (the non-blocking `try_`
    /// forms, which never wait).
    #[error(
        "not available now (held elsewhere, or no permit free); wait with the blocking or a _timeout form"
    )]
    WouldBlock,
    /// The `_timeout` form waited its whole timeout without getting what it waited for.
    #[error("the timeout elapsed; wait again or give up")]
    TimedOut,
    /// `release` of a lock that nobody holds (Python's `RuntimeError: release unlocked lock`).
    #[error("release of an unlocked lock; release only what was acquired")]
    NotLocked,
    /// `release` of an `RLock` held by another thread.
    #[error(
        "release of a lock that the calling thread does not hold; release it on the thread that acquired it"
    )]
    NotOwner,
    /// `BoundedSemaphore::release` past its initial value (Python's `ValueError`).
    #[error("semaphore released too many times; release once per acquire")]
    TooManyReleases,
    /// A semaphore's value would not fit in a `u32`.
    #[error("semaphore value overflow: it would pass u32::MAX; release less")]
    Overflow,
    /// The barrier was aborted, reset while waiting, or broken by a timeout.
    #[error("the barrier is broken; reset() it before waiting again")]
    BrokenBarrier,
    /// An argument was out of range (such as a barrier of zero parties).
    #[error("invalid argument {argument}: {requirement}")]
    InvalidArgument {
        /// The argument at fault.
        argument: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
}

/// The result of a blocking acquisition: `Err` still holds the lock, but says that a previous
/// holder died holding it.
///
/// This is std's poisoning, for the case Python cannot handle: a process killed while it
/// held a lock. Take the guard with [`OwnerDied::into_inner`] after repairing what it guards,
/// or propagate the error with `?` into [`Error`], which releases the lock.
pub type LockResult<G> = Result<G, OwnerDied<G>>;

/// The result of a non-blocking or timed acquisition.
pub type TryLockResult<G> = Result<G, TryLockError<G>>;

/// The lock was acquired, but a previous holder died while holding it.
///
/// ```
/// use mp_sync::{Mutex, OwnerDied};
///
/// let m = Mutex::new(1u32);
/// // Simulated here; in real life another process died holding `m`.
/// let err: OwnerDied<_> = OwnerDied::new(m.lock().unwrap());
/// let mut guard = err.into_inner();
/// *guard = 0; // repair
/// ```
#[non_exhaustive]
pub struct OwnerDied<G> {
    guard: G,
}

impl<G> OwnerDied<G> {
    /// Wraps a guard of a lock whose previous holder died.
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// let err = mp_sync::OwnerDied::new(lock.lock().unwrap());
    /// assert!(lock.locked());
    /// drop(err);
    /// assert!(!lock.locked());
    /// ```
    pub fn new(guard: G) -> Self {
        Self { guard }
    }

    /// The guard: the lock is held.
    ///
    /// ```
    /// let lock = mp_sync::Lock::new();
    /// let guard = mp_sync::OwnerDied::new(lock.lock().unwrap()).into_inner();
    /// assert!(lock.locked());
    /// # drop(guard);
    /// ```
    pub fn into_inner(self) -> G {
        self.guard
    }

    /// A reference to the guard.
    ///
    /// ```
    /// let m = mp_sync::Mutex::new(5u8);
    /// let err = mp_sync::OwnerDied::new(m.lock().unwrap());
    /// assert_eq!(**err.get_ref(), 5);
    /// ```
    pub fn get_ref(&self) -> &G {
        &self.guard
    }

    /// A mutable reference to the guard.
    ///
    /// ```
    /// let m = mp_sync::Mutex::new(5u8);
    /// let mut err = mp_sync::OwnerDied::new(m.lock().unwrap());
    /// **err.get_mut() = 6;
    /// drop(err);
    /// assert_eq!(*m.lock().unwrap(), 6);
    /// ```
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }

    /// Maps the guard inside, keeping the owner-died mark.
    pub(crate) fn map<H>(self, f: impl FnOnce(G) -> H) -> OwnerDied<H> {
        OwnerDied {
            guard: f(self.guard),
        }
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Error::OwnerDied, f)
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

impl<G> From<OwnerDied<G>> for Error {
    fn from(_: OwnerDied<G>) -> Self {
        Error::OwnerDied
    }
}

/// Why a non-blocking or timed acquisition did not give a clean guard.
///
/// The `try_` forms fail with `WouldBlock`, the `_timeout` forms with `TimedOut`, as every
/// family of the workspace does.
///
/// ```
/// use std::time::Duration;
/// use mp_sync::{Lock, TryLockError};
///
/// let lock = Lock::new();
/// let held = lock.lock().unwrap();
/// assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
/// assert!(matches!(lock.lock_timeout(Duration::ZERO), Err(TryLockError::TimedOut)));
/// # drop(held);
/// ```
#[non_exhaustive]
pub enum TryLockError<G> {
    /// Acquired, but a previous holder died holding the lock.
    OwnerDied(OwnerDied<G>),
    /// Not acquired: held elsewhere (the `try_` forms, which never wait).
    WouldBlock,
    /// Not acquired: held elsewhere for the whole timeout (the `_timeout` forms).
    TimedOut,
}

impl<G> TryLockError<G> {
    /// Maps the guard an `OwnerDied` carries, keeping the kind of failure (for a lock
    /// wrapped in a type of your own, whose guard wraps the inner one).
    ///
    /// ```
    /// use mp_sync::{Lock, TryLockError};
    ///
    /// let lock = Lock::new();
    /// let held = lock.lock().unwrap();
    /// let failed = lock.try_lock().map_err(|e| e.map(|guard| (guard, "mine")));
    /// assert!(matches!(failed, Err(TryLockError::WouldBlock)));
    /// # drop(held);
    /// ```
    pub fn map<H>(self, f: impl FnOnce(G) -> H) -> TryLockError<H> {
        match self {
            TryLockError::OwnerDied(died) => TryLockError::OwnerDied(died.map(f)),
            TryLockError::WouldBlock => TryLockError::WouldBlock,
            TryLockError::TimedOut => TryLockError::TimedOut,
        }
    }
}

impl<G> fmt::Debug for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::OwnerDied(_) => f.write_str("OwnerDied(..)"),
            TryLockError::WouldBlock => f.write_str("WouldBlock"),
            TryLockError::TimedOut => f.write_str("TimedOut"),
        }
    }
}

impl<G> fmt::Display for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::OwnerDied(_) => fmt::Display::fmt(&Error::OwnerDied, f),
            TryLockError::WouldBlock => fmt::Display::fmt(&Error::WouldBlock, f),
            TryLockError::TimedOut => fmt::Display::fmt(&Error::TimedOut, f),
        }
    }
}

impl<G> std::error::Error for TryLockError<G> {}

impl<G> From<OwnerDied<G>> for TryLockError<G> {
    fn from(err: OwnerDied<G>) -> Self {
        TryLockError::OwnerDied(err)
    }
}

impl<G> From<TryLockError<G>> for Error {
    fn from(err: TryLockError<G>) -> Self {
        match err {
            TryLockError::OwnerDied(_) => Error::OwnerDied,
            TryLockError::WouldBlock => Error::WouldBlock,
            TryLockError::TimedOut => Error::TimedOut,
        }
    }
}

/// Turns the raw outcome of an acquisition into the public result around `guard`.
pub(crate) fn lock_result<G>(acquired: crate::raw_lock::Acquired, guard: G) -> LockResult<G> {
    match acquired {
        crate::raw_lock::Acquired::Clean => Ok(guard),
        crate::raw_lock::Acquired::Poisoned => Err(OwnerDied::new(guard)),
    }
}

/// As [`lock_result`], for the `try_` forms: not acquired is `WouldBlock`.
pub(crate) fn try_lock_result<G>(
    outcome: Result<crate::raw_lock::Acquired, crate::raw_lock::NotAcquired>,
    guard: impl FnOnce() -> G,
) -> TryLockResult<G> {
    match outcome {
        Ok(acquired) => lock_result(acquired, guard()).map_err(TryLockError::OwnerDied),
        Err(crate::raw_lock::NotAcquired::WouldBlock) => Err(TryLockError::WouldBlock),
    }
}

/// As [`lock_result`], for the `_timeout` forms: not acquired is `TimedOut`.
pub(crate) fn timed_lock_result<G>(
    outcome: Result<crate::raw_lock::Acquired, crate::raw_lock::NotAcquired>,
    guard: impl FnOnce() -> G,
) -> TryLockResult<G> {
    match try_lock_result(outcome, guard) {
        Err(TryLockError::WouldBlock) => Err(TryLockError::TimedOut),
        other => other,
    }
}
