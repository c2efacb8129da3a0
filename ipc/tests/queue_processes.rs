//! Queues between processes: forked producers and consumers, a queue handed to a process
//! over a socket, and processes killed while they wait or stream.
//!
//! Every child is reaped (the `Child` guard kills and reaps one a failing assertion left
//! behind), every wait is bounded, and the queues' memory is an anonymous memfd that goes
//! with the last process holding it.

mod support;

use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mp_ipc::{Error, JoinableQueue, Queue, QueueBuilder, SimpleQueue};
use mp_shared_mem::{Segment, transfer};
use support::{find, segment_of};
use test_support::threads::join_within;
use test_support::{Ended, PATIENCE, ensure, holds_within, spawn_child};

#[test]
fn a_child_produces_and_the_parent_consumes_in_order() {
    let queue = Queue::<(u32, String)>::with_maxsize(64).unwrap();
    let mut child = spawn_child({
        let queue = queue.clone();
        move || {
            for n in 0..5000u32 {
                queue.put(&(n, format!("item {n}"))).map_err(|_| 1u8)?;
            }
            Ok(())
        }
    });
    for n in 0..5000u32 {
        assert_eq!(
            queue.get_timeout(PATIENCE).unwrap(),
            (n, format!("item {n}"))
        );
    }
    assert_eq!(child.join(), 0);
    assert!(queue.empty());
}

#[test]
fn two_producer_and_two_consumer_processes_deliver_every_item_once() {
    const PER_PRODUCER: usize = 20_000;
    let queue = QueueBuilder::new().ring_bytes(8192).queue::<u32>().unwrap();
    // One counter per item, in shared memory: consumers count what they got.
    let got = Segment::new(2 * PER_PRODUCER).unwrap();
    let producers: Vec<_> = (0..2u32)
        .map(|p| {
            let queue = queue.clone();
            spawn_child(move || {
                for k in 0..PER_PRODUCER as u32 {
                    queue.put(&(p * PER_PRODUCER as u32 + k)).map_err(|_| 1u8)?;
                }
                Ok(())
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let queue = queue.clone();
            let got = got.clone();
            spawn_child(move || {
                loop {
                    match queue.get_timeout(PATIENCE) {
                        Ok(item) => {
                            let slot = got.bytes().get(item as usize).ok_or(2u8)?;
                            slot.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(Error::Closed) => return Ok(()),
                        Err(_) => return Err(3),
                    }
                }
            })
        })
        .collect();
    for mut producer in producers {
        assert_eq!(producer.join(), 0);
    }
    queue.close();
    for mut consumer in consumers {
        assert_eq!(consumer.join(), 0);
    }
    let counts = got.to_vec();
    assert!(
        counts.iter().all(|&c| c == 1),
        "an item was lost or delivered twice"
    );
}

#[test]
fn a_queue_sent_over_a_socket_reaches_a_child_that_did_not_inherit_it() {
    let (here, there) = UnixStream::pair().unwrap();
    // The child is forked before the queue exists: it can only have it through the socket.
    let mut child = spawn_child(move || {
        let queue: JoinableQueue<String> = transfer::recv_value(&there, 4096).map_err(|_| 1u8)?;
        let job = queue.get_timeout(PATIENCE).map_err(|_| 2u8)?;
        queue.put(&format!("{job} done")).map_err(|_| 3u8)?;
        queue.task_done().map_err(|_| 4u8)?;
        Ok(())
    });
    let queue = JoinableQueue::<String>::new().unwrap();
    transfer::send_value(&here, &queue).unwrap();
    queue.put(&"job".to_string()).unwrap();
    // Give the child time to take the job first.
    assert!(
        holds_within(
            || queue.unfinished_tasks() == 1 && queue.qsize() == 1,
            PATIENCE
        ),
        "the child did not answer"
    );
    assert_eq!(child.join(), 0);
    assert_eq!(queue.get().unwrap(), "job done");
    queue.task_done().unwrap();
    queue.join_timeout(PATIENCE).unwrap();
}

#[test]
fn a_simple_queue_and_close_work_across_processes() {
    let queue = SimpleQueue::<u64>::new().unwrap();
    let mut child = spawn_child({
        let queue = queue.clone();
        move || {
            let mut sum = 0;
            loop {
                match queue.get() {
                    Ok(n) => sum += n,
                    Err(Error::Closed) => break,
                    Err(_) => return Err(1),
                }
            }
            ensure(sum == (1..=100).sum::<u64>(), 2)
        }
    });
    for n in 1..=100 {
        queue.put(&n).unwrap();
    }
    queue.close();
    assert_eq!(child.join(), 0);
}

#[test]
fn a_consumer_killed_while_waiting_does_not_block_the_next_one() {
    let queue = Queue::<u32>::new().unwrap();
    let mut child = spawn_child({
        let queue = queue.clone();
        move || queue.get().map(drop).map_err(|_| 1)
    });
    // Let it take the consumer lock and go to sleep, then kill it there.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        child.kill_and_reap(),
        Ended::Killed(nix::sys::signal::SIGKILL)
    );
    queue.put(&7).unwrap();
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 7);
    queue.put(&8).unwrap();
    assert_eq!(queue.try_get().unwrap(), 8);
}

#[test]
fn a_producer_killed_while_waiting_for_room_does_not_block_the_next_one() {
    let queue = Queue::<u32>::with_maxsize(1).unwrap();
    queue.put(&1).unwrap();
    let mut child = spawn_child({
        let queue = queue.clone();
        move || queue.put(&2).map_err(|_| 1)
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        child.kill_and_reap(),
        Ended::Killed(nix::sys::signal::SIGKILL)
    );
    assert_eq!(queue.get().unwrap(), 1);
    queue.put_timeout(&3, PATIENCE).unwrap();
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 3);
    assert!(queue.empty());
}

/// A queue with a small ring whose producer process was killed in the middle of a
/// message far larger than the ring.
fn a_queue_whose_producer_died_mid_stream() -> Queue<Vec<u8>> {
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap();
    let mut child = child_stuck_mid_stream(&queue, 100_000);
    assert_eq!(
        child.kill_and_reap(),
        Ended::Killed(nix::sys::signal::SIGKILL)
    );
    queue
}

/// Forks a child that streams `size` bytes into `queue` (which nobody reads, so it stops
/// once the ring is full) and returns it once the stream has begun.
fn child_stuck_mid_stream(queue: &Queue<Vec<u8>>, size: usize) -> test_support::Child {
    let child = spawn_child({
        let queue = queue.clone();
        move || queue.put(&vec![0xc3; size]).map_err(|_| 1)
    });
    // The first chunk announces the total: the message and its length prefix.
    let announced = (size as u64 + 3).to_le_bytes();
    let segment = segment_of(queue);
    assert!(holds_within(
        || find(&segment, &announced).is_some(),
        PATIENCE
    ));
    std::thread::sleep(Duration::from_millis(20));
    child
}

#[test]
fn a_producer_killed_mid_stream_is_cleaned_up_by_the_next_producer() {
    let queue = a_queue_whose_producer_died_mid_stream();
    assert!(queue.empty(), "the half-written message counts as nothing");
    let consumer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.get_timeout(PATIENCE))
    };
    queue.put_timeout(&vec![1, 2, 3], PATIENCE).unwrap();
    assert_eq!(join_within(consumer).unwrap(), [1, 2, 3]);
}

#[test]
fn a_consumer_stalled_on_a_dead_producers_stream_gets_free_on_its_own() {
    let queue = a_queue_whose_producer_died_mid_stream();
    // No other producer: the consumer itself finds the producer dead and drops the stream.
    let start = Instant::now();
    assert!(matches!(
        queue.get_timeout(Duration::from_millis(100)),
        Err(Error::Empty)
    ));
    assert!(start.elapsed() < PATIENCE);
    queue.put(&vec![4]).unwrap();
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), [4]);
}

#[test]
fn a_consumer_killed_mid_stream_costs_at_most_that_message() {
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap();
    let big = vec![0x77u8; 2 << 20];
    let producer = {
        let queue = queue.clone();
        let big = big.clone();
        std::thread::spawn(move || -> Result<(), Error> {
            queue.put_timeout(&big, PATIENCE)?;
            queue.put_timeout(&b"after".to_vec(), PATIENCE)
        })
    };
    let mut child = spawn_child({
        let queue = queue.clone();
        move || queue.get().map(drop).map_err(|_| 1)
    });
    std::thread::sleep(Duration::from_millis(3));
    child.kill_and_reap();
    // Whatever instant the child died at, the parent gets whole messages only: the big
    // one (if the child had not started on it) and then "after".
    let first = queue.get_timeout(PATIENCE).unwrap();
    if first != b"after" {
        assert_eq!(first, big);
        assert_eq!(queue.get_timeout(PATIENCE).unwrap(), b"after");
    }
    join_within(producer).unwrap();
}

#[test]
fn a_process_out_of_descriptors_gets_an_error_not_a_panic() {
    let queue = Queue::<u32>::new().unwrap();
    let mut child = spawn_child({
        let queue = queue.clone();
        move || {
            let _hoard = test_support::descriptors::use_up_descriptors()?;
            // A new queue needs a descriptor for its memfd.
            let refused = matches!(
                Queue::<u32>::new(),
                Err(Error::SharedMem(mp_shared_mem::Error::Os { .. }))
            );
            ensure(refused, 1)?;
            // A queue it already holds needs none.
            queue.put(&5).map_err(|_| 2u8)
        }
    });
    assert_eq!(child.join(), 0);
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 5);
}
