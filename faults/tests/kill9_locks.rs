//! kill -9 against every mp-sync type shared between processes.
//!
//! The owned locks (`Lock`, `RLock`, `Mutex`, `Condition`): a forked child takes and
//! releases the lock in a loop, bumping two counters inside (first one, then the other)
//! and is killed at a seeded random instant. The parent then takes the lock within a
//! bound: if the counters differ the child died inside, and the parent must have been
//! told the owner died (taking it without being told counts as corrupted); a take that
//! does not come within the bound counts as hung.
//!
//! The waiting types (`Semaphore`, `Event`, `Barrier`): some of several waiting
//! children are killed at random, then the parent releases, sets or resets; every
//! survivor must return within the bound, or it counts as hung.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mp_faults::{Resources, Rng, Tally, exclusive, scaled};
use mp_sync::{Barrier, Condition, Event, Lock, Mutex, RLock, Semaphore, TryLockError};
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

/// The kill loop for one owned lock type. `hold` runs one critical section in the child
/// (take, bump, release); `take` is the parent's bounded take, which runs `inside` while
/// holding, releases, and clears any poison.
fn owned_loop<L>(
    name: &str,
    lock: L,
    hold: fn(&Guarded<L>) -> bool,
    take: fn(&Guarded<L>, &dyn Fn()) -> Taken,
) {
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
                if !hold(&shared) {
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
        match take(&shared, &repair) {
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
    owned_loop(
        "lock-kill9",
        Lock::new(),
        |shared| {
            let Ok(guard) = shared.lock.lock() else {
                return false;
            };
            bump(shared);
            drop(guard);
            true
        },
        |shared, repair| match shared.lock.lock_timeout(BOUND) {
            Ok(_guard) => Taken::Clean,
            Err(TryLockError::OwnerDied(died)) => {
                repair();
                drop(died.into_inner());
                shared.lock.clear_poison();
                Taken::OwnerDied
            }
            Err(_) => Taken::TimedOut,
        },
    );
}

#[test]
fn rlock_kill9() {
    owned_loop(
        "rlock-kill9",
        RLock::new(),
        |shared| {
            let Ok(outer) = shared.lock.lock() else {
                return false;
            };
            let Ok(inner) = shared.lock.lock() else {
                return false;
            };
            bump(shared);
            drop(inner);
            drop(outer);
            true
        },
        |shared, repair| match shared.lock.lock_timeout(BOUND) {
            Ok(_guard) => Taken::Clean,
            Err(TryLockError::OwnerDied(died)) => {
                repair();
                drop(died.into_inner());
                shared.lock.clear_poison();
                Taken::OwnerDied
            }
            Err(_) => Taken::TimedOut,
        },
    );
}

#[test]
fn mutex_kill9() {
    owned_loop(
        "mutex-kill9",
        Mutex::new(0u64),
        |shared| {
            let Ok(mut guard) = shared.lock.lock() else {
                return false;
            };
            *guard += 1;
            bump(shared);
            true
        },
        |shared, repair| match shared.lock.lock_timeout(BOUND) {
            Ok(_guard) => Taken::Clean,
            Err(TryLockError::OwnerDied(died)) => {
                repair();
                drop(died.into_inner());
                shared.lock.clear_poison();
                Taken::OwnerDied
            }
            Err(_) => Taken::TimedOut,
        },
    );
}

#[test]
fn condition_kill9() {
    owned_loop(
        "condition-kill9",
        Condition::new(0u64),
        |shared| {
            let Ok(mut guard) = shared.lock.lock() else {
                return false;
            };
            *guard += 1;
            bump(shared);
            guard.notify_all();
            drop(guard);
            true
        },
        |shared, repair| match shared.lock.lock_timeout(BOUND) {
            Ok(_guard) => Taken::Clean,
            Err(TryLockError::OwnerDied(died)) => {
                repair();
                drop(died.into_inner());
                shared.lock.clear_poison();
                Taken::OwnerDied
            }
            Err(_) => Taken::TimedOut,
        },
    );
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
