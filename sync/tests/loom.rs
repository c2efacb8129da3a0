//! Loom models of the primitives: every interleaving (up to a preemption bound) of a few
//! threads, with the futex layer emulated so lost wake-ups show up as deadlocks.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p mp-sync --test loom --release`
//! (`.ci/run` does). Without `--cfg loom` this file is empty.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use mp_sync::{
    Barrier, BoundedSemaphore, Condition, Error, Event, Lock, RLock, Semaphore, TryLockError,
};
use std::time::Duration;

fn model(test: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(test);
}

/// Counts threads inside a critical section and fails if two are ever there together.
struct Exclusive(AtomicUsize);

impl Exclusive {
    fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    fn enter_and_leave(&self) {
        assert_eq!(
            self.0.fetch_add(1, Ordering::SeqCst),
            0,
            "two threads inside the lock"
        );
        thread::yield_now();
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn lock_excludes_and_wakes() {
    model(|| {
        let lock = Arc::new(Lock::new());
        let inside = Arc::new(Exclusive::new());
        let other = {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            thread::spawn(move || {
                let _guard = lock.lock().unwrap();
                inside.enter_and_leave();
            })
        };
        {
            let _guard = lock.lock().unwrap();
            inside.enter_and_leave();
        }
        other.join().unwrap();
        assert!(!lock.locked());
    });
}

#[test]
fn lock_released_by_another_thread() {
    model(|| {
        let lock = Arc::new(Lock::new());
        lock.acquire().unwrap();
        let releaser = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.release().unwrap())
        };
        // Blocks until the other thread's release: a lost wake-up would deadlock here.
        lock.acquire().unwrap();
        releaser.join().unwrap();
        assert_eq!(lock.release(), Ok(()));
        assert_eq!(lock.release(), Err(Error::NotLocked));
    });
}

#[test]
fn lock_timeout_and_try_paths() {
    model(|| {
        let lock = Arc::new(Lock::new());
        let guard = lock.lock().unwrap();
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                assert!(matches!(
                    lock.try_lock(),
                    Err(TryLockError::WouldBlock) | Ok(_)
                ));
                let _ = lock.lock_timeout(Duration::from_millis(1));
            })
        };
        drop(guard);
        other.join().unwrap();
        assert!(!lock.locked());
    });
}

#[test]
fn rlock_reenters_and_excludes() {
    model(|| {
        let lock = Arc::new(RLock::new());
        let inside = Arc::new(Exclusive::new());
        let other = {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            thread::spawn(move || {
                let _outer = lock.lock().unwrap();
                let _inner = lock.lock().unwrap();
                inside.enter_and_leave();
            })
        };
        lock.acquire().unwrap();
        lock.acquire().unwrap();
        inside.enter_and_leave();
        lock.release().unwrap();
        lock.release().unwrap();
        other.join().unwrap();
        assert!(!lock.locked());
    });
}

#[test]
fn condition_notify_is_never_lost() {
    model(|| {
        let cond = Arc::new(Condition::new(false));
        let notifier = {
            let cond = Arc::clone(&cond);
            thread::spawn(move || {
                let mut ready = cond.lock().unwrap();
                *ready = true;
                ready.notify(1);
            })
        };
        let mut ready = cond.lock().unwrap();
        ready.wait_for(|ready| *ready).unwrap();
        drop(ready);
        notifier.join().unwrap();
    });
}

#[test]
fn condition_hands_items_over() {
    model(|| {
        let queue = Arc::new(Condition::new(0u32));
        let producer = {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                for _ in 0..2 {
                    let mut items = queue.lock().unwrap();
                    *items += 1;
                    items.notify_all();
                }
            })
        };
        let mut taken = 0;
        while taken < 2 {
            let mut items = queue.lock().unwrap();
            items.wait_for(|items| *items > 0).unwrap();
            *items -= 1;
            taken += 1;
        }
        producer.join().unwrap();
    });
}

#[test]
fn semaphore_bounds_and_wakes() {
    model(|| {
        let permits = Arc::new(Semaphore::new(1));
        let inside = Arc::new(Exclusive::new());
        let other = {
            let (permits, inside) = (Arc::clone(&permits), Arc::clone(&inside));
            thread::spawn(move || {
                permits.acquire();
                inside.enter_and_leave();
                permits.release(1).unwrap();
            })
        };
        permits.acquire();
        inside.enter_and_leave();
        permits.release(1).unwrap();
        other.join().unwrap();
        assert_eq!(permits.value(), 1);
    });
}

#[test]
fn semaphore_release_wakes_a_sleeper() {
    model(|| {
        let permits = Arc::new(BoundedSemaphore::new(1));
        permits.acquire();
        let waiter = {
            let permits = Arc::clone(&permits);
            thread::spawn(move || permits.acquire())
        };
        permits.release(1).unwrap();
        waiter.join().unwrap();
        assert_eq!(permits.release(2), Err(Error::TooManyReleases));
    });
}

#[test]
fn event_set_wakes_every_waiter() {
    model(|| {
        let event = Arc::new(Event::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let event = Arc::clone(&event);
                thread::spawn(move || event.wait())
            })
            .collect();
        event.set();
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert!(event.is_set());
    });
}

#[test]
fn event_pulse_wakes_a_sleeping_waiter() {
    model(|| {
        let event = Arc::new(Event::new());
        let waiting = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (event, waiting) = (Arc::clone(&event), Arc::clone(&waiting));
            thread::spawn(move || {
                waiting.store(1, Ordering::SeqCst);
                event.wait();
            })
        };
        while waiting.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        // Set then clear at once: a waiter that was waiting must still return.
        event.set();
        event.clear();
        waiter.join().unwrap();
    });
}

#[test]
fn barrier_trips_with_distinct_indices() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2).unwrap());
        let other = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait().unwrap())
        };
        let mine = barrier.wait().unwrap();
        let theirs = other.join().unwrap();
        assert_ne!(mine, theirs);
        assert!(mine < 2 && theirs < 2);
        assert!(!barrier.broken());
    });
}

#[test]
fn barrier_abort_releases_a_waiter() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2).unwrap());
        let waiter = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait())
        };
        barrier.abort();
        assert_eq!(waiter.join().unwrap(), Err(Error::BrokenBarrier));
        assert!(barrier.broken());
        barrier.reset();
        assert!(!barrier.broken());
    });
}

#[test]
fn condition_timeout_keeps_the_lock_consistent() {
    model(|| {
        let cond = Arc::new(Condition::new(0u32));
        let notifier = {
            let cond = Arc::clone(&cond);
            thread::spawn(move || {
                let mut count = cond.lock().unwrap();
                *count += 1;
                count.notify_all();
            })
        };
        {
            let mut count = cond.lock().unwrap();
            // Under loom the timeout elapses at once: either the notifier came first, or not.
            let satisfied = count.wait_for_timeout(|n| *n > 0, Duration::from_millis(1));
            let expected = if *count > 0 {
                Ok(())
            } else {
                Err(mp_sync::Error::TimedOut)
            };
            assert_eq!(satisfied, expected);
        }
        notifier.join().unwrap();
        assert_eq!(*cond.lock().unwrap(), 1);
    });
}

#[test]
fn barrier_timeout_breaks_it_for_the_other_party() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2).unwrap());
        let other = {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || barrier.wait())
        };
        let mine = barrier.wait_timeout(Duration::from_millis(1));
        let theirs = other.join().unwrap();
        match mine {
            // The other party arrived first and tripped it with us.
            Ok(index) => assert_eq!(theirs.map(|t| t + index), Ok(1)),
            Err(Error::TimedOut) => assert_eq!(theirs, Err(Error::BrokenBarrier)),
            Err(other) => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn lock_three_threads() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let lock = Arc::new(Lock::new());
        let inside = Arc::new(Exclusive::new());
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
                thread::spawn(move || {
                    let _guard = lock.lock().unwrap();
                    inside.enter_and_leave();
                })
            })
            .collect();
        {
            let _guard = lock.lock().unwrap();
            inside.enter_and_leave();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert!(!lock.locked());
    });
}

#[test]
fn condition_notify_one_wakes_exactly_one_of_two() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        // (waiting, returned, second notify sent)
        let cond = Arc::new(Condition::new((0u32, 0u32, false)));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let cond = Arc::clone(&cond);
                thread::spawn(move || {
                    let mut state = cond.lock().unwrap();
                    state.0 += 1;
                    state.wait().unwrap();
                    assert!(
                        state.1 == 0 || state.2,
                        "a second waiter returned before the second notify"
                    );
                    state.1 += 1;
                })
            })
            .collect();
        for second in [false, true] {
            loop {
                let mut state = cond.lock().unwrap();
                // The first notify once both wait, the second once the first woke one.
                if state.0 == 2 && state.1 == u32::from(second) {
                    state.2 = second;
                    state.notify(1);
                    break;
                }
                drop(state);
                thread::yield_now();
            }
        }
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert_eq!(cond.lock().unwrap().1, 2);
    });
}
