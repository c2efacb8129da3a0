//! kill -9 against every mp-sync type shared between processes.
//!
//! The owned locks (`Lock`, `RLock`, `Mutex`, `Condition`): a forked child takes and
//! releases the lock in a loop, bumping two counters inside (first one, then the other)
//! and is killed at a seeded random instant. The parent then takes the lock within a
//! bound: if the counters differ the child died inside, and the parent must have been
//! told the owner died (taking it without being told counts as corrupted); a take that
//! does not come within the bound counts as hung.
//!
//! One driver runs every owned type (through the `Owned` trait), one every waiting
//! type.
//!
//! The waiting types (`Semaphore`, `Event`, `Barrier`): some of several waiting
//! children are killed at random, then the parent releases, sets or resets; every
//! survivor must return within the bound, or it counts as hung.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mp_faults::{Resources, Rng, Tally, exclusive, scaled};
use mp_sync::{
    Barrier, Condition, Event, Lock, Mutex, RLock, Semaphore, TryLockError, TryLockResult,
};
use test_support::{Child, ChildResult, SharedMapping, spawn_child};

const KILLS: u64 = 40;
const KILL_WINDOW_US: u64 = 3_000;
const BOUND: Duration = Duration::from_secs(5);
const WAITERS: usize = 4;

/// A lock and the two counters its holder bumps.
struct Guarded<L> {
    lock: L,
    first: AtomicU64,
    second: AtomicU64,
}

/// How the parent's bounded take ended.
enum Taken {
    Clean,
    OwnerDied,
    TimedOut,
}

fn bump<L>(shared: &Guarded<L>) {
    shared.first.fetch_add(1, Ordering::SeqCst);
    std::hint::spin_loop();
    shared.second.fetch_add(1, Ordering::SeqCst);
}

/// What the kill loop needs of an owned lock type.
trait Owned: Sized + Sync {
    /// One critical section of the child: take, run `inside`, release; false if the
    /// take failed.
    fn hold(&self, inside: &dyn Fn()) -> bool;
    /// The parent's take within `bound`: runs `repair` if told the owner died, then
    /// releases and clears the poison.
    fn take(&self, bound: Duration, repair: &dyn Fn()) -> Taken;
}

/// How a bounded take ended; `clear` clears the poison after an owner's death.
fn taken<G>(outcome: TryLockResult<G>, repair: &dyn Fn(), clear: impl FnOnce()) -> Taken {
    match outcome {
        Ok(_guard) => Taken::Clean,
        Err(TryLockError::OwnerDied(died)) => {
            repair();
            drop(died.into_inner());
            clear();
            Taken::OwnerDied
        }
        Err(_) => Taken::TimedOut,
    }
}

impl Owned for Lock {
    fn hold(&self, inside: &dyn Fn()) -> bool {
        let Ok(guard) = self.lock() else {
            return false;
        };
        inside();
        drop(guard);
        true
    }
    fn take(&self, bound: Duration, repair: &dyn Fn()) -> Taken {
        taken(self.lock_timeout(bound), repair, || self.clear_poison())
    }
}

impl Owned for RLock {
    fn hold(&self, inside: &dyn Fn()) -> bool {
        let Ok(outer) = self.lock() else {
            return false;
        };
        let Ok(inner) = self.lock() else {
            return false;
        };
        inside();
        drop(inner);
        drop(outer);
        true
    }
    fn take(&self, bound: Duration, repair: &dyn Fn()) -> Taken {
        taken(self.lock_timeout(bound), repair, || self.clear_poison())
    }
}

impl Owned for Mutex<u64> {
    fn hold(&self, inside: &dyn Fn()) -> bool {
        let Ok(mut guard) = self.lock() else {
            return false;
        };
        *guard += 1;
        inside();
        true
    }
    fn take(&self, bound: Duration, repair: &dyn Fn()) -> Taken {
        taken(self.lock_timeout(bound), repair, || self.clear_poison())
    }
}

impl Owned for Condition<u64> {
    fn hold(&self, inside: &dyn Fn()) -> bool {
        let Ok(mut guard) = self.lock() else {
            return false;
        };
        *guard += 1;
        inside();
        guard.notify_all();
        drop(guard);
        true
    }
    fn take(&self, bound: Duration, repair: &dyn Fn()) -> Taken {
        taken(self.lock_timeout(bound), repair, || self.clear_poison())
    }
}

/// The kill loop for one owned lock type: a child runs critical sections (bumping the
/// two counters inside) until it is killed; the parent then takes the lock.
fn owned_loop<L: Owned>(name: &str, lock: L) {
    let _only_me = exclusive();
    let before = Resources::now();
    let mut rng = Rng::for_loop(name);
    let shared = SharedMapping::new(Guarded {
        lock,
        first: AtomicU64::new(0),
        second: AtomicU64::new(0),
    });
    let mut tally = Tally::new(name);
    for _ in 0..scaled(KILLS) {
        let mut child = spawn_child(|| {
            let deadline = Instant::now() + BOUND;
            while Instant::now() < deadline {
                if !shared.lock.hold(&|| bump(&shared)) {
                    return Err(1);
                }
            }
            Ok(())
        });
        std::thread::sleep(Duration::from_micros(rng.below(KILL_WINDOW_US)));
        child.kill_and_reap();
        tally.tries += 1;
        let started = Instant::now();
        let died_inside =
            shared.first.load(Ordering::SeqCst) != shared.second.load(Ordering::SeqCst);
        let repair = || {
            let first = shared.first.load(Ordering::SeqCst);
            shared.second.store(first, Ordering::SeqCst);
        };
        match shared.lock.take(BOUND, &repair) {
            Taken::Clean if died_inside => tally.corrupted += 1,
            Taken::Clean | Taken::OwnerDied => tally.recovered_in(started.elapsed()),
            Taken::TimedOut => tally.hung += 1,
        }
    }
    drop(shared);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}

#[test]
fn lock_kill9() {
    owned_loop("lock-kill9", Lock::new());
}

#[test]
fn rlock_kill9() {
    owned_loop("rlock-kill9", RLock::new());
}

#[test]
fn mutex_kill9() {
    owned_loop("mutex-kill9", Mutex::new(0u64));
}

#[test]
fn condition_kill9() {
    owned_loop("condition-kill9", Condition::new(0u64));
}

/// The kill loop for one waiting type: `WAITERS` children run `wait` (which must return
/// `true` once `release` ran); some are killed at random, then `release` runs and every
/// survivor must exit 0 within the bound.
fn waiting_loop<T>(name: &str, value: T, wait: fn(&T) -> bool, release: fn(&T), reset: fn(&T)) {
    let _only_me = exclusive();
    let before = Resources::now();
    let mut rng = Rng::for_loop(name);
    let shared = SharedMapping::new(value);
    let mut tally = Tally::new(name);
    for _ in 0..scaled(KILLS / 4) {
        let mut children: Vec<Child> = (0..WAITERS)
            .map(|_| {
                spawn_child(|| -> ChildResult {
                    if wait(&shared) { Ok(()) } else { Err(1) }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_micros(rng.below(KILL_WINDOW_US)));
        let mut survivors = Vec::new();
        for mut child in children.drain(..) {
            if rng.below(2) == 0 {
                child.kill_and_reap();
                tally.tries += 1;
            } else {
                survivors.push(child);
            }
        }
        let started = Instant::now();
        release(&shared);
        for mut child in survivors {
            match child.wait_timeout(BOUND) {
                Some(test_support::Ended::Exited(0)) => {}
                Some(_) => tally.corrupted += 1,
                None => tally.hung += 1,
            }
        }
        tally.recovered_in(started.elapsed());
        reset(&shared);
    }
    drop(shared);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}

#[test]
fn semaphore_kill9() {
    waiting_loop(
        "semaphore-kill9",
        Semaphore::new(0),
        |semaphore| semaphore.acquire_timeout(BOUND).is_ok(),
        |semaphore| {
            // One permit per possible waiter: those killed leave theirs unused.
            let _ = semaphore.release(WAITERS as u32);
        },
        |semaphore| while semaphore.acquire_timeout(Duration::ZERO).is_ok() {},
    );
}

#[test]
fn event_kill9() {
    waiting_loop(
        "event-kill9",
        Event::new(),
        |event| event.wait_timeout(BOUND).is_ok(),
        |event| {
            event.set();
        },
        Event::clear,
    );
}

#[test]
fn barrier_kill9() {
    // A party killed while waiting can never arrive: the survivors must be let go by an
    // abort rather than wait for it, and the barrier must work again after a reset.
    waiting_loop(
        "barrier-kill9",
        Barrier::new(WAITERS as u32 + 1).expect("parties"),
        |barrier| barrier.wait_timeout(BOUND).is_err(),
        Barrier::abort,
        Barrier::reset,
    );
}
