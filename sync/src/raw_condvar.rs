//! The condition-variable algorithm shared by `Condition` and `Barrier`: a sequence word that
//! every notify bumps, so a waiter that read it before releasing its lock cannot miss a
//! notify that comes after.

use mp_sys::Deadline;

use crate::raw_lock::{Acquired, RawLock};
use mp_sys::futex::{self, AtomicU32, Ordering};

#[repr(C)]
pub(crate) struct RawCondvar {
    sequence: AtomicU32,
    /// Waiters between "about to release the lock" and "took it back"; read and written only
    /// under the associated lock, so `notify` can skip the wake-up system call when it is 0.
    waiters: AtomicU32,
}

impl RawCondvar {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Self {
            sequence: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Self {
            sequence: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    /// Releases `lock` (held by the caller), sleeps until notified or `deadline`, and takes
    /// `lock` back with `relock`. Returns whether it was woken before the deadline, and how
    /// the lock was re-taken.
    pub(crate) fn wait(
        &self,
        lock: &RawLock,
        relock: impl FnOnce() -> Acquired,
        deadline: Deadline,
    ) -> (bool, Acquired) {
        let seen = self.sequence.load(Ordering::Relaxed);
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let _ = lock.unlock();
        let mut woken = true;
        while self.sequence.load(Ordering::Relaxed) == seen {
            if !futex::wait(&self.sequence, seen, deadline) {
                woken = false;
                break;
            }
            if deadline.is_never() {
                // Woken, changed or interrupted: a spurious return is allowed, and re-waiting
                // on a signal would only delay a notify that raced with it.
                break;
            }
        }
        let acquired = relock();
        self.waiters.fetch_sub(1, Ordering::Relaxed);
        (woken, acquired)
    }

    /// Wakes up to `count` waiters. The caller holds the associated lock.
    pub(crate) fn notify(&self, count: u32) {
        if count == 0 || self.waiters.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.sequence.fetch_add(1, Ordering::Relaxed);
        futex::wake(&self.sequence, count);
    }
}
