//! The condition-variable algorithm shared by `Condition` and `Barrier`.
//!
//! A sequence word that every notify bumps, so a waiter that read it before releasing its
//! lock cannot miss a notify that comes after; and a count of wake-ups handed out, so
//! `notify(n)` wakes exactly `n` waiters when at least `n` wait (CPython's lock tests
//! require it), not also those that were between releasing the lock and falling asleep
//! when the sequence moved.
//!
//! Which waiters a notify wakes is not specified (the futex wakes its sleepers in order,
//! but a waiter not yet asleep may take a wake-up first). A waiter process that dies while
//! waiting stays counted: a later notify may then wake one waiter more than asked, which a
//! condition variable's callers allow for anyway (they re-check their predicate).

use mp_sys::Deadline;

use crate::raw_lock::{Acquired, RawLock};
use mp_sys::futex::{self, AtomicU32, Ordering};

#[repr(C)]
pub(crate) struct RawCondvar {
    /// Bumped by every notify that wakes someone: the futex word waiters sleep on, and how a
    /// waiter tells a notify that came after it started waiting from one that came before.
    sequence: AtomicU32,
    /// Waiters that started waiting and have been neither notified nor timed out. Read and
    /// written only under the associated lock.
    waiting: AtomicU32,
    /// Wake-ups handed out by `notify` and not yet taken: each is taken by exactly one
    /// waiter, so `notify(n)` wakes exactly `min(n, waiting)` of them.
    wakes: AtomicU32,
}

impl RawCondvar {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Self {
            sequence: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            wakes: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Self {
            sequence: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            wakes: AtomicU32::new(0),
        }
    }

    /// Releases `lock` (held by the caller), sleeps until notified or `deadline`, and takes
    /// `lock` back with `relock`. Returns whether it was notified (false: the deadline
    /// passed first), and how the lock was re-taken.
    ///
    /// A waiter returns only by taking one of the wake-ups a notify handed out, or at its
    /// deadline: signals and futex wake-ups meant for others put it back to sleep. It may
    /// take a wake-up only from a notify that came after it started waiting (the sequence
    /// moved), so a notify never wakes someone who started waiting after it.
    pub(crate) fn wait(
        &self,
        lock: &RawLock,
        relock: impl FnOnce() -> Acquired,
        deadline: Deadline,
    ) -> (bool, Acquired) {
        let started_at = self.sequence.load(Ordering::Relaxed);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _ = lock.unlock();
        let mut notified = false;
        loop {
            let now = self.sequence.load(Ordering::Acquire);
            if now != started_at && self.take_wake() {
                notified = true;
                break;
            }
            if !futex::wait(&self.sequence, now, deadline) {
                break;
            }
        }
        let acquired = relock();
        if !notified {
            // Under the lock again: a notify that raced with the deadline counted this
            // waiter, so it takes that wake-up; otherwise it stops being counted.
            if self.sequence.load(Ordering::Acquire) != started_at && self.take_wake() {
                notified = true;
            } else {
                let waiting = self.waiting.load(Ordering::Relaxed);
                self.waiting
                    .store(waiting.saturating_sub(1), Ordering::Relaxed);
            }
        }
        (notified, acquired)
    }

    /// Wakes `min(count, waiting)` waiters. The caller holds the associated lock.
    pub(crate) fn notify(&self, count: u32) {
        let waiting = self.waiting.load(Ordering::Relaxed);
        let woken = count.min(waiting);
        if woken == 0 {
            return;
        }
        self.waiting.store(waiting - woken, Ordering::Relaxed);
        self.wakes.fetch_add(woken, Ordering::Relaxed);
        self.sequence.fetch_add(1, Ordering::Release);
        futex::wake(&self.sequence, woken);
    }

    fn take_wake(&self) -> bool {
        self.wakes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |wakes| {
                wakes.checked_sub(1)
            })
            .is_ok()
    }
}
