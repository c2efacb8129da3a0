//! The async waits of the queues (`get_async`, `put_async`) under a multi-threaded tokio
//! runtime: items from threads and from a forked process reach many concurrent awaiters
//! exactly once, a dropped wait leaves the queue consistent, closing ends the awaiters,
//! and a bounded queue makes `put_async` wait for room.
//!
//! Every wait is bounded by `tokio::time::timeout` or the child helpers' patience.

use std::sync::Arc;
use std::time::Duration;

use mp_ipc::{Error, JoinableQueue, Queue, QueueBuilder, SimpleQueue};
use test_support::{PATIENCE, spawn_child};

/// Collects what `awaiters` tasks get from `queue` until it is closed, each task's items
/// in a list.
async fn drain_with_awaiters(queue: &Queue<u32>, awaiters: usize) -> Vec<Vec<u32>> {
    let tasks: Vec<_> = (0..awaiters)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    match queue.get_async().await {
                        Ok(item) => got.push(item),
                        Err(Error::Closed) => return got,
                        Err(other) => panic!("get_async failed: {other}"),
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let got = tokio::time::timeout(PATIENCE, task)
            .await
            .expect("an awaiter did not finish")
            .unwrap();
        all.push(got);
    }
    all
}

fn assert_each_once(per_task: &[Vec<u32>], count: u32) {
    let mut all: Vec<u32> = per_task.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..count).collect::<Vec<_>>());
    // Each awaiter saw its own items in the order they were put.
    for got in per_task {
        assert!(got.windows(2).all(|pair| pair[0] < pair[1]));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn items_from_a_thread_reach_many_awaiters_exactly_once() {
    const COUNT: u32 = 20_000;
    let queue = QueueBuilder::new().ring_bytes(4096).queue::<u32>().unwrap();
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            for n in 0..COUNT {
                queue.put(&n)?;
                if n % 1000 == 0 {
                    // Let the awaiters run dry now and then, so that they sleep.
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            queue.close();
            Ok::<(), Error>(())
        })
    };
    let per_task = drain_with_awaiters(&queue, 64).await;
    producer.join().unwrap().unwrap();
    assert_each_once(&per_task, COUNT);
}

#[tokio::test(flavor = "multi_thread")]
async fn items_from_a_forked_process_reach_many_awaiters_exactly_once() {
    const COUNT: u32 = 20_000;
    let queue = QueueBuilder::new().ring_bytes(4096).queue::<u32>().unwrap();
    let mut child = spawn_child({
        let queue = queue.clone();
        move || {
            for n in 0..COUNT {
                queue.put(&n).map_err(|_| 1u8)?;
                if n % 1000 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            queue.close();
            Ok(())
        }
    });
    let per_task = drain_with_awaiters(&queue, 32).await;
    assert_eq!(child.join(), 0);
    assert_each_once(&per_task, COUNT);
}

#[tokio::test(flavor = "multi_thread")]
async fn async_and_blocking_consumers_share_a_queue() {
    const COUNT: u32 = 10_000;
    let queue = QueueBuilder::new().ring_bytes(4096).queue::<u32>().unwrap();
    let blocking = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                match queue.get_timeout(PATIENCE) {
                    Ok(item) => got.push(item),
                    Err(Error::Closed) => return got,
                    Err(other) => panic!("get failed: {other}"),
                }
            }
        })
    };
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            for n in 0..COUNT {
                queue.put(&n)?;
            }
            queue.close();
            Ok::<(), Error>(())
        })
    };
    let mut per_task = drain_with_awaiters(&queue, 8).await;
    producer.join().unwrap().unwrap();
    per_task.push(blocking.join().unwrap());
    assert_each_once(&per_task, COUNT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_get_async_leaves_the_queue_consistent() {
    let queue = Queue::<String>::with_maxsize(4).unwrap();
    for _ in 0..50 {
        let outcome = tokio::time::timeout(Duration::from_millis(1), queue.get_async()).await;
        assert!(
            outcome.is_err(),
            "nothing was put, yet get_async gave {outcome:?}"
        );
    }
    // Nothing is left registered: a blocking put and get, then an async one, all work
    // and nothing is lost.
    queue.put(&"one".to_string()).unwrap();
    queue.put(&"two".to_string()).unwrap();
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), "one");
    let waiting = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.get_async().await })
    };
    assert_eq!(
        tokio::time::timeout(PATIENCE, waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
        "two"
    );
    assert!(queue.empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled_awaiters_among_live_ones_lose_no_item() {
    const COUNT: u32 = 2_000;
    let queue = QueueBuilder::new().ring_bytes(4096).queue::<u32>().unwrap();
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    // Tasks that keep starting gets and giving up on them after a moment.
    let cancellers: Vec<_> = (0..8)
        .map(|_| {
            let queue = queue.clone();
            let got = Arc::clone(&got);
            tokio::spawn(async move {
                loop {
                    match tokio::time::timeout(Duration::from_micros(300), queue.get_async()).await
                    {
                        Err(_elapsed) => {}
                        Ok(Ok(item)) => got.lock().unwrap().push(item),
                        Ok(Err(Error::Closed)) => return,
                        Ok(Err(other)) => panic!("get_async failed: {other}"),
                    }
                }
            })
        })
        .collect();
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            for n in 0..COUNT {
                queue.put(&n)?;
                if n % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            queue.close();
            Ok::<(), Error>(())
        })
    };
    for task in cancellers {
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("a cancelling awaiter did not finish")
            .unwrap();
    }
    producer.join().unwrap().unwrap();
    let mut all = got.lock().unwrap().clone();
    all.sort_unstable();
    assert_eq!(all, (0..COUNT).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_ends_every_awaiting_getter_with_closed() {
    let queue = Queue::<u8>::new().unwrap();
    let awaiters: Vec<_> = (0..16)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move { queue.get_async().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let closer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.close())
    };
    for awaiter in awaiters {
        let outcome = tokio::time::timeout(PATIENCE, awaiter)
            .await
            .expect("an awaiter did not see the close")
            .unwrap();
        assert!(matches!(outcome, Err(Error::Closed)), "{outcome:?}");
    }
    closer.join().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn put_async_waits_for_room_in_a_bounded_queue() {
    const COUNT: u32 = 5_000;
    let queue = Queue::<u32>::with_maxsize(2).unwrap();
    let consumer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                match queue.get_timeout(PATIENCE) {
                    Ok(item) => got.push(item),
                    Err(Error::Closed) => return got,
                    Err(other) => panic!("get failed: {other}"),
                }
            }
        })
    };
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let queue = queue.clone();
            tokio::spawn(async move {
                for k in 0..COUNT / 4 {
                    queue.put_async(&(p * (COUNT / 4) + k)).await?;
                }
                Ok::<(), Error>(())
            })
        })
        .collect();
    for producer in producers {
        tokio::time::timeout(PATIENCE, producer)
            .await
            .expect("a producer did not finish")
            .unwrap()
            .unwrap();
    }
    queue.close();
    let mut got = consumer.join().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..COUNT).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_put_async_puts_nothing_and_closing_ends_a_waiting_put() {
    let queue = Queue::<u32>::with_maxsize(1).unwrap();
    queue.put(&1).unwrap();
    let outcome = tokio::time::timeout(Duration::from_millis(20), queue.put_async(&2)).await;
    assert!(
        outcome.is_err(),
        "the queue is full, yet put_async gave {outcome:?}"
    );
    assert_eq!(queue.qsize(), 1);
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 1);
    queue.put_timeout(&3, PATIENCE).unwrap();

    let waiting = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.put_async(&4).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    queue.close();
    let outcome = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, Err(Error::Closed)), "{outcome:?}");
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_async_refuses_a_message_larger_than_the_ring() {
    let queue = QueueBuilder::new()
        .ring_bytes(mp_ipc::MIN_RING_BYTES)
        .queue::<Vec<u8>>()
        .unwrap();
    let outcome = queue
        .put_async(&vec![7u8; mp_ipc::MIN_RING_BYTES * 2])
        .await;
    assert!(
        matches!(outcome, Err(Error::MessageTooLarge { .. })),
        "{outcome:?}"
    );
    assert!(queue.empty());
    queue.put_async(&vec![1, 2, 3]).await.unwrap();
    assert_eq!(queue.get_async().await.unwrap(), [1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_async_sizes_a_message_as_the_queue_encodes_it() {
    let queue = QueueBuilder::new()
        .ring_bytes(mp_ipc::MIN_RING_BYTES)
        .queue::<Vec<u8>>()
        .unwrap();
    // A record is an 8-byte header and the payload; 4086 bytes encode as a 2-byte length
    // and the bytes: 4088, exactly what the ring holds.
    let fills_the_ring = vec![5u8; mp_ipc::MIN_RING_BYTES - 10];
    queue.put_async(&fills_the_ring).await.unwrap();
    assert_eq!(queue.get_async().await.unwrap(), fills_the_ring);
    let one_more = vec![5u8; mp_ipc::MIN_RING_BYTES - 9];
    let outcome = queue.put_async(&one_more).await;
    assert!(
        matches!(outcome, Err(Error::MessageTooLarge { len, max })
            if len as usize == mp_ipc::MIN_RING_BYTES - 7 && max == mp_ipc::MIN_RING_BYTES - 8),
        "{outcome:?}"
    );
    assert!(queue.empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_simple_queue_feeds_awaiters_from_a_thread() {
    let queue = SimpleQueue::<u32>::new().unwrap();
    let awaiters: Vec<_> = (0..8)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move { queue.get_async().await })
        })
        .collect();
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            for n in 0..8 {
                queue.put(&n)?;
            }
            Ok::<(), Error>(())
        })
    };
    let mut got = Vec::new();
    for awaiter in awaiters {
        got.push(
            tokio::time::timeout(PATIENCE, awaiter)
                .await
                .expect("an awaiter got nothing")
                .unwrap()
                .unwrap(),
        );
    }
    producer.join().unwrap().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn join_async_waits_for_a_forked_worker_and_many_joiners_see_it() {
    const COUNT: u32 = 500;
    let queue = JoinableQueue::<u32>::new().unwrap();
    for n in 0..COUNT {
        queue.put(&n).unwrap();
    }
    // Joiners that give up early must not disturb the ones that stay.
    for _ in 0..10 {
        let outcome = tokio::time::timeout(Duration::from_millis(1), queue.join_async()).await;
        assert!(
            outcome.is_err(),
            "join_async finished with tasks unfinished"
        );
    }
    let joiners: Vec<_> = (0..16)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue.join_async().await.unwrap();
                queue.unfinished_tasks()
            })
        })
        .collect();
    let mut worker = spawn_child({
        let queue = queue.clone();
        move || {
            for _ in 0..COUNT {
                queue.get_timeout(PATIENCE).map_err(|_| 1u8)?;
                queue.task_done().map_err(|_| 2u8)?;
            }
            Ok(())
        }
    });
    for joiner in joiners {
        let unfinished = tokio::time::timeout(PATIENCE, joiner)
            .await
            .expect("a joiner was not woken")
            .unwrap();
        assert_eq!(unfinished, 0);
    }
    assert_eq!(worker.join(), 0);
    // Nothing left behind: a blocking join of a new task works as before.
    queue.put(&1).unwrap();
    assert_eq!(queue.get_async().await.unwrap(), 1);
    queue.task_done().unwrap();
    queue.join_timeout(PATIENCE).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn put_async_waits_beside_a_blocking_put_on_a_full_queue() {
    let queue = Queue::<u32>::with_maxsize(1).unwrap();
    queue.put(&1).unwrap();
    // A blocking producer that waits for room holding the producer side.
    let blocking = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.put_timeout(&2, PATIENCE))
    };
    let waiting = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.put_async(&3).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let queue = queue.clone();
        got.push(
            tokio::task::spawn_blocking(move || queue.get_timeout(PATIENCE))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("put_async was not woken")
        .unwrap()
        .unwrap();
    blocking.join().unwrap().unwrap();
    got.sort_unstable();
    assert_eq!(got, [1, 2, 3]);
    assert!(queue.empty());
}

#[tokio::test(flavor = "current_thread")]
async fn join_async_is_woken_by_the_death_of_a_consumer_holding_a_task() {
    let queue = JoinableQueue::<u32>::new().unwrap();
    queue.put(&1).unwrap();
    let mut consumer = spawn_child({
        let queue = queue.clone();
        move || {
            queue.get_timeout(PATIENCE).map_err(|_| 1u8)?;
            std::thread::sleep(PATIENCE);
            Ok(())
        }
    });
    assert!(test_support::holds_within(|| queue.empty(), PATIENCE));
    let killer = std::thread::spawn(move || {
        // The joiner below is asleep by now, or sees the death when it first looks.
        std::thread::sleep(Duration::from_millis(50));
        consumer.kill_and_reap();
    });
    let outcome = tokio::time::timeout(PATIENCE, queue.join_async())
        .await
        .expect("join_async returned");
    assert!(matches!(outcome, Err(Error::TasksLost { count: 1 })));
    killer.join().unwrap();
}
