//! Thread queue rows: `u64` messages from 1 producer to 1 consumer, and from 4
//! producers to 4 consumers, through an unbounded queue and one of [`CAPACITY`].
//!
//! Each side takes an item without waiting when there is one and otherwise
//! waits with its `_timeout` form (std's `SyncSender` has none: its blocking
//! `send` ends when the consumers, which do time out, drop the receiver), so
//! the fast path is the same plain operation for every contender.
//!
//! Outcomes are checked: 1 x 1 receives `0..n` in order; 4 x 4 receives `n`
//! items adding up to the sum of `0..n`, each producer ending its share with a
//! [`SENTINEL`] that stops one consumer. `std::sync::mpsc` has one receiver,
//! so its 4 consumers share it behind a `Mutex`, as the Rust book's pool does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use mp_threads::{PutError, Queue, SimpleQueue};

use super::workload::{WAIT_LIMIT, Work, released_together, threads_error};
use crate::error::BenchError;
use crate::row::{Contender, Row, Unit};

/// The queue rows.
pub fn rows() -> Vec<Row> {
    QUEUE_ROWS.iter().map(QueueRow::row).collect()
}

/// Room of the bounded queues, on every side.
const CAPACITY: usize = 1024;

/// Producers and consumers of the 4 x 4 rows.
const PEERS: u64 = 4;

/// Ends one consumer's loop in the 4 x 4 rows; never a counted item.
const SENTINEL: u64 = u64::MAX;

/// Who sends to whom in a queue row.
#[derive(Clone, Copy)]
enum Shape {
    /// One producer thread, one consumer thread: [`one_to_one`].
    OneToOne,
    /// [`PEERS`] producers, [`PEERS`] consumers: [`four_by_four`].
    FourByFour,
}

impl Shape {
    fn run(self, iterations: u64, ends: impl Ends) -> Result<Duration, BenchError> {
        match self {
            Shape::OneToOne => one_to_one(iterations, ends),
            Shape::FourByFour => four_by_four(iterations, ends),
        }
    }
}

/// One queue row: every contender's queue in one shape, unbounded or bounded.
struct QueueRow {
    name: &'static str,
    what: &'static str,
    shape: Shape,
    /// `None`: unbounded (then `SimpleQueue`, which has no bound, takes part too).
    capacity: Option<usize>,
    /// What std's channel is called in this row.
    std_label: &'static str,
    /// Python's contenders: label and case of `threads.py`.
    python: &'static [(&'static str, &'static str)],
}

const QUEUE_ROWS: [QueueRow; 4] = [
    QueueRow {
        name: "thread-queue-1x1-unbounded",
        what: "one u64 message from 1 producer thread to 1 consumer thread, unbounded queue",
        shape: Shape::OneToOne,
        capacity: None,
        std_label: "std::sync::mpsc::channel",
        python: &[
            ("queue.Queue", "queue-1x1-unbounded"),
            ("queue.SimpleQueue", "simplequeue-1x1"),
        ],
    },
    QueueRow {
        name: "thread-queue-1x1-bounded",
        what: "one u64 message from 1 producer thread to 1 consumer thread, queue bounded to 1024",
        shape: Shape::OneToOne,
        capacity: Some(CAPACITY),
        std_label: "std::sync::mpsc::sync_channel",
        python: &[("queue.Queue(maxsize)", "queue-1x1-bounded")],
    },
    QueueRow {
        name: "thread-queue-4x4-unbounded",
        what: "one u64 message from 4 producer threads to 4 consumer threads, one unbounded queue",
        shape: Shape::FourByFour,
        capacity: None,
        std_label: "std::sync::mpsc::channel (receiver in a Mutex)",
        python: &[
            ("queue.Queue", "queue-4x4-unbounded"),
            ("queue.SimpleQueue", "simplequeue-4x4"),
        ],
    },
    QueueRow {
        name: "thread-queue-4x4-bounded",
        what: "one u64 message from 4 producer threads to 4 consumer threads, one queue bounded to 1024",
        shape: Shape::FourByFour,
        capacity: Some(CAPACITY),
        std_label: "std::sync::mpsc::sync_channel (receiver in a Mutex)",
        python: &[("queue.Queue(maxsize)", "queue-4x4-bounded")],
    },
];

impl QueueRow {
    fn row(&self) -> Row {
        let (shape, capacity) = (self.shape, self.capacity);
        let mut contenders = match capacity {
            None => vec![
                Contender::ours("mp_threads::Queue", move |n| shape.run(n, mp_queue(0))),
                Contender::ours("mp_threads::SimpleQueue", move |n| {
                    shape.run(n, mp_simple_queue())
                }),
                Contender::peer("crossbeam_channel::unbounded", move |n| {
                    shape.run(n, crossbeam(None))
                }),
            ],
            Some(capacity) => vec![
                Contender::ours("mp_threads::Queue::with_maxsize", move |n| {
                    shape.run(n, mp_queue(capacity))
                }),
                Contender::peer("crossbeam_channel::bounded", move |n| {
                    shape.run(n, crossbeam(Some(capacity)))
                }),
            ],
        };
        contenders.push(Contender::peer(self.std_label, move |n| {
            shape.run(n, std_mpsc(capacity))
        }));
        contenders.extend(
            self.python
                .iter()
                .map(|&(label, case)| Contender::python(label, "threads.py", case)),
        );
        Row {
            name: self.name,
            family: "threads",
            what: self.what,
            unit: Unit::Rate("msg"),
            goal: None,
            contenders,
        }
    }
}

/// How a contender's threads reach one queue: each producer and each consumer
/// gets its own end (a clone of a sender, a shared reference...).
trait Ends {
    /// One producer's end.
    type Put: FnMut(u64) -> Result<(), BenchError> + Send;
    /// One consumer's end.
    type Get: FnMut() -> Result<u64, BenchError> + Send;

    fn producer(&self) -> Self::Put;
    fn consumer(&self) -> Self::Get;
}

/// Ends made by two closures over the same queue.
struct EndsFn<P, G>(P, G);

impl<P, G, Put, Get> Ends for EndsFn<P, G>
where
    P: Fn() -> Put,
    G: Fn() -> Get,
    Put: FnMut(u64) -> Result<(), BenchError> + Send,
    Get: FnMut() -> Result<u64, BenchError> + Send,
{
    type Put = Put;
    type Get = Get;

    fn producer(&self) -> Put {
        (self.0)()
    }

    fn consumer(&self) -> Get {
        (self.1)()
    }
}

/// Sends `0..iterations` from one thread to another and times it; the consumer
/// checks every item arrives, in order.
fn one_to_one(iterations: u64, ends: impl Ends) -> Result<Duration, BenchError> {
    let mut put = ends.producer();
    let mut get = ends.consumer();
    drop(ends);
    let producer: Work<'_> = Box::new(move || {
        for n in 0..iterations {
            put(n)?;
        }
        Ok(())
    });
    let consumer: Work<'_> = Box::new(move || {
        for expected in 0..iterations {
            let got = get()?;
            if got != expected {
                return Err(BenchError::WrongOutcome(format!(
                    "received {got} where {expected} was due"
                )));
            }
        }
        Ok(())
    });
    released_together(vec![producer, consumer])
}

/// Sends `0..iterations` from [`PEERS`] producers (a contiguous share each) to
/// [`PEERS`] consumers and times it; the items received must number
/// `iterations` and add up to the sum of `0..iterations`.
fn four_by_four(iterations: u64, ends: impl Ends) -> Result<Duration, BenchError> {
    let received = AtomicU64::new(0);
    let total = AtomicU64::new(0);
    let mut works: Vec<Work<'_>> = Vec::with_capacity(2 * PEERS as usize);
    for p in 0..PEERS {
        let mut put = ends.producer();
        let share = (p * iterations / PEERS)..((p + 1) * iterations / PEERS);
        works.push(Box::new(move || {
            for n in share {
                put(n)?;
            }
            put(SENTINEL)
        }));
    }
    for _ in 0..PEERS {
        let mut get = ends.consumer();
        let (received, total) = (&received, &total);
        works.push(Box::new(move || {
            let (mut count, mut sum) = (0u64, 0u64);
            loop {
                let item = get()?;
                if item == SENTINEL {
                    break;
                }
                count += 1;
                sum += item;
            }
            received.fetch_add(count, Ordering::Relaxed);
            total.fetch_add(sum, Ordering::Relaxed);
            Ok(())
        }));
    }
    // The workers hold the only ends: a std receiver is dropped as soon as its
    // consumers are done, which ends any send still blocked on it.
    drop(ends);
    let elapsed = released_together(works)?;
    expect_all_received(received.into_inner(), total.into_inner(), iterations)?;
    Ok(elapsed)
}

/// `count` items adding up to `sum` are exactly `0..iterations` as far as a
/// count and a sum can tell (a lost, duplicated or corrupted item changes one).
fn expect_all_received(count: u64, sum: u64, iterations: u64) -> Result<(), BenchError> {
    let expected = iterations * iterations.saturating_sub(1) / 2;
    if count == iterations && sum == expected {
        Ok(())
    } else {
        Err(BenchError::WrongOutcome(format!(
            "received {count} items adding up to {sum}, expected {iterations} adding up to {expected}"
        )))
    }
}

// ---- the contenders' ends ----

/// An mp-threads `Queue` (unbounded for `maxsize` 0).
fn mp_queue(
    maxsize: usize,
) -> impl Ends<
    Put = impl FnMut(u64) -> Result<(), BenchError> + Send,
    Get = impl FnMut() -> Result<u64, BenchError> + Send,
> {
    let queue = Arc::new(Queue::<u64>::with_maxsize(maxsize));
    let for_get = Arc::clone(&queue);
    EndsFn(
        move || {
            let queue = Arc::clone(&queue);
            move |n| match queue.try_put(n) {
                Ok(()) => Ok(()),
                Err(PutError::Full(n)) => queue.put_timeout(n, WAIT_LIMIT).map_err(|e| match e {
                    PutError::Full(_) => BenchError::TimedOut {
                        what: "room in the queue",
                        timeout: WAIT_LIMIT,
                    },
                    _ => shut_down(),
                }),
                Err(_) => Err(shut_down()),
            }
        },
        move || {
            let queue = Arc::clone(&for_get);
            move || match queue.try_get() {
                Err(mp_threads::Error::Empty) => queue
                    .get_timeout(WAIT_LIMIT)
                    .map_err(empty_or(threads_error("an item"))),
                taken => taken.map_err(threads_error("an item")),
            }
        },
    )
}

/// An mp-threads `SimpleQueue`.
fn mp_simple_queue() -> impl Ends<
    Put = impl FnMut(u64) -> Result<(), BenchError> + Send,
    Get = impl FnMut() -> Result<u64, BenchError> + Send,
> {
    let queue = Arc::new(SimpleQueue::<u64>::new());
    let for_get = Arc::clone(&queue);
    EndsFn(
        move || {
            let queue = Arc::clone(&queue);
            move |n| {
                queue.put(n);
                Ok(())
            }
        },
        move || {
            let queue = Arc::clone(&for_get);
            move || match queue.try_get() {
                Err(mp_threads::Error::Empty) => queue
                    .get_timeout(WAIT_LIMIT)
                    .map_err(empty_or(threads_error("an item"))),
                taken => taken.map_err(threads_error("an item")),
            }
        },
    )
}

/// A crossbeam channel, bounded to `capacity` or unbounded.
fn crossbeam(
    capacity: Option<usize>,
) -> impl Ends<
    Put = impl FnMut(u64) -> Result<(), BenchError> + Send,
    Get = impl FnMut() -> Result<u64, BenchError> + Send,
> {
    let (sender, receiver) = match capacity {
        Some(capacity) => crossbeam_channel::bounded::<u64>(capacity),
        None => crossbeam_channel::unbounded::<u64>(),
    };
    EndsFn(
        move || {
            let sender = sender.clone();
            move |n| match sender.try_send(n) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(n)) => {
                    sender.send_timeout(n, WAIT_LIMIT).map_err(|e| match e {
                        SendTimeoutError::Timeout(_) => BenchError::TimedOut {
                            what: "room in the channel",
                            timeout: WAIT_LIMIT,
                        },
                        SendTimeoutError::Disconnected(_) => consumers_gone(),
                    })
                }
                Err(TrySendError::Disconnected(_)) => Err(consumers_gone()),
            }
        },
        move || {
            let receiver = receiver.clone();
            move || match receiver.try_recv() {
                Ok(n) => Ok(n),
                Err(TryRecvError::Empty) => {
                    receiver.recv_timeout(WAIT_LIMIT).map_err(|e| match e {
                        RecvTimeoutError::Timeout => no_item(),
                        RecvTimeoutError::Disconnected => producers_gone(),
                    })
                }
                Err(TryRecvError::Disconnected) => Err(producers_gone()),
            }
        },
    )
}

/// Either end of a std channel: `channel` or `sync_channel(capacity)`.
#[derive(Clone)]
enum StdSender {
    Unbounded(mpsc::Sender<u64>),
    Bounded(mpsc::SyncSender<u64>),
}

/// A std channel, bounded to `capacity` or unbounded. Its one receiver is
/// shared by the consumers behind a `Mutex` (uncontended with one consumer).
fn std_mpsc(
    capacity: Option<usize>,
) -> impl Ends<
    Put = impl FnMut(u64) -> Result<(), BenchError> + Send,
    Get = impl FnMut() -> Result<u64, BenchError> + Send,
> {
    let (sender, receiver) = match capacity {
        Some(capacity) => {
            let (sender, receiver) = mpsc::sync_channel::<u64>(capacity);
            (StdSender::Bounded(sender), receiver)
        }
        None => {
            let (sender, receiver) = mpsc::channel::<u64>();
            (StdSender::Unbounded(sender), receiver)
        }
    };
    let receiver = Arc::new(Mutex::new(receiver));
    EndsFn(
        move || {
            let sender = sender.clone();
            move |n| {
                let sent = match &sender {
                    StdSender::Unbounded(sender) => sender.send(n).is_ok(),
                    StdSender::Bounded(sender) => match sender.try_send(n) {
                        Ok(()) => true,
                        Err(mpsc::TrySendError::Full(n)) => sender.send(n).is_ok(),
                        Err(mpsc::TrySendError::Disconnected(_)) => false,
                    },
                };
                if sent { Ok(()) } else { Err(consumers_gone()) }
            }
        },
        move || {
            let receiver = Arc::clone(&receiver);
            move || {
                let receiver = receiver.lock().map_err(|_| BenchError::Poisoned)?;
                match receiver.try_recv() {
                    Ok(n) => Ok(n),
                    Err(mpsc::TryRecvError::Empty) => {
                        receiver.recv_timeout(WAIT_LIMIT).map_err(|e| match e {
                            mpsc::RecvTimeoutError::Timeout => no_item(),
                            mpsc::RecvTimeoutError::Disconnected => producers_gone(),
                        })
                    }
                    Err(mpsc::TryRecvError::Disconnected) => Err(producers_gone()),
                }
            }
        },
    )
}

/// `Empty` after a timed `get` means the wait ran out; anything else is `other`'s.
fn empty_or(
    other: impl FnOnce(mp_threads::Error) -> BenchError,
) -> impl FnOnce(mp_threads::Error) -> BenchError {
    move |error| match error {
        mp_threads::Error::Empty => no_item(),
        error => other(error),
    }
}

fn no_item() -> BenchError {
    BenchError::TimedOut {
        what: "an item",
        timeout: WAIT_LIMIT,
    }
}

fn shut_down() -> BenchError {
    BenchError::WrongOutcome("the queue was shut down".into())
}

fn consumers_gone() -> BenchError {
    BenchError::WrongOutcome("the consumers are gone before the last item".into())
}

fn producers_gone() -> BenchError {
    BenchError::WrongOutcome("the producers are gone before the last item".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_duplicated_or_changed_item_is_an_error() {
        assert!(expect_all_received(4, 6, 4).is_ok());
        assert!(expect_all_received(0, 0, 0).is_ok());
        assert!(expect_all_received(3, 3, 4).is_err()); // 3 lost
        assert!(expect_all_received(5, 9, 4).is_err()); // 3 twice
        assert!(expect_all_received(4, 7, 4).is_err()); // 3 became 4
    }

    #[test]
    fn an_out_of_order_item_is_an_error() {
        let swapped = std::sync::Mutex::new(vec![0u64, 2, 1].into_iter());
        let ends = EndsFn(
            || |_| Ok(()),
            || {
                || {
                    swapped
                        .lock()
                        .map_err(|_| BenchError::Poisoned)?
                        .next()
                        .ok_or_else(no_item)
                }
            },
        );
        assert!(matches!(
            one_to_one(3, ends),
            Err(BenchError::WrongOutcome(m)) if m.contains("received 2 where 1 was due")
        ));
    }

    #[test]
    fn a_consumer_that_times_out_fails_the_measurement() {
        // Nothing is ever put: the consumers' bounded waits end the measurement.
        let ends = EndsFn(|| |_| Ok(()), || || Err(no_item()));
        assert!(matches!(
            four_by_four(8, ends),
            Err(BenchError::TimedOut { .. })
        ));
    }
}
