//! The kill -9 loop against a queue shared between processes, written once for the
//! queue crate's own crash test and for the fault suite.
//!
//! Producers and consumers (forked children sharing the queue) are killed at random
//! instants, round after round. A ledger in shared memory has three bytes per item:
//! attempted (set before `put`), completed (after `put` returned) and delivered
//! (incremented after `get` returned), and one in-`get` flag per consumer. At the end
//! the queue is drained and every item accounted for: one delivered twice is
//! duplicated, one delivered but never attempted is corrupted, and one completed but
//! never delivered is missing, which is a loss only beyond the one item each consumer
//! killed inside `get` may have taken with it (no queue can tell that case apart).
//!
//! The loop knows queues only through [`KillableQueue`], so this crate does not depend
//! on the queue crate (whose tests depend on this one); a test wraps its queue in a
//! type of its own that implements it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::{Child, ChildResult, Ended, spawn_child};

/// Why a queue operation did not hand over an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing came within the timeout (or no room, for a put).
    Empty,
    /// The queue is closed.
    Closed,
    /// Any other failure: the loop counts it.
    Failed,
}

/// What the loop needs of a queue of `u64` items shared by forked children.
///
/// ```
/// use std::time::Duration;
/// use test_support::queue_kills::{KillableQueue, Refusal};
///
/// /// A queue of one process only, enough to show the shape.
/// #[derive(Clone, Default)]
/// struct Local(std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u64>>>);
///
/// impl KillableQueue for Local {
///     fn put_timeout(&self, item: u64, _: Duration) -> Result<(), Refusal> {
///         self.0.lock().unwrap().push_back(item);
///         Ok(())
///     }
///     fn get_timeout(&self, _: Duration) -> Result<u64, Refusal> {
///         self.0.lock().unwrap().pop_front().ok_or(Refusal::Empty)
///     }
/// }
///
/// let queue = Local::default();
/// queue.put_timeout(7, Duration::ZERO).unwrap();
/// assert_eq!(queue.get_timeout(Duration::ZERO), Ok(7));
/// ```
pub trait KillableQueue: Clone {
    /// Puts `item`, waiting at most `timeout` for room.
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<(), Refusal>;
    /// Takes an item, waiting at most `timeout`.
    fn get_timeout(&self, timeout: Duration) -> Result<u64, Refusal>;
    /// Marks a taken item done (joinable queues); nothing by default.
    fn done(&self) {}
}

/// The shape of one run of the loop.
///
/// ```
/// let plan = test_support::queue_kills::KillPlan::default();
/// assert!(plan.ledger_len() > 0);
/// ```
#[derive(Clone, Debug)]
pub struct KillPlan {
    /// Rounds: each forks its producers and consumers and kills every one of them.
    pub rounds: u64,
    /// Producers per round.
    pub producers: u64,
    /// Consumers per round.
    pub consumers: u64,
    /// Items each producer may put (it is usually killed well before).
    pub items_per_producer: u64,
    /// Each child is killed at a random instant within this window after its round
    /// starts.
    pub kill_window: Duration,
    /// After each round, the parent drains the queue, then puts an item of its own and
    /// gets it back (taking over whatever lock a killed child held): the recovery. Off,
    /// the queue is drained once, at the end.
    pub recover_each_round: bool,
    /// How long a drain waits for more before it takes the queue as empty: longer than
    /// a takeover of a dead child's lock.
    pub drain_patience: Duration,
    /// The bound on every other wait of the parent, and on a consumer's life.
    pub bound: Duration,
}

impl Default for KillPlan {
    /// Two producers and two consumers, 15 rounds, a recovery after each.
    fn default() -> Self {
        Self {
            rounds: 15,
            producers: 2,
            consumers: 2,
            items_per_producer: 5_000,
            kill_window: Duration::from_millis(120),
            recover_each_round: true,
            drain_patience: Duration::from_millis(500),
            bound: Duration::from_secs(10),
        }
    }
}

impl KillPlan {
    /// Items the producers may put, in all rounds.
    fn items(&self) -> u64 {
        self.rounds * self.producers * self.items_per_producer
    }

    /// Items in the ledger: the producers', then one recovery item per round.
    fn ledger_items(&self) -> u64 {
        self.items() + self.rounds
    }

    /// The bytes of the ledger [`kill_queue_loop`] needs, in memory forked children share.
    ///
    /// ```
    /// let plan = test_support::queue_kills::KillPlan { rounds: 1, ..Default::default() };
    /// assert_eq!(plan.ledger_len(), 3 * (2 * 5_000 + 1) + 2);
    /// ```
    pub fn ledger_len(&self) -> usize {
        (3 * self.ledger_items() + self.rounds * self.consumers) as usize
    }
}

/// What one run of the loop counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KillReport {
    /// Children killed (a child that had ended on its own is not counted).
    pub kills: u64,
    /// Consumers killed inside `get`.
    pub killed_in_get: u64,
    /// Puts that completed.
    pub completed: u64,
    /// Completed puts never delivered.
    pub missing: u64,
    /// Items delivered more than once.
    pub duplicated: u64,
    /// Items delivered but never attempted, out of range, or children that failed.
    pub corrupted: u64,
    /// Waits of the parent that did not end within the bound.
    pub hung: u64,
    /// The longest recovery after a round (none without `recover_each_round`).
    pub slowest_recovery: Duration,
}

impl KillReport {
    /// Completed puts lost beyond the one item each consumer killed inside `get` may
    /// have taken with it.
    ///
    /// ```
    /// let report = test_support::queue_kills::KillReport {
    ///     missing: 3,
    ///     killed_in_get: 2,
    ///     ..Default::default()
    /// };
    /// assert_eq!(report.lost(), 1);
    /// ```
    pub fn lost(&self) -> u64 {
        self.missing.saturating_sub(self.killed_in_get)
    }
}

/// The ledger: three bytes per item, then one in-`get` flag per consumer.
#[derive(Clone, Copy)]
struct Ledger<'a> {
    bytes: &'a [AtomicU8],
    items: u64,
}

impl Ledger<'_> {
    fn attempted(&self, item: u64) -> &AtomicU8 {
        &self.bytes[item as usize]
    }
    fn completed(&self, item: u64) -> &AtomicU8 {
        &self.bytes[(self.items + item) as usize]
    }
    fn delivered(&self, item: u64) -> &AtomicU8 {
        &self.bytes[(2 * self.items + item) as usize]
    }
    fn in_get(&self, consumer: u64) -> &AtomicU8 {
        &self.bytes[(3 * self.items + consumer) as usize]
    }
    /// Records a delivery; false for an item out of range.
    fn deliver(&self, item: u64) -> bool {
        if item >= self.items {
            return false;
        }
        self.delivered(item).fetch_add(1, Ordering::SeqCst);
        true
    }
}

fn producer(
    queue: &impl KillableQueue,
    ledger: Ledger<'_>,
    first: u64,
    count: u64,
    bound: Duration,
) -> ChildResult {
    for item in first..first + count {
        ledger.attempted(item).store(1, Ordering::SeqCst);
        match queue.put_timeout(item, bound) {
            Ok(()) => ledger.completed(item).store(1, Ordering::SeqCst),
            Err(Refusal::Closed) => return Ok(()),
            Err(_) => return Err(1),
        }
    }
    Ok(())
}

fn consumer(
    queue: &impl KillableQueue,
    ledger: Ledger<'_>,
    slot: u64,
    bound: Duration,
) -> ChildResult {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        ledger.in_get(slot).store(1, Ordering::SeqCst);
        let outcome = queue.get_timeout(Duration::from_millis(50));
        if let Ok(item) = outcome
            && !ledger.deliver(item)
        {
            return Err(3);
        }
        ledger.in_get(slot).store(0, Ordering::SeqCst);
        match outcome {
            Ok(_) => queue.done(),
            Err(Refusal::Empty) => {}
            Err(Refusal::Closed) => return Ok(()),
            Err(Refusal::Failed) => return Err(2),
        }
    }
    Ok(())
}

/// Gets until the queue answers `Empty` after waiting `patience`, recording each
/// delivery.
fn drain(
    queue: &impl KillableQueue,
    ledger: Ledger<'_>,
    patience: Duration,
    report: &mut KillReport,
) {
    loop {
        match queue.get_timeout(patience) {
            Ok(item) => {
                if !ledger.deliver(item) {
                    report.corrupted += 1;
                }
                queue.done();
            }
            // Closed and empty: nothing more will come.
            Err(Refusal::Empty | Refusal::Closed) => return,
            Err(Refusal::Failed) => {
                report.hung += 1;
                return;
            }
        }
    }
}

/// The parent's own put of `marker` and its get back (draining what comes first).
fn recover(
    queue: &impl KillableQueue,
    ledger: Ledger<'_>,
    marker: u64,
    bound: Duration,
    report: &mut KillReport,
) {
    ledger.attempted(marker).store(1, Ordering::SeqCst);
    match queue.put_timeout(marker, bound) {
        Ok(()) => ledger.completed(marker).store(1, Ordering::SeqCst),
        Err(_) => {
            report.hung += 1;
            return;
        }
    }
    loop {
        match queue.get_timeout(bound) {
            Ok(item) => {
                if !ledger.deliver(item) {
                    report.corrupted += 1;
                }
                queue.done();
                if item == marker {
                    return;
                }
            }
            Err(_) => {
                report.hung += 1;
                return;
            }
        }
    }
}

/// Runs the loop of `plan` on `queue`, with `ledger` (of [`KillPlan::ledger_len`] zeroed
/// bytes in memory forked children share) and `below(n)` drawing a random number under
/// `n`. Every child is reaped; every wait is bounded.
///
/// ```
/// use std::sync::atomic::AtomicU8;
/// use std::time::Duration;
/// use test_support::SharedMapping;
/// use test_support::queue_kills::{KillPlan, KillableQueue, Refusal, kill_queue_loop};
///
/// /// A queue closed from the start: every child ends at once, nothing is put.
/// #[derive(Clone)]
/// struct AlwaysClosed;
///
/// impl KillableQueue for AlwaysClosed {
///     fn put_timeout(&self, _: u64, _: Duration) -> Result<(), Refusal> {
///         Err(Refusal::Closed)
///     }
///     fn get_timeout(&self, _: Duration) -> Result<u64, Refusal> {
///         Err(Refusal::Closed)
///     }
/// }
///
/// let plan = KillPlan {
///     rounds: 1,
///     items_per_producer: 10,
///     kill_window: Duration::from_millis(1),
///     recover_each_round: false,
///     ..KillPlan::default()
/// };
/// let ledger = SharedMapping::new([const { AtomicU8::new(0) }; 128]);
/// assert!(plan.ledger_len() <= ledger.len());
/// let mut seed = 1_u64;
/// let report = kill_queue_loop(&AlwaysClosed, &plan, &ledger[..], &mut |n| {
///     seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
///     (seed >> 33) % n
/// });
/// assert_eq!((report.completed, report.lost(), report.duplicated, report.hung), (0, 0, 0, 0));
/// ```
pub fn kill_queue_loop<Q: KillableQueue>(
    queue: &Q,
    plan: &KillPlan,
    ledger: &[AtomicU8],
    below: &mut dyn FnMut(u64) -> u64,
) -> KillReport {
    assert!(
        ledger.len() >= plan.ledger_len(),
        "the ledger is too short for the plan"
    );
    let ledger = Ledger {
        bytes: ledger,
        items: plan.ledger_items(),
    };
    let window_us = u64::try_from(plan.kill_window.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let mut report = KillReport::default();
    for round in 0..plan.rounds {
        let mut children: Vec<(Option<u64>, Child)> = Vec::new();
        for p in 0..plan.producers {
            let first = (round * plan.producers + p) * plan.items_per_producer;
            children.push((
                None,
                spawn_child(|| producer(queue, ledger, first, plan.items_per_producer, plan.bound)),
            ));
        }
        for c in 0..plan.consumers {
            let slot = round * plan.consumers + c;
            children.push((
                Some(slot),
                spawn_child(|| consumer(queue, ledger, slot, plan.bound)),
            ));
        }
        // Each is killed at its own random instant within the window, in the order they
        // fall.
        let start = Instant::now();
        let mut instants: Vec<(u64, usize)> = (0..children.len())
            .map(|index| (below(window_us), index))
            .collect();
        instants.sort_unstable();
        for (instant, index) in instants {
            let at = start + Duration::from_micros(instant);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            let (slot, child) = &mut children[index];
            match child.kill_and_reap() {
                Ended::Killed(_) => report.kills += 1,
                Ended::Exited(0) => {}
                Ended::Exited(_) => report.corrupted += 1,
            }
            if let Some(slot) = slot
                && ledger.in_get(*slot).load(Ordering::SeqCst) == 1
            {
                report.killed_in_get += 1;
            }
        }
        if plan.recover_each_round {
            // The drain ends with one get that waited its whole patience for nothing:
            // that wait is not part of the recovery.
            let started = Instant::now();
            drain(queue, ledger, plan.drain_patience, &mut report);
            recover(queue, ledger, plan.items() + round, plan.bound, &mut report);
            let took = started.elapsed().saturating_sub(plan.drain_patience);
            report.slowest_recovery = report.slowest_recovery.max(took);
        }
    }
    drain(
        queue,
        ledger,
        plan.drain_patience.max(Duration::from_secs(2)),
        &mut report,
    );
    for item in 0..ledger.items {
        let delivered = ledger.delivered(item).load(Ordering::SeqCst);
        let completed = ledger.completed(item).load(Ordering::SeqCst) == 1;
        if delivered > 1 {
            report.duplicated += 1;
        }
        if delivered >= 1 && ledger.attempted(item).load(Ordering::SeqCst) == 0 {
            report.corrupted += 1;
        }
        if completed {
            report.completed += 1;
            if delivered == 0 {
                report.missing += 1;
            }
        }
    }
    report
}
