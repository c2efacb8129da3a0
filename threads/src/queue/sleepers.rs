//! [`Sleepers`]: where threads of the lock-free queue engine sleep while they
//! wait for a change (an item, room, every task done), and how the thread that
//! makes the change wakes them without a lock when nobody sleeps.
//!
//! A thread that wants to sleep counts itself in `count`, then checks once more
//! whether what it waits for has happened, and only then sleeps on the
//! condition variable. A thread that makes a change first makes it, then loads
//! `count`: zero means nobody can be asleep waiting for it, so the common case
//! (nobody waits) costs one load of a line that is only written when someone
//! goes to sleep, and no fence.
//!
//! Why no wake-up is lost: every change a sleeper waits for is a sequentially
//! consistent read-modify-write (the ring's push and pop are `SeqCst`
//! compare-and-swaps of its tail and head in crossbeam-queue 0.3; the task
//! word and the flags are changed with `SeqCst` `fetch_*`), and every `ready`
//! check reads it with a `SeqCst` load (crossbeam-queue's `is_empty` and
//! `is_full` load head and tail so). With the sleeper's increment and the
//! waker's load of `count` also `SeqCst`, all four sit in one total order: if
//! the waker's load comes before the increment (it saw nobody), then the
//! change comes before the sleeper's check, and the check sees it. A sleeper
//! holds `lock` from its increment until the condition variable releases it,
//! so a waker that did see it cannot notify before it sleeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

/// The threads sleeping until one kind of change happens. Keep it on a cache
/// line of its own (`CachePadded`): wakers read `count` on every change.
pub(crate) struct Sleepers {
    /// Threads that are asleep or about to be; read by every waker.
    count: AtomicUsize,
    /// Held from the moment a sleeper counts itself until the condition
    /// variable releases it, so a waker that saw it counted cannot notify
    /// before it sleeps.
    lock: Mutex<()>,
    wakeup: Condvar,
}

impl Sleepers {
    pub(crate) fn new() -> Self {
        Sleepers {
            count: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wakeup: Condvar::new(),
        }
    }

    /// Whether a waker would find someone to wake now.
    fn anyone_sleeping(&self) -> bool {
        self.count.load(Ordering::SeqCst) != 0
    }

    /// Wakes one sleeper, if any. Call after making the change it waits for,
    /// with a `SeqCst` read-modify-write.
    pub(crate) fn notify_one(&self) {
        if self.anyone_sleeping() {
            let _sleeping = self.lock.lock();
            self.wakeup.notify_one();
        }
    }

    /// Wakes every sleeper. Call after making the change they wait for.
    pub(crate) fn notify_all(&self) {
        if self.anyone_sleeping() {
            let _sleeping = self.lock.lock();
            self.wakeup.notify_all();
        }
    }

    /// Sleeps until woken or until `deadline`, unless `ready()` holds once
    /// this thread is counted as a sleeper. False if the deadline passed
    /// without a wake-up. A wake-up is a hint, not a promise: the caller
    /// checks again for what it waits for.
    ///
    /// `ready` runs under this set's lock: it must only make `SeqCst` loads
    /// of what wakers change.
    pub(crate) fn sleep_unless(
        &self,
        ready: impl FnOnce() -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        let mut sleeping = self.lock.lock();
        // Counted before `ready` looks (see the module docs).
        self.count.fetch_add(1, Ordering::SeqCst);
        let woken = if ready() {
            true
        } else {
            match deadline {
                None => {
                    self.wakeup.wait(&mut sleeping);
                    true
                }
                Some(deadline) => !self.wakeup.wait_until(&mut sleeping, deadline).timed_out(),
            }
        };
        self.count.fetch_sub(1, Ordering::SeqCst);
        woken
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::Sleepers;

    #[test]
    fn a_ready_sleeper_does_not_sleep() {
        let sleepers = Sleepers::new();
        assert!(sleepers.sleep_unless(|| true, None));
    }

    #[test]
    fn a_sleeper_without_a_waker_times_out() {
        let sleepers = Sleepers::new();
        let deadline = Instant::now() + Duration::from_millis(10);
        assert!(!sleepers.sleep_unless(|| false, Some(deadline)));
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn no_wake_up_is_lost() {
        // Many rounds of a change made by one thread while the other goes to
        // sleep for it; a lost wake-up shows as a sleeper stuck until its
        // (long) deadline, which the bounded join below turns into a failure.
        let sleepers = Arc::new(Sleepers::new());
        let flag = Arc::new(AtomicBool::new(false));
        for _ in 0..2_000 {
            flag.store(false, Ordering::SeqCst);
            let waker = {
                let (sleepers, flag) = (Arc::clone(&sleepers), Arc::clone(&flag));
                std::thread::spawn(move || {
                    flag.store(true, Ordering::SeqCst);
                    sleepers.notify_one();
                })
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while !flag.load(Ordering::SeqCst) {
                sleepers.sleep_unless(|| flag.load(Ordering::SeqCst), Some(deadline));
                assert!(Instant::now() < deadline, "a wake-up was lost");
            }
            waker.join().expect("the waker does not panic");
        }
    }
}
