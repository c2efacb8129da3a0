//! Pipe and Connection within one process: every operation, both directions, threads,
//! and every error path (closed peer, truncated, corrupt and oversized frames, wrong
//! types, wrong directions).

mod support;

use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mp_ipc::{Connection, DEFAULT_MAX_MESSAGE_SIZE, Error, pipe};
use mp_shared_mem::Shared;
use serde::{Deserialize, Serialize};
use support::{recv_bytes_within, recv_within, write_raw};
use test_support::PATIENCE;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Message {
    Job { id: u32, payload: Vec<u8> },
    Text(String),
    Stop,
}

#[test]
fn typed_messages_go_both_ways_in_order() {
    let (left, right) = pipe::<Message>(true).unwrap();
    let sent = [
        Message::Job {
            id: 1,
            payload: vec![1, 2, 3],
        },
        Message::Text("héllo".into()),
        Message::Stop,
    ];
    for message in &sent {
        left.send(message).unwrap();
    }
    for message in &sent {
        assert_eq!(&recv_within(&right).unwrap(), message);
    }
    right.send(&Message::Text("back".into())).unwrap();
    assert_eq!(recv_within(&left).unwrap(), Message::Text("back".into()));
}

#[test]
fn bytes_round_trip_including_empty_messages() {
    let (a, b) = pipe::<()>(true).unwrap();
    a.send_bytes(b"").unwrap();
    a.send_bytes(b"x").unwrap();
    a.send_bytes(&[7; 1000]).unwrap();
    assert_eq!(recv_bytes_within(&b).unwrap(), b"");
    assert_eq!(recv_bytes_within(&b).unwrap(), b"x");
    assert_eq!(recv_bytes_within(&b).unwrap(), vec![7; 1000]);
}

#[test]
fn the_frame_is_pythons_big_endian_length_prefix() {
    let (a, b) = pipe::<()>(true).unwrap();
    a.send_bytes(b"abc").unwrap();
    let mut raw = [0u8; 7];
    let mut stream = std::os::unix::net::UnixStream::from(b.as_fd().try_clone_to_owned().unwrap());
    std::io::Read::read_exact(&mut stream, &mut raw).unwrap();
    assert_eq!(raw, [0, 0, 0, 3, b'a', b'b', b'c']);
}

#[test]
fn large_messages_cross_between_threads_whole() {
    let (a, b) = pipe::<Vec<u8>>(true).unwrap();
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let expected = big.clone();
    let sender = std::thread::spawn(move || {
        a.send_bytes(&big).unwrap();
        a.send(&big).unwrap();
        a
    });
    assert_eq!(recv_bytes_within(&b).unwrap(), expected);
    assert_eq!(recv_within(&b).unwrap(), expected);
    drop(sender.join().unwrap());
}

#[test]
fn a_connection_is_shared_by_threads_without_interleaving_frames() {
    let (a, b) = pipe::<(u32, Vec<u8>)>(true).unwrap();
    let a = Arc::new(a);
    let senders: Vec<_> = (0..4u32)
        .map(|thread| {
            let a = Arc::clone(&a);
            std::thread::spawn(move || {
                for i in 0..100u32 {
                    // Sizes up to 30 KB: larger than what the kernel takes at once now and then.
                    let len = ((i * 7919 + thread * 31) % 30_000) as usize;
                    a.send(&(thread, vec![thread as u8; len])).unwrap();
                }
            })
        })
        .collect();
    let mut next = [0u32; 4];
    for _ in 0..400 {
        let (thread, payload) = recv_within(&b).unwrap();
        assert!(payload.iter().all(|&byte| byte == thread as u8));
        let i = next[thread as usize];
        assert_eq!(payload.len(), ((i * 7919 + thread * 31) % 30_000) as usize);
        next[thread as usize] += 1;
    }
    for sender in senders {
        sender.join().unwrap();
    }
    assert_eq!(next, [100; 4]);
}

#[test]
fn recv_bytes_into_fills_the_buffer_or_hands_the_message_back() {
    let (a, b) = pipe::<()>(true).unwrap();
    let mut buf = [0u8; 8];
    a.send_bytes(b"12345678").unwrap();
    assert!(b.poll(Some(PATIENCE)).unwrap());
    assert_eq!(b.recv_bytes_into(&mut buf).unwrap(), 8);
    assert_eq!(&buf, b"12345678");

    a.send_bytes(b"123456789").unwrap();
    a.send_bytes(b"next").unwrap();
    assert!(b.poll(Some(PATIENCE)).unwrap());
    match b.recv_bytes_into(&mut buf) {
        Err(Error::BufferTooShort(message)) => assert_eq!(message, b"123456789"),
        other => panic!("expected BufferTooShort, got {other:?}"),
    }
    // The stream is still in step: the next message comes whole.
    assert_eq!(b.recv_bytes_into(&mut buf[2..]).unwrap(), 4);
    assert_eq!(&buf[2..6], b"next");
}

#[test]
fn poll_says_whether_a_message_or_the_end_is_there() {
    let (a, b) = pipe::<u8>(true).unwrap();
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    assert!(!b.poll(Some(Duration::from_millis(20))).unwrap());
    a.send(&1).unwrap();
    assert!(b.poll(Some(Duration::ZERO)).unwrap());
    assert!(b.poll(None).unwrap());
    assert_eq!(b.recv().unwrap(), 1);
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    drop(a);
    assert!(
        b.poll(Some(PATIENCE)).unwrap(),
        "the end of the stream polls ready"
    );
    assert!(matches!(b.recv(), Err(Error::PeerClosed)));
}

#[test]
fn a_one_way_pipe_refuses_the_wrong_direction() {
    let (reader, writer) = pipe::<u8>(false).unwrap();
    assert!(matches!(reader.send(&1), Err(Error::NotWritable)));
    assert!(matches!(reader.send_bytes(b"x"), Err(Error::NotWritable)));
    assert!(matches!(writer.recv(), Err(Error::NotReadable)));
    assert!(matches!(writer.recv_bytes(), Err(Error::NotReadable)));
    assert!(matches!(
        writer.recv_bytes_into(&mut [0; 4]),
        Err(Error::NotReadable)
    ));
    assert!(matches!(
        writer.poll(Some(Duration::ZERO)),
        Err(Error::NotReadable)
    ));
    writer.send(&9).unwrap();
    assert_eq!(recv_within(&reader).unwrap(), 9);
    // A raw write through the reader's descriptor fails at once: that direction is shut.
    let mut stream =
        std::os::unix::net::UnixStream::from(reader.as_fd().try_clone_to_owned().unwrap());
    assert!(std::io::Write::write_all(&mut stream, b"x").is_err());
}

#[test]
fn a_closed_peer_is_the_end_of_the_stream_for_both_directions() {
    let (a, b) = pipe::<String>(true).unwrap();
    a.send(&"last".to_string()).unwrap();
    a.close();
    // What was sent before the close is still delivered, then the end.
    assert_eq!(recv_within(&b).unwrap(), "last");
    assert!(matches!(b.recv(), Err(Error::PeerClosed)));
    assert!(matches!(b.recv_bytes(), Err(Error::PeerClosed)));
    assert!(matches!(
        b.recv_bytes_into(&mut [0; 4]),
        Err(Error::PeerClosed)
    ));
    // No SIGPIPE: the test process would die of it.
    assert!(matches!(b.send(&"x".to_string()), Err(Error::PeerClosed)));
    assert!(matches!(
        b.send_bytes(&[0; 1 << 20]),
        Err(Error::PeerClosed)
    ));
}

#[test]
fn a_peer_closing_while_a_large_send_is_blocked_ends_the_send() {
    let (a, b) = pipe::<()>(true).unwrap();
    let sender = std::thread::spawn(move || a.send_bytes(&vec![1u8; 32 << 20]));
    // Let the sender fill the socket buffer, read a little, then go away.
    assert!(b.poll(Some(PATIENCE)).unwrap());
    let mut some = [0u8; 1024];
    let mut stream = std::os::unix::net::UnixStream::from(b.as_fd().try_clone_to_owned().unwrap());
    std::io::Read::read_exact(&mut stream, &mut some).unwrap();
    drop(stream);
    drop(b);
    assert!(matches!(sender.join().unwrap(), Err(Error::PeerClosed)));
}

#[test]
fn a_peer_closing_mid_message_is_a_truncated_message_then_out_of_sync() {
    let (a, b) = pipe::<()>(true).unwrap();
    write_raw(a.as_fd(), &[0, 0, 0, 100]);
    write_raw(a.as_fd(), &[9; 10]);
    drop(a);
    assert!(b.poll(Some(PATIENCE)).unwrap());
    match b.recv_bytes() {
        Err(Error::Truncated { expected, received }) => {
            assert_eq!((expected, received), (104, 14));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert!(matches!(b.recv_bytes(), Err(Error::OutOfSync)));
}

#[test]
fn a_peer_closing_mid_header_is_a_truncated_message() {
    let (a, b) = pipe::<u32>(true).unwrap();
    write_raw(a.as_fd(), &[0, 0]);
    drop(a);
    assert!(b.poll(Some(PATIENCE)).unwrap());
    assert!(matches!(
        b.recv(),
        Err(Error::Truncated {
            expected: 4,
            received: 2
        })
    ));
}

#[test]
fn an_oversized_length_prefix_is_refused_without_allocating_it() {
    let (a, b) = pipe::<Vec<u8>>(true).unwrap();
    // The long form with u64::MAX: allocating it would abort the test process.
    let mut frame = vec![0xff; 4];
    frame.extend_from_slice(&u64::MAX.to_be_bytes());
    write_raw(a.as_fd(), &frame);
    assert!(b.poll(Some(PATIENCE)).unwrap());
    match b.recv() {
        Err(Error::MessageTooLarge { len, max }) => {
            assert_eq!((len, max), (u64::MAX, DEFAULT_MAX_MESSAGE_SIZE));
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    // A length no sender could mean is not waited for: the reader lost its place, and
    // says so instead of reading garbage.
    a.send(&vec![1]).unwrap();
    assert!(matches!(b.recv(), Err(Error::OutOfSync)));
    assert!(matches!(b.recv_bytes(), Err(Error::OutOfSync)));
    // Still safe to drop both ends.
}

#[test]
fn a_length_prefix_just_over_the_limit_is_refused() {
    let (a, mut b) = pipe::<()>(true).unwrap();
    b.set_max_message_size(1000);
    assert_eq!(b.max_message_size(), 1000);
    a.send_bytes(&[0; 1000]).unwrap();
    assert_eq!(recv_bytes_within(&b).unwrap().len(), 1000);
    a.send_bytes(&[0; 1001]).unwrap();
    assert!(matches!(
        b.recv_bytes(),
        Err(Error::MessageTooLarge {
            len: 1001,
            max: 1000
        })
    ));
}

#[test]
fn a_message_over_the_limit_is_skipped_and_the_next_one_arrives() {
    let (a, mut b) = pipe::<Vec<u8>>(true).unwrap();
    b.set_max_message_size(100);
    let name = format!(
        "mp-skipped-fd-{}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    );
    // Over the limit, under it, over it (larger than the socket's buffer) with a
    // descriptor riding along, under it again; sent from a thread, as the big one only
    // fits once the receiver reads.
    let sender = {
        let name = name.clone();
        std::thread::spawn(move || {
            a.send_bytes(&[7; 5000])?;
            a.send(&vec![1, 2, 3])?;
            let path = std::env::temp_dir().join(&name);
            let file = std::fs::File::create(&path).expect("a temporary file");
            std::fs::remove_file(&path).expect("unlinked at once");
            mp_wire::send_frame(a.as_fd(), &[9; 300_000], &[file.as_raw_fd()])?;
            drop(file);
            a.send_bytes(b"last")?;
            Ok::<_, Error>(a)
        })
    };
    assert!(matches!(
        recv_within(&b),
        Err(Error::MessageTooLarge {
            len: 5000,
            max: 100
        })
    ));
    assert_eq!(recv_within(&b).unwrap(), [1, 2, 3]);
    assert!(b.poll(Some(PATIENCE)).unwrap());
    let mut buf = [0u8; 16];
    assert!(matches!(
        b.recv_bytes_into(&mut buf),
        Err(Error::MessageTooLarge {
            len: 300_000,
            max: 100
        })
    ));
    assert_eq!(recv_bytes_within(&b).unwrap(), b"last");
    let _a = test_support::threads::join_within(sender).expect("every send went out");
    // The skipped message's descriptor was closed, not kept.
    let kept = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| target.to_string_lossy().contains(&name));
    assert!(!kept, "the descriptor of a skipped message is still open");
}

#[test]
fn a_peer_closing_inside_a_skipped_message_leaves_the_reader_out_of_step() {
    let (a, mut b) = pipe::<()>(true).unwrap();
    b.set_max_message_size(10);
    write_raw(a.as_fd(), &[0, 0, 0, 100]);
    write_raw(a.as_fd(), &[9; 20]);
    drop(a);
    assert!(matches!(
        recv_bytes_within(&b),
        Err(Error::MessageTooLarge { len: 100, max: 10 })
    ));
    assert!(matches!(b.recv_bytes(), Err(Error::OutOfSync)));
}

#[test]
fn a_send_over_the_limit_writes_nothing() {
    let (mut a, b) = pipe::<Vec<u8>>(true).unwrap();
    a.set_max_message_size(100);
    assert!(matches!(
        a.send_bytes(&[0; 101]),
        Err(Error::MessageTooLarge { len: 101, max: 100 })
    ));
    assert!(matches!(
        a.send(&vec![0; 200]),
        Err(Error::MessageTooLarge { max: 100, .. })
    ));
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    a.send(&vec![7; 10]).unwrap();
    assert_eq!(recv_within(&b).unwrap(), vec![7; 10]);
}

#[test]
fn a_lying_length_prefix_allocates_only_what_arrives() {
    // 60 MiB announced (under the limit), 10 bytes sent, then the end: the reader grows
    // its buffer only as bytes come, and reports the truncation.
    let (a, b) = pipe::<()>(true).unwrap();
    write_raw(a.as_fd(), &(60u32 << 20).to_be_bytes());
    write_raw(a.as_fd(), &[1; 10]);
    drop(a);
    assert!(b.poll(Some(PATIENCE)).unwrap());
    assert!(matches!(
        b.recv_bytes(),
        Err(Error::Truncated { expected, received: 14 }) if expected == (60 << 20) + 4
    ));
}

#[test]
fn a_negative_length_prefix_is_a_corrupt_frame() {
    let (a, b) = pipe::<u8>(true).unwrap();
    write_raw(a.as_fd(), &(-2i32).to_be_bytes());
    assert!(b.poll(Some(PATIENCE)).unwrap());
    assert!(matches!(
        b.recv(),
        Err(Error::CorruptFrame {
            fault: mp_ipc::FrameFault::NegativeLength { prefix: -2 }
        })
    ));
    assert!(matches!(b.recv(), Err(Error::OutOfSync)));
}

#[test]
fn a_message_of_the_wrong_type_is_an_error_and_the_stream_stays_in_step() {
    let (a, b) = pipe::<Message>(true).unwrap();
    // A variant index postcard has never heard of.
    a.send_bytes(&[200]).unwrap();
    // Trailing bytes after a valid value.
    a.send_bytes(&[2, 0, 0]).unwrap();
    // A string that is not UTF-8.
    a.send_bytes(&[1, 2, 0xff, 0xfe]).unwrap();
    a.send(&Message::Stop).unwrap();
    for _ in 0..3 {
        assert!(b.poll(Some(PATIENCE)).unwrap());
        match b.recv() {
            Err(Error::SharedMem(mp_shared_mem::Error::Decode { .. })) => {}
            other => panic!("expected a decode error, got {other:?}"),
        }
    }
    assert_eq!(recv_within(&b).unwrap(), Message::Stop);
}

#[test]
fn handles_travel_with_their_descriptors() {
    let (a, b) = pipe::<(String, Shared<AtomicU64>)>(true).unwrap();
    let counter = Shared::new(AtomicU64::new(0)).unwrap();
    a.send(&("counter".to_string(), counter.clone())).unwrap();
    let (label, received) = recv_within(&b).unwrap();
    assert_eq!(label, "counter");
    received.fetch_add(3, Ordering::SeqCst);
    assert_eq!(counter.load(Ordering::SeqCst), 3);
}

#[test]
fn a_handle_received_as_another_type_is_a_type_mismatch() {
    let (a, b) = pipe::<Shared<AtomicU64>>(true).unwrap();
    a.send(&Shared::new(AtomicU64::new(0)).unwrap()).unwrap();
    // The same socket, read as a connection of another type.
    let (bytes, fds) = mp_shared_mem::transfer::encode(&b).unwrap();
    let wrong: Connection<Shared<u32>> = mp_shared_mem::transfer::decode(&bytes, fds).unwrap();
    assert!(wrong.poll(Some(PATIENCE)).unwrap());
    assert!(matches!(
        wrong.recv(),
        Err(Error::SharedMem(mp_shared_mem::Error::TypeMismatch { .. }))
    ));
}

/// A handle of a plain descriptor, for the tests that count descriptors.
#[derive(Serialize, Deserialize)]
struct FdHandle {
    #[serde(
        serialize_with = "mp_shared_mem::transfer::serialize_fd",
        deserialize_with = "mp_shared_mem::transfer::deserialize_fd"
    )]
    fd: std::os::fd::OwnedFd,
}

/// How many descriptors of this process refer to the same file as `fd` (other tests
/// open and close descriptors all the time, so counting them all would not do).
fn descriptors_of(fd: std::os::fd::BorrowedFd<'_>) -> usize {
    use std::os::unix::fs::MetadataExt;
    let stat = nix::sys::stat::fstat(fd).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::metadata(entry.path())
                .is_ok_and(|meta| meta.dev() == stat.st_dev && meta.ino() == stat.st_ino)
        })
        .count()
}

#[test]
fn descriptors_sent_to_a_byte_reader_are_closed_not_leaked() {
    let (a, b) = pipe::<FdHandle>(true).unwrap();
    // One end of a socket pair: its own inode (both ends of a pipe share one).
    let (end, _other) = std::os::unix::net::UnixStream::pair().unwrap();
    let handle = FdHandle { fd: end.into() };
    assert_eq!(descriptors_of(handle.fd.as_fd()), 1);
    for _ in 0..20 {
        a.send(&handle).unwrap();
        assert!(!recv_bytes_within(&b).unwrap().is_empty());
    }
    let mut buf = [0u8; 64];
    a.send(&handle).unwrap();
    assert!(b.poll(Some(PATIENCE)).unwrap());
    b.recv_bytes_into(&mut buf).unwrap();
    assert_eq!(descriptors_of(handle.fd.as_fd()), 1);

    // Received as a value, the descriptor is the value's, and goes with it.
    a.send(&handle).unwrap();
    let received = recv_within(&b).unwrap();
    assert_eq!(descriptors_of(handle.fd.as_fd()), 2);
    drop(received);
    assert_eq!(descriptors_of(handle.fd.as_fd()), 1);
}

#[test]
fn a_connection_crosses_over_a_connection() {
    let (outer_a, outer_b) = pipe::<Connection<u64>>(true).unwrap();
    let (inner_a, mut inner_b) = pipe::<u64>(false).unwrap();
    inner_b.set_max_message_size(4096);
    outer_a.send(&inner_b).unwrap();
    drop(inner_b);
    let writer = recv_within(&outer_b).unwrap();
    assert!(writer.writable() && !writer.readable());
    assert_eq!(writer.max_message_size(), 4096);
    writer.send(&5).unwrap();
    assert_eq!(recv_within(&inner_a).unwrap(), 5);
    drop(writer);
    assert!(matches!(inner_a.recv(), Err(Error::PeerClosed)));
}

#[test]
fn a_connection_decoded_from_a_non_socket_is_refused() {
    let file = std::fs::File::open("/dev/null").unwrap();
    let (bytes, fds) = mp_shared_mem::transfer::encode(&(
        mp_shared_mem::transfer::Fd(file.as_fd()),
        true,
        true,
        64u64,
    ))
    .unwrap();
    let decoded = mp_shared_mem::transfer::decode::<Connection<u8>>(&bytes, fds);
    assert!(matches!(
        decoded,
        Err(mp_shared_mem::Error::Decode { fault: mp_shared_mem::transfer::DecodeFault::Refused { detail: reason }, .. }) if reason.contains("stream socket")
    ));
}

#[test]
fn a_value_that_cannot_be_encoded_is_an_error_and_nothing_is_sent() {
    // postcard needs the length of a sequence up front.
    struct Unsized;
    impl Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeSeq;
            serializer.serialize_seq(None)?.end()
        }
    }
    impl<'de> Deserialize<'de> for Unsized {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Ok(Unsized)
        }
    }
    let (a, b) = pipe::<Unsized>(true).unwrap();
    assert!(matches!(a.send(&Unsized), Err(Error::SharedMem(_))));
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
}

#[test]
fn debug_shows_the_directions() {
    let (reader, writer) = pipe::<u8>(false).unwrap();
    let text = format!("{reader:?} {writer:?}");
    assert!(text.contains("readable: true, writable: false"));
    assert!(text.contains("readable: false, writable: true"));
    assert!(reader.passes_fds());
}

#[test]
fn handles_stay_with_their_own_messages_when_several_arrive_at_once() {
    use mp_shared_mem::Segment;
    let (a, b) = pipe::<(u32, Option<Segment>)>(true).unwrap();
    let segments: Vec<Segment> = (0..3).map(|_| Segment::new(64).unwrap()).collect();
    for (i, segment) in segments.iter().enumerate() {
        segment.write_at(0, &[i as u8 + 1]).unwrap();
    }
    // All sent before anything is read: one read on the other side takes several.
    let plan = [None, Some(0), None, None, Some(1), Some(2), None];
    for (n, which) in plan.iter().enumerate() {
        let handle = which.map(|i: usize| segments[i].clone());
        a.send(&(n as u32, handle)).unwrap();
    }
    for (n, which) in plan.iter().enumerate() {
        let (number, handle) = recv_within(&b).unwrap();
        assert_eq!(number, n as u32);
        match (which, handle) {
            (None, None) => {}
            (Some(i), Some(segment)) => assert_eq!(segment.to_vec()[0], *i as u8 + 1),
            (expected, got) => panic!("message {n}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn messages_around_the_read_ahead_size_come_whole() {
    let (a, b) = pipe::<Vec<u8>>(true).unwrap();
    let sizes = [
        0usize, 1, 65_530, 65_531, 65_532, 65_535, 65_536, 65_537, 3, 200_000, 131_072, 7,
    ];
    let sender = std::thread::spawn(move || {
        for (i, &size) in sizes.iter().enumerate() {
            let message = vec![i as u8; size];
            a.send_bytes(&message).unwrap();
            a.send(&message).unwrap();
        }
        a
    });
    let mut into = vec![0u8; 70_000];
    for (i, &size) in sizes.iter().enumerate() {
        let expected = vec![i as u8; size];
        if i % 2 == 0 {
            assert_eq!(recv_bytes_within(&b).unwrap(), expected, "bytes, {size}");
        } else {
            assert!(b.poll(Some(PATIENCE)).unwrap());
            match b.recv_bytes_into(&mut into) {
                Ok(len) => assert_eq!(&into[..len], &expected[..], "into, {size}"),
                Err(Error::BufferTooShort(message)) => {
                    assert!(size > into.len());
                    assert_eq!(message, expected, "too short, {size}");
                }
                Err(other) => panic!("{size}: {other}"),
            }
        }
        assert_eq!(recv_within(&b).unwrap(), expected, "typed, {size}");
    }
    drop(sender.join().unwrap());
}

#[test]
fn a_message_already_read_ahead_is_ready() {
    let (a, b) = pipe::<u8>(true).unwrap();
    a.send(&1).unwrap();
    a.send(&2).unwrap();
    // Both are in the socket already (a send on a Unix socket queues at the receiver),
    // so the first receive reads them together.
    assert!(b.poll(Some(PATIENCE)).unwrap());
    assert_eq!(b.recv().unwrap(), 1);
    assert!(b.poll(Some(Duration::ZERO)).unwrap());
    assert_eq!(
        mp_ipc::wait(&[&b], Some(Duration::ZERO)).unwrap(),
        [0],
        "wait sees what the socket no longer shows"
    );
    assert_eq!(b.recv().unwrap(), 2);
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
}

#[test]
fn a_connection_with_messages_read_ahead_is_not_sent_away() {
    let (outer_a, _outer_b) = pipe::<Connection<u8>>(true).unwrap();
    let (a, b) = pipe::<u8>(true).unwrap();
    a.send(&1).unwrap();
    a.send(&2).unwrap();
    assert!(b.poll(Some(PATIENCE)).unwrap());
    assert_eq!(b.recv().unwrap(), 1);
    // Message 2 sits in b's buffer: the receiving process would never see it.
    assert!(matches!(
        outer_a.send(&b),
        Err(Error::SharedMem(mp_shared_mem::Error::Encode { .. }))
    ));
    assert_eq!(b.recv().unwrap(), 2);
    outer_a.send(&b).unwrap();
}

#[test]
fn recv_timeout_polls_once_at_zero_waits_for_ever_at_max_and_reports_a_closed_peer() {
    let (a, b) = pipe::<u32>(true).unwrap();
    assert!(matches!(
        b.recv_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    ));
    assert!(matches!(
        b.recv_timeout(Duration::from_millis(20)),
        Err(Error::TimedOut)
    ));
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        a.send(&9).unwrap();
        a
    });
    assert_eq!(b.recv_timeout(Duration::MAX).unwrap(), 9);
    drop(sender.join().unwrap());
    assert!(matches!(
        b.recv_timeout(Duration::from_secs(5)),
        Err(Error::PeerClosed)
    ));
}
