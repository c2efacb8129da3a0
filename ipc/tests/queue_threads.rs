//! Queues within one process: every operation and error path, between threads, with
//! messages that wrap around the ring's end or are larger than the ring, and with shared
//! memory damaged on purpose.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mp_ipc::{Error, JoinableQueue, Queue, QueueBuilder, SimpleQueue, Waitable, wait};
use mp_shared_mem::{Segment, Shared, transfer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use support::{find, segment_of};
use test_support::threads::join_within as join;
use test_support::{PATIENCE, holds_within};

const SHORT: Duration = Duration::from_millis(20);

// -- basic operations ---------------------------------------------------------------------

#[test]
fn messages_come_out_in_order() {
    let queue = Queue::<String>::new().unwrap();
    for n in 0..100 {
        queue.put(&format!("message {n}")).unwrap();
    }
    assert_eq!(queue.qsize(), 100);
    for n in 0..100 {
        assert_eq!(queue.get().unwrap(), format!("message {n}"));
    }
    assert!(queue.empty());
}

#[test]
fn try_get_on_an_empty_queue_is_empty() {
    let queue = Queue::<u32>::new().unwrap();
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    queue.put(&5).unwrap();
    assert_eq!(queue.try_get().unwrap(), 5);
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
}

#[test]
fn get_timeout_gives_empty_after_waiting() {
    let queue = Queue::<u32>::new().unwrap();
    let start = Instant::now();
    assert!(matches!(queue.get_timeout(SHORT), Err(Error::Empty)));
    assert!(start.elapsed() >= SHORT);
}

#[test]
fn get_timeout_returns_a_message_put_while_it_waits() {
    let queue = Queue::<u32>::new().unwrap();
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            queue.put(&7)
        })
    };
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 7);
    join(producer).unwrap();
}

#[test]
fn maxsize_bounds_the_queue() {
    let queue = Queue::<u8>::with_maxsize(3).unwrap();
    assert_eq!(queue.maxsize(), 3);
    for n in 0..3 {
        assert!(!queue.full());
        queue.try_put(&n).unwrap();
    }
    assert!(queue.full());
    assert!(matches!(queue.try_put(&9), Err(Error::Full)));
    assert!(matches!(queue.put_timeout(&9, SHORT), Err(Error::Full)));
    assert_eq!(queue.get().unwrap(), 0);
    assert!(!queue.full());
    queue.try_put(&3).unwrap();
    let rest: Vec<u8> = (0..3).map(|_| queue.get().unwrap()).collect();
    assert_eq!(rest, [1, 2, 3]);
}

#[test]
fn a_blocked_put_goes_on_when_a_consumer_makes_room() {
    let queue = Queue::<u32>::with_maxsize(1).unwrap();
    queue.put(&1).unwrap();
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.put(&2))
    };
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(queue.get().unwrap(), 1);
    join(producer).unwrap();
    assert_eq!(queue.get().unwrap(), 2);
}

#[test]
fn an_unbounded_queue_is_never_full_but_its_ring_is_finite() {
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap();
    let message = vec![7u8; 100];
    let mut accepted = 0;
    while queue.try_put(&message).is_ok() {
        accepted += 1;
        assert!(
            accepted < 100,
            "a 4 KiB ring took more than 40 messages of 100 bytes"
        );
    }
    assert!(!queue.full(), "full() is about maxsize only");
    assert!(matches!(queue.try_put(&message), Err(Error::Full)));
    assert!(matches!(
        queue.put_timeout(&message, SHORT),
        Err(Error::Full)
    ));
    assert_eq!(queue.qsize(), accepted);
    queue.get().unwrap();
    queue.try_put(&message).unwrap();
}

#[test]
fn the_builder_rounds_and_checks_its_options() {
    let queue = QueueBuilder::new()
        .ring_bytes(10_000)
        .queue::<u8>()
        .unwrap();
    assert_eq!(queue.ring_bytes(), 16384);
    assert!(matches!(
        QueueBuilder::new().ring_bytes(usize::MAX).queue::<u8>(),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        QueueBuilder::new()
            .maxsize(mp_ipc::MAX_MAXSIZE + 1)
            .joinable_queue::<u8>(),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        QueueBuilder::new().maxsize(2).simple_queue::<u8>(),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn messages_wrap_around_the_ring_many_times() {
    // Sizes that do not divide the ring, so records straddle its end at every offset.
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap();
    for round in 0..2000usize {
        let message: Vec<u8> = (0..(round * 7) % 300).map(|i| (i + round) as u8).collect();
        queue.put(&message).unwrap();
        assert_eq!(queue.get().unwrap(), message);
    }
}

// -- close ---------------------------------------------------------------------------------

#[test]
fn close_lets_consumers_drain_then_says_closed() {
    let queue = Queue::<u32>::new().unwrap();
    queue.put(&1).unwrap();
    queue.put(&2).unwrap();
    queue.close();
    assert!(queue.is_closed());
    assert!(matches!(queue.put(&3), Err(Error::Closed)));
    assert!(matches!(queue.try_put(&3), Err(Error::Closed)));
    assert_eq!(queue.get().unwrap(), 1);
    assert_eq!(queue.try_get().unwrap(), 2);
    assert!(matches!(queue.get(), Err(Error::Closed)));
    assert!(matches!(queue.try_get(), Err(Error::Closed)));
    assert!(matches!(queue.get_timeout(SHORT), Err(Error::Closed)));
    queue.close(); // twice is fine
}

#[test]
fn close_wakes_a_waiting_consumer() {
    let queue = Queue::<u32>::new().unwrap();
    let consumer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.get())
    };
    std::thread::sleep(Duration::from_millis(30));
    queue.close();
    assert!(matches!(join(consumer), Err(Error::Closed)));
}

#[test]
fn close_wakes_a_waiting_producer() {
    let queue = Queue::<u32>::with_maxsize(1).unwrap();
    queue.put(&1).unwrap();
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.put(&2))
    };
    std::thread::sleep(Duration::from_millis(30));
    queue.close();
    assert!(matches!(join(producer), Err(Error::Closed)));
    assert_eq!(queue.get().unwrap(), 1);
    assert!(matches!(queue.get(), Err(Error::Closed)));
}

// -- many producers and consumers ----------------------------------------------------------

fn many_to_many(queue: Queue<u64>, producers: u64, consumers: usize, per_producer: u64) {
    let producer_threads: Vec<_> = (0..producers)
        .map(|p| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for k in 0..per_producer {
                    queue.put(&(p * per_producer + k)).unwrap();
                }
            })
        })
        .collect();
    let consumer_threads: Vec<_> = (0..consumers)
        .map(|_| {
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
        })
        .collect();
    for producer in producer_threads {
        join(producer);
    }
    queue.close();
    let mut seen = HashSet::new();
    for consumer in consumer_threads {
        let got = join(consumer);
        // Each producer's items reach one consumer in the order they were put.
        let mut last = vec![None; producers as usize];
        for item in got {
            let p = (item / per_producer) as usize;
            assert!(
                last[p].is_none_or(|previous| previous < item),
                "out of order"
            );
            last[p] = Some(item);
            assert!(seen.insert(item), "{item} delivered twice");
        }
    }
    assert_eq!(seen.len() as u64, producers * per_producer, "items lost");
}

#[test]
fn four_producers_four_consumers_deliver_every_item_once() {
    many_to_many(Queue::new().unwrap(), 4, 4, 20_000);
}

#[test]
fn many_producers_and_consumers_on_a_small_bounded_ring() {
    let queue = QueueBuilder::new()
        .maxsize(16)
        .ring_bytes(4096)
        .queue()
        .unwrap();
    many_to_many(queue, 3, 3, 10_000);
}

// -- large messages ------------------------------------------------------------------------

#[test]
fn a_message_larger_than_the_ring_is_streamed_through_it() {
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 13)
        .map(|i: u32| (i * 31) as u8)
        .collect();
    let producer = {
        let queue = queue.clone();
        let big = big.clone();
        std::thread::spawn(move || {
            queue.put(&big)?;
            queue.put(&vec![1, 2, 3])
        })
    };
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), big);
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), [1, 2, 3]);
    join(producer).unwrap();
    assert!(queue.empty());
}

#[test]
fn several_mib_through_the_default_ring_with_several_producers() {
    let queue = Queue::<Vec<u32>>::new().unwrap();
    let producers: Vec<_> = (0..3u32)
        .map(|p| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for k in 0..2u32 {
                    let message: Vec<u32> = (0..600_000).map(|i| i ^ (p << 24) ^ k).collect();
                    queue.put(&message).unwrap();
                }
            })
        })
        .collect();
    let mut received = 0;
    for _ in 0..6 {
        let message = queue.get_timeout(PATIENCE).unwrap();
        assert_eq!(message.len(), 600_000);
        let tag = message[0];
        assert!(
            message
                .iter()
                .enumerate()
                .all(|(i, v)| *v == i as u32 ^ tag)
        );
        received += 1;
    }
    for producer in producers {
        join(producer);
    }
    assert_eq!(received, 6);
}

#[test]
fn a_streamed_put_that_times_out_is_dropped_by_the_consumer() {
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap();
    // Nobody reads: the stream stops when the ring is full and the put times out.
    let big = vec![5u8; 64 * 1024];
    assert!(matches!(queue.put_timeout(&big, SHORT), Err(Error::Full)));
    assert!(queue.empty());
    // The consumer skips the chunks that made it into the ring, and the abort record.
    assert!(matches!(queue.get_timeout(SHORT), Err(Error::Empty)));
    queue.put(&vec![9]).unwrap();
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), [9]);
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
}

// -- bad input -----------------------------------------------------------------------------

#[test]
fn a_message_holding_a_file_descriptor_is_refused() {
    let queue = Queue::<Segment>::new().unwrap();
    let segment = Segment::new(64).unwrap();
    assert!(matches!(
        queue.put(&segment),
        Err(Error::FdsInQueueMessage { count: 1 })
    ));
    let nested = Queue::<(u32, Vec<Shared<u64>>)>::new().unwrap();
    let shared = Shared::new(1u64).unwrap();
    let error = nested.put(&(1, vec![shared.clone(), shared])).unwrap_err();
    assert!(
        matches!(error, Error::FdsInQueueMessage { count: 2 }),
        "{error}"
    );
    assert!(error.to_string().contains("Connection"));
    assert!(nested.empty());
}

/// Serializes as a string, deserializes as a number: what a message of the wrong type
/// looks like to a consumer.
struct Liar(#[allow(dead_code)] u32);

impl Serialize for Liar {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("not a number at all")
    }
}

impl<'de> Deserialize<'de> for Liar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u32::deserialize(deserializer).map(Liar)
    }
}

#[test]
fn a_message_of_the_wrong_type_is_an_error_and_the_queue_goes_on() {
    let queue = Queue::<Liar>::new().unwrap();
    queue.put(&Liar(1)).unwrap();
    queue.put(&Liar(2)).unwrap();
    let error = queue.get().err().expect("a decode error");
    assert!(
        matches!(
            &error,
            Error::SharedMem(mp_shared_mem::Error::Decode {
                type_name,
                fault: mp_shared_mem::transfer::DecodeFault::TrailingBytes { .. },
            }) if type_name.ends_with("Liar")
        ),
        "{error}"
    );
    assert!(queue.get().is_err());
    assert!(queue.empty());
}

#[test]
fn a_serialization_failure_is_an_error() {
    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }
    impl<'de> Deserialize<'de> for Refuses {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            <()>::deserialize(d).map(|()| Refuses)
        }
    }
    let queue = Queue::<Refuses>::new().unwrap();
    assert!(matches!(
        queue.put(&Refuses),
        Err(Error::SharedMem(mp_shared_mem::Error::Encode { .. }))
    ));
    assert!(queue.empty());
}

/// The ring offset of the record holding `marker` (its payload starts 8 bytes later).
fn record_of(segment: &Segment, marker: &[u8]) -> usize {
    find(segment, marker).expect("the message is in the ring") - 8
}

#[test]
fn a_corrupt_payload_is_a_decode_error_and_the_next_message_gets_through() {
    let queue = Queue::<(u64, [u8; 8])>::new().unwrap();
    queue.put(&(300, *b"MARKER!!")).unwrap();
    queue.put(&(1, *b"........")).unwrap();
    let segment = segment_of(&queue);
    // postcard writes 300 as a two-byte varint; make it a varint that never ends.
    let at = record_of(&segment, &[0xac, 0x02]);
    segment.write_at(at + 8, &[0xff; 10]).unwrap();
    assert!(matches!(
        queue.get(),
        Err(Error::SharedMem(mp_shared_mem::Error::Decode { .. }))
    ));
    assert_eq!(queue.get().unwrap(), (1, *b"........"));
}

#[test]
fn a_truncated_frame_is_a_decode_error() {
    let queue = Queue::<String>::new().unwrap();
    queue.put(&"a string of some length".to_string()).unwrap();
    let segment = segment_of(&queue);
    // postcard writes the string's length (23) before its bytes.
    let at = record_of(&segment, b"\x17a string of");
    // The record says 3 bytes: the string's length prefix promises far more.
    segment.write_at(at, &3u32.to_le_bytes()).unwrap();
    let outcome = queue.get();
    assert!(
        matches!(
            outcome,
            Err(Error::SharedMem(mp_shared_mem::Error::Decode { .. }))
        ),
        "{outcome:?}"
    );
}

#[test]
fn an_oversized_length_is_refused_without_reading_or_allocating_it() {
    let queue = Queue::<Vec<u8>>::new().unwrap();
    queue.put(&b"OVERSIZED".to_vec()).unwrap();
    let segment = segment_of(&queue);
    let at = record_of(&segment, b"\x09OVERSIZED");
    segment.write_at(at, &0xffff_fff0u32.to_le_bytes()).unwrap();
    let error = queue.get().expect_err("corrupt");
    assert!(
        matches!(
            error,
            Error::CorruptQueue {
                fault: mp_ipc::QueueFault::RecordPastTail {
                    len: 0xffff_fff0,
                    ..
                }
            }
        ),
        "{error}"
    );
    // It stays refused, and dropping every handle is fine.
    assert!(matches!(queue.try_get(), Err(Error::CorruptQueue { .. })));
}

#[test]
fn an_unknown_record_tag_is_corrupt() {
    let queue = Queue::<[u8; 6]>::new().unwrap();
    queue.put(b"TAGGED").unwrap();
    let segment = segment_of(&queue);
    let at = record_of(&segment, b"TAGGED");
    segment.write_at(at + 4, &77u32.to_le_bytes()).unwrap();
    assert!(matches!(
        queue.get(),
        Err(Error::CorruptQueue {
            fault: mp_ipc::QueueFault::UnknownTag { tag: 77 }
        })
    ));
}

#[test]
fn a_stream_announcing_a_huge_total_allocates_only_what_arrives() {
    let queue = QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap();
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.put_timeout(&vec![0x5a; 20_000], Duration::from_secs(1)))
    };
    // Wait until the first chunk is in the ring, then make it announce 2^60 bytes.
    let segment = segment_of(&queue);
    let total = 20_003u64.to_le_bytes(); // the vector's bytes and its length prefix
    assert!(holds_within(|| find(&segment, &total).is_some(), PATIENCE));
    let total_at = find(&segment, &total).expect("the announced total");
    segment
        .write_at(total_at, &(1u64 << 60).to_le_bytes())
        .unwrap();
    let outcome = queue.get_timeout(PATIENCE);
    // The bytes that came do not decode as the 2^60 announced (or the stream was cut).
    assert!(outcome.is_err(), "a forged stream decoded");
    let _ = join(producer);
}

#[test]
fn a_handle_of_another_type_or_kind_is_refused_on_receipt() {
    let queue = Queue::<u64>::new().unwrap();
    let (bytes, fds) = transfer::encode(&queue).unwrap();
    let wrong = transfer::decode::<Queue<i64>>(&bytes, fds);
    assert!(
        matches!(&wrong, Err(mp_shared_mem::Error::Decode { fault: mp_shared_mem::transfer::DecodeFault::Refused { detail: why }, .. }) if why.contains("Queue<i64>") && why.contains("Queue<u64>")),
        "{wrong:?}"
    );

    let simple = SimpleQueue::<u64>::new().unwrap();
    let (bytes, fds) = transfer::encode(&simple).unwrap();
    let wrong = transfer::decode::<Queue<u64>>(&bytes, fds);
    assert!(
        matches!(&wrong, Err(mp_shared_mem::Error::Decode { fault: mp_shared_mem::transfer::DecodeFault::Refused { detail: why }, .. }) if why.contains("SimpleQueue<u64>")),
        "{wrong:?}"
    );

    let not_a_queue = Segment::new(8192).unwrap();
    let (bytes, fds) = transfer::encode(&not_a_queue).unwrap();
    assert!(matches!(
        transfer::decode::<Queue<u64>>(&bytes, fds),
        Err(mp_shared_mem::Error::Decode { fault: mp_shared_mem::transfer::DecodeFault::Refused { detail: why }, .. }) if why.contains("not a queue")
    ));

    // A joinable queue is a queue.
    let joinable = JoinableQueue::<u64>::new().unwrap();
    joinable.put(&3).unwrap();
    let (bytes, fds) = transfer::encode(&joinable).unwrap();
    let plain = transfer::decode::<Queue<u64>>(&bytes, fds).unwrap();
    assert_eq!(plain.get().unwrap(), 3);
}

#[test]
fn a_queue_sent_over_a_socket_is_the_same_queue() {
    let queue = JoinableQueue::<String>::new().unwrap();
    let (here, there) = std::os::unix::net::UnixStream::pair().unwrap();
    transfer::send_value(&here, &queue).unwrap();
    let received: JoinableQueue<String> = transfer::recv_value(&there, 4096).unwrap();
    received.put(&"across".to_string()).unwrap();
    assert_eq!(queue.get().unwrap(), "across");
    queue.task_done().unwrap();
    received.join_timeout(PATIENCE).unwrap();
}

// -- JoinableQueue and SimpleQueue ---------------------------------------------------------

#[test]
fn join_waits_for_every_task_done() {
    let queue = JoinableQueue::<u32>::new().unwrap();
    for n in 0..50 {
        queue.put(&n).unwrap();
    }
    assert_eq!(queue.unfinished_tasks(), 50);
    let finished = Arc::new(AtomicBool::new(false));
    let worker = {
        let queue = queue.clone();
        let finished = Arc::clone(&finished);
        std::thread::spawn(move || {
            for _ in 0..50 {
                queue.get().unwrap();
                std::thread::sleep(Duration::from_micros(200));
                if queue.unfinished_tasks() == 1 {
                    finished.store(true, Ordering::SeqCst);
                }
                queue.task_done().unwrap();
            }
        })
    };
    queue.join_timeout(PATIENCE).unwrap();
    assert!(finished.load(Ordering::SeqCst));
    assert_eq!(queue.unfinished_tasks(), 0);
    join(worker);
}

#[test]
fn an_extra_task_done_is_an_error() {
    let queue = JoinableQueue::<u32>::new().unwrap();
    assert!(matches!(
        queue.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    queue.put(&1).unwrap();
    queue.task_done().unwrap(); // done before it was taken is allowed, as in Python
    assert!(matches!(
        queue.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    assert_eq!(queue.unfinished_tasks(), 0);
}

#[test]
fn join_timeout_times_out_with_unfinished_tasks() {
    let queue = JoinableQueue::<u32>::with_maxsize(4).unwrap();
    queue.put(&1).unwrap();
    assert!(matches!(queue.join_timeout(SHORT), Err(Error::TimedOut)));
    queue.get().unwrap();
    assert!(matches!(queue.join_timeout(SHORT), Err(Error::TimedOut)));
    queue.task_done().unwrap();
    queue.join_timeout(SHORT).unwrap();
    queue.join().unwrap();
}

#[test]
fn simple_queue_does_its_few_things() {
    let queue = SimpleQueue::<Vec<String>>::new().unwrap();
    assert!(queue.empty());
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    assert!(matches!(queue.get_timeout(SHORT), Err(Error::Empty)));
    queue.put(&vec!["a".into(), "b".into()]).unwrap();
    assert!(!queue.empty());
    let clone = queue.clone();
    assert_eq!(clone.get().unwrap(), ["a", "b"]);
    queue.close();
    assert!(matches!(clone.put(&vec![]), Err(Error::Closed)));
    assert!(matches!(clone.get(), Err(Error::Closed)));
}

#[test]
fn queues_are_waitable() {
    let quiet = Queue::<u8>::new().unwrap();
    let busy = SimpleQueue::<u8>::new().unwrap();
    let closed = JoinableQueue::<u8>::new().unwrap();
    assert!(!quiet.is_ready());
    assert!(quiet.readiness_fd().is_none());
    assert!(
        wait(&[&quiet, &busy, &closed], Some(SHORT))
            .unwrap()
            .is_empty()
    );
    busy.put(&1).unwrap();
    closed.close();
    assert_eq!(
        wait(&[&quiet, &busy, &closed], Some(PATIENCE)).unwrap(),
        [1, 2]
    );
}

#[test]
fn debug_shows_the_state() {
    let queue = Queue::<u8>::with_maxsize(5).unwrap();
    queue.put(&1).unwrap();
    let text = format!("{queue:?}");
    assert!(
        text.contains("qsize: 1") && text.contains("maxsize: 5"),
        "{text}"
    );
    assert!(format!("{:?}", JoinableQueue::<u8>::new().unwrap()).starts_with("JoinableQueue"));
    assert!(format!("{:?}", SimpleQueue::<u8>::new().unwrap()).starts_with("SimpleQueue"));
}

#[test]
fn a_queue_segment_with_a_damaged_identity_is_refused_with_what_was_found() {
    let queue = Queue::<u64>::new().unwrap();
    let segment = segment_of(&queue);
    // The magic number opens the segment: overwrite it, then hand the queue on.
    segment
        .write_at(0, &0x0123_4567_89ab_cdefu64.to_le_bytes())
        .unwrap();
    let (bytes, fds) = transfer::encode(&queue).unwrap();
    let refused = transfer::decode::<Queue<u64>>(&bytes, fds).unwrap_err();
    let expected = mp_ipc::Error::CorruptQueue {
        fault: mp_ipc::QueueFault::BadMagic {
            found: 0x0123_4567_89ab_cdef,
        },
    };
    assert!(
        matches!(
            &refused,
            mp_shared_mem::Error::Decode {
                fault: mp_shared_mem::transfer::DecodeFault::Refused { detail },
                ..
            } if *detail == expected.to_string()
        ),
        "{refused:?}"
    );
}
