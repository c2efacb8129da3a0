//! The lock algorithm shared by `Lock`, `RLock`, `Mutex` and `Condition`: one futex word that
//! holds the owner's id, so that a dead owner can be recognised.
//!
//! Word layout: bits 0..30 the holder's id (0 = unlocked), bit 30 `POISONED` (a holder died
//! while holding it; sticky until cleared), bit 31 `WAITERS` (someone may sleep on the word,
//! so unlocking must wake one).
//!
//! Owner death. A waiter sleeps in slices of [`LIVENESS_SLICE`]; each time a slice ends
//! without a wake-up it checks whether the id in the word still lives (see `owner`), and if
//! not, takes the lock over with `POISONED` set and tells its caller. That bounds the time a
//! survivor waits for a dead holder by one slice plus a `/proc` read, and costs nothing to
//! the uncontended paths. The kernel's robust-futex list was the other way: it reports death
//! at once, but it is one list per thread shared with glibc's robust mutexes, its entries are
//! pointers into the owner's mapping, and it cannot describe a `Lock` released by a thread
//! other than the one that took it. Glibc's robust mutexes have the same owner-only limit.

use std::time::Duration;

use crate::owner;
use mp_sys::futex::{self, AtomicU32, Ordering};
use mp_sys::{Backoff, BackoffPolicy, Deadline};

const ID_MASK: u32 = (1 << owner::ID_BITS) - 1;
const POISONED: u32 = 1 << 30;
const WAITERS: u32 = 1 << 31;

/// How long a waiter sleeps before it checks whether the holder still lives.
const LIVENESS_SLICE: Duration = Duration::from_millis(100);

/// The spin before a contended lock sleeps: rounds of 2, 4 and 8 pauses, then 7 yields.
/// Most critical sections end within it; a longer one is slept through.
const LOCK_SPIN: BackoffPolicy = BackoffPolicy {
    spin_rounds: 3,
    first_spin: 2,
    doubling: true,
    yield_rounds: 7,
};

/// How an acquisition went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// The lock was taken normally.
    Clean,
    /// The lock was taken, but a holder died holding it (now or earlier, until cleared).
    Poisoned,
}

/// Why a lock was not acquired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotAcquired {
    /// Held elsewhere (`try_lock`) or the deadline passed.
    WouldBlock,
}

/// Why a release failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReleaseError {
    NotLocked,
}

#[repr(C)]
pub(crate) struct RawLock {
    word: AtomicU32,
}

impl RawLock {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Self {
            word: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Self {
            word: AtomicU32::new(0),
        }
    }

    fn outcome(previous: u32) -> Acquired {
        if previous & POISONED == 0 {
            Acquired::Clean
        } else {
            Acquired::Poisoned
        }
    }

    /// One attempt, retried only while the word stays unlocked.
    #[inline]
    pub(crate) fn try_lock(&self, id: u32) -> Result<Acquired, NotAcquired> {
        let mut current = self.word.load(Ordering::Relaxed);
        while current & ID_MASK == 0 {
            match self.word.compare_exchange_weak(
                current,
                current | id,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Self::outcome(current)),
                Err(now) => current = now,
            }
        }
        Err(NotAcquired::WouldBlock)
    }

    /// Blocks until the lock is taken by `id`, or until `deadline`.
    #[inline]
    pub(crate) fn lock(&self, id: u32, deadline: Deadline) -> Result<Acquired, NotAcquired> {
        if self
            .word
            .compare_exchange(0, id, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(Acquired::Clean);
        }
        self.lock_contended(id, deadline)
    }

    /// Blocks until the lock is taken by `id`.
    #[inline]
    pub(crate) fn lock_blocking(&self, id: u32) -> Acquired {
        loop {
            // Without a deadline `lock` only returns once it holds the lock.
            if let Ok(acquired) = self.lock(id, Deadline::NEVER) {
                return acquired;
            }
        }
    }

    #[cold]
    fn lock_contended(&self, id: u32, deadline: Deadline) -> Result<Acquired, NotAcquired> {
        // A short spin first: most critical sections are shorter than a sleep and a wake-up.
        let mut spin = Backoff::new(LOCK_SPIN);
        loop {
            if let Ok(acquired) = self.try_lock(id) {
                return Ok(acquired);
            }
            if !spin.snooze() {
                break;
            }
        }
        loop {
            let current = self.word.load(Ordering::Relaxed);
            if current & ID_MASK == 0 {
                // We may not be the only sleeper: keep WAITERS set so our unlock wakes the next.
                if let Ok(previous) = self.word.compare_exchange(
                    current,
                    current | id | WAITERS,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    return Ok(Self::outcome(previous));
                }
                continue;
            }
            let expected = current | WAITERS;
            if current & WAITERS == 0
                && self
                    .word
                    .compare_exchange(current, expected, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            if deadline.has_passed() {
                return Err(NotAcquired::WouldBlock);
            }
            let woken = futex::wait(&self.word, expected, Self::slice_deadline(deadline));
            if !woken && let Some(acquired) = self.take_over_from_dead_holder(expected, id) {
                return Ok(acquired);
            }
        }
    }

    #[cfg(not(loom))]
    fn slice_deadline(deadline: Deadline) -> Deadline {
        deadline.earlier(Deadline::after(LIVENESS_SLICE))
    }

    #[cfg(loom)]
    fn slice_deadline(deadline: Deadline) -> Deadline {
        // Liveness slices are a real-time concern; loom models only the deadline paths.
        let _ = LIVENESS_SLICE;
        deadline
    }

    /// Called after a slice passed with the word unchanged at `seen`: if its holder is dead,
    /// take the lock over, poisoned.
    #[cold]
    fn take_over_from_dead_holder(&self, seen: u32, id: u32) -> Option<Acquired> {
        let holder = seen & ID_MASK;
        if holder == 0 || owner::is_alive(holder) {
            return None;
        }
        let taken = self
            .word
            .compare_exchange(
                seen,
                id | POISONED | WAITERS,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok();
        if taken {
            tracing::debug!(
                dead_holder = holder,
                new_holder = id,
                "lock taken over from a dead holder"
            );
        }
        taken.then_some(Acquired::Poisoned)
    }

    /// Releases the lock, whoever holds it.
    #[inline]
    pub(crate) fn unlock(&self) -> Result<(), ReleaseError> {
        let mut current = self.word.load(Ordering::Relaxed);
        loop {
            if current & ID_MASK == 0 {
                return Err(ReleaseError::NotLocked);
            }
            match self.word.compare_exchange_weak(
                current,
                current & POISONED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => current = now,
            }
        }
        if current & WAITERS != 0 {
            futex::wake(&self.word, 1);
        }
        Ok(())
    }

    /// The id of the holder, or 0.
    #[inline]
    pub(crate) fn holder(&self) -> u32 {
        self.word.load(Ordering::Relaxed) & ID_MASK
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.holder() != 0
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.word.load(Ordering::Relaxed) & POISONED != 0
    }

    pub(crate) fn clear_poison(&self) {
        self.word.fetch_and(!POISONED, Ordering::Relaxed);
    }
}
