//! Load: 8 producer and 8 consumer processes on one `Queue`, then on one
//! `JoinableQueue`; every message is counted by id in shared memory, and must arrive
//! exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mp_faults::{Resources, Tally, exclusive, scaled};
use mp_ipc::{Error, Queue, QueueBuilder};
use mp_shared_mem::{Segment, Shared};
use test_support::{Child, Ended, spawn_child};

const PRODUCERS: u64 = 8;
const CONSUMERS: u64 = 8;
const PER_PRODUCER: u64 = 2_000;
const BOUND: Duration = Duration::from_secs(60);

/// Runs the load on `queue`; `done` marks one taken message done (joinable queues) and
/// says whether that was accepted. A refused `task_done` counts as corrupted: the
/// consumer held the task it marked.
fn run(name: &str, queue: &Queue<u64>, done: &dyn Fn() -> bool) -> Tally {
    let per_producer = scaled(PER_PRODUCER);
    let total = per_producer * PRODUCERS;
    let ledger = Segment::new(total as usize).expect("ledger");
    let delivered = Shared::new(AtomicU64::new(0)).expect("counter");
    let refused = Shared::new(AtomicU64::new(0)).expect("counter");
    let mut tally = Tally::new(name);
    let started = Instant::now();
    let mut children: Vec<Child> = Vec::new();
    for p in 0..PRODUCERS {
        let queue = queue.clone();
        children.push(spawn_child(move || {
            for id in p * per_producer..(p + 1) * per_producer {
                queue.put(&id).map_err(|_| 1)?;
            }
            Ok(())
        }));
    }
    for _ in 0..CONSUMERS {
        let (queue, ledger, delivered, refused) = (
            queue.clone(),
            ledger.clone(),
            delivered.clone(),
            refused.clone(),
        );
        children.push(spawn_child(move || {
            let deadline = Instant::now() + BOUND;
            while delivered.load(Ordering::SeqCst) < total {
                if Instant::now() > deadline {
                    return Err(2);
                }
                match queue.get_timeout(Duration::from_millis(50)) {
                    Ok(id) if id < total => {
                        ledger.bytes()[id as usize].fetch_add(1, Ordering::SeqCst);
                        delivered.fetch_add(1, Ordering::SeqCst);
                        if !done() {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(_) => return Err(3),
                    Err(Error::Empty) => {}
                    Err(_) => return Err(4),
                }
            }
            Ok(())
        }));
    }
    for child in &mut children {
        match child.wait_timeout(BOUND) {
            Some(Ended::Exited(0)) => {}
            Some(Ended::Exited(3)) => tally.corrupted += 1,
            Some(_) => tally.lost += 1,
            None => tally.hung += 1,
        }
    }
    tally.recovered_in(started.elapsed());
    for id in 0..total {
        match ledger.bytes()[id as usize].load(Ordering::SeqCst) {
            0 => tally.lost += 1,
            1 => {}
            _ => tally.duplicated += 1,
        }
    }
    tally.corrupted += refused.load(Ordering::SeqCst);
    tally.tries = total;
    tally
}

#[test]
fn queue_load() {
    let _only_me = exclusive();
    let before = Resources::now();
    let queue = QueueBuilder::new()
        .maxsize(256)
        .queue::<u64>()
        .expect("queue");
    let mut tally = run("queue-load", &queue, &|| true);
    drop(queue);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}

#[test]
fn joinable_queue_load() {
    let _only_me = exclusive();
    let before = Resources::now();
    let joinable = QueueBuilder::new()
        .maxsize(256)
        .joinable_queue::<u64>()
        .expect("queue");
    // The consumers mark each message done through their own copy of the handle.
    let for_children = joinable.clone();
    let queue: &Queue<u64> = &joinable;
    let mut tally = run("joinable-queue-load", queue, &move || {
        for_children.task_done().is_ok()
    });
    match joinable.join_timeout(BOUND) {
        Ok(()) => {}
        Err(Error::TimedOut) => tally.hung += 1,
        Err(other) => {
            eprintln!("fault-suite | joinable-queue-load | join: {other}");
            tally.lost += 1;
        }
    }
    drop(joinable);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}
