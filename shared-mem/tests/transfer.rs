//! Handle transfer: encode/decode with the side table, messages with descriptors over Unix
//! sockets (between threads and to forked children), inheritance by a forked child, and
//! every error path: missing and truncated descriptors, short and oversized
//! messages, wrong sockets. (The frame itself, the order of descriptors and stray ones
//! are mp-wire's, tested there.)

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};

use mp_shared_mem::transfer::{DecodeFault, SocketFault};
use mp_shared_mem::{Array, Error, Segment, Shared, Value, transfer};
use mp_sync::Mutex;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use test_support::files::{file_id, mapped_in_this_process, open_in_this_process};
use test_support::{ChildResult, ensure, spawn_child};

/// The header of a frame of `len` bytes (Python's `multiprocessing.connection` framing).
fn frame(len: u64) -> Vec<u8> {
    match i32::try_from(len) {
        Ok(short) => short.to_be_bytes().to_vec(),
        Err(_) => [&(-1i32).to_be_bytes()[..], &len.to_be_bytes()].concat(),
    }
}

fn is_cloexec(fd: impl AsFd) -> bool {
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFD).unwrap();
    FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC)
}

#[test]
fn plain_values_round_trip_and_bad_bytes_are_errors() {
    let value = (1u8, "two".to_string(), vec![3u64, 4], Some(-5i32));
    let (bytes, fds) = transfer::encode(&value).unwrap();
    assert!(fds.is_empty());
    assert_eq!(
        transfer::decode::<(u8, String, Vec<u64>, Option<i32>)>(&bytes, fds).unwrap(),
        value
    );

    let (mut bytes, _) = transfer::encode(&7u32).unwrap();
    bytes.push(0);
    assert!(matches!(
        transfer::decode::<u32>(&bytes, Vec::new()),
        Err(Error::Decode {
            type_name: "u32",
            fault: DecodeFault::TrailingBytes { left: 1 }
        })
    ));
    assert!(matches!(
        transfer::decode::<String>(&[200], Vec::new()),
        Err(Error::Decode {
            fault: DecodeFault::Malformed { .. },
            ..
        })
    ));
}

#[test]
fn handles_decode_into_new_mappings_of_the_same_memory() {
    let segment = Segment::new(128).unwrap();
    let counter = Shared::new(AtomicU64::new(0)).unwrap();
    let (bytes, fds) =
        transfer::encode(&(segment.clone(), "label", counter.clone(), segment.clone())).unwrap();
    assert_eq!(fds.len(), 3);
    assert!(fds.iter().all(is_cloexec));

    let (s1, label, c, s2): (Segment, String, Shared<AtomicU64>, Segment) =
        transfer::decode(&bytes, fds).unwrap();
    assert_eq!(label, "label");
    assert_ne!(s1.as_ptr(), segment.as_ptr());
    s1.write_at(0, b"one").unwrap();
    s2.write_at(3, b"two").unwrap();
    assert_eq!(&segment.to_vec()[..6], b"onetwo");
    c.fetch_add(2, Ordering::SeqCst);
    assert_eq!(counter.load(Ordering::SeqCst), 2);
}

#[test]
fn descriptors_that_do_not_match_the_bytes_are_errors_and_get_closed() {
    let segment = Segment::new(64).unwrap();
    let file = file_id(&segment);
    let (bytes, fds) = transfer::encode(&segment).unwrap();
    drop(segment);
    assert!(open_in_this_process(file)); // the encoded duplicate

    // Bytes that refer to descriptor #0, and no descriptor.
    let missing = transfer::decode::<Segment>(&bytes, Vec::new()).unwrap_err();
    assert!(
        matches!(
            &missing,
            Error::Decode {
                fault: DecodeFault::MissingFd {
                    index: 0,
                    received: 0
                },
                ..
            }
        ),
        "{missing}"
    );

    // A descriptor that nothing claims: an error, and the descriptor is closed.
    let unclaimed = transfer::decode::<u32>(&bytes, fds).unwrap_err();
    assert!(
        matches!(
            &unclaimed,
            Error::Decode {
                fault: DecodeFault::UnclaimedFds { count: 1 },
                ..
            }
        ),
        "{unclaimed}"
    );
    assert!(!open_in_this_process(file));
    assert!(!mapped_in_this_process(file));

    // A descriptor that is not a segment.
    let null = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
    assert!(matches!(
        transfer::decode::<Segment>(&bytes, vec![null]),
        Err(Error::NotASegment { .. })
    ));
}

#[test]
fn broken_and_oversized_messages_are_errors() {
    // Oversized: refused before any allocation.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(&frame(u64::MAX)).unwrap();
    assert_eq!(
        transfer::recv(&rx, 1 << 20).err(),
        Some(Error::MessageTooLarge {
            len: u64::MAX,
            max: 1 << 20
        })
    );

    // The peer goes away between messages, mid-header and mid-payload.
    let (tx, rx) = UnixStream::pair().unwrap();
    drop(tx);
    assert_eq!(transfer::recv(&rx, 10).unwrap_err(), Error::PeerClosed);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(&[0, 0]).unwrap();
    drop(tx);
    assert_eq!(
        transfer::recv(&rx, 10).unwrap_err(),
        Error::Truncated {
            expected: 4,
            received: 2
        }
    );
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(&frame(100)).unwrap();
    tx.write_all(&[1; 10]).unwrap();
    drop(tx);
    assert_eq!(
        transfer::recv(&rx, 1000).unwrap_err(),
        Error::Truncated {
            expected: 104,
            received: 14
        }
    );

    // Not a frame at all: its first bytes, read as a length, are over the limit.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    assert!(matches!(
        transfer::recv(&rx, 10),
        Err(Error::MessageTooLarge { .. })
    ));

    // Sending to a closed peer: an error, not SIGPIPE.
    let (tx, rx) = UnixStream::pair().unwrap();
    drop(rx);
    assert_eq!(transfer::send(&tx, b"x", &[]), Err(Error::PeerClosed));
}

#[test]
fn a_descriptor_missing_from_a_message_is_an_error() {
    // A handle whose descriptor did not come.
    let (tx, rx) = UnixStream::pair().unwrap();
    let (bytes, _fds) = transfer::encode(&Segment::new(64).unwrap()).unwrap();
    transfer::send(&tx, &bytes, &[]).unwrap();
    assert!(matches!(
        transfer::recv_value::<Segment>(&rx, 64),
        Err(Error::Decode {
            fault: DecodeFault::MissingFd { index: 0, .. },
            ..
        })
    ));

    // A descriptor no handle claims is refused and closed: mp-wire's frames test.
}

#[test]
fn only_unix_stream_sockets_carry_messages() {
    let (reader, _writer) = std::io::pipe().unwrap();
    assert!(matches!(
        transfer::recv(&reader, 10),
        Err(Error::UnsupportedSocket {
            fault: SocketFault::NotASocket
        })
    ));
    let (a, _b) = UnixDatagram::pair().unwrap();
    assert!(matches!(
        transfer::send(&a, b"x", &[]),
        Err(Error::UnsupportedSocket {
            fault: SocketFault::NotAStream
        })
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    assert!(matches!(
        transfer::send(&tcp, b"x", &[]),
        Err(Error::UnsupportedSocket {
            fault: SocketFault::NotUnix
        })
    ));
}

#[test]
fn a_forked_child_receives_a_shared_value_over_a_socket() {
    let (parent_end, child_end) = UnixStream::pair().unwrap();
    let mut child = spawn_child(move || -> ChildResult {
        let (label, total, samples): (String, Shared<Mutex<u64>>, Array<f32>) =
            transfer::recv_value(&child_end, 4096).map_err(|_| 2u8)?;
        ensure(label == "work", 3)?;
        for _ in 0..1_000 {
            *total.lock().map_err(|_| 4u8)? += 1;
        }
        samples.set(1, 2.5).map_err(|_| 5u8)?;
        // Reply with a segment made here, to show the way back.
        let reply = Value::new(42u16).map_err(|_| 6u8)?;
        transfer::send_value(&child_end, &reply).map_err(|_| 7u8)
    });
    let total = Shared::new(Mutex::new(0u64)).unwrap();
    let samples = Array::<f32>::zeroed(4).unwrap();
    transfer::send_value(&parent_end, &("work", total.clone(), samples.clone())).unwrap();
    for _ in 0..1_000 {
        *total.lock().unwrap() += 1;
    }
    let reply: Value<u16> = transfer::recv_value(&parent_end, 4096).unwrap();
    assert_eq!(child.join(), 0);
    assert_eq!(*total.lock().unwrap(), 2_000);
    assert_eq!(samples.to_vec().unwrap(), [0.0, 2.5, 0.0, 0.0]);
    // The child is gone; the memory it made lives on in this process.
    assert_eq!(reply.get().unwrap(), 42);
}

#[test]
fn a_forked_child_decodes_inherited_descriptors() {
    let counter = Shared::new(AtomicU64::new(0)).unwrap();
    let (bytes, fds) = transfer::encode(&counter).unwrap();
    let numbers: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let mut child = spawn_child(move || -> ChildResult {
        // The same descriptor numbers are open in the child.
        ensure(
            fds.iter()
                .map(AsRawFd::as_raw_fd)
                .eq(numbers.iter().copied()),
            2,
        )?;
        let inherited: Shared<AtomicU64> = transfer::decode(&bytes, fds).map_err(|_| 3u8)?;
        inherited.fetch_add(7, Ordering::SeqCst);
        Ok(())
    });
    assert_eq!(child.join(), 0);
    assert_eq!(counter.load(Ordering::SeqCst), 7);
}

#[test]
fn a_receiver_out_of_descriptors_is_told_they_were_cut_off() {
    let (parent_end, child_end) = UnixStream::pair().unwrap();
    let mut child = spawn_child(move || -> ChildResult {
        let mut hoard = test_support::descriptors::use_up_descriptors()?;
        // Room for one of the two descriptors: the kernel installs it, then cuts off the
        // other.
        drop(hoard.pop());
        let received = transfer::recv(&child_end, 64);
        // The one that arrived was closed again: its slot is free, and only it.
        let reopened = std::fs::File::open("/dev/null").map_err(|_| 6u8)?;
        let full = std::fs::File::open("/dev/null").map_err(|err| err.raw_os_error());
        ensure(full.err() == Some(Some(libc::EMFILE)), 7)?;
        drop((reopened, hoard));
        match received {
            Err(Error::FdsTruncated) => Ok(()),
            Ok(_) => Err(4),
            Err(Error::Os { errno, .. }) => Err(100 + errno as u8),
            Err(_) => Err(5),
        }
    });
    let segment = Segment::new(64).unwrap();
    let fds: [BorrowedFd<'_>; 2] = [segment.as_fd(), segment.as_fd()];
    transfer::send(&parent_end, b"two descriptors", &fds).unwrap();
    assert_eq!(child.join(), 0);
}
