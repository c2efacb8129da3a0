//! SIGSTOP against `Queue` and `Lock`: a producer, consumer or lock holder (a forked
//! child) stopped in the middle of its work (once a seeded random share of the round's
//! work is done) for a while, then continued, round after round.
//!
//! A stopped process is alive: nothing it holds may be taken from it as from a dead
//! one, so the others may have to wait while it is stopped; what this suite checks is
//! that nothing is lost or duplicated, and that nothing stays wedged once it runs again.
//! The recovery is the time from the continue until the work moves on (the next message
//! delivered, the next critical section done, or the round's work finished); work that
//! does not move on within the bound counts as hung.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mp_faults::{Resources, Rng, Tally, exclusive, scaled};
use mp_ipc::{Error, Queue, QueueBuilder};
use mp_shared_mem::Segment;
use mp_sync::{Lock, TryLockError};
use test_support::stopping::Stopped;
use test_support::{Child, Ended, SharedMapping, spawn_child};

const ROUNDS: u64 = 12;
/// The bound on any wait: far longer than a stop.
const BOUND: Duration = Duration::from_secs(10);
/// How long a child stays stopped.
const STOP_FOR: Duration = Duration::from_millis(30);
const PRODUCERS: u64 = 2;
const CONSUMERS: u64 = 2;
const ITEMS_PER_PRODUCER: u64 = 2_000;
const LOCK_HOLDERS: u64 = 3;
const SECTIONS_PER_HOLDER: u64 = 2_000;

/// The work of one round, as the parent watches it.
struct Work<'a> {
    /// How far it is (only grows).
    progress: &'a dyn Fn() -> u64,
    /// Where `progress` starts this round and where it ends.
    from: u64,
    to: u64,
}

/// Stops one of `children` (chosen by `rng`) once a random share (a tenth to nine
/// tenths) of `work` is done, continues it after [`STOP_FOR`], then waits until the work
/// moves on or is finished: the recovery, or a hang if neither comes within [`BOUND`].
fn stop_one(children: &[Child], rng: &mut Rng, work: &Work<'_>, tally: &mut Tally) {
    let victim = &children[rng.below(children.len() as u64) as usize];
    let span = work.to - work.from;
    let stop_at = work.from + span / 10 + rng.below(span * 8 / 10);
    let waiting_since = Instant::now();
    while (work.progress)() < stop_at {
        if waiting_since.elapsed() > BOUND {
            tally.hung += 1;
            return;
        }
        std::thread::yield_now();
    }
    Stopped::pause(victim.pid(), STOP_FOR);
    tally.tries += 1;
    let resumed = Instant::now();
    let before = (work.progress)();
    while (work.progress)() == before && before < work.to {
        if resumed.elapsed() > BOUND {
            tally.hung += 1;
            return;
        }
        std::thread::yield_now();
    }
    tally.recovered_in(resumed.elapsed());
}

/// Reaps every child of a round within the bound; a child that failed counts as
/// corrupted, one that does not end as hung.
fn reap_round(children: Vec<Child>, tally: &mut Tally) {
    for mut child in children {
        match child.wait_timeout(BOUND) {
            Some(Ended::Exited(0)) => {}
            Some(_) => tally.corrupted += 1,
            None => tally.hung += 1,
        }
    }
}

/// Delivery counts, one byte per item, in a segment forked children share.
#[derive(Clone)]
struct Deliveries {
    segment: Segment,
}

impl Deliveries {
    fn count(&self, item: u64) -> &std::sync::atomic::AtomicU8 {
        &self.segment.bytes()[item as usize]
    }
}

#[test]
fn queue_sigstop() {
    let _only_me = exclusive();
    let name = "queue-sigstop";
    let before = Resources::now();
    let mut rng = Rng::for_loop(name);
    let mut tally = Tally::new(name);
    let queue: Queue<u64> = QueueBuilder::new()
        .ring_bytes(4096)
        .maxsize(64)
        .queue()
        .expect("queue");
    let rounds = scaled(ROUNDS);
    let per_round = PRODUCERS * ITEMS_PER_PRODUCER;
    let deliveries = Deliveries {
        segment: Segment::new((rounds * per_round) as usize).expect("ledger"),
    };
    let delivered = SharedMapping::new(AtomicU64::new(0));
    for round in 0..rounds {
        let first_item = round * per_round;
        let target = first_item + per_round;
        let mut children = Vec::new();
        for p in 0..PRODUCERS {
            let queue = queue.clone();
            let first = first_item + p * ITEMS_PER_PRODUCER;
            children.push(spawn_child(move || {
                for item in first..first + ITEMS_PER_PRODUCER {
                    queue.put(&item).map_err(|_| 1)?;
                }
                Ok(())
            }));
        }
        for _ in 0..CONSUMERS {
            let (queue, deliveries, delivered) = (queue.clone(), deliveries.clone(), &delivered);
            children.push(spawn_child(move || {
                let deadline = Instant::now() + BOUND;
                while delivered.load(Ordering::SeqCst) < target {
                    if Instant::now() > deadline {
                        return Err(2);
                    }
                    match queue.get_timeout(Duration::from_millis(20)) {
                        Ok(item) if (first_item..target).contains(&item) => {
                            deliveries.count(item).fetch_add(1, Ordering::SeqCst);
                            delivered.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(_) => return Err(3),
                        Err(Error::Empty) => {}
                        Err(_) => return Err(4),
                    }
                }
                Ok(())
            }));
        }
        let work = Work {
            progress: &|| delivered.load(Ordering::SeqCst),
            from: first_item,
            to: target,
        };
        stop_one(&children, &mut rng, &work, &mut tally);
        reap_round(children, &mut tally);
    }
    for item in 0..rounds * per_round {
        match deliveries.count(item).load(Ordering::SeqCst) {
            0 => tally.lost += 1,
            1 => {}
            _ => tally.duplicated += 1,
        }
    }
    drop(queue);
    drop(deliveries);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}

/// A lock and the count its holders raise by a read, a pause and a write: a section run
/// by two holders at once loses a raise.
struct Counted {
    lock: Lock,
    count: AtomicU64,
    /// Takes that were told the owner died: a stopped holder is not dead.
    owner_died: AtomicU64,
}

#[test]
fn lock_sigstop() {
    let _only_me = exclusive();
    let name = "lock-sigstop";
    let before = Resources::now();
    let mut rng = Rng::for_loop(name);
    let mut tally = Tally::new(name);
    let shared = SharedMapping::new(Counted {
        lock: Lock::new(),
        count: AtomicU64::new(0),
        owner_died: AtomicU64::new(0),
    });
    let rounds = scaled(ROUNDS);
    for round in 0..rounds {
        let target = (round + 1) * LOCK_HOLDERS * SECTIONS_PER_HOLDER;
        let children: Vec<Child> = (0..LOCK_HOLDERS)
            .map(|_| {
                spawn_child(|| {
                    for _ in 0..SECTIONS_PER_HOLDER {
                        let guard = match shared.lock.lock_timeout(BOUND) {
                            Ok(guard) => guard,
                            Err(TryLockError::OwnerDied(died)) => {
                                shared.owner_died.fetch_add(1, Ordering::SeqCst);
                                shared.lock.clear_poison();
                                died.into_inner()
                            }
                            Err(_) => return Err(1),
                        };
                        let seen = shared.count.load(Ordering::SeqCst);
                        std::hint::spin_loop();
                        shared.count.store(seen + 1, Ordering::SeqCst);
                        drop(guard);
                    }
                    Ok(())
                })
            })
            .collect();
        let work = Work {
            progress: &|| shared.count.load(Ordering::SeqCst),
            from: target - LOCK_HOLDERS * SECTIONS_PER_HOLDER,
            to: target,
        };
        stop_one(&children, &mut rng, &work, &mut tally);
        reap_round(children, &mut tally);
        let count = shared.count.load(Ordering::SeqCst);
        tally.lost += target.saturating_sub(count);
        tally.duplicated += count.saturating_sub(target);
        // Carry on from the expected count, so one round's loss is counted once.
        shared.count.store(target, Ordering::SeqCst);
    }
    tally.corrupted += shared.owner_died.load(Ordering::SeqCst);
    drop(shared);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}
