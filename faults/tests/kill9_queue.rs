//! kill -9 against `Queue` and `JoinableQueue`: producers and consumers (forked
//! children sharing the queue) killed at seeded random instants, round after round.
//!
//! The loop is test-support's `queue_kills` (the queue crate's crash test runs it too):
//! a shared ledger counts every item attempted, completed and delivered. After each
//! round the parent times a drain and a put and get of its own (the recovery: it takes
//! over whatever lock a killed child held); at the end an item delivered twice counts as
//! duplicated, one delivered but never attempted as corrupted, and a completed one never
//! delivered as lost, beyond the one item each consumer killed inside `get` may take
//! with it.

use std::time::{Duration, Instant};

use mp_faults::{Resources, Rng, Tally, exclusive, scaled};
use mp_ipc::{Error, JoinableQueue, Queue, QueueBuilder};
use mp_shared_mem::Segment;
use test_support::queue_kills::{KillPlan, KillableQueue, Refusal, kill_queue_loop};

/// The bound on the final `join`.
const BOUND: Duration = Duration::from_secs(10);

fn refusal(error: Error) -> Refusal {
    match error {
        Error::Empty | Error::Full => Refusal::Empty,
        Error::Closed => Refusal::Closed,
        _ => Refusal::Failed,
    }
}

/// A `Queue` as the loop sees it.
#[derive(Clone)]
struct Plain(Queue<u64>);

impl KillableQueue for Plain {
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<(), Refusal> {
        self.0.put_timeout(&item, timeout).map_err(refusal)
    }
    fn get_timeout(&self, timeout: Duration) -> Result<u64, Refusal> {
        self.0.get_timeout(timeout).map_err(refusal)
    }
}

/// A `JoinableQueue` as the loop sees it: each item taken is marked done.
#[derive(Clone)]
struct Joinable(JoinableQueue<u64>);

impl KillableQueue for Joinable {
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<(), Refusal> {
        self.0.put_timeout(&item, timeout).map_err(refusal)
    }
    fn get_timeout(&self, timeout: Duration) -> Result<u64, Refusal> {
        self.0.get_timeout(timeout).map_err(refusal)
    }
    fn done(&self) {
        let _ = self.0.task_done();
    }
}

/// Runs the loop on `queue`; the tally (before the end-of-loop checks a joinable queue
/// adds).
fn kill_loop(name: &str, queue: &impl KillableQueue) -> Tally {
    let mut rng = Rng::for_loop(name);
    let plan = KillPlan {
        rounds: scaled(KillPlan::default().rounds),
        ..KillPlan::default()
    };
    let ledger = Segment::new(plan.ledger_len()).expect("ledger");
    let report = kill_queue_loop(queue, &plan, ledger.bytes(), &mut |n| rng.below(n));
    eprintln!(
        "fault-suite | {name} | {} consumers killed inside get, {} items went with them at most",
        report.killed_in_get, report.missing
    );
    let mut tally = Tally::new(name);
    tally.tries = report.kills;
    tally.lost = report.lost();
    tally.duplicated = report.duplicated;
    tally.corrupted = report.corrupted;
    tally.hung = report.hung;
    tally.recovered_in(report.slowest_recovery);
    tally
}

fn small_queue() -> QueueBuilder {
    QueueBuilder::new().ring_bytes(4096).maxsize(64)
}

#[test]
fn queue_kill9() {
    let _only_me = exclusive();
    let before = Resources::now();
    let queue = Plain(small_queue().queue().expect("queue"));
    let mut tally = kill_loop("queue-kill9", &queue);
    drop(queue);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}

#[test]
fn joinable_queue_kill9() {
    let _only_me = exclusive();
    let before = Resources::now();
    let queue = Joinable(small_queue().joinable_queue().expect("queue"));
    let mut tally = kill_loop("joinable-queue-kill9", &queue);
    // `join` returns (at worst telling of tasks lost with their consumers), never hangs.
    let started = Instant::now();
    match queue.0.join_timeout(BOUND) {
        Ok(()) | Err(Error::TasksLost { .. }) => tally.recovered_in(started.elapsed()),
        Err(_) => tally.hung += 1,
    }
    drop(queue);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}
