//! Crash consistency: producers and consumers SIGKILLed at random instants, round after
//! round, on one queue; then every item is accounted for.
//!
//! Each item has three bytes in a shared ledger: `attempted` (set before `put`),
//! `completed` (set after `put` returned) and `delivered` (incremented after `get`
//! returned). A consumer also raises a flag while it is inside `get`: killed there, it may
//! have taken an item (committed the head) without living to record it, and that is the
//! one item it may take with it. At the end the survivor drains the queue and checks:
//!
//! - no item was delivered twice, and none that was never attempted;
//! - every item whose `put` completed was delivered, except at most one per consumer
//!   killed inside `get`;
//! - the queue still works.

mod support;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use mp_ipc::{Error, Queue, QueueBuilder};
use mp_shared_mem::Segment;
use support::Rng;
use test_support::{Ended, spawn_child};

const ROUNDS: u64 = 60;
const PRODUCERS_PER_ROUND: u64 = 2;
const CONSUMERS_PER_ROUND: u64 = 2;
/// Each child is killed at a random instant within this window after the round starts:
/// long enough for a survivor to take over a lock a killed child held (about 100 ms).
const KILL_WINDOW_US: u64 = 150_000;
/// Items a producer may put in one round (it is usually killed well before).
const ITEMS_PER_PRODUCER: u64 = 20_000;
const ITEMS: u64 = ROUNDS * PRODUCERS_PER_ROUND * ITEMS_PER_PRODUCER;
const CONSUMERS: u64 = ROUNDS * CONSUMERS_PER_ROUND;

/// The shared ledger: three bytes per item, then one in-`get` flag per consumer.
struct Ledger {
    segment: Segment,
}

impl Ledger {
    fn new() -> Self {
        Self {
            segment: Segment::new((3 * ITEMS + CONSUMERS) as usize).expect("ledger"),
        }
    }

    fn byte(&self, index: u64) -> &AtomicU8 {
        &self.segment.bytes()[index as usize]
    }

    fn attempted(&self, item: u64) -> &AtomicU8 {
        self.byte(item)
    }

    fn completed(&self, item: u64) -> &AtomicU8 {
        self.byte(ITEMS + item)
    }

    fn delivered(&self, item: u64) -> &AtomicU8 {
        self.byte(2 * ITEMS + item)
    }

    fn in_get(&self, consumer: u64) -> &AtomicU8 {
        self.byte(3 * ITEMS + consumer)
    }

    fn record_delivery(&self, item: u64) -> Result<(), u8> {
        if item >= ITEMS {
            return Err(10);
        }
        self.delivered(item).fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn producer(queue: &Queue<u64>, ledger: &Ledger, slot: u64) -> Result<(), u8> {
    for k in 0..ITEMS_PER_PRODUCER {
        let item = slot * ITEMS_PER_PRODUCER + k;
        ledger.attempted(item).store(1, Ordering::SeqCst);
        match queue.put(&item) {
            Ok(()) => ledger.completed(item).store(1, Ordering::SeqCst),
            Err(Error::Closed) => return Ok(()),
            Err(_) => return Err(1),
        }
    }
    Ok(())
}

fn consumer(queue: &Queue<u64>, ledger: &Ledger, slot: u64) -> Result<(), u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        ledger.in_get(slot).store(1, Ordering::SeqCst);
        let outcome = queue.get_timeout(Duration::from_millis(50));
        if let Ok(item) = outcome {
            ledger.record_delivery(item)?;
        }
        ledger.in_get(slot).store(0, Ordering::SeqCst);
        match outcome {
            Ok(_) | Err(Error::Empty) => {}
            Err(Error::Closed) => return Ok(()),
            Err(_) => return Err(2),
        }
    }
    Ok(())
}

#[test]
fn processes_killed_at_random_instants_lose_and_duplicate_nothing() {
    let mut rng = Rng::from_clock("processes_killed_at_random_instants");
    // A small ring and maxsize, so that puts and gets wrap, wait and wake all the time.
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .maxsize(64)
        .queue::<u64>()
        .unwrap();
    let ledger = Ledger::new();
    let mut killed_in_get = 0;
    let mut kills = 0;
    for round in 0..ROUNDS {
        let mut children = Vec::new();
        for p in 0..PRODUCERS_PER_ROUND {
            let (queue, ledger) = (
                queue.clone(),
                Ledger {
                    segment: ledger.segment.clone(),
                },
            );
            let slot = round * PRODUCERS_PER_ROUND + p;
            children.push((None, spawn_child(move || producer(&queue, &ledger, slot))));
        }
        for c in 0..CONSUMERS_PER_ROUND {
            let (queue, ledger) = (
                queue.clone(),
                Ledger {
                    segment: ledger.segment.clone(),
                },
            );
            let slot = round * CONSUMERS_PER_ROUND + c;
            children.push((
                Some(slot),
                spawn_child(move || consumer(&queue, &ledger, slot)),
            ));
        }
        // Kill each at its own random instant within the window, in the order they fall.
        let start = Instant::now();
        let mut instants: Vec<(u64, usize)> = (0..children.len())
            .map(|index| (rng.below(KILL_WINDOW_US), index))
            .collect();
        instants.sort_unstable();
        for (instant, index) in instants {
            let at = start + Duration::from_micros(instant);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            let (consumer_slot, child) = &mut children[index];
            match child.kill_and_reap() {
                Ended::Killed(_) => kills += 1,
                Ended::Exited(code) => assert_eq!(code, 0, "a child failed (round {round})"),
            }
            if let Some(slot) = consumer_slot
                && ledger.in_get(*slot).load(Ordering::SeqCst) == 1
            {
                killed_in_get += 1;
            }
        }
    }

    // Drain what is left (taking over whatever lock a killed child held).
    loop {
        match queue.get_timeout(Duration::from_secs(2)) {
            Ok(item) => ledger
                .record_delivery(item)
                .expect("an item that was never put"),
            Err(Error::Empty) => break,
            Err(other) => panic!("draining failed: {other}"),
        }
    }

    let mut completed = 0;
    let mut missing = Vec::new();
    for item in 0..ITEMS {
        let delivered = ledger.delivered(item).load(Ordering::SeqCst);
        assert!(delivered <= 1, "item {item} delivered {delivered} times");
        if delivered == 1 {
            assert_eq!(
                ledger.attempted(item).load(Ordering::SeqCst),
                1,
                "item {item} was never put"
            );
        }
        if ledger.completed(item).load(Ordering::SeqCst) == 1 {
            completed += 1;
            if delivered == 0 {
                missing.push(item);
            }
        }
    }
    eprintln!(
        "{ROUNDS} rounds, {kills} processes killed ({killed_in_get} inside get), \
         {completed} puts completed, {} lost with a consumer killed inside get",
        missing.len()
    );
    assert!(
        completed > 0,
        "no put ever completed: the test tested nothing"
    );
    assert!(
        missing.len() <= killed_in_get,
        "{} completed puts were never delivered ({missing:?}), but only {killed_in_get} consumers died inside get",
        missing.len()
    );

    // The queue still works.
    queue.put(&u64::MAX).unwrap();
    assert_eq!(queue.get_timeout(Duration::from_secs(2)).unwrap(), u64::MAX);
    queue.close();
    assert!(matches!(queue.try_get(), Err(Error::Closed)));
}
