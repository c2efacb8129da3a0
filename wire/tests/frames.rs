//! Frames over sockets: descriptors arrive with their frame, in order, exactly once;
//! every broken, corrupt, oversized or truncated frame is a typed error; the frames are
//! Python's, so a Python peer reads and writes them.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use mp_wire::{DecodeFault, Error, FrameFault, Reader, SocketFault, Stream};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use test_support::files::file_id;

fn files(count: usize) -> Vec<std::fs::File> {
    (0..count).map(|_| tempfile()).collect()
}

/// A file of its own (distinct inode), removed at once.
fn tempfile() -> std::fs::File {
    let fd = nix::sys::memfd::memfd_create("mp-wire-test", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .unwrap();
    std::fs::File::from(fd)
}

#[test]
fn frames_with_descriptors_arrive_whole_and_in_order_both_ways_of_reading() {
    let big: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i % 251) as u8).collect();
    let files = files(4);
    for read_ahead in [false, true] {
        let (tx, rx) = UnixStream::pair().unwrap();
        // A sender that fails leaves the receiver with an error, not a hang.
        rx.set_read_timeout(Some(test_support::PATIENCE)).unwrap();
        std::thread::scope(|scope| {
            let receiver = scope.spawn(|| {
                let mut reader = Reader::new();
                let mut received = Vec::new();
                for _ in 0..5 {
                    received.push(if read_ahead {
                        let header = reader.read_header(rx.as_fd(), 2 << 20).unwrap();
                        let (bytes, frame_fds) =
                            reader.payload_to_vec(rx.as_fd(), &header).unwrap();
                        assert!(!frame_fds.cut_off);
                        (bytes, frame_fds.fds)
                    } else {
                        mp_wire::recv(&rx, 2 << 20).unwrap()
                    });
                }
                received
            });
            mp_wire::send(&tx, b"none", &[]).unwrap();
            mp_wire::send(&tx, b"one", &[files[0].as_fd()]).unwrap();
            mp_wire::send(&tx, &big, &[files[1].as_fd(), files[2].as_fd()]).unwrap();
            mp_wire::send(&tx, b"", &[files[3].as_fd()]).unwrap();
            mp_wire::send(&tx, b"last", &[]).unwrap();
            let received = receiver.join().unwrap();

            let counts: Vec<usize> = received.iter().map(|(_, fds)| fds.len()).collect();
            assert_eq!(counts, [0, 1, 2, 1, 0], "read ahead: {read_ahead}");
            assert_eq!(received[0].0, b"none");
            assert_eq!(received[2].0, big);
            assert_eq!(received[4].0, b"last");
            let order = [(1, 0, 0), (2, 0, 1), (2, 1, 2), (3, 0, 3)];
            for (message, index, file) in order {
                let fd = &received[message].1[index];
                assert_eq!(file_id(fd), file_id(&files[file]));
                let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
                assert!(
                    nix::fcntl::FdFlag::from_bits_truncate(flags)
                        .contains(nix::fcntl::FdFlag::FD_CLOEXEC)
                );
            }
        });
    }
}

#[test]
fn the_most_descriptors_a_frame_may_carry() {
    let (tx, rx) = UnixStream::pair().unwrap();
    let file = tempfile();
    let too_many = vec![file.as_fd(); mp_wire::MAX_FDS_PER_FRAME + 1];
    assert!(matches!(
        mp_wire::send(&tx, b"x", &too_many),
        Err(Error::TooManyFds {
            count: 254,
            max: 253
        })
    ));
    let most = vec![file.as_fd(); mp_wire::MAX_FDS_PER_FRAME];
    mp_wire::send(&tx, b"x", &most).unwrap();
    let (bytes, fds) = mp_wire::recv(&rx, 16).unwrap();
    assert_eq!(bytes, b"x");
    assert_eq!(fds.len(), 253);
    assert!(fds.iter().all(|fd| file_id(fd) == file_id(&file)));
}

/// A broken frame: what is wrong, its bytes, the receiver's limit, the error it gives.
type BrokenFrame = (&'static str, Vec<u8>, usize, fn(&Error) -> bool);

/// Every way a frame can be broken, for both ways of reading.
fn broken_frames() -> Vec<BrokenFrame> {
    vec![
        ("end between frames", vec![], 10, |e| {
            matches!(e, Error::PeerClosed)
        }),
        ("end inside the header", vec![0, 0], 10, |e| {
            matches!(
                e,
                Error::Truncated {
                    expected: 4,
                    received: 2
                }
            )
        }),
        (
            "end inside the payload",
            [&[0, 0, 0, 100][..], &[1; 10]].concat(),
            1000,
            |e| {
                matches!(
                    e,
                    Error::Truncated {
                        expected: 104,
                        received: 14
                    }
                )
            },
        ),
        (
            "end inside a long header",
            vec![0xff, 0xff, 0xff, 0xff, 0],
            10,
            |e| {
                matches!(
                    e,
                    Error::Truncated {
                        expected: 12,
                        received: 5
                    }
                )
            },
        ),
        ("over the limit", vec![0, 0, 0, 11], 10, |e| {
            matches!(e, Error::MessageTooLarge { len: 11, max: 10 })
        }),
        (
            "a long length over the limit",
            [&[0xff; 4][..], &u64::MAX.to_be_bytes()].concat(),
            1 << 20,
            |e| {
                matches!(
                    e,
                    Error::MessageTooLarge {
                        len: u64::MAX,
                        max: 1_048_576
                    }
                )
            },
        ),
        ("a negative length", vec![0x80, 0, 0, 0], 10, |e| {
            matches!(
                e,
                Error::CorruptFrame {
                    fault: FrameFault::NegativeLength { prefix: i32::MIN }
                }
            )
        }),
        (
            "not a frame at all",
            b"GET / HTTP/1.1\r\n".to_vec(),
            10,
            |e| matches!(e, Error::MessageTooLarge { .. }),
        ),
    ]
}

#[test]
fn broken_frames_are_typed_errors_and_the_reader_stays_out_of_step() {
    for (what, bytes, max, expected) in broken_frames() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(&bytes).unwrap();
        drop(tx);
        let error = mp_wire::recv(&rx, max).unwrap_err();
        assert!(expected(&error), "{what}: {error:?}");

        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(&bytes).unwrap();
        drop(tx);
        let mut reader = Reader::new();
        let error = reader
            .read_header(rx.as_fd(), max)
            .and_then(|header| reader.payload_to_vec(rx.as_fd(), &header))
            .unwrap_err();
        assert!(expected(&error), "{what} (read ahead): {error:?}");
        let again = reader.read_header(rx.as_fd(), max).unwrap_err();
        if matches!(error, Error::PeerClosed) {
            assert!(matches!(again, Error::PeerClosed), "{what}: {again:?}");
        } else {
            assert!(matches!(again, Error::OutOfSync), "{what}: {again:?}");
        }
    }
}

#[test]
fn a_closed_peer_is_an_error_not_sigpipe() {
    let (tx, rx) = UnixStream::pair().unwrap();
    drop(rx);
    assert!(matches!(
        mp_wire::send(&tx, b"x", &[]),
        Err(Error::PeerClosed)
    ));
    assert!(matches!(
        mp_wire::send(&tx, &[0; 4096], &[tx.as_fd()]),
        Err(Error::PeerClosed)
    ));
}

#[test]
fn stray_descriptors_are_refused_by_decode_and_closed() {
    // A frame of the value 7u32 with a descriptor no handle claims.
    let (tx, rx) = UnixStream::pair().unwrap();
    let file = tempfile();
    let id = file_id(&file);
    let (payload, _) = mp_wire::encode(&7u32).unwrap();
    let frame = [&(payload.len() as u32).to_be_bytes()[..], &payload].concat();
    let raw = [file.as_raw_fd()];
    sendmsg::<()>(
        tx.as_raw_fd(),
        &[std::io::IoSlice::new(&frame)],
        &[ControlMessage::ScmRights(&raw)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
    drop(file);
    let (bytes, fds) = mp_wire::recv(&rx, 16).unwrap();
    assert_eq!(fds.len(), 1);
    let error = mp_wire::decode::<u32>(&bytes, fds).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Decode {
                type_name: "u32",
                fault: DecodeFault::UnclaimedFds { count: 1 }
            }
        ),
        "{error}"
    );
    let still_open = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::File::open(entry.ok()?.path()).ok())
        .any(|f| file_id(&f) == id);
    assert!(!still_open, "the stray descriptor was closed");
}

#[test]
fn sockets_are_told_apart_once() {
    let (reader, _writer) = std::io::pipe().unwrap();
    assert!(matches!(
        mp_wire::SocketKind::of(reader.as_fd()),
        Err(Error::UnsupportedSocket {
            fault: SocketFault::NotASocket
        })
    ));
    let (a, _b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    assert!(matches!(
        mp_wire::Checked::new(a.as_fd()),
        Err(Error::UnsupportedSocket {
            fault: SocketFault::NotAStream
        })
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let checked = mp_wire::Checked::new(tcp.as_fd()).unwrap();
    assert_eq!(checked.kind(), mp_wire::SocketKind::Tcp);
    assert!(!checked.passes_fds());
    assert!(matches!(
        mp_wire::send(checked, b"x", &[tcp.as_fd()]),
        Err(Error::FdsNeedUnixSocket { count: 1 })
    ));
    mp_wire::send(checked, b"over tcp", &[]).unwrap();
    assert_eq!(mp_wire::recv(&accepted, 16).unwrap().0, b"over tcp");
}

#[test]
fn python_reads_and_writes_the_same_frames() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let theirs = OwnedFd::from(theirs);
    let script = r#"
import socket, sys
from multiprocessing.connection import Connection
fd = int(sys.argv[1])
conn = Connection(fd)
for _ in range(2):
    conn.send_bytes(conn.recv_bytes()[::-1])
"#;
    let mut python = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(theirs.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .spawn_with_fd(theirs);
    mp_wire::send(&ours, b"abc", &[]).unwrap();
    assert_eq!(mp_wire::recv(&ours, 16).unwrap().0, b"cba");
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
    mp_wire::send(&ours, &big, &[]).unwrap();
    let back = mp_wire::recv(&ours, 1 << 20).unwrap().0;
    assert_eq!(back, big.iter().rev().copied().collect::<Vec<u8>>());
    assert!(python.wait().unwrap().success());
}

/// Starting Python with one descriptor left open across `exec`.
trait SpawnWithFd {
    fn spawn_with_fd(&mut self, fd: OwnedFd) -> std::process::Child;
}

impl SpawnWithFd for Command {
    fn spawn_with_fd(&mut self, fd: OwnedFd) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        let raw = fd.as_raw_fd();
        // SAFETY: the closure runs in the forked child before exec and only calls fcntl,
        // which is async-signal-safe; it touches no memory of the parent.
        unsafe {
            self.pre_exec(move || {
                let flags = libc::fcntl(raw, libc::F_GETFD);
                if flags < 0 || libc::fcntl(raw, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = self.spawn().unwrap();
        drop(fd);
        child
    }
}
