//! A joinable queue whose consumer processes die between `get` and `task_done`, or
//! inside `get`: `join` returns, with the tasks they took counted lost, and the tasks
//! they did not take reach the consumers that live.
//!
//! Every child is reaped (the `Child` guard kills and reaps one a failing assertion left
//! behind), and every `join` runs in a thread whose end is awaited with a bound, so a
//! `join` that would hang fails the test instead.

mod support;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use mp_ipc::{Error, JoinableQueue, QueueBuilder};
use mp_shared_mem::Segment;
use support::Rng;
use test_support::threads::join_within;
use test_support::{Child, Ended, PATIENCE, holds_within, spawn_child};

/// `join` in another thread, awaited with a bound.
fn join_bounded<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static>(
    queue: &JoinableQueue<T>,
) -> Result<(), Error> {
    let queue = queue.clone();
    join_within(std::thread::spawn(move || queue.join()))
}

/// Forks a consumer that takes one task and then waits, never marking it done; returns
/// it once the task has left the queue.
fn consumer_holding_a_task(queue: &JoinableQueue<u32>) -> Child {
    let before = queue.qsize();
    let child = spawn_child({
        let queue = queue.clone();
        move || {
            queue.get_timeout(PATIENCE).map_err(|_| 1u8)?;
            std::thread::sleep(PATIENCE);
            Ok(())
        }
    });
    assert!(holds_within(|| queue.qsize() < before, PATIENCE));
    child
}

#[test]
fn a_consumer_killed_before_task_done_is_counted_lost_and_join_returns() {
    let queue = JoinableQueue::<u32>::new().unwrap();
    queue.put(&1).unwrap();
    queue.put(&2).unwrap();
    let mut consumer = consumer_holding_a_task(&queue);
    assert_eq!(
        consumer.kill_and_reap(),
        Ended::Killed(nix::sys::signal::SIGKILL)
    );
    // The task nobody took reaches the next consumer.
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 2);
    queue.task_done().unwrap();
    assert!(matches!(
        join_bounded(&queue),
        Err(Error::TasksLost { count: 1 })
    ));
    assert_eq!(queue.lost_tasks(), 1);
    assert_eq!(queue.unfinished_tasks(), 0);
    // The queue goes on: new tasks are joined as usual (the count of lost ones stays).
    queue.put(&3).unwrap();
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 3);
    queue.task_done().unwrap();
    assert!(matches!(
        queue.join_timeout(PATIENCE),
        Err(Error::TasksLost { count: 1 })
    ));
}

#[test]
fn a_task_done_by_a_consumer_before_it_died_is_not_counted_lost() {
    let queue = JoinableQueue::<u32>::new().unwrap();
    queue.put(&1).unwrap();
    let mut consumer = spawn_child({
        let queue = queue.clone();
        move || {
            queue.get_timeout(PATIENCE).map_err(|_| 1u8)?;
            queue.task_done().map_err(|_| 2u8)?;
            std::thread::sleep(PATIENCE);
            Ok(())
        }
    });
    assert!(holds_within(|| queue.unfinished_tasks() == 0, PATIENCE));
    consumer.kill_and_reap();
    join_bounded(&queue).unwrap();
    assert_eq!(queue.lost_tasks(), 0);
}

#[test]
fn more_dead_consumers_than_accounts_are_all_counted() {
    // Accounts of dead processes are settled and handed to the next ones.
    const CONSUMERS: u32 = 130;
    let queue = JoinableQueue::<u32>::new().unwrap();
    for n in 0..CONSUMERS {
        queue.put(&n).unwrap();
    }
    for _ in 0..CONSUMERS {
        consumer_holding_a_task(&queue).kill_and_reap();
    }
    assert!(queue.empty());
    assert!(matches!(
        join_bounded(&queue),
        Err(Error::TasksLost { count }) if count == CONSUMERS as usize
    ));
}

const ROUNDS: u64 = 40;
const CONSUMERS_PER_ROUND: u64 = 2;
const ITEMS_PER_ROUND: u64 = 400;
const ITEMS: u64 = ROUNDS * ITEMS_PER_ROUND;
/// Each consumer is killed at a random instant within this window after the round
/// starts, while the round's items take a few times longer than that to work through.
const KILL_WINDOW_US: u64 = 60_000;
/// The "work" on every other task, between `get` and `task_done` (the tasks without any
/// let kills land inside `get` more often).
const WORK: Duration = Duration::from_micros(200);

/// Two bytes per item in shared memory: delivered (after `get` returned) and done (just
/// before `task_done`).
struct Ledger {
    segment: Segment,
}

impl Ledger {
    fn delivered(&self, item: u64) -> &AtomicU8 {
        &self.segment.bytes()[item as usize]
    }

    fn done(&self, item: u64) -> &AtomicU8 {
        &self.segment.bytes()[(ITEMS + item) as usize]
    }
}

fn consumer(queue: &JoinableQueue<u64>, ledger: &Ledger) -> Result<(), u8> {
    loop {
        match queue.get_timeout(Duration::from_millis(20)) {
            Ok(item) if item < ITEMS => {
                ledger.delivered(item).fetch_add(1, Ordering::SeqCst);
                if item % 2 == 0 {
                    std::thread::sleep(WORK);
                }
                ledger.done(item).store(1, Ordering::SeqCst);
                queue.task_done().map_err(|_| 2u8)?;
            }
            Ok(_) => return Err(3),
            Err(Error::Empty) => return Ok(()),
            Err(_) => return Err(4),
        }
    }
}

#[test]
fn consumers_killed_at_random_instants_never_wedge_join() {
    let mut rng = Rng::from_clock("consumers_killed_at_random_instants_never_wedge_join");
    // A ring that holds every item: the consumers of a round may all die before they
    // make room.
    let queue = QueueBuilder::new()
        .ring_bytes(16 * ITEMS as usize)
        .joinable_queue::<u64>()
        .unwrap();
    let ledger = Ledger {
        segment: Segment::new(2 * ITEMS as usize).unwrap(),
    };
    let mut kills = 0usize;
    for round in 0..ROUNDS {
        let first = round * ITEMS_PER_ROUND;
        let producer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for item in first..first + ITEMS_PER_ROUND {
                    queue.put_timeout(&item, PATIENCE)?;
                }
                Ok::<(), Error>(())
            })
        };
        let mut children: Vec<Child> = (0..CONSUMERS_PER_ROUND)
            .map(|_| {
                let (queue, ledger) = (
                    queue.clone(),
                    Ledger {
                        segment: ledger.segment.clone(),
                    },
                );
                spawn_child(move || consumer(&queue, &ledger))
            })
            .collect();
        let start = Instant::now();
        let mut instants: Vec<(u64, usize)> = (0..children.len())
            .map(|index| (rng.below(KILL_WINDOW_US), index))
            .collect();
        instants.sort_unstable();
        for (instant, index) in instants {
            let at = start + Duration::from_micros(instant);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            match children[index].kill_and_reap() {
                Ended::Killed(_) => kills += 1,
                Ended::Exited(code) => assert_eq!(code, 0, "a consumer failed (round {round})"),
            }
        }
        join_within(producer).unwrap();
    }
    // Drain what is left, as a consumer that lives (waiting as long as it takes for a
    // consumer lock a killed child held).
    while !queue.empty() {
        let item = queue.get_timeout(PATIENCE).unwrap();
        assert!(item < ITEMS);
        ledger.delivered(item).fetch_add(1, Ordering::SeqCst);
        ledger.done(item).store(1, Ordering::SeqCst);
        queue.task_done().unwrap();
    }

    let outcome = join_bounded(&queue);
    let lost = queue.lost_tasks();
    match outcome {
        Ok(()) => assert_eq!(lost, 0),
        Err(Error::TasksLost { count }) => assert_eq!(count, lost),
        Err(other) => panic!("join failed: {other}"),
    }
    assert_eq!(queue.unfinished_tasks(), 0);
    let mut never_delivered = 0;
    let mut not_done = 0;
    for item in 0..ITEMS {
        match ledger.delivered(item).load(Ordering::SeqCst) {
            0 => never_delivered += 1,
            1 => not_done += usize::from(ledger.done(item).load(Ordering::SeqCst) == 0),
            twice => panic!("item {item} delivered {twice} times"),
        }
    }
    eprintln!(
        "{kills} consumers killed, {lost} tasks lost, {never_delivered} taken by a consumer \
         killed inside get, {not_done} delivered and not done"
    );
    // Each lost task is one a killed consumer held (at most one each); every task that
    // was taken and not done is among them.
    assert!(lost <= kills, "{lost} tasks lost but only {kills} kills");
    assert!(
        never_delivered + not_done <= lost,
        "{never_delivered} tasks never delivered and {not_done} not done, but {lost} counted lost"
    );
}
