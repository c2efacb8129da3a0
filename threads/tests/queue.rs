//! The queue module: Queue, LifoQueue, PriorityQueue, SimpleQueue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mp_threads::{
    Error, JoinHandle, LifoQueue, PriorityQueue, PutError, Queue, SimpleQueue, Thread,
};

const LIMIT: Duration = Duration::from_secs(20);
const SHORT: Duration = Duration::from_millis(20);

/// The operations every bounded queue kind shares, so each test runs on all three.
trait AnyQueue<T>: Send + Sync + 'static {
    fn make(maxsize: usize) -> Self;
    fn put(&self, item: T) -> Result<(), PutError<T>>;
    fn try_put(&self, item: T) -> Result<(), PutError<T>>;
    fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>>;
    fn get(&self) -> Result<T, Error>;
    fn try_get(&self) -> Result<T, Error>;
    fn get_timeout(&self, timeout: Duration) -> Result<T, Error>;
    fn qsize(&self) -> usize;
    fn empty(&self) -> bool;
    fn full(&self) -> bool;
    fn maxsize(&self) -> usize;
    fn task_done(&self) -> Result<(), Error>;
    fn join_timeout(&self, timeout: Duration) -> bool;
    fn shutdown(&self, immediate: bool);
    fn is_shutdown(&self) -> bool;
}

macro_rules! any_queue {
    ($Queue:ident, $($bound:tt)*) => {
        impl<T: $($bound)* + Send + 'static> AnyQueue<T> for $Queue<T> {
            fn make(maxsize: usize) -> Self { $Queue::with_maxsize(maxsize) }
            fn put(&self, item: T) -> Result<(), PutError<T>> { $Queue::put(self, item) }
            fn try_put(&self, item: T) -> Result<(), PutError<T>> { $Queue::try_put(self, item) }
            fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
                $Queue::put_timeout(self, item, timeout)
            }
            fn get(&self) -> Result<T, Error> { $Queue::get(self) }
            fn try_get(&self) -> Result<T, Error> { $Queue::try_get(self) }
            fn get_timeout(&self, timeout: Duration) -> Result<T, Error> { $Queue::get_timeout(self, timeout) }
            fn qsize(&self) -> usize { $Queue::qsize(self) }
            fn empty(&self) -> bool { $Queue::empty(self) }
            fn full(&self) -> bool { $Queue::full(self) }
            fn maxsize(&self) -> usize { $Queue::maxsize(self) }
            fn task_done(&self) -> Result<(), Error> { $Queue::task_done(self) }
            fn join_timeout(&self, timeout: Duration) -> bool { $Queue::join_timeout(self, timeout).is_ok() }
            fn shutdown(&self, immediate: bool) { $Queue::shutdown(self, immediate) }
            fn is_shutdown(&self) -> bool { $Queue::is_shutdown(self) }
        }
    };
}

any_queue!(Queue, Sized);
any_queue!(LifoQueue, Sized);
any_queue!(PriorityQueue, Ord);

/// Runs a test body once per queue kind.
macro_rules! for_each_kind {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;

            #[test]
            fn fifo() -> Result<(), Error> {
                $body::<Queue<u64>>()
            }

            #[test]
            fn lifo() -> Result<(), Error> {
                $body::<LifoQueue<u64>>()
            }

            #[test]
            fn priority() -> Result<(), Error> {
                $body::<PriorityQueue<u64>>()
            }
        }
    };
}

fn spawn<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, Error> {
    Thread::new(body, ()).start()
}

#[test]
fn each_kind_hands_items_out_in_its_order() -> Result<(), Error> {
    let fifo = Queue::new();
    let lifo = LifoQueue::new();
    let priority = PriorityQueue::new();
    for n in [3_u8, 1, 2] {
        fifo.put(n)?;
        lifo.put(n)?;
        priority.put(n)?;
    }
    let drain = |get: &dyn Fn() -> Result<u8, Error>| -> Result<Vec<u8>, Error> {
        (0..3).map(|_| get()).collect()
    };
    assert_eq!(drain(&|| fifo.get())?, [3, 1, 2]);
    assert_eq!(drain(&|| lifo.get())?, [2, 1, 3]);
    assert_eq!(drain(&|| priority.get())?, [1, 2, 3]);
    Ok(())
}

fn sizes_and_non_blocking_errors<Q: AnyQueue<u64>>() -> Result<(), Error> {
    let unbounded = Q::make(0);
    assert_eq!(unbounded.maxsize(), 0);
    assert!(unbounded.empty());
    for n in 0..1000 {
        unbounded.try_put(n)?;
    }
    assert!(!unbounded.full(), "an unbounded queue is never full");
    assert_eq!(unbounded.qsize(), 1000);

    let bounded = Q::make(2);
    assert!(matches!(bounded.try_get(), Err(Error::Empty)));
    assert!(matches!(bounded.get_timeout(SHORT), Err(Error::Empty)));
    bounded.put(1)?;
    bounded.put_timeout(2, SHORT)?;
    assert!(bounded.full());
    assert_eq!(bounded.try_put(3), Err(PutError::Full(3)));
    assert_eq!(bounded.put_timeout(4, SHORT), Err(PutError::Full(4)));
    assert_eq!(bounded.qsize(), 2);
    let first = bounded.get()?;
    let second = bounded.try_get()?;
    let mut both = [first, second];
    both.sort_unstable();
    assert_eq!(both, [1, 2]);
    assert!(bounded.empty());
    Ok(())
}
for_each_kind!(
    sizes_and_non_blocking_errors_all,
    sizes_and_non_blocking_errors
);

fn blocking_put_waits_for_room<Q: AnyQueue<u64>>() -> Result<(), Error> {
    let queue = Arc::new(Q::make(1));
    queue.put(1)?;
    let producer = {
        let queue = Arc::clone(&queue);
        spawn(move || queue.put(2).is_ok())?
    };
    // The producer is blocked on the full queue until an item is taken.
    assert_eq!(queue.get_timeout(LIMIT)?, 1);
    assert_eq!(queue.get_timeout(LIMIT)?, 2);
    assert!(producer.join_timeout(LIMIT)?);
    Ok(())
}
for_each_kind!(blocking_put_waits_for_room_all, blocking_put_waits_for_room);

fn blocking_get_waits_for_an_item<Q: AnyQueue<u64>>() -> Result<(), Error> {
    let queue = Arc::new(Q::make(0));
    let consumer = {
        let queue = Arc::clone(&queue);
        spawn(move || queue.get_timeout(LIMIT))?
    };
    std::thread::sleep(SHORT);
    queue.put(7)?;
    assert_eq!(consumer.join_timeout(LIMIT)??, 7);
    Ok(())
}
for_each_kind!(
    blocking_get_waits_for_an_item_all,
    blocking_get_waits_for_an_item
);

fn task_done_and_join<Q: AnyQueue<u64>>() -> Result<(), Error> {
    let queue = Arc::new(Q::make(0));
    assert!(matches!(
        queue.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    assert!(
        queue.join_timeout(SHORT),
        "nothing put: join returns at once"
    );
    for n in 0..10 {
        queue.put(n)?;
    }
    assert!(!queue.join_timeout(SHORT));
    let worker = {
        let queue = Arc::clone(&queue);
        spawn(move || -> Result<u64, Error> {
            let mut sum = 0;
            for _ in 0..10 {
                sum += queue.get_timeout(LIMIT)?;
                queue.task_done()?;
            }
            Ok(sum)
        })?
    };
    assert!(queue.join_timeout(LIMIT), "join returns once all are done");
    assert_eq!(worker.join_timeout(LIMIT)??, 45);
    assert!(matches!(
        queue.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    assert!(queue.join_timeout(SHORT));
    Ok(())
}
for_each_kind!(task_done_and_join_all, task_done_and_join);

fn shutdown_drains_then_fails<Q: AnyQueue<u64>>() -> Result<(), Error> {
    let queue = Q::make(0);
    queue.put(1)?;
    queue.put(2)?;
    assert!(!queue.is_shutdown());
    queue.shutdown(false);
    assert!(queue.is_shutdown());
    assert_eq!(queue.put(3), Err(PutError::ShutDown(3)));
    assert_eq!(queue.try_put(4), Err(PutError::ShutDown(4)));
    assert_eq!(queue.put_timeout(5, SHORT), Err(PutError::ShutDown(5)));
    let mut left = vec![queue.get()?, queue.try_get()?];
    left.sort_unstable();
    assert_eq!(left, [1, 2]);
    assert!(matches!(queue.get(), Err(Error::ShutDown)));
    assert!(matches!(queue.try_get(), Err(Error::ShutDown)));
    assert!(matches!(queue.get_timeout(SHORT), Err(Error::ShutDown)));
    // join still counts the items taken but not yet done.
    assert!(!queue.join_timeout(SHORT));
    queue.task_done()?;
    queue.task_done()?;
    assert!(queue.join_timeout(SHORT));
    Ok(())
}
for_each_kind!(shutdown_drains_then_fails_all, shutdown_drains_then_fails);

fn immediate_shutdown_discards_and_releases_join<Q: AnyQueue<u64>>() -> Result<(), Error> {
    let queue = Arc::new(Q::make(0));
    for n in 0..5 {
        queue.put(n)?;
    }
    let joiner = {
        let queue = Arc::clone(&queue);
        spawn(move || queue.join_timeout(LIMIT))?
    };
    std::thread::sleep(SHORT);
    queue.shutdown(true);
    assert!(queue.empty());
    assert!(matches!(queue.get(), Err(Error::ShutDown)));
    assert!(joiner.join_timeout(LIMIT)?, "discarded items count as done");
    // Immediate after a plain shutdown still discards.
    let second = Q::make(0);
    second.put(1)?;
    second.shutdown(false);
    second.shutdown(true);
    assert!(matches!(second.get(), Err(Error::ShutDown)));
    assert!(second.join_timeout(SHORT));
    Ok(())
}
for_each_kind!(
    immediate_shutdown_discards_and_releases_join_all,
    immediate_shutdown_discards_and_releases_join
);

fn shutdown_wakes_blocked_getters_and_putters<Q: AnyQueue<u64>>() -> Result<(), Error> {
    let empty = Arc::new(Q::make(1));
    let getters: Vec<_> = (0..3)
        .map(|_| {
            let queue = Arc::clone(&empty);
            spawn(move || queue.get_timeout(LIMIT))
        })
        .collect::<Result<_, _>>()?;
    let full = Arc::new(Q::make(1));
    full.put(0)?;
    let putters: Vec<_> = (1..4)
        .map(|n| {
            let queue = Arc::clone(&full);
            spawn(move || queue.put_timeout(n, LIMIT))
        })
        .collect::<Result<_, _>>()?;
    std::thread::sleep(SHORT);
    empty.shutdown(false);
    full.shutdown(false);
    for getter in getters {
        assert!(matches!(getter.join_timeout(LIMIT)?, Err(Error::ShutDown)));
    }
    for putter in putters {
        assert!(matches!(
            putter.join_timeout(LIMIT)?,
            Err(PutError::ShutDown(n)) if (1..4).contains(&n)
        ));
    }
    assert_eq!(full.get()?, 0);
    Ok(())
}
for_each_kind!(
    shutdown_wakes_blocked_getters_and_putters_all,
    shutdown_wakes_blocked_getters_and_putters
);

/// Many producers and consumers: every item is delivered exactly once, and
/// task_done/join agree at the end.
fn hammer<Q: AnyQueue<u64>>(maxsize: usize) -> Result<(), Error> {
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 4;
    const PER_PRODUCER: u64 = 20_000;
    let queue = Arc::new(Q::make(maxsize));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let queue = Arc::clone(&queue);
            spawn(move || -> Result<(), PutError<u64>> {
                for n in 0..PER_PRODUCER {
                    let item = p * PER_PRODUCER + n;
                    // A mix of the three ways to put.
                    match n % 3 {
                        0 => queue.put(item)?,
                        1 => queue.put_timeout(item, LIMIT)?,
                        _ => {
                            let mut item = item;
                            loop {
                                match queue.try_put(item) {
                                    Ok(()) => break,
                                    Err(PutError::Full(back)) => {
                                        item = back;
                                        std::thread::yield_now();
                                    }
                                    Err(shut) => return Err(shut),
                                }
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .collect::<Result<_, _>>()?;
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            spawn(move || -> Result<Vec<u64>, Error> {
                let mut got = Vec::new();
                loop {
                    match queue.get_timeout(LIMIT) {
                        Ok(item) => {
                            got.push(item);
                            queue.task_done()?;
                        }
                        Err(Error::ShutDown) => return Ok(got),
                        Err(other) => return Err(other),
                    }
                }
            })
        })
        .collect::<Result<_, _>>()?;
    for producer in producers {
        producer.join_timeout(LIMIT)?.map_err(Error::from)?;
    }
    assert!(queue.join_timeout(LIMIT), "every item was marked done");
    queue.shutdown(false);
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(consumer.join_timeout(LIMIT)??);
    }
    all.sort_unstable();
    assert_eq!(
        all.len() as u64,
        PRODUCERS * PER_PRODUCER,
        "lost or duplicated items"
    );
    assert!(
        all.iter().copied().eq(0..PRODUCERS * PER_PRODUCER),
        "not exactly once"
    );
    assert!(matches!(
        queue.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    Ok(())
}

fn hammer_unbounded<Q: AnyQueue<u64>>() -> Result<(), Error> {
    hammer::<Q>(0)
}
for_each_kind!(hammer_unbounded_all, hammer_unbounded);

fn hammer_bounded<Q: AnyQueue<u64>>() -> Result<(), Error> {
    hammer::<Q>(8)
}
for_each_kind!(hammer_bounded_all, hammer_bounded);

fn hammer_maxsize_one<Q: AnyQueue<u64>>() -> Result<(), Error> {
    hammer::<Q>(1)
}
for_each_kind!(hammer_maxsize_one_all, hammer_maxsize_one);

#[test]
fn fifo_order_holds_per_producer_under_contention() -> Result<(), Error> {
    let queue = Arc::new(Queue::with_maxsize(16));
    let producers: Vec<_> = (0..3_u64)
        .map(|p| {
            let queue = Arc::clone(&queue);
            spawn(move || -> Result<(), PutError<(u64, u64)>> {
                for n in 0..10_000 {
                    queue.put((p, n))?;
                }
                Ok(())
            })
        })
        .collect::<Result<_, _>>()?;
    let mut next = [0_u64; 3];
    for _ in 0..30_000 {
        let (p, n) = queue.get_timeout(LIMIT)?;
        assert_eq!(next[p as usize], n, "producer {p}'s items out of order");
        next[p as usize] += 1;
    }
    for producer in producers {
        producer.join_timeout(LIMIT)?.map_err(Error::from)?;
    }
    Ok(())
}

#[test]
fn immediate_shutdown_racing_producers_loses_no_accounting() -> Result<(), Error> {
    // Items put around an immediate shutdown are either delivered before it or
    // discarded by it; join never waits for a discarded item.
    for _ in 0..20 {
        let queue = Arc::new(Queue::new());
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let queue = Arc::clone(&queue);
                spawn(move || {
                    let mut accepted = 0_usize;
                    while queue.put(1_u8).is_ok() {
                        accepted += 1;
                    }
                    accepted
                })
            })
            .collect::<Result<_, _>>()?;
        std::thread::sleep(Duration::from_millis(2));
        queue.shutdown(true);
        for producer in producers {
            producer.join_timeout(LIMIT)?;
        }
        assert!(queue.empty());
        assert!(matches!(queue.try_get(), Err(Error::ShutDown)));
        queue
            .join_timeout(LIMIT)
            .expect("discarded items no longer counted as unfinished");
    }
    Ok(())
}

#[test]
fn a_rejected_put_hands_the_item_back() {
    let queue = Queue::with_maxsize(1);
    queue.put(String::from("kept")).expect("room for one");
    let back = queue
        .try_put(String::from("returned"))
        .expect_err("the queue is full");
    assert!(matches!(&back, PutError::Full(s) if s == "returned"));
    assert_eq!(back.into_inner(), "returned");
    assert_eq!(back_to_error(PutError::Full(1)), Error::Full.to_string());
    assert_eq!(
        back_to_error(PutError::ShutDown(1)),
        Error::ShutDown.to_string()
    );
    assert!(matches!(Error::from(PutError::Full(1)), Error::Full));
    assert!(matches!(
        Error::from(PutError::ShutDown(1)),
        Error::ShutDown
    ));
    assert_eq!(format!("{:?}", PutError::Full(vec![1])), "Full(..)");
}

fn back_to_error<T>(error: PutError<T>) -> String {
    error.to_string()
}

#[test]
fn items_discarded_by_shutdown_are_dropped() -> Result<(), Error> {
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let fifo = Queue::new();
    let lifo = LifoQueue::new();
    for _ in 0..3 {
        fifo.put(Tracked(Arc::clone(&drops))).map_err(Error::from)?;
        lifo.put(Tracked(Arc::clone(&drops))).map_err(Error::from)?;
    }
    fifo.shutdown(true);
    lifo.shutdown(true);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
    Ok(())
}

#[test]
fn simple_queue_puts_and_gets() -> Result<(), Error> {
    let queue = Arc::new(SimpleQueue::new());
    assert!(queue.empty());
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    assert!(matches!(queue.get_timeout(SHORT), Err(Error::Empty)));
    queue.put(1);
    queue.put(2);
    assert_eq!(queue.qsize(), 2);
    assert_eq!(queue.get(), 1);
    assert_eq!(queue.try_get()?, 2);
    let consumer = {
        let queue = Arc::clone(&queue);
        spawn(move || queue.get_timeout(LIMIT))?
    };
    queue.put(3);
    assert_eq!(consumer.join_timeout(LIMIT)??, 3);
    Ok(())
}

#[test]
fn simple_queue_hammer_delivers_exactly_once() -> Result<(), Error> {
    let queue = Arc::new(SimpleQueue::new());
    let producers: Vec<_> = (0..4_u64)
        .map(|p| {
            let queue = Arc::clone(&queue);
            spawn(move || {
                for n in 0..20_000 {
                    queue.put(Some(p * 20_000 + n));
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let queue = Arc::clone(&queue);
            spawn(move || -> Result<Vec<u64>, Error> {
                let mut got = Vec::new();
                // None is the sentinel that ends a consumer.
                while let Some(item) = queue.get_timeout(LIMIT)? {
                    got.push(item);
                }
                Ok(got)
            })
        })
        .collect::<Result<_, _>>()?;
    for producer in producers {
        producer.join_timeout(LIMIT)?;
    }
    for _ in 0..4 {
        queue.put(None);
    }
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(consumer.join_timeout(LIMIT)??);
    }
    all.sort_unstable();
    assert!(all.iter().copied().eq(0..80_000), "not exactly once");
    Ok(())
}

#[test]
fn queues_debug_print_their_state() -> Result<(), Error> {
    let queue = Queue::with_maxsize(4);
    queue.put(1)?;
    let shown = format!("{queue:?}");
    assert!(
        shown.contains("maxsize: 4") && shown.contains("qsize: 1"),
        "{shown}"
    );
    Ok(())
}

// ---- The FIFO queue's lock-free engine: waits, wake-ups and accounting ----

/// Joins every handle within LIMIT, returning their values.
fn join_all<T>(handles: Vec<JoinHandle<T>>) -> Result<Vec<T>, Error> {
    handles
        .into_iter()
        .map(|handle| handle.join_timeout(LIMIT))
        .collect()
}

#[test]
fn fifo_timed_waiters_each_wake_for_their_item() -> Result<(), Error> {
    const WAITERS: u64 = 8;
    // Getters sleeping with a timeout on an empty queue: each put wakes one.
    let queue = Arc::new(Queue::new());
    let getters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            spawn(move || queue.get_timeout(LIMIT))
        })
        .collect::<Result<_, _>>()?;
    std::thread::sleep(SHORT);
    for n in 0..WAITERS {
        queue.put(n)?;
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut got = join_all(getters)?
        .into_iter()
        .collect::<Result<Vec<u64>, Error>>()?;
    got.sort_unstable();
    assert!(got.iter().copied().eq(0..WAITERS), "{got:?}");

    // Putters sleeping with a timeout on a full queue: each get wakes one.
    let full = Arc::new(Queue::with_maxsize(1));
    full.put(0)?;
    let putters: Vec<_> = (1..=WAITERS)
        .map(|n| {
            let queue = Arc::clone(&full);
            spawn(move || queue.put_timeout(n, LIMIT))
        })
        .collect::<Result<_, _>>()?;
    std::thread::sleep(SHORT);
    let mut taken = Vec::new();
    for _ in 0..=WAITERS {
        taken.push(full.get_timeout(LIMIT)?);
    }
    for put in join_all(putters)? {
        put.map_err(Error::from)?;
    }
    taken.sort_unstable();
    assert!(taken.iter().copied().eq(0..=WAITERS), "{taken:?}");
    assert!(full.empty());
    Ok(())
}

#[test]
fn fifo_timed_get_gives_up_at_its_deadline_then_works_again() -> Result<(), Error> {
    let queue = Queue::with_maxsize(1);
    for _ in 0..3 {
        assert!(matches!(
            queue.get_timeout(Duration::from_millis(5)),
            Err(Error::Empty)
        ));
        queue.put(1_u8)?;
        assert_eq!(
            queue.put_timeout(2, Duration::from_millis(5)),
            Err(PutError::Full(2))
        );
        assert_eq!(queue.get_timeout(LIMIT)?, 1);
    }
    // A failed put leaves no task behind.
    queue.task_done()?;
    queue.task_done()?;
    queue.task_done()?;
    assert!(matches!(
        queue.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    queue.join_timeout(SHORT)?;
    Ok(())
}

#[test]
fn fifo_shutdown_wakes_every_waiter() -> Result<(), Error> {
    const WAITERS: usize = 16;
    for maxsize in [0, 1, 4] {
        let empty = Arc::new(Queue::<u64>::with_maxsize(maxsize));
        // Blocking forms without a timeout: only the shutdown can end them
        // (the bounded joins below turn a missed wake-up into a failure).
        let getters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let queue = Arc::clone(&empty);
                spawn(move || queue.get())
            })
            .collect::<Result<_, _>>()?;
        let full = Arc::new(Queue::with_maxsize(maxsize.max(1)));
        while full.try_put(0).is_ok() {}
        let putters: Vec<_> = (0..WAITERS)
            .map(|n| {
                let queue = Arc::clone(&full);
                spawn(move || queue.put(n as u64 + 1))
            })
            .collect::<Result<_, _>>()?;
        let joiner = {
            let queue = Arc::clone(&full);
            spawn(move || queue.join_timeout(LIMIT))?
        };
        std::thread::sleep(SHORT);
        empty.shutdown(false);
        full.shutdown(true);
        for got in join_all(getters)? {
            assert!(matches!(got, Err(Error::ShutDown)), "{got:?}");
        }
        for put in join_all(putters)? {
            assert!(
                matches!(put, Err(PutError::ShutDown(n)) if n >= 1),
                "{put:?}"
            );
        }
        joiner
            .join_timeout(LIMIT)?
            .expect("the discarded items count as done");
        assert!(full.empty());
    }
    Ok(())
}

#[test]
fn fifo_task_done_counts_exactly_with_many_threads() -> Result<(), Error> {
    const ITEMS: usize = 20_000;
    const THREADS: usize = 8;
    let queue = Arc::new(Queue::new());
    for n in 0..ITEMS {
        queue.put(n)?;
    }
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            spawn(move || {
                let mut done = 0_usize;
                while queue.try_get().is_ok() {
                    queue.task_done()?;
                    done += 1;
                }
                Ok::<_, Error>(done)
            })
        })
        .collect::<Result<_, _>>()?;
    let done: usize = join_all(workers)?
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .sum();
    assert_eq!(done, ITEMS);
    queue.join_timeout(SHORT).expect("every task is done");
    // Every item is done: one more is one too many, on every thread at once.
    let extras: Vec<_> = (0..THREADS)
        .map(|_| {
            let queue = Arc::clone(&queue);
            spawn(move || queue.task_done())
        })
        .collect::<Result<_, _>>()?;
    for extra in join_all(extras)? {
        assert!(matches!(extra, Err(Error::TaskDoneTooManyTimes)));
    }
    Ok(())
}

#[test]
fn fifo_shutdown_racing_puts_strands_no_accepted_item() -> Result<(), Error> {
    // A put that returned Ok before or during shutdown(false) is delivered to
    // a getter; a getter only hears ShutDown once no accepted item is left.
    for maxsize in [0, 4] {
        for _ in 0..10 {
            let queue = Arc::new(Queue::with_maxsize(maxsize));
            let producers: Vec<_> = (0..3)
                .map(|_| {
                    let queue = Arc::clone(&queue);
                    spawn(move || {
                        let mut accepted = 0_u64;
                        while queue.put_timeout(1_u64, LIMIT).is_ok() {
                            accepted += 1;
                        }
                        accepted
                    })
                })
                .collect::<Result<_, _>>()?;
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let queue = Arc::clone(&queue);
                    spawn(move || -> Result<u64, Error> {
                        let mut received = 0;
                        loop {
                            match queue.get_timeout(LIMIT) {
                                Ok(n) => {
                                    received += n;
                                    queue.task_done()?;
                                }
                                Err(Error::ShutDown) => return Ok(received),
                                Err(other) => return Err(other),
                            }
                        }
                    })
                })
                .collect::<Result<_, _>>()?;
            std::thread::sleep(Duration::from_millis(2));
            queue.shutdown(false);
            let accepted: u64 = join_all(producers)?.into_iter().sum();
            let received: u64 = join_all(consumers)?
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .sum();
            assert_eq!(received, accepted, "an accepted item was stranded");
            assert!(queue.empty());
            queue.join_timeout(SHORT).expect("every task is done");
        }
    }
    Ok(())
}

#[test]
fn fifo_rejected_puts_and_extra_task_dones_leave_the_state_intact() -> Result<(), Error> {
    // Rejected puts count a task for a moment; extra task_done calls racing
    // with them must not take the count below zero (into the flags).
    let queue = Arc::new(Queue::with_maxsize(1));
    queue.put(0_u8)?;
    queue.shutdown(false);
    let putters: Vec<_> = (0..2)
        .map(|_| {
            let queue = Arc::clone(&queue);
            spawn(move || (0..100_000).all(|_| queue.try_put(1) == Err(PutError::ShutDown(1))))
        })
        .collect::<Result<_, _>>()?;
    let finishers: Vec<_> = (0..2)
        .map(|_| {
            let queue = Arc::clone(&queue);
            spawn(move || {
                for _ in 0..100_000 {
                    let _ = queue.task_done();
                }
            })
        })
        .collect::<Result<_, _>>()?;
    assert!(
        join_all(putters)?.into_iter().all(|refused| refused),
        "a put got into a shut-down queue"
    );
    join_all(finishers)?;
    assert!(queue.is_shutdown());
    assert_eq!(queue.put(2), Err(PutError::ShutDown(2)));
    assert!(matches!(
        queue.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    queue.join_timeout(SHORT).expect("every task is done");
    assert_eq!(queue.get()?, 0);
    assert!(matches!(queue.get(), Err(Error::ShutDown)));
    Ok(())
}

#[test]
fn fifo_a_bound_too_large_to_allocate_is_still_honoured() -> Result<(), Error> {
    // A ring of over 1 MiB is not allocated up front; the bound still holds.
    let huge = Queue::<u8>::with_maxsize(usize::MAX / 2);
    assert_eq!(huge.maxsize(), usize::MAX / 2);
    huge.put(1)?;
    assert!(!huge.full());
    assert_eq!(huge.get()?, 1);

    let just_above = Queue::with_maxsize(65_537);
    for n in 0..65_537_u64 {
        just_above.try_put(n)?;
    }
    assert!(just_above.full());
    assert_eq!(just_above.try_put(0), Err(PutError::Full(0)));
    assert_eq!(just_above.get()?, 0);

    // Large items: the limit counts bytes, not slots.
    let pages = Queue::with_maxsize(1_000);
    for _ in 0..1_000 {
        pages.try_put([0_u8; 4096])?;
    }
    assert!(pages.full());
    assert!(matches!(pages.try_put([1; 4096]), Err(PutError::Full(_))));
    assert_eq!(pages.get()?, [0; 4096]);
    Ok(())
}
