//! Crash consistency: producers and consumers SIGKILLed at random instants, round after
//! round, on one queue; then every item is accounted for.
//!
//! The loop is test-support's `queue_kills` (the fault suite runs it too, with a
//! recovery after each round). Each item has three bytes in a shared ledger: attempted,
//! completed and delivered; a consumer also raises a flag while it is inside `get`:
//! killed there, it may have taken an item (committed the head) without living to
//! record it, and that is the one item it may take with it. At the end the queue is
//! drained and checked:
//!
//! - no item was delivered twice, and none that was never attempted;
//! - every item whose `put` completed was delivered, except at most one per consumer
//!   killed inside `get`;
//! - the queue still works.

mod support;

use std::time::Duration;

use mp_ipc::{Error, Queue, QueueBuilder};
use mp_shared_mem::Segment;
use support::Rng;
use test_support::queue_kills::{KillPlan, KillableQueue, Refusal, kill_queue_loop};

/// A `Queue` as the loop sees it.
#[derive(Clone)]
struct Shared(Queue<u64>);

fn refusal(error: Error) -> Refusal {
    match error {
        Error::Empty | Error::Full => Refusal::Empty,
        Error::Closed => Refusal::Closed,
        _ => Refusal::Failed,
    }
}

impl KillableQueue for Shared {
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<(), Refusal> {
        self.0.put_timeout(&item, timeout).map_err(refusal)
    }
    fn get_timeout(&self, timeout: Duration) -> Result<u64, Refusal> {
        self.0.get_timeout(timeout).map_err(refusal)
    }
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
    // Long enough for a survivor to take over a lock a killed child held (about 100 ms).
    let plan = KillPlan {
        rounds: 60,
        items_per_producer: 20_000,
        kill_window: Duration::from_millis(150),
        recover_each_round: false,
        ..KillPlan::default()
    };
    let ledger = Segment::new(plan.ledger_len()).expect("ledger");
    let shared = Shared(queue.clone());
    let report = kill_queue_loop(&shared, &plan, ledger.bytes(), &mut |n| rng.below(n));
    eprintln!("{} rounds: {report:?}", plan.rounds);
    assert!(
        report.completed > 0,
        "no put ever completed: the test tested nothing"
    );
    assert_eq!(report.duplicated, 0, "items delivered twice");
    assert_eq!(
        report.corrupted, 0,
        "items never put, or children that failed"
    );
    assert_eq!(report.hung, 0, "the drain failed");
    assert_eq!(
        report.lost(),
        0,
        "{} completed puts were never delivered, but only {} consumers died inside get",
        report.missing,
        report.killed_in_get
    );

    // The queue still works.
    queue.put(&u64::MAX).unwrap();
    assert_eq!(queue.get_timeout(Duration::from_secs(2)).unwrap(), u64::MAX);
    queue.close();
    assert!(matches!(queue.try_get(), Err(Error::Closed)));
}
