//! Every operation and every error path of the mp-sync primitives between the threads of one
//! process, and many threads hammering each primitive with an invariant checked at the end.
//!
//! No test can hang. Every wait that should succeed is bounded by [`test_support::PATIENCE`]. A
//! thread that makes an untimed call (`lock`, `wait`, `acquire`) whose return depends on
//! another thread is a detached thread joined with a bound ([`join_all_within`]): if a bug
//! leaves it blocked, the test fails and the thread is left behind to end with the process.
//! Scoped threads only make timed or non-blocking calls, or untimed ones on a free lock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use mp_sync::{
    Barrier, BoundedSemaphore, Condition, ConditionGuard, Error, Event, Lock, Mutex, OwnerDied,
    RLock, Semaphore, TryLockError,
};
use test_support::procfs::{blocked_in_futex, current_pid, current_tid};
use test_support::threads::{join_all_within, join_within};
use test_support::{PATIENCE, holds_within};

/// A timeout that is meant to elapse.
const SHORT: Duration = Duration::from_millis(30);

/// Threads of the hammering tests.
const HAMMER_THREADS: usize = 12;

/// Counts the threads inside a critical section and the most ever seen there at once.
#[derive(Default)]
struct Occupancy {
    inside: AtomicU32,
    most: AtomicU32,
}

impl Occupancy {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn most(&self) -> u32 {
        self.most.load(Ordering::SeqCst)
    }
}

/// A counter updated by a separate load and store: without mutual exclusion around
/// `increment`, concurrent updates get lost and the final total comes out short.
#[derive(Default)]
struct RacyCounter(AtomicU64);

/// Gives the CPU away in the middle of a critical section now and then, so that waiters
/// outlast their spinning and go to sleep: the hammering then covers the futex paths too.
fn now_and_then_yield(value: u64) {
    if value.is_multiple_of(16) {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

impl RacyCounter {
    fn increment(&self) {
        let value = self.0.load(Ordering::Relaxed);
        now_and_then_yield(value);
        self.0.store(value + 1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn is_would_block<G, H>(result: &Result<G, TryLockError<H>>) -> bool {
    matches!(result, Err(TryLockError::WouldBlock))
}

fn is_timed_out<G, H>(result: &Result<G, TryLockError<H>>) -> bool {
    matches!(result, Err(TryLockError::TimedOut))
}

fn is_owner_died<G, H>(result: &Result<G, TryLockError<H>>) -> bool {
    matches!(result, Err(TryLockError::OwnerDied(_)))
}

/// Runs an action when dropped while armed, that is when a thread fails half-way: it lets
/// that thread release the others it would leave waiting for it.
struct Rescue<F: FnMut()> {
    action: F,
    armed: bool,
}

impl<F: FnMut()> Rescue<F> {
    fn new(action: F) -> Self {
        Self {
            action,
            armed: true,
        }
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl<F: FnMut()> Drop for Rescue<F> {
    fn drop(&mut self) {
        if self.armed {
            (self.action)();
        }
    }
}

/// Runs `body` on a thread of its own and waits until that thread has ended.
fn on_a_thread_that_exits<R: Send>(body: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(body)
            .join()
            .expect("the short-lived thread panicked")
    })
}

/// Spawns a detached thread that runs `body` over a clone of `shared`.
fn spawn_with<S, R>(shared: &Arc<S>, body: impl FnOnce(&S) -> R + Send + 'static) -> JoinHandle<R>
where
    S: Send + Sync + 'static,
    R: Send + 'static,
{
    let shared = Arc::clone(shared);
    std::thread::spawn(move || body(&shared))
}

/// Runs `body(&shared, index)` on `threads` detached threads and joins them with a bound.
fn on_threads<S, R>(
    shared: &Arc<S>,
    threads: usize,
    body: impl Fn(&S, usize) -> R + Send + Sync + 'static,
) -> Vec<R>
where
    S: Send + Sync + 'static,
    R: Send + 'static,
{
    let body = Arc::new(body);
    let handles = (0..threads)
        .map(|index| {
            let body = Arc::clone(&body);
            spawn_with(shared, move |shared| body(shared, index))
        })
        .collect();
    join_all_within(handles)
}

/// Runs a test body on a detached thread joined within [`PATIENCE`]: for bodies whose
/// untimed calls would block forever on a bug.
fn bounded<R: Send + 'static>(body: impl FnOnce() -> R + Send + 'static) -> R {
    join_within(std::thread::spawn(body))
}

/// Runs `wait` on another thread and `release` on this one once that thread is seen
/// asleep in its futex wait, so that the release really wakes a sleeper; what `wait`
/// returned.
fn released_while_asleep<R: Send>(wait: impl FnOnce() -> R + Send, release: impl FnOnce()) -> R {
    let waiter_tid = AtomicI32::new(0);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            waiter_tid.store(current_tid(), Ordering::SeqCst);
            wait()
        });
        wait_until_asleep(&waiter_tid);
        release();
        waiter.join().expect("waiter")
    })
}

/// Waits until the thread that stored its id in `tid` is asleep in a futex wait.
fn wait_until_asleep(tid: &AtomicI32) {
    assert!(
        holds_within(
            || {
                let tid = tid.load(Ordering::SeqCst);
                tid != 0 && blocked_in_futex(current_pid(), tid)
            },
            PATIENCE
        ),
        "the waiting thread never went to sleep"
    );
}

// ---------------------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------------------

#[test]
fn lock_guard_holds_until_dropped() {
    let lock = Lock::new();
    assert!(!lock.locked());
    let guard = lock.lock().expect("a fresh lock is clean");
    assert!(lock.locked());
    // Not re-entrant: the same thread is refused too.
    assert!(is_would_block(&lock.try_lock()));
    assert!(is_would_block(&lock.try_acquire()));
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(is_would_block(&lock.try_lock()));
            assert!(lock.locked());
        });
    });
    drop(guard);
    assert!(!lock.locked());
    assert!(!lock.is_poisoned());
    let again = lock.try_lock().expect("free after the guard dropped");
    assert!(lock.locked());
    drop(again);
    assert!(!lock.locked());
}

#[test]
fn lock_static_and_default_start_unlocked() {
    static LOCK: Lock = Lock::new();
    assert!(!LOCK.locked());
    drop(LOCK.lock().expect("clean"));
    let lock = Lock::default();
    assert!(!lock.locked());
    let text = format!("{lock:?}");
    assert!(text.contains("locked: false"), "{text}");
    let guard = lock.lock().expect("clean");
    assert!(format!("{lock:?}").contains("locked: true"));
    assert!(!format!("{guard:?}").is_empty());
}

#[test]
fn lock_timeout_elapses_while_held_elsewhere() {
    let lock = Lock::new();
    let holder = lock.lock().expect("clean");
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(is_timed_out(&lock.lock_timeout(SHORT)));
            assert!(is_timed_out(&lock.acquire_timeout(SHORT)));
            assert!(is_timed_out(&lock.lock_timeout(Duration::ZERO)));
        });
    });
    assert!(
        lock.locked(),
        "a timed-out waiter must not have taken or freed the lock"
    );
    drop(holder);
}

#[test]
fn lock_timeout_succeeds_when_released_during_the_wait() {
    let lock = Lock::new();
    lock.acquire().expect("clean");
    let got = released_while_asleep(
        || lock.lock_timeout(PATIENCE).is_ok(),
        || lock.release().expect("held"),
    );
    assert!(got, "the waiter got the lock");
    assert!(!lock.locked());

    lock.acquire().expect("clean");
    std::thread::scope(|s| {
        let waiter = s.spawn(|| lock.acquire_timeout(PATIENCE).is_ok());
        lock.release().expect("held");
        assert!(waiter.join().expect("waiter"));
    });
    assert!(
        lock.locked(),
        "acquire_timeout leaves the lock held, with no guard"
    );
    lock.release().expect("held by the waiter's acquire");
}

#[test]
fn lock_acquire_release_python_style() {
    let lock = Lock::new();
    assert_eq!(lock.release(), Err(Error::NotLocked));
    lock.acquire().expect("clean");
    assert!(lock.locked());
    assert!(is_would_block(&lock.try_acquire()));
    assert_eq!(lock.release(), Ok(()));
    assert!(!lock.locked());
    assert_eq!(lock.release(), Err(Error::NotLocked));
    assert!(lock.try_acquire().is_ok());
    assert_eq!(lock.release(), Ok(()));
    assert!(lock.acquire_timeout(SHORT).is_ok());
    assert_eq!(lock.release(), Ok(()));
}

#[test]
fn lock_released_by_another_thread() {
    let lock = Lock::new();
    lock.acquire().expect("clean");
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(lock.release(), Ok(())));
    });
    assert!(!lock.locked());

    // A guard may be moved to another thread and dropped there.
    let guard = lock.lock().expect("clean");
    std::thread::scope(|s| {
        s.spawn(move || drop(guard));
    });
    assert!(!lock.locked());

    // The hand-off of Python's Lock: one thread takes it, another gives it back while a
    // third waits for it.
    lock.acquire().expect("clean");
    std::thread::scope(|s| {
        let waiter = s.spawn(|| lock.acquire_timeout(PATIENCE).is_ok());
        s.spawn(|| lock.release().expect("held"));
        assert!(waiter.join().expect("waiter"));
    });
    assert_eq!(lock.release(), Ok(()));
    assert!(!lock.is_poisoned());
}

#[test]
fn lock_held_by_an_exited_thread_is_not_taken_over() {
    // `Lock` records the holding *process*: a thread that exits while its process lives may
    // have handed the release to another thread, so nothing is taken over.
    let lock = Lock::new();
    on_a_thread_that_exits(|| lock.acquire().expect("clean"));
    assert!(lock.locked());
    assert!(is_timed_out(&lock.lock_timeout(Duration::from_millis(250))));
    assert!(!lock.is_poisoned());
    assert_eq!(lock.release(), Ok(()));
    assert!(lock.lock().is_ok());
}

#[test]
fn lock_panic_through_guard_releases_without_poisoning() {
    let lock = Lock::new();
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            let _guard = lock.lock().expect("clean");
            panic!("deliberate panic while holding the lock");
        })
        .join()
    });
    assert!(outcome.is_err());
    assert!(!lock.locked());
    assert!(!lock.is_poisoned());
}

#[test]
fn lock_clear_poison_on_a_clean_lock_is_harmless() {
    let lock = Lock::new();
    lock.clear_poison();
    assert!(!lock.is_poisoned());
    let guard = lock.lock().expect("clean");
    lock.clear_poison();
    assert!(lock.locked(), "clear_poison does not release");
    drop(guard);
}

#[test]
fn lock_hammered_by_many_threads_keeps_an_exact_total() {
    const ROUNDS: usize = 2_000;
    let shared = Arc::new((Lock::new(), RacyCounter::default(), Occupancy::default()));
    on_threads(
        &shared,
        HAMMER_THREADS,
        |(lock, counter, occupancy), thread| {
            let critical_section = || {
                occupancy.enter();
                counter.increment();
                occupancy.leave();
            };
            for round in 0..ROUNDS {
                // Every form of taking the lock, in turn.
                match (thread + round) % 4 {
                    0 => {
                        let _guard = lock.lock().expect("clean");
                        critical_section();
                    }
                    1 => {
                        lock.acquire().expect("clean");
                        critical_section();
                        lock.release().expect("held");
                    }
                    2 => {
                        let _guard = lock.lock_timeout(PATIENCE).expect("in time");
                        critical_section();
                    }
                    _ => loop {
                        if let Ok(_guard) = lock.try_lock() {
                            critical_section();
                            break;
                        }
                        std::thread::yield_now();
                    },
                }
            }
        },
    );
    let (lock, counter, occupancy) = &*shared;
    assert_eq!(counter.get(), (HAMMER_THREADS * ROUNDS) as u64);
    assert_eq!(
        occupancy.most(),
        1,
        "two threads were inside the lock at once"
    );
    assert!(!lock.locked());
    assert!(!lock.is_poisoned());
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[test]
fn errors_convert_and_describe_themselves() {
    let lock = Lock::new();
    let held = lock.lock().expect("clean");
    let from_try: Error = lock.try_lock().map(drop).unwrap_err().into();
    assert_eq!(from_try, Error::WouldBlock);
    drop(held);

    let owner_died: Error = OwnerDied::new(lock.lock().expect("clean")).into();
    assert_eq!(owner_died, Error::OwnerDied);
    assert!(
        !lock.locked(),
        "converting into Error drops the guard, releasing the lock"
    );

    let try_owner_died: Error =
        TryLockError::OwnerDied(OwnerDied::new(lock.lock().expect("clean"))).into();
    assert_eq!(try_owner_died, Error::OwnerDied);
    assert!(!lock.locked());

    for error in [
        Error::OwnerDied,
        Error::WouldBlock,
        Error::TimedOut,
        Error::NotLocked,
        Error::NotOwner,
        Error::TooManyReleases,
        Error::Overflow,
        Error::BrokenBarrier,
        Error::InvalidArgument {
            argument: "parties",
            requirement: "at least one",
        },
    ] {
        assert!(!error.to_string().is_empty(), "{error:?} has no message");
    }
    assert!(
        Error::InvalidArgument {
            argument: "parties",
            requirement: "at least one",
        }
        .to_string()
        .contains("parties")
    );

    let died = OwnerDied::new(());
    assert_eq!(died.to_string(), Error::OwnerDied.to_string());
    assert!(format!("{died:?}").contains("OwnerDied"));
    let would_block: TryLockError<()> = TryLockError::WouldBlock;
    assert_eq!(would_block.to_string(), Error::WouldBlock.to_string());
    assert_eq!(format!("{would_block:?}"), "WouldBlock");
    let from_owner_died: TryLockError<()> = OwnerDied::new(()).into();
    assert!(matches!(from_owner_died, TryLockError::OwnerDied(_)));
    assert_eq!(format!("{from_owner_died:?}"), "OwnerDied(..)");
}

#[test]
fn owner_died_wrapper_gives_access_to_the_guard() {
    let mutex = Mutex::new(5u32);
    let mut died = OwnerDied::new(mutex.lock().expect("clean"));
    assert_eq!(**died.get_ref(), 5);
    **died.get_mut() = 6;
    let guard = died.into_inner();
    assert_eq!(*guard, 6);
    drop(guard);
    assert_eq!(*mutex.lock().expect("clean"), 6);
}

fn question_mark_propagates(lock: &Lock) -> Result<(), Error> {
    let _guard = lock.try_lock()?;
    Ok(())
}

#[test]
fn errors_propagate_with_question_mark() {
    let lock = Lock::new();
    assert_eq!(question_mark_propagates(&lock), Ok(()));
    let held = lock.lock().expect("clean");
    assert_eq!(question_mark_propagates(&lock), Err(Error::WouldBlock));
    drop(held);
}

// ---------------------------------------------------------------------------------------
// RLock
// ---------------------------------------------------------------------------------------

#[test]
fn rlock_reenters_and_counts() {
    // Untimed re-entrant calls: a bug would block this thread forever.
    bounded(|| {
        let lock = RLock::new();
        assert_eq!(lock.count(), 0);
        assert!(!lock.is_owned());
        let first = lock.lock().expect("clean");
        let second = lock.lock().expect("re-entered");
        let third = lock.try_lock().expect("re-entered without waiting");
        lock.acquire().expect("re-entered");
        assert!(lock.try_acquire().is_ok());
        assert!(lock.acquire_timeout(Duration::ZERO).is_ok());
        let fourth = lock.lock_timeout(Duration::ZERO).expect("re-entered");
        assert_eq!(lock.count(), 7);
        assert!(lock.is_owned());
        assert!(lock.locked());

        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(lock.count(), 0, "another thread sees no levels of its own");
                assert!(!lock.is_owned());
                assert!(lock.locked());
                assert!(is_would_block(&lock.try_lock()));
                assert!(is_would_block(&lock.try_acquire()));
                assert!(is_timed_out(&lock.lock_timeout(SHORT)));
                assert!(is_timed_out(&lock.acquire_timeout(SHORT)));
            });
        });

        for expected in (4..7).rev() {
            lock.release().expect("owned");
            assert_eq!(lock.count(), expected);
        }
        drop(fourth);
        drop(third);
        assert_eq!(lock.count(), 2);
        drop(second);
        assert_eq!(lock.count(), 1);
        assert!(lock.locked());
        drop(first);
        assert_eq!(lock.count(), 0);
        assert!(!lock.locked());
        assert!(!lock.is_owned());
        assert_eq!(lock.release(), Err(Error::NotLocked));
    });
}

#[test]
fn rlock_release_errors() {
    // Untimed re-entrant calls: a bug would block this thread forever.
    bounded(|| {
        let lock = RLock::new();
        assert_eq!(lock.release(), Err(Error::NotLocked));
        lock.acquire().expect("clean");
        lock.acquire().expect("re-entered");
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(lock.release(), Err(Error::NotOwner));
                assert_eq!(lock.release(), Err(Error::NotOwner));
            });
        });
        assert_eq!(lock.count(), 2, "a refused release takes no level away");
        assert_eq!(lock.release(), Ok(()));
        assert_eq!(lock.release(), Ok(()));
        assert_eq!(lock.release(), Err(Error::NotLocked));
    });
}

#[test]
fn rlock_passes_between_threads_after_full_release() {
    let lock = RLock::new();
    lock.acquire().expect("clean");
    lock.acquire().expect("re-entered");
    let waited = released_while_asleep(
        || {
            let guard = lock.lock_timeout(PATIENCE);
            (guard.is_ok(), lock.count())
        },
        || {
            lock.release().expect("owned");
            assert!(lock.is_owned(), "one level still held");
            lock.release().expect("owned");
        },
    );
    assert_eq!(waited, (true, 1));
    assert!(!lock.locked());
}

#[test]
fn rlock_default_static_and_debug() {
    static LOCK: RLock = RLock::new();
    assert!(!LOCK.locked());
    let lock = RLock::default();
    let guard = lock.lock().expect("clean");
    let text = format!("{lock:?}");
    assert!(text.contains("owned: true"), "{text}");
    assert!(!format!("{guard:?}").is_empty());
    drop(guard);
    assert!(format!("{lock:?}").contains("locked: false"));
}

/// The core of the thread-death tests: a poisoned lock keeps reporting until cleared.
/// `lock_is_clean` takes the lock, reports whether that was clean, and releases it.
fn expect_poisoned_then_cleared(
    is_poisoned: impl Fn() -> bool,
    lock_is_clean: impl Fn() -> bool,
    clear_poison: impl Fn(),
) {
    assert!(is_poisoned());
    assert!(!lock_is_clean(), "poisoning is sticky");
    assert!(!lock_is_clean(), "poisoning is sticky");
    assert!(is_poisoned());
    clear_poison();
    assert!(!is_poisoned());
    assert!(lock_is_clean(), "clean after clear_poison");
    assert!(lock_is_clean());
}

#[test]
fn rlock_of_a_thread_that_exited_is_taken_over_with_owner_died() {
    let lock = RLock::new();
    on_a_thread_that_exits(|| {
        lock.acquire().expect("clean");
        lock.acquire().expect("re-entered");
    });
    assert!(lock.locked());
    assert!(!lock.is_owned());
    assert!(
        is_would_block(&lock.try_lock()),
        "try_ does not wait, so it never checks the holder's liveness"
    );
    match lock.lock_timeout(PATIENCE) {
        Err(TryLockError::OwnerDied(died)) => {
            assert!(lock.is_owned());
            assert_eq!(
                lock.count(),
                1,
                "the dead holder's levels are not inherited"
            );
            drop(died);
        }
        Ok(_) => panic!("took the lock over without reporting the death"),
        Err(_) => panic!("the dead holder was never detected"),
    }
    assert!(!lock.locked());
    expect_poisoned_then_cleared(
        || lock.is_poisoned(),
        || lock.lock().is_ok(),
        || lock.clear_poison(),
    );
}

#[test]
fn rlock_guard_forgotten_on_an_exited_thread_is_taken_over() {
    // An untimed wait for a dead holder: a bug would block this thread forever.
    bounded(|| {
        let lock = RLock::new();
        on_a_thread_that_exits(|| std::mem::forget(lock.lock().expect("clean")));
        let _: OwnerDied<()> = lock.acquire().expect_err("the holder died");
        assert!(lock.is_owned());
        assert_eq!(lock.release(), Ok(()));
        assert!(
            lock.try_acquire()
                .is_err_and(|e| matches!(e, TryLockError::OwnerDied(_)))
        );
        assert_eq!(lock.release(), Ok(()));
        lock.clear_poison();
        assert!(lock.try_acquire().is_ok());
        assert_eq!(lock.release(), Ok(()));
    });
}

#[test]
fn rlock_hammered_with_nested_levels_keeps_an_exact_total() {
    const ROUNDS: usize = 1_500;
    let shared = Arc::new((RLock::new(), RacyCounter::default(), Occupancy::default()));
    on_threads(
        &shared,
        HAMMER_THREADS,
        |(lock, counter, occupancy), thread| {
            for round in 0..ROUNDS {
                let outer = if (thread + round).is_multiple_of(2) {
                    lock.lock().expect("clean")
                } else {
                    lock.lock_timeout(PATIENCE).expect("in time")
                };
                occupancy.enter();
                counter.increment();
                {
                    let _inner = lock.lock().expect("re-entered");
                    lock.acquire().expect("re-entered");
                    assert_eq!(lock.count(), 3);
                    counter.increment();
                    lock.release().expect("owned");
                }
                assert_eq!(lock.count(), 1);
                occupancy.leave();
                drop(outer);
            }
        },
    );
    let (lock, counter, occupancy) = &*shared;
    assert_eq!(counter.get(), (2 * HAMMER_THREADS * ROUNDS) as u64);
    assert_eq!(occupancy.most(), 1);
    assert!(!lock.locked());
}

// ---------------------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------------------

#[test]
fn mutex_guards_its_value() {
    let mutex = Mutex::new(vec![1u32]);
    mutex.lock().expect("clean").push(2);
    {
        let guard = mutex.lock().expect("clean");
        assert_eq!(*guard, [1, 2]);
        assert!(format!("{mutex:?}").contains("<locked>"));
        assert_eq!(format!("{guard:?}"), "[1, 2]");
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(is_would_block(&mutex.try_lock()));
                assert!(is_timed_out(&mutex.lock_timeout(SHORT)));
            });
        });
    }
    assert!(format!("{mutex:?}").contains("[1, 2]"));
    mutex.try_lock().expect("free").push(3);
    mutex.lock_timeout(SHORT).expect("free").push(4);
    let mut mutex = mutex;
    mutex.get_mut().push(5);
    assert!(!mutex.is_poisoned());
    assert_eq!(mutex.into_inner(), [1, 2, 3, 4, 5]);
}

#[test]
fn mutex_static_and_default() {
    static TOTAL: Mutex<u64> = Mutex::new(0);
    *TOTAL.lock().expect("clean") += 3;
    assert!(*TOTAL.lock().expect("clean") >= 3);
    let mutex: Mutex<u32> = Mutex::default();
    assert_eq!(*mutex.lock().expect("clean"), 0);
}

#[test]
fn mutex_lock_timeout_succeeds_when_released_during_the_wait() {
    let mutex = Mutex::new(0u32);
    let mut guard = mutex.lock().expect("clean");
    let seen = released_while_asleep(
        || mutex.lock_timeout(PATIENCE).map(|g| *g).ok(),
        move || {
            *guard = 7;
            drop(guard);
        },
    );
    assert_eq!(seen, Some(7));
}

#[test]
fn mutex_panic_through_guard_does_not_poison() {
    let mutex = Mutex::new(1u32);
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            let mut guard = mutex.lock().expect("clean");
            *guard = 2;
            panic!("deliberate panic while holding the mutex");
        })
        .join()
    });
    assert!(outcome.is_err());
    assert!(!mutex.is_poisoned());
    assert_eq!(*mutex.lock().expect("not poisoned by a panic"), 2);
}

#[test]
fn mutex_of_a_thread_that_exited_is_taken_over_with_owner_died() {
    let mutex = Mutex::new(0u64);
    on_a_thread_that_exits(|| {
        let mut guard = mutex.lock().expect("clean");
        *guard = 41;
        std::mem::forget(guard);
    });
    assert!(is_would_block(&mutex.try_lock()));
    let mut guard = match mutex.lock_timeout(PATIENCE) {
        Err(TryLockError::OwnerDied(died)) => died.into_inner(),
        Ok(_) => panic!("took the lock over without reporting the death"),
        Err(_) => panic!("the dead holder was never detected"),
    };
    assert_eq!(*guard, 41, "the dead holder's writes are visible");
    *guard += 1;
    drop(guard);
    assert!(mutex.is_poisoned());
    let text = format!("{mutex:?}");
    assert!(
        text.contains("42") && text.contains("poisoned: true"),
        "{text}"
    );
    assert!(is_owner_died(&mutex.try_lock()));
    expect_poisoned_then_cleared(
        || mutex.is_poisoned(),
        || mutex.lock().is_ok(),
        || mutex.clear_poison(),
    );
    assert_eq!(mutex.into_inner(), 42);
}

#[test]
fn mutex_hammered_by_many_threads_keeps_an_exact_total() {
    const ROUNDS: u64 = 5_000;
    let mutex = Arc::new(Mutex::new(0u64));
    on_threads(&mutex, HAMMER_THREADS, |mutex, thread| {
        for round in 0..ROUNDS {
            let mut guard = match (thread as u64 + round) % 3 {
                0 => mutex.lock().expect("clean"),
                1 => mutex.lock_timeout(PATIENCE).expect("in time"),
                _ => loop {
                    if let Ok(guard) = mutex.try_lock() {
                        break guard;
                    }
                    std::thread::yield_now();
                },
            };
            let value = *guard;
            now_and_then_yield(value);
            *guard = value + 1;
        }
    });
    let mutex = Arc::into_inner(mutex).expect("every thread is gone");
    assert_eq!(mutex.into_inner(), HAMMER_THREADS as u64 * ROUNDS);
}

// ---------------------------------------------------------------------------------------
// Condition
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Signal {
    waiting: u32,
    notified: bool,
}

/// Takes the condition's lock until `waiters` threads wait on it, then runs `act` under it.
/// False if they never all waited.
#[must_use]
fn once_waiting<T>(
    cond: &Condition<T>,
    waiters: u32,
    waiting: impl Fn(&T) -> u32,
    act: impl FnOnce(&mut mp_sync::ConditionGuard<'_, T>),
) -> bool {
    // A waiter counts itself under the lock and releases it only inside `wait`, so once the
    // count is seen under the lock, every counted waiter is committed to seeing a notify.
    let mut act = Some(act);
    holds_within(
        || {
            let Ok(mut guard) = cond.lock_timeout(PATIENCE) else {
                return false;
            };
            if waiting(&guard) < waiters {
                return false;
            }
            if let Some(act) = act.take() {
                act(&mut guard);
            }
            true
        },
        PATIENCE,
    )
}

#[test]
fn condition_wait_returns_after_notify() {
    let cond = Arc::new(Condition::new(Signal::default()));
    let waiter = spawn_with(&cond, |cond| {
        let mut guard = cond.lock().expect("clean");
        guard.waiting += 1;
        while !guard.notified {
            guard.wait().expect("clean");
        }
        guard.waiting -= 1;
    });
    let notified = once_waiting(
        &cond,
        1,
        |s| s.waiting,
        |g| {
            g.notified = true;
            g.notify(1);
        },
    );
    assert!(notified, "the waiter never waited");
    join_within(waiter);
    assert_eq!(cond.lock_timeout(PATIENCE).expect("clean").waiting, 0);
}

#[test]
fn condition_wait_timeout_elapses_without_notify() {
    let cond = Condition::new(0u32);
    let mut guard = cond.lock().expect("clean");
    assert_eq!(guard.wait_timeout(SHORT), Err(Error::TimedOut));
    assert_eq!(guard.wait_timeout(Duration::ZERO), Err(Error::TimedOut));
    // The lock is held again after a timed-out wait.
    std::thread::scope(|s| {
        s.spawn(|| assert!(is_would_block(&cond.try_lock())));
    });
    *guard += 1;
    drop(guard);
    assert_eq!(*cond.lock().expect("clean"), 1);
}

#[test]
fn condition_wait_timeout_reports_a_notify() {
    let cond = Condition::new(Signal::default());
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut guard = cond.lock_timeout(PATIENCE).expect("clean");
            guard.waiting += 1;
            let notified = guard.wait_timeout(PATIENCE);
            (notified, guard.notified)
        });
        assert!(once_waiting(
            &cond,
            1,
            |s| s.waiting,
            |g| {
                g.notified = true;
                g.notify(1);
            },
        ));
        assert_eq!(waiter.join().expect("waiter"), (Ok(()), true));
    });
}

#[test]
fn condition_wait_for_and_wait_for_timeout() {
    let cond = Arc::new(Condition::new(0u32));
    {
        let mut guard = cond.lock().expect("clean");
        guard.wait_for(|n| *n == 0).expect("already true: no wait");
        assert_eq!(guard.wait_for_timeout(|n| *n == 0, Duration::ZERO), Ok(()));
        let mut calls = 0;
        let satisfied = guard.wait_for_timeout(
            |n| {
                calls += 1;
                *n > 0
            },
            SHORT,
        );
        assert_eq!(
            satisfied,
            Err(Error::TimedOut),
            "nobody changes the state: the timeout elapses"
        );
        assert!(
            calls >= 2,
            "the predicate is checked again after the timed wait"
        );
    }
    let untimed = spawn_with(&cond, |cond| {
        let mut guard = cond.lock().expect("clean");
        guard.wait_for(|n| *n >= 3).expect("clean");
        *guard
    });
    let timed = spawn_with(&cond, |cond| {
        let mut guard = cond.lock().expect("clean");
        let satisfied = guard.wait_for_timeout(|n| *n >= 3, PATIENCE);
        (satisfied, *guard)
    });
    // Several notifies that do not yet satisfy the predicate, then one that does.
    for _ in 0..3 {
        let mut guard = cond.lock_timeout(PATIENCE).expect("in time");
        *guard += 1;
        guard.notify_all();
        drop(guard);
        std::thread::yield_now();
    }
    assert_eq!(join_within(timed), (Ok(()), 3));
    assert_eq!(join_within(untimed), 3);
}

#[derive(Default)]
struct Tickets {
    waiting: u32,
    tickets: u32,
    through: u32,
}

/// `count` threads that each wait (counted in `waiting`) for a ticket, take it and pass
/// `through`; each returns whether it got one within [`PATIENCE`].
fn ticket_waiters<'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    cond: &'scope Condition<Tickets>,
    count: u32,
) -> Vec<std::thread::ScopedJoinHandle<'scope, bool>> {
    (0..count)
        .map(|_| {
            s.spawn(|| {
                let mut guard = cond.lock_timeout(PATIENCE).expect("in time");
                guard.waiting += 1;
                let got = match guard.wait_for_timeout(|t| t.tickets > 0, PATIENCE) {
                    Ok(()) => true,
                    Err(Error::TimedOut) => false,
                    Err(other) => panic!("a clean wait failed: {other}"),
                };
                if got {
                    guard.tickets -= 1;
                    guard.through += 1;
                }
                got
            })
        })
        .collect()
}

#[test]
fn condition_notify_one_at_a_time_lets_every_waiter_through() {
    const WAITERS: u32 = 4;
    let cond = Condition::new(Tickets::default());
    std::thread::scope(|s| {
        let waiters = ticket_waiters(s, &cond, WAITERS);
        assert!(once_waiting(&cond, WAITERS, |t| t.waiting, |_| {}));
        // One ticket and one notify at a time: each notify(1) wakes at least one waiter,
        // which takes the ticket; spurious wake-ups only make waiters re-check.
        let all_through = holds_within(
            || {
                let mut guard = cond.lock_timeout(PATIENCE).expect("in time");
                if guard.through == WAITERS {
                    return true;
                }
                if guard.tickets == 0 {
                    guard.tickets = 1;
                }
                guard.notify(1);
                false
            },
            PATIENCE,
        );
        assert!(all_through, "notify(1) stopped letting waiters through");
        for waiter in waiters {
            assert!(waiter.join().expect("waiter"));
        }
    });
    let state = cond.into_inner();
    assert_eq!((state.through, state.tickets), (WAITERS, 0));
}

/// Waiters of one `notify(n)` round: each records its thread id and counts itself in
/// `waiting` under the lock, waits once, and sets its bit in `returned`.
#[derive(Default)]
struct NotifyRound {
    tids: [i32; ROUND_WAITERS],
    waiting: u32,
    returned: u32,
}

const ROUND_WAITERS: usize = 5;
const ROUNDS: usize = 40;

/// CPython's `lock_tests` check: five waiters, `notify(3)` wakes exactly three and
/// `notify(2)` the other two, over many rounds. The notify comes as soon as the fifth
/// waiter counted itself, so some waiters are still on their way into the futex: they must
/// not be woken along with the three.
fn notify_wakes_exactly_n(wait: fn(&mut ConditionGuard<'_, NotifyRound>) -> bool) {
    for _ in 0..ROUNDS {
        let cond = Arc::new(Condition::new(NotifyRound::default()));
        let waiters = (0..ROUND_WAITERS)
            .map(|index| {
                spawn_with(&cond, move |cond| {
                    let mut guard = cond.lock().expect("clean");
                    guard.tids[index] = current_tid();
                    guard.waiting += 1;
                    let notified = wait(&mut guard);
                    guard.returned |= 1 << index;
                    notified
                })
            })
            .collect();
        notify_as_soon_as_counted(&cond, 3);
        assert_eq!(returned_once_the_rest_sleep(&cond, 3), 3);
        cond.lock_timeout(PATIENCE).expect("in time").notify(2);
        assert_eq!(returned_once_the_rest_sleep(&cond, 5), 5);
        assert!(
            join_all_within(waiters)
                .into_iter()
                .all(|notified| notified)
        );
    }
}

/// Takes the lock again and again without pausing until every waiter counted itself, then
/// notifies `count` under it: the last waiter has only just released the lock.
fn notify_as_soon_as_counted(cond: &Condition<NotifyRound>, count: usize) {
    let deadline = mp_sys::Deadline::after(PATIENCE);
    loop {
        let guard = cond.lock_timeout(PATIENCE).expect("in time");
        if guard.waiting as usize == ROUND_WAITERS {
            guard.notify(count);
            return;
        }
        drop(guard);
        assert!(!deadline.has_passed(), "the waiters never all waited");
        std::thread::yield_now();
    }
}

/// How many waiters have returned once at least `expected` have and every other one is
/// seen asleep, with the count unchanged around that look.
fn returned_once_the_rest_sleep(cond: &Condition<NotifyRound>, expected: u32) -> u32 {
    let mut returned = 0;
    let settled = holds_within(
        || {
            let (mask, sleepers) = {
                let guard = cond.lock_timeout(PATIENCE).expect("in time");
                let sleepers: Vec<i32> = (0..ROUND_WAITERS)
                    .filter(|index| guard.returned & (1 << index) == 0)
                    .map(|index| guard.tids[index])
                    .collect();
                (guard.returned, sleepers)
            };
            returned = mask.count_ones();
            returned >= expected
                && sleepers
                    .iter()
                    .all(|&tid| blocked_in_futex(current_pid(), tid))
                && cond.lock_timeout(PATIENCE).expect("in time").returned == mask
        },
        PATIENCE,
    );
    assert!(settled, "{returned} returned, expected {expected}");
    returned
}

#[test]
fn condition_notify_n_wakes_exactly_n_waiters() {
    notify_wakes_exactly_n(|guard| {
        guard.wait().expect("clean");
        true
    });
}

#[test]
fn condition_notify_n_wakes_exactly_n_timed_waiters() {
    notify_wakes_exactly_n(|guard| match guard.wait_timeout(PATIENCE) {
        Ok(()) => true,
        Err(Error::TimedOut) => false,
        Err(other) => panic!("a clean wait failed: {other}"),
    });
}

#[test]
fn condition_notify_more_than_wait_wakes_every_waiter() {
    const WAITERS: u32 = 5;
    let cond = Condition::new(Tickets::default());
    std::thread::scope(|s| {
        let waiters = ticket_waiters(s, &cond, WAITERS);
        assert!(once_waiting(
            &cond,
            WAITERS,
            |t| t.waiting,
            |g| {
                g.tickets = WAITERS;
                // notify(usize::MAX) counts as "everyone".
                g.notify(usize::MAX);
            },
        ));
        for waiter in waiters {
            assert!(waiter.join().expect("waiter"));
        }
    });
    assert_eq!(cond.into_inner().through, WAITERS);
}

#[test]
fn condition_notify_all_wakes_every_waiter() {
    const WAITERS: u32 = 6;
    let cond = Condition::new(Signal::default());
    std::thread::scope(|s| {
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                s.spawn(|| {
                    let mut guard = cond.lock_timeout(PATIENCE).expect("in time");
                    guard.waiting += 1;
                    guard.wait_for_timeout(|s| s.notified, PATIENCE) == Ok(())
                })
            })
            .collect();
        assert!(once_waiting(
            &cond,
            WAITERS,
            |s| s.waiting,
            |g| {
                g.notified = true;
                g.notify_all();
            },
        ));
        for waiter in waiters {
            assert!(
                waiter.join().expect("waiter"),
                "one notify_all reaches everyone"
            );
        }
    });
}

#[test]
fn condition_notify_without_waiters_is_harmless() {
    let cond = Condition::new(());
    let guard = cond.lock().expect("clean");
    guard.notify(0);
    guard.notify(1);
    guard.notify_all();
    drop(guard);
    assert!(cond.try_lock().is_ok());
}

#[test]
fn condition_lock_forms_and_debug() {
    static READY: Condition<bool> = Condition::new(false);
    assert!(!*READY.lock().expect("clean"));
    let cond: Condition<u8> = Condition::default();
    let guard = cond.lock().expect("clean");
    assert_eq!(format!("{guard:?}"), "0");
    assert!(format!("{cond:?}").contains("poisoned: false"));
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(is_would_block(&cond.try_lock()));
            assert!(is_timed_out(&cond.lock_timeout(SHORT)));
        });
    });
    drop(guard);
    assert!(cond.lock_timeout(SHORT).is_ok());
    assert!(cond.try_lock().is_ok());
    assert!(!cond.is_poisoned());
}

#[test]
fn condition_of_a_thread_that_exited_is_taken_over_with_owner_died() {
    let cond = Condition::new(0u32);
    on_a_thread_that_exits(|| {
        let mut guard = cond.lock().expect("clean");
        *guard = 9;
        std::mem::forget(guard);
    });
    let guard = match cond.lock_timeout(PATIENCE) {
        Err(TryLockError::OwnerDied(died)) => died.into_inner(),
        Ok(_) => panic!("took the lock over without reporting the death"),
        Err(_) => panic!("the dead holder was never detected"),
    };
    assert_eq!(*guard, 9);
    drop(guard);
    assert!(is_owner_died(&cond.try_lock()));
    expect_poisoned_then_cleared(
        || cond.is_poisoned(),
        || cond.lock().is_ok(),
        || cond.clear_poison(),
    );
}

#[test]
fn condition_wait_reports_a_holder_that_died_while_it_slept() {
    let cond = Arc::new(Condition::new(Signal::default()));
    let waiter = spawn_with(&cond, |cond| {
        let mut guard = cond.lock().expect("clean");
        guard.waiting += 1;
        let mut outcome = Ok(());
        while !guard.notified {
            outcome = guard.wait();
        }
        (outcome.is_err(), cond.is_poisoned())
    });
    assert!(once_waiting(&cond, 1, |s| s.waiting, |_| {}));
    // A thread that takes the lock, notifies, and exits without releasing it: the woken
    // waiter must take the lock back from the dead thread, and be told.
    on_a_thread_that_exits(|| {
        let mut guard = cond.lock_timeout(PATIENCE).expect("clean");
        guard.notified = true;
        guard.notify_all();
        std::mem::forget(guard);
    });
    assert_eq!(join_within(waiter), (true, true));
    assert!(cond.is_poisoned());
    cond.clear_poison();
    assert!(cond.lock_timeout(PATIENCE).is_ok());
}

#[test]
fn condition_producers_and_consumers_deliver_every_item_exactly_once() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: usize = 2_000;
    const CAPACITY: usize = 8;
    const TOTAL: usize = PRODUCERS * PER_PRODUCER;

    struct Queue {
        items: VecDeque<usize>,
        taken: usize,
    }
    let shared = Arc::new((
        Condition::new(Queue {
            items: VecDeque::new(),
            taken: 0,
        }),
        (0..TOTAL).map(|_| AtomicU32::new(0)).collect::<Vec<_>>(),
    ));
    let producers = (0..PRODUCERS).map(|producer| {
        spawn_with(&shared, move |(cond, _)| {
            for i in 0..PER_PRODUCER {
                let mut guard = cond.lock().expect("clean");
                let room = guard.wait_for_timeout(|q| q.items.len() < CAPACITY, PATIENCE);
                assert_eq!(room, Ok(()), "a producer waited too long for room");
                guard.items.push_back(producer * PER_PRODUCER + i);
                // Producers wait on the same condition as consumers: wake everyone, so
                // that a consumer surely hears of the item.
                guard.notify_all();
            }
        })
    });
    let consumers = (0..CONSUMERS).map(|_| {
        spawn_with(&shared, |(cond, seen)| {
            loop {
                let mut guard = cond.lock().expect("clean");
                let ready =
                    guard.wait_for_timeout(|q| !q.items.is_empty() || q.taken == TOTAL, PATIENCE);
                assert_eq!(ready, Ok(()), "a consumer waited too long for an item");
                let Some(item) = guard.items.pop_front() else {
                    break; // everything was taken
                };
                guard.taken += 1;
                guard.notify_all();
                drop(guard);
                seen[item].fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    join_all_within(producers.chain(consumers).collect());
    let (cond, seen) = &*shared;
    let missing_or_repeated: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, n)| n.load(Ordering::Relaxed) != 1)
        .map(|(i, _)| i)
        .collect();
    assert!(
        missing_or_repeated.is_empty(),
        "items not delivered exactly once: {missing_or_repeated:?}"
    );
    let queue = cond.lock().expect("clean");
    assert_eq!((queue.taken, queue.items.len()), (TOTAL, 0));
}

// ---------------------------------------------------------------------------------------
// Semaphore and BoundedSemaphore
// ---------------------------------------------------------------------------------------

#[test]
fn semaphore_counts_permits() {
    static SLOTS: Semaphore = Semaphore::new(2);
    assert!(SLOTS.value() <= 2);
    let sem = Semaphore::new(2);
    assert_eq!(sem.value(), 2);
    sem.acquire();
    assert_eq!(sem.value(), 1);
    assert_eq!(sem.try_acquire(), Ok(()));
    assert_eq!(sem.value(), 0);
    assert_eq!(sem.try_acquire(), Err(Error::WouldBlock));
    assert_eq!(sem.acquire_timeout(SHORT), Err(Error::TimedOut));
    assert_eq!(sem.acquire_timeout(Duration::ZERO), Err(Error::TimedOut));
    assert_eq!(sem.value(), 0);
    sem.release(1).expect("no overflow");
    assert_eq!(sem.acquire_timeout(Duration::ZERO), Ok(()));
    // Unlike BoundedSemaphore, a plain semaphore may go past its initial value.
    sem.release(5).expect("no overflow");
    assert_eq!(sem.value(), 5);
    assert_eq!(sem.release(0), Ok(()));
    assert_eq!(sem.value(), 5);
    assert!(format!("{sem:?}").contains('5'));
}

#[test]
fn semaphore_release_reports_overflow_and_changes_nothing() {
    let sem = Semaphore::new(u32::MAX);
    assert_eq!(sem.release(1), Err(Error::Overflow));
    assert_eq!(sem.value(), u32::MAX);
    let sem = Semaphore::new(3);
    assert_eq!(sem.release(u32::MAX), Err(Error::Overflow));
    assert_eq!(sem.value(), 3);
    assert_eq!(sem.release(u32::MAX - 3), Ok(()));
    assert_eq!(sem.value(), u32::MAX);
}

#[test]
fn semaphore_acquire_timeout_succeeds_when_released_during_the_wait() {
    let sem = Semaphore::new(0);
    assert!(released_while_asleep(
        || sem.acquire_timeout(PATIENCE).is_ok(),
        || sem.release(1).expect("no overflow"),
    ));
    assert_eq!(sem.value(), 0);
}

#[test]
fn semaphore_release_n_wakes_n_waiters() {
    const WAITERS: usize = 4;
    let shared = Arc::new((
        Semaphore::new(0),
        (0..WAITERS).map(|_| AtomicI32::new(0)).collect::<Vec<_>>(),
        AtomicUsize::new(0),
    ));
    let waiters: Vec<_> = (0..WAITERS)
        .map(|i| {
            spawn_with(&shared, move |(sem, tids, through)| {
                tids[i].store(current_tid(), Ordering::SeqCst);
                let got = if i == 0 {
                    sem.acquire(); // the untimed form
                    true
                } else {
                    sem.acquire_timeout(PATIENCE).is_ok()
                };
                through.fetch_add(usize::from(got), Ordering::SeqCst);
                got
            })
        })
        .collect();
    let (sem, tids, through) = &*shared;
    for tid in tids {
        wait_until_asleep(tid);
    }
    sem.release(WAITERS as u32 - 1).expect("no overflow");
    assert!(
        holds_within(|| through.load(Ordering::SeqCst) == WAITERS - 1, PATIENCE),
        "release(n) did not let n waiters through"
    );
    assert_eq!(sem.value(), 0);
    sem.release(1).expect("no overflow");
    assert!(join_all_within(waiters).into_iter().all(|got| got));
    assert_eq!(through.load(Ordering::SeqCst), WAITERS);
    assert_eq!(sem.value(), 0);
}

#[test]
fn semaphore_hammered_never_lets_more_than_its_permits_in() {
    const PERMITS: u32 = 3;
    const ROUNDS: usize = 1_000;
    let shared = Arc::new((Semaphore::new(PERMITS), Occupancy::default()));
    on_threads(&shared, HAMMER_THREADS, |(sem, occupancy), thread| {
        for round in 0..ROUNDS {
            match (thread + round) % 3 {
                0 => assert_eq!(sem.acquire_timeout(PATIENCE), Ok(())),
                1 => sem.acquire(),
                _ => {
                    while sem.try_acquire().is_err() {
                        std::thread::yield_now();
                    }
                }
            }
            occupancy.enter();
            std::thread::yield_now();
            occupancy.leave();
            sem.release(1).expect("no overflow");
        }
    });
    let (sem, occupancy) = &*shared;
    assert!(
        occupancy.most() <= PERMITS,
        "{} inside at once",
        occupancy.most()
    );
    assert!(occupancy.most() >= 1);
    assert_eq!(sem.value(), PERMITS, "every permit came back");
}

#[test]
fn bounded_semaphore_refuses_releases_past_its_bound() {
    let sem = BoundedSemaphore::new(2);
    assert_eq!((sem.value(), sem.bound()), (2, 2));
    assert_eq!(sem.release(1), Err(Error::TooManyReleases));
    assert_eq!(sem.release(0), Ok(()));
    sem.acquire();
    assert_eq!(sem.try_acquire(), Ok(()));
    assert_eq!(sem.try_acquire(), Err(Error::WouldBlock));
    assert_eq!(sem.acquire_timeout(SHORT), Err(Error::TimedOut));
    assert_eq!(sem.value(), 0);
    assert_eq!(sem.release(3), Err(Error::TooManyReleases));
    assert_eq!(sem.value(), 0, "a refused release changes nothing");
    assert_eq!(sem.release(2), Ok(()));
    assert_eq!(sem.release(1), Err(Error::TooManyReleases));
    assert_eq!(sem.acquire_timeout(SHORT), Ok(()));
    assert_eq!(sem.release(1), Ok(()));
    assert!(format!("{sem:?}").contains("bound: 2"));

    let empty = BoundedSemaphore::new(0);
    assert_eq!(empty.try_acquire(), Err(Error::WouldBlock));
    assert_eq!(empty.release(1), Err(Error::TooManyReleases));

    let full = BoundedSemaphore::new(u32::MAX);
    assert_eq!(full.release(1), Err(Error::TooManyReleases));
}

#[test]
fn bounded_semaphore_acquire_timeout_succeeds_when_released_during_the_wait() {
    let sem = BoundedSemaphore::new(1);
    sem.acquire();
    assert!(released_while_asleep(
        || sem.acquire_timeout(PATIENCE).is_ok(),
        || sem.release(1).expect("within the bound"),
    ));
    assert_eq!(sem.release(1), Ok(()));
}

#[test]
fn bounded_semaphore_hammered_stays_within_its_bound() {
    const PERMITS: u32 = 2;
    const ROUNDS: usize = 1_000;
    let shared = Arc::new((BoundedSemaphore::new(PERMITS), Occupancy::default()));
    on_threads(&shared, HAMMER_THREADS, |(sem, occupancy), thread| {
        for round in 0..ROUNDS {
            if (thread + round).is_multiple_of(2) {
                sem.acquire();
            } else {
                assert_eq!(sem.acquire_timeout(PATIENCE), Ok(()));
            }
            occupancy.enter();
            std::thread::yield_now();
            occupancy.leave();
            sem.release(1).expect("within the bound");
        }
    });
    let (sem, occupancy) = &*shared;
    assert!(occupancy.most() <= PERMITS);
    assert_eq!(sem.value(), PERMITS);
    assert_eq!(sem.release(1), Err(Error::TooManyReleases));
}

// ---------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------

#[test]
fn event_set_clear_and_is_set() {
    static DONE: Event = Event::new();
    assert!(!DONE.is_set());
    let event = Event::default();
    assert!(!event.is_set());
    assert!(format!("{event:?}").contains("set: false"));
    event.clear();
    assert!(!event.is_set());
    event.set();
    event.set();
    assert!(event.is_set());
    assert!(format!("{event:?}").contains("set: true"));
    event.wait();
    assert_eq!(event.wait_timeout(Duration::ZERO), Ok(()));
    assert_eq!(event.wait_timeout(SHORT), Ok(()));
    event.clear();
    assert!(!event.is_set());
    assert_eq!(event.wait_timeout(SHORT), Err(Error::TimedOut));
    assert_eq!(event.wait_timeout(Duration::ZERO), Err(Error::TimedOut));
}

/// An event and the threads waiting on it (the first untimed, returning at all is its
/// check; the others bounded by [`PATIENCE`], returning whether they saw a set).
type EventWaiters = (Arc<(Event, Vec<AtomicI32>)>, Vec<JoinHandle<bool>>);

/// `count` threads waiting on one event; returns once each is seen asleep in its futex
/// wait.
fn sleeping_event_waiters(count: usize) -> EventWaiters {
    let shared = Arc::new((
        Event::new(),
        (0..count).map(|_| AtomicI32::new(0)).collect::<Vec<_>>(),
    ));
    let waiters: Vec<_> = (0..count)
        .map(|i| {
            spawn_with(&shared, move |(event, tids)| {
                tids[i].store(current_tid(), Ordering::SeqCst);
                if i == 0 {
                    event.wait(); // the untimed form
                    true
                } else {
                    event.wait_timeout(PATIENCE).is_ok()
                }
            })
        })
        .collect();
    for tid in &shared.1 {
        wait_until_asleep(tid);
    }
    (shared, waiters)
}

#[test]
fn event_set_wakes_every_waiter() {
    let (shared, waiters) = sleeping_event_waiters(5);
    let event = &shared.0;
    event.set();
    assert!(join_all_within(waiters).into_iter().all(|flag| flag));
    assert!(event.is_set());
}

#[test]
fn event_waiters_woken_by_set_return_true_even_if_cleared_at_once() {
    // Python's guarantee: a waiter that was waiting when `set` ran returns True, even if
    // `clear` ran before it woke up. Every waiter is seen asleep in its futex wait before
    // the set, so each of them is committed to this `set`.
    const WAITERS: usize = 3;
    let (shared, waiters) = sleeping_event_waiters(WAITERS);
    let event = &shared.0;
    event.set();
    event.clear();
    let flags = join_all_within(waiters);
    assert_eq!(
        flags, [true; WAITERS],
        "a waiter missed a set cleared at once"
    );
    assert!(!event.is_set());
}

#[test]
fn event_wait_after_set_and_clear_waits_for_the_next_set() {
    let event = Event::new();
    event.set();
    event.clear();
    assert!(
        event.wait_timeout(SHORT) == Err(Error::TimedOut),
        "a set already cleared does not count later"
    );
    assert!(released_while_asleep(
        || event.wait_timeout(PATIENCE).is_ok(),
        || event.set()
    ));
}

#[test]
fn event_ping_pong_between_two_threads() {
    const ROUNDS: u32 = 2_000;
    let ping = Event::new();
    let pong = Event::new();
    let volleys = AtomicU32::new(0);
    std::thread::scope(|s| {
        let partner = s.spawn(|| {
            for _ in 0..ROUNDS {
                if ping.wait_timeout(PATIENCE).is_err() {
                    return false;
                }
                ping.clear();
                volleys.fetch_add(1, Ordering::SeqCst);
                pong.set();
            }
            true
        });
        for round in 0..ROUNDS {
            ping.set();
            assert_eq!(
                pong.wait_timeout(PATIENCE),
                Ok(()),
                "no answer in round {round}"
            );
            pong.clear();
            assert_eq!(volleys.load(Ordering::SeqCst), round + 1);
        }
        assert!(partner.join().expect("partner"));
    });
}

#[test]
fn event_hammered_as_gates_of_many_rounds() {
    // One event per round: the main thread opens each gate, every waiter must pass it once
    // and only after it opened, and each passage is acknowledged through a semaphore.
    const WAITERS: usize = HAMMER_THREADS;
    const ROUNDS: usize = 200;
    let gates: Vec<Event> = (0..ROUNDS).map(|_| Event::new()).collect();
    let opened: Vec<AtomicBool> = (0..ROUNDS).map(|_| AtomicBool::new(false)).collect();
    let passed: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    let acknowledged = Semaphore::new(0);
    std::thread::scope(|s| {
        for _ in 0..WAITERS {
            let (gates, opened, passed, acknowledged) = (&gates, &opened, &passed, &acknowledged);
            s.spawn(move || {
                for round in 0..ROUNDS {
                    if gates[round].wait_timeout(PATIENCE).is_err() {
                        return;
                    }
                    assert!(opened[round].load(Ordering::SeqCst), "passed a closed gate");
                    passed[round].fetch_add(1, Ordering::SeqCst);
                    acknowledged.release(1).expect("no overflow");
                }
            });
        }
        for round in 0..ROUNDS {
            opened[round].store(true, Ordering::SeqCst);
            gates[round].set();
            for _ in 0..WAITERS {
                assert_eq!(
                    acknowledged.acquire_timeout(PATIENCE),
                    Ok(()),
                    "round {round} stalled"
                );
            }
            gates[round].clear();
        }
    });
    for (round, count) in passed.iter().enumerate() {
        assert_eq!(count.load(Ordering::SeqCst), WAITERS, "round {round}");
    }
    assert_eq!(acknowledged.value(), 0);
    assert!(gates.iter().all(|gate| !gate.is_set()));
}

// ---------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------

#[test]
fn barrier_of_zero_parties_is_an_error() {
    assert_eq!(
        Barrier::new(0).map(|b| b.parties()),
        Err(Error::InvalidArgument {
            argument: "parties",
            requirement: "a barrier needs at least one party"
        })
    );
    assert!(matches!(
        Barrier::new(0),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn barrier_of_one_party_never_waits() {
    let barrier = Barrier::new(1).expect("one party");
    assert_eq!(barrier.parties(), 1);
    for _ in 0..3 {
        assert_eq!(barrier.wait(), Ok(0));
        assert_eq!(barrier.wait_timeout(Duration::ZERO), Ok(0));
    }
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.broken());
    assert!(format!("{barrier:?}").contains("parties: 1"));
}

#[test]
fn barrier_gives_each_party_an_index_and_counts_waiters() {
    const PARTIES: u32 = 4;
    let barrier = Arc::new(Barrier::new(PARTIES).expect("parties"));
    assert_eq!(barrier.parties(), PARTIES);
    let early: Vec<_> = (0..PARTIES - 1)
        .map(|i| {
            spawn_with(&barrier, move |barrier| {
                if i == 0 {
                    barrier.wait() // the untimed form
                } else {
                    barrier.wait_timeout(PATIENCE)
                }
            })
        })
        .collect();
    assert!(
        holds_within(|| barrier.n_waiting() == PARTIES - 1, PATIENCE),
        "n_waiting never reached {}",
        PARTIES - 1
    );
    assert!(!barrier.broken());
    let last = barrier
        .wait_timeout(PATIENCE)
        .expect("the last party trips it");
    assert_eq!(last, PARTIES - 1, "the last to arrive gets the last index");
    let mut indices: Vec<u32> = join_all_within(early)
        .into_iter()
        .map(|index| index.expect("tripped"))
        .collect();
    indices.push(last);
    indices.sort_unstable();
    assert_eq!(indices, (0..PARTIES).collect::<Vec<_>>());
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn barrier_wait_timeout_that_does_not_elapse() {
    let barrier = Barrier::new(2).expect("parties");
    std::thread::scope(|s| {
        let other = s.spawn(|| barrier.wait_timeout(PATIENCE));
        let mine = barrier.wait_timeout(PATIENCE).expect("tripped");
        let theirs = other.join().expect("party").expect("tripped");
        let mut both = [mine, theirs];
        both.sort_unstable();
        assert_eq!(both, [0, 1]);
    });
    assert!(!barrier.broken());
}

/// Two threads waiting at `barrier`, the first untimed, the second bounded by
/// [`PATIENCE`]; returns once both wait.
fn two_barrier_waiters(barrier: &Arc<Barrier>) -> Vec<JoinHandle<Result<u32, Error>>> {
    let waiters: Vec<_> = (0..2)
        .map(|i| {
            spawn_with(barrier, move |barrier| {
                if i == 0 {
                    barrier.wait()
                } else {
                    barrier.wait_timeout(PATIENCE)
                }
            })
        })
        .collect();
    assert!(holds_within(|| barrier.n_waiting() == 2, PATIENCE));
    waiters
}

#[test]
fn barrier_timeout_breaks_it_for_everyone() {
    const PARTIES: u32 = 4;
    let barrier = Arc::new(Barrier::new(PARTIES).expect("parties"));
    let others = two_barrier_waiters(&barrier);
    // The fourth party never comes: this wait times out and breaks the barrier.
    assert_eq!(barrier.wait_timeout(SHORT), Err(Error::TimedOut));
    assert_eq!(
        join_all_within(others),
        [Err(Error::BrokenBarrier), Err(Error::BrokenBarrier)]
    );
    assert!(barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
    assert_eq!(barrier.wait(), Err(Error::BrokenBarrier));
    assert_eq!(barrier.wait_timeout(SHORT), Err(Error::BrokenBarrier));
    barrier.reset();
    assert!(!barrier.broken());
    assert_eq!(barrier.wait_timeout(SHORT), Err(Error::TimedOut));
}

#[test]
fn barrier_abort_breaks_it_until_reset() {
    const PARTIES: u32 = 3;
    let barrier = Barrier::new(PARTIES).expect("parties");
    std::thread::scope(|s| {
        let waiters: Vec<_> = (0..PARTIES - 1)
            .map(|_| s.spawn(|| barrier.wait_timeout(PATIENCE)))
            .collect();
        assert!(holds_within(
            || barrier.n_waiting() == PARTIES - 1,
            PATIENCE
        ));
        barrier.abort();
        for waiter in waiters {
            assert_eq!(waiter.join().expect("party"), Err(Error::BrokenBarrier));
        }
    });
    assert!(barrier.broken());
    assert_eq!(barrier.wait(), Err(Error::BrokenBarrier));
    barrier.abort();
    assert!(barrier.broken(), "aborting twice is harmless");
    barrier.reset();
    assert!(!barrier.broken());
    assert_full_round(&barrier);
}

#[test]
fn barrier_reset_while_parties_wait_releases_them_with_broken_barrier() {
    const PARTIES: u32 = 3;
    let barrier = Arc::new(Barrier::new(PARTIES).expect("parties"));
    let waiters = two_barrier_waiters(&barrier);
    barrier.reset();
    assert_eq!(
        join_all_within(waiters),
        [Err(Error::BrokenBarrier), Err(Error::BrokenBarrier)]
    );
    assert!(
        !barrier.broken(),
        "reset leaves the barrier usable, not broken"
    );
    assert_eq!(barrier.n_waiting(), 0);
    assert_full_round(&barrier);
}

/// One full round of `barrier` with fresh threads: every index exactly once.
fn assert_full_round(barrier: &Barrier) {
    let parties = barrier.parties();
    let mut indices: Vec<u32> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..parties)
            .map(|_| s.spawn(|| barrier.wait_timeout(PATIENCE)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("party").expect("tripped"))
            .collect()
    });
    indices.sort_unstable();
    assert_eq!(indices, (0..parties).collect::<Vec<_>>());
}

#[test]
fn barrier_reused_over_many_rounds_stays_consistent() {
    const PARTIES: usize = 8;
    const ROUNDS: usize = 300;
    // arrivals[r]: how many parties reached round r; indices[r][i]: who got index i.
    let shared = Arc::new((
        Barrier::new(PARTIES as u32).expect("parties"),
        (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>(),
        (0..ROUNDS)
            .map(|_| {
                (0..PARTIES)
                    .map(|_| AtomicUsize::new(0))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>(),
    ));
    on_threads(&shared, PARTIES, |(barrier, arrivals, indices), _| {
        // A party that fails must not leave the others waiting for it forever.
        let rescue = Rescue::new(|| barrier.abort());
        for round in 0..ROUNDS {
            arrivals[round].fetch_add(1, Ordering::SeqCst);
            let index = if round.is_multiple_of(2) {
                barrier.wait()
            } else {
                barrier.wait_timeout(PATIENCE)
            }
            .expect("no party breaks it");
            // Nobody leaves a round before everyone has arrived at it.
            assert_eq!(arrivals[round].load(Ordering::SeqCst), PARTIES);
            indices[round][index as usize].fetch_add(1, Ordering::SeqCst);
        }
        rescue.disarm();
    });
    let (barrier, _, indices) = &*shared;
    for (round, round_indices) in indices.iter().enumerate() {
        let counts: Vec<usize> = round_indices
            .iter()
            .map(|n| n.load(Ordering::SeqCst))
            .collect();
        assert_eq!(
            counts, [1; PARTIES],
            "round {round}: each index exactly once"
        );
    }
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
}

// ---------------------------------------------------------------------------------------
// One shape per family: `try_x` fails with WouldBlock, `x_timeout` with TimedOut;
// `Duration::ZERO` polls once, `Duration::MAX` waits for ever.
// ---------------------------------------------------------------------------------------

#[test]
fn lock_timeout_zero_polls_once_and_max_waits_for_a_release() {
    let lock = Lock::new();
    assert!(lock.acquire_timeout(Duration::ZERO).is_ok(), "free: taken");
    assert!(is_would_block(&lock.try_acquire()));
    assert!(is_timed_out(&lock.acquire_timeout(Duration::ZERO)));
    assert!(is_timed_out(&lock.lock_timeout(Duration::ZERO)));
    let waited = released_while_asleep(
        || lock.acquire_timeout(Duration::MAX).is_ok(),
        || lock.release().expect("held"),
    );
    assert!(waited, "Duration::MAX waited until the release");
    let waited = released_while_asleep(
        || lock.lock_timeout(Duration::MAX).map(drop).is_ok(),
        || lock.release().expect("held"),
    );
    assert!(waited);
    assert!(!lock.locked());
}

#[test]
fn rlock_timeout_zero_polls_once_and_max_waits_for_a_release() {
    let lock = RLock::new();
    let held = lock.lock_timeout(Duration::ZERO).expect("free: taken");
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(is_would_block(&lock.try_acquire()));
            assert!(is_timed_out(&lock.acquire_timeout(Duration::ZERO)));
            assert!(is_timed_out(&lock.lock_timeout(Duration::ZERO)));
        });
    });
    let waited = released_while_asleep(
        || lock.acquire_timeout(Duration::MAX).is_ok() && lock.release().is_ok(),
        || drop(held),
    );
    assert!(waited, "Duration::MAX waited until the release");
    assert!(!lock.locked());
}

#[test]
fn mutex_timeout_zero_polls_once_and_max_waits_for_a_release() {
    let mutex = Mutex::new(0u32);
    let held = mutex.lock_timeout(Duration::ZERO).expect("free: taken");
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(is_would_block(&mutex.try_lock()));
            assert!(is_timed_out(&mutex.lock_timeout(Duration::ZERO)));
        });
    });
    let waited = released_while_asleep(
        || {
            mutex
                .lock_timeout(Duration::MAX)
                .map(|mut g| *g += 1)
                .is_ok()
        },
        || drop(held),
    );
    assert!(waited, "Duration::MAX waited until the release");
    assert_eq!(*mutex.lock().expect("clean"), 1);
}

#[test]
fn condition_timeouts_zero_poll_once_and_max_wait_for_a_notify() {
    let cond = Condition::new(false);
    let held = cond.lock_timeout(Duration::ZERO).expect("free: taken");
    std::thread::scope(|s| {
        s.spawn(|| {
            assert!(is_would_block(&cond.try_lock()));
            assert!(is_timed_out(&cond.lock_timeout(Duration::ZERO)));
        });
    });
    drop(held);
    {
        let mut guard = cond.lock().expect("clean");
        assert_eq!(guard.wait_timeout(Duration::ZERO), Err(Error::TimedOut));
        assert_eq!(
            guard.wait_for_timeout(|ready| *ready, Duration::ZERO),
            Err(Error::TimedOut)
        );
        *guard = true;
        assert_eq!(
            guard.wait_for_timeout(|ready| *ready, Duration::ZERO),
            Ok(())
        );
        *guard = false;
    }
    let notify = || {
        let mut guard = cond.lock().expect("clean");
        *guard = true;
        guard.notify_all();
    };
    let waited = released_while_asleep(
        || {
            let mut guard = cond.lock().expect("clean");
            guard.wait_for_timeout(|ready| *ready, Duration::MAX)
        },
        notify,
    );
    assert_eq!(waited, Ok(()), "Duration::MAX waited until the notify");
    *cond.lock().expect("clean") = false;
    let waited = released_while_asleep(
        || {
            let mut guard = cond.lock().expect("clean");
            let waited = guard.wait_timeout(Duration::MAX);
            (waited, *guard)
        },
        notify,
    );
    assert_eq!(waited, (Ok(()), true));
}

#[test]
fn semaphores_timeout_zero_polls_once_and_max_waits_for_a_release() {
    let sem = Semaphore::new(1);
    assert_eq!(sem.acquire_timeout(Duration::ZERO), Ok(()));
    assert_eq!(sem.try_acquire(), Err(Error::WouldBlock));
    assert_eq!(sem.acquire_timeout(Duration::ZERO), Err(Error::TimedOut));
    let waited = released_while_asleep(
        || sem.acquire_timeout(Duration::MAX),
        || sem.release(1).expect("no overflow"),
    );
    assert_eq!(waited, Ok(()), "Duration::MAX waited until the release");

    let bounded = BoundedSemaphore::new(1);
    assert_eq!(bounded.acquire_timeout(Duration::ZERO), Ok(()));
    assert_eq!(bounded.try_acquire(), Err(Error::WouldBlock));
    assert_eq!(
        bounded.acquire_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    );
    let waited = released_while_asleep(
        || bounded.acquire_timeout(Duration::MAX),
        || bounded.release(1).expect("within the bound"),
    );
    assert_eq!(waited, Ok(()));
    assert_eq!((sem.value(), bounded.value()), (0, 0));
}

#[test]
fn event_timeout_zero_polls_once_and_max_waits_for_a_set() {
    let event = Event::new();
    assert_eq!(event.wait_timeout(Duration::ZERO), Err(Error::TimedOut));
    let waited = released_while_asleep(|| event.wait_timeout(Duration::MAX), || event.set());
    assert_eq!(waited, Ok(()), "Duration::MAX waited until the set");
    assert_eq!(event.wait_timeout(Duration::ZERO), Ok(()));
}

#[test]
fn barrier_timeout_zero_polls_once_and_max_waits_for_the_parties() {
    let alone = Barrier::new(1).expect("one party");
    assert_eq!(alone.wait_timeout(Duration::ZERO), Ok(0));
    let pair = Barrier::new(2).expect("two parties");
    assert_eq!(pair.wait_timeout(Duration::ZERO), Err(Error::TimedOut));
    assert!(pair.broken(), "a timeout breaks the barrier, as Python's");
    pair.reset();
    let first = released_while_asleep(
        || pair.wait_timeout(Duration::MAX),
        || assert_eq!(pair.wait(), Ok(1)),
    );
    assert_eq!(first, Ok(0), "Duration::MAX waited for the other party");
}
