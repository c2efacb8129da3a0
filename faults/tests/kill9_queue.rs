//! kill -9 against `Queue` and `JoinableQueue`: producers and consumers (forked
//! children sharing the queue) killed at seeded random instants, round after round.
//!
//! A shared ledger has three bytes per item: attempted (set before `put`), completed
//! (after `put` returned) and delivered (incremented after `get` returned), and one
//! in-`get` flag per consumer. After each round the parent times a put and a get of its
//! own (the recovery: it takes over whatever lock a killed child held); at the end it
//! drains the queue and counts an item delivered twice as duplicated, one delivered
//! but never attempted as corrupted, and a completed one never delivered as lost, beyond
//! the one item each consumer killed inside `get` may take with it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use mp_faults::{Resources, Rng, Tally, exclusive, scaled};
use mp_ipc::{Error, JoinableQueue, QueueBuilder};
use mp_shared_mem::Segment;
use test_support::{Child, Ended, spawn_child};

const ROUNDS: u64 = 15;
const ITEMS_PER_PRODUCER: u64 = 5_000;
const PRODUCERS: u64 = 2;
const CONSUMERS: u64 = 2;
const KILL_WINDOW_US: u64 = 120_000;
/// The bound on any wait of the parent: a takeover of a dead holder's lock is far quicker.
const BOUND: Duration = Duration::from_secs(10);
/// How long a drain waits for more before it takes the queue as empty: longer than a
/// takeover of a dead consumer's lock.
const DRAIN_PATIENCE: Duration = Duration::from_millis(500);

/// The ledger, in a segment forked children share.
#[derive(Clone)]
struct Ledger {
    segment: Segment,
    items: u64,
}

impl Ledger {
    fn new(items: u64, consumers: u64) -> Self {
        let segment = Segment::new((3 * items + consumers) as usize).expect("ledger");
        Self { segment, items }
    }
    fn byte(&self, index: u64) -> &AtomicU8 {
        &self.segment.bytes()[index as usize]
    }
    fn attempted(&self, item: u64) -> &AtomicU8 {
        self.byte(item)
    }
    fn completed(&self, item: u64) -> &AtomicU8 {
        self.byte(self.items + item)
    }
    fn delivered(&self, item: u64) -> &AtomicU8 {
        self.byte(2 * self.items + item)
    }
    fn in_get(&self, consumer: u64) -> &AtomicU8 {
        self.byte(3 * self.items + consumer)
    }
}

/// What the two queue kinds share for this loop.
trait Fifo: Clone {
    fn put(&self, item: u64) -> Result<(), Error>;
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<(), Error>;
    fn get_timeout(&self, timeout: Duration) -> Result<u64, Error>;
    /// Marks a taken item done (joinable queues only).
    fn done(&self) {}
}

impl Fifo for mp_ipc::Queue<u64> {
    fn put(&self, item: u64) -> Result<(), Error> {
        mp_ipc::Queue::put(self, &item)
    }
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<(), Error> {
        mp_ipc::Queue::put_timeout(self, &item, timeout)
    }
    fn get_timeout(&self, timeout: Duration) -> Result<u64, Error> {
        mp_ipc::Queue::get_timeout(self, timeout)
    }
}

impl Fifo for JoinableQueue<u64> {
    fn put(&self, item: u64) -> Result<(), Error> {
        let queue: &mp_ipc::Queue<u64> = self;
        queue.put(&item)
    }
    fn put_timeout(&self, item: u64, timeout: Duration) -> Result<(), Error> {
        let queue: &mp_ipc::Queue<u64> = self;
        queue.put_timeout(&item, timeout)
    }
    fn get_timeout(&self, timeout: Duration) -> Result<u64, Error> {
        let queue: &mp_ipc::Queue<u64> = self;
        queue.get_timeout(timeout)
    }
    fn done(&self) {
        let _ = self.task_done();
    }
}

fn producer(queue: &impl Fifo, ledger: &Ledger, first: u64) -> Result<(), u8> {
    for item in first..first + ITEMS_PER_PRODUCER {
        ledger.attempted(item).store(1, Ordering::SeqCst);
        match queue.put(item) {
            Ok(()) => ledger.completed(item).store(1, Ordering::SeqCst),
            Err(Error::Closed) => return Ok(()),
            Err(_) => return Err(1),
        }
    }
    Ok(())
}

fn consumer(queue: &impl Fifo, ledger: &Ledger, slot: u64) -> Result<(), u8> {
    let deadline = Instant::now() + BOUND;
    while Instant::now() < deadline {
        ledger.in_get(slot).store(1, Ordering::SeqCst);
        let outcome = queue.get_timeout(Duration::from_millis(50));
        if let Ok(item) = outcome {
            if item >= ledger.items {
                return Err(3);
            }
            ledger.delivered(item).fetch_add(1, Ordering::SeqCst);
        }
        ledger.in_get(slot).store(0, Ordering::SeqCst);
        match outcome {
            Ok(_) => queue.done(),
            Err(Error::Empty) => {}
            Err(Error::Closed) => return Ok(()),
            Err(_) => return Err(2),
        }
    }
    Ok(())
}

/// Gets until the queue answers `Empty` after waiting `patience`, recording each
/// delivery; returns 1 if a get failed otherwise (a hang or a broken queue), else 0.
fn drain(queue: &impl Fifo, ledger: &Ledger, patience: Duration, corrupted: &mut u64) -> u64 {
    loop {
        match queue.get_timeout(patience) {
            Ok(item) if item < ledger.items => {
                ledger.delivered(item).fetch_add(1, Ordering::SeqCst);
                queue.done();
            }
            Ok(_) => *corrupted += 1,
            Err(Error::Empty) => return 0,
            Err(_) => return 1,
        }
    }
}

/// Runs the loop on `queue`; returns the tally (before the end-of-loop checks a
/// joinable queue adds).
fn kill_loop(name: &str, queue: impl Fifo + 'static) -> Tally {
    let mut rng = Rng::for_loop(name);
    let rounds = scaled(ROUNDS);
    let items = rounds * PRODUCERS * ITEMS_PER_PRODUCER;
    let ledger = Ledger::new(items + rounds, rounds * CONSUMERS);
    let mut tally = Tally::new(name);
    let mut killed_in_get = 0;
    for round in 0..rounds {
        let mut children: Vec<(Option<u64>, Child)> = Vec::new();
        for p in 0..PRODUCERS {
            let (queue, ledger) = (queue.clone(), ledger.clone());
            let first = (round * PRODUCERS + p) * ITEMS_PER_PRODUCER;
            children.push((None, spawn_child(move || producer(&queue, &ledger, first))));
        }
        for c in 0..CONSUMERS {
            let (queue, ledger) = (queue.clone(), ledger.clone());
            let slot = round * CONSUMERS + c;
            children.push((
                Some(slot),
                spawn_child(move || consumer(&queue, &ledger, slot)),
            ));
        }
        let start = Instant::now();
        let mut instants: Vec<(u64, usize)> = (0..children.len())
            .map(|index| (rng.below(KILL_WINDOW_US), index))
            .collect();
        instants.sort_unstable();
        for (instant, index) in instants {
            let at = start + Duration::from_micros(instant);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            let (slot, child) = &mut children[index];
            tally.tries += 1;
            if let Ended::Exited(code) = child.kill_and_reap()
                && code != 0
            {
                tally.corrupted += 1;
            }
            if let Some(slot) = slot
                && ledger.in_get(*slot).load(Ordering::SeqCst) == 1
            {
                killed_in_get += 1;
            }
        }
        // Recovery: the parent drains what the round left, then puts an item of its own
        // and gets it back (taking over whatever lock a killed child held). The drain
        // ends with one get that waited its whole patience for nothing: that wait is not
        // part of the recovery.
        let marker = items + round;
        let started = Instant::now();
        tally.hung += drain(&queue, &ledger, DRAIN_PATIENCE, &mut tally.corrupted);
        ledger.attempted(marker).store(1, Ordering::SeqCst);
        match queue.put_timeout(marker, BOUND) {
            Ok(()) => ledger.completed(marker).store(1, Ordering::SeqCst),
            Err(_) => tally.hung += 1,
        }
        loop {
            match queue.get_timeout(BOUND) {
                Ok(item) if item < ledger.items => {
                    ledger.delivered(item).fetch_add(1, Ordering::SeqCst);
                    queue.done();
                    if item == marker {
                        break;
                    }
                }
                Ok(_) => tally.corrupted += 1,
                Err(_) => {
                    tally.hung += 1;
                    break;
                }
            }
        }
        tally.recovered_in(started.elapsed().saturating_sub(DRAIN_PATIENCE));
    }
    tally.hung += drain(
        &queue,
        &ledger,
        Duration::from_secs(2),
        &mut tally.corrupted,
    );
    let mut missing = 0;
    for item in 0..ledger.items {
        let delivered = ledger.delivered(item).load(Ordering::SeqCst);
        if delivered > 1 {
            tally.duplicated += 1;
        }
        if delivered >= 1 && ledger.attempted(item).load(Ordering::SeqCst) == 0 {
            tally.corrupted += 1;
        }
        if delivered == 0 && ledger.completed(item).load(Ordering::SeqCst) == 1 {
            missing += 1;
        }
    }
    // A consumer killed inside `get` may have taken one item with it: no queue can tell.
    tally.lost = u64::saturating_sub(missing, killed_in_get);
    eprintln!(
        "fault-suite | {name} | {killed_in_get} consumers killed inside get, {missing} items went with them at most"
    );
    tally
}

#[test]
fn queue_kill9() {
    let _only_me = exclusive();
    let before = Resources::now();
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .maxsize(64)
        .queue::<u64>()
        .expect("queue");
    let mut tally = kill_loop("queue-kill9", queue);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}

#[test]
fn joinable_queue_kill9() {
    let _only_me = exclusive();
    let before = Resources::now();
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .maxsize(64)
        .joinable_queue::<u64>()
        .expect("queue");
    let mut tally = kill_loop("joinable-queue-kill9", queue.clone());
    // `join` returns (at worst telling of tasks lost with their consumers), never hangs.
    let started = Instant::now();
    match queue.join_timeout(BOUND) {
        Ok(()) | Err(Error::TasksLost { .. }) => tally.recovered_in(started.elapsed()),
        Err(_) => tally.hung += 1,
    }
    drop(queue);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}
