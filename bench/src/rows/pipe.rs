//! Pipe rows: a round trip between two processes over an `mp_ipc` pipe, and 1 MiB
//! `send_bytes` throughput, against a bare `socketpair` and Python's `multiprocessing.Pipe`.
//!
//! The child is forked after the pipe is made and keeps only its end. Unlike the children
//! of the other rows it allocates (a connection encodes and receives into buffers):
//! glibc's `fork` leaves `malloc` usable in the child of a multi-threaded parent, and
//! the connection's own locks were made by this thread and are free at the fork. Every
//! socket gets a receive timeout, so a lost peer ends a blocking read with an error
//! instead of hanging, at no cost per message.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use mp_ipc::{Connection, pipe};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

use crate::error::BenchError;
use crate::fork::{ForkedChild, SharedMapping};
use crate::row::{Contender, Goal, Row, Unit};

const SCRIPT: &str = "pipe.py";

/// Longest either process waits for the other in one read.
const WAIT_LIMIT: Duration = Duration::from_secs(5);

/// The round trip's message: 16 bytes, as the queue rows.
const SMALL: [u8; 16] = *b"sixteen bytes..!";

/// One operation of the throughput row.
const BIG: usize = 1 << 20;

/// Exit codes of the children.
const CHILD_IO_FAILED: i32 = 2;
const CHILD_WRONG_MESSAGE: i32 = 3;

/// The pipe rows.
pub fn rows() -> Vec<Row> {
    vec![round_trip(), send_bytes_1mib()]
}

fn round_trip() -> Row {
    Row {
        name: "pipe-roundtrip",
        family: "pipe",
        what: "round trip between two processes: send a 16-byte message, receive it back",
        unit: Unit::TimePer("round trip"),
        goal: Some(Goal::within(1.2, "bare socketpair")),
        contenders: vec![
            Contender::ours("mp_ipc::Connection send/recv", round_trip_typed),
            Contender::ours("mp_ipc::Connection send_bytes/recv_bytes", round_trip_bytes),
            Contender::peer("bare socketpair", round_trip_socketpair),
            Contender::python(
                "multiprocessing.Pipe send/recv",
                SCRIPT,
                "multiprocessing-pipe-roundtrip",
            ),
        ],
    }
}

fn send_bytes_1mib() -> Row {
    Row {
        name: "pipe-send-bytes-1mib",
        family: "pipe",
        what: "1 MiB messages from one process to another (send_bytes, recv_bytes_into)",
        unit: Unit::Bandwidth {
            bytes_per_op: BIG as u64,
        },
        goal: None,
        contenders: vec![
            Contender::ours("mp_ipc::Connection send_bytes", throughput_mp),
            Contender::peer("bare socketpair", throughput_socketpair),
            Contender::python(
                "multiprocessing.Pipe send_bytes",
                SCRIPT,
                "multiprocessing-pipe-send-bytes-1mib",
            ),
        ],
    }
}

fn ipc_error(error: mp_ipc::Error) -> BenchError {
    BenchError::WrongOutcome(format!("mp-ipc: {error}"))
}

fn io_error(error: std::io::Error) -> BenchError {
    BenchError::WrongOutcome(format!("socket: {error}"))
}

/// Bounds every blocking read on `socket` by [`WAIT_LIMIT`].
pub(in crate::rows) fn bound_reads(socket: impl AsFd) -> Result<(), BenchError> {
    let limit = TimeVal::new(WAIT_LIMIT.as_secs() as _, 0);
    setsockopt(&socket.as_fd(), sockopt::ReceiveTimeout, &limit)
        .map_err(BenchError::sys("setsockopt(SO_RCVTIMEO)"))
}

/// A duplex pipe whose reads are bounded.
fn bounded_pipe<T>() -> Result<(Connection<T>, Connection<T>), BenchError> {
    let (parent, child) = pipe::<T>(true).map_err(ipc_error)?;
    bound_reads(&parent)?;
    bound_reads(&child)?;
    Ok((parent, child))
}

/// Forks a child that runs `body` on its end, and closes the parent's copy of that end
/// so that the parent sees the end of the stream if the child dies. (The child keeps a
/// copy of the parent's end; harmless: its reads are bounded and it dies with the
/// parent.)
pub(in crate::rows) fn fork_with<E>(
    parent_end: E,
    child_end: E,
    body: impl FnOnce(&E) -> i32,
) -> Result<(E, ForkedChild), BenchError> {
    let nothing = SharedMapping::try_new(())?;
    let child = ForkedChild::spawn(&nothing, |()| body(&child_end))?;
    drop(child_end);
    Ok((parent_end, child))
}

fn round_trip_typed(iterations: u64) -> Result<Duration, BenchError> {
    let (parent, child_end) = bounded_pipe::<[u8; 16]>()?;
    let (parent, child) = fork_with(parent, child_end, |end| {
        for _ in 0..=iterations {
            match end.recv() {
                Ok(message) if message == SMALL => {}
                Ok(_) => return CHILD_WRONG_MESSAGE,
                Err(_) => return CHILD_IO_FAILED,
            }
            if end.send(&SMALL).is_err() {
                return CHILD_IO_FAILED;
            }
        }
        0
    })?;
    let round_trip = || -> Result<(), BenchError> {
        parent.send(&SMALL).map_err(ipc_error)?;
        if parent.recv().map_err(ipc_error)? != SMALL {
            return Err(BenchError::WrongOutcome("the reply differs".into()));
        }
        Ok(())
    };
    child.time_round_trips(iterations, WAIT_LIMIT, round_trip)
}

fn round_trip_bytes(iterations: u64) -> Result<Duration, BenchError> {
    let (parent, child_end) = bounded_pipe::<()>()?;
    let (parent, child) = fork_with(parent, child_end, |end| {
        let mut buf = [0u8; 64];
        for _ in 0..=iterations {
            match end.recv_bytes_into(&mut buf) {
                Ok(16) if buf[..16] == SMALL => {}
                Ok(_) => return CHILD_WRONG_MESSAGE,
                Err(_) => return CHILD_IO_FAILED,
            }
            if end.send_bytes(&SMALL).is_err() {
                return CHILD_IO_FAILED;
            }
        }
        0
    })?;
    let mut buf = [0u8; 64];
    let round_trip = || -> Result<(), BenchError> {
        parent.send_bytes(&SMALL).map_err(ipc_error)?;
        let len = parent.recv_bytes_into(&mut buf).map_err(ipc_error)?;
        if buf[..len] != SMALL {
            return Err(BenchError::WrongOutcome("the reply differs".into()));
        }
        Ok(())
    };
    child.time_round_trips(iterations, WAIT_LIMIT, round_trip)
}

/// A child's side of a round trip: `rounds` times, reads a 16-byte message from
/// `requests`, checks that it is `message` and writes it back to `replies`; the child's
/// exit code.
pub(in crate::rows) fn echo_each(
    requests: &mut impl Read,
    replies: &mut impl Write,
    message: &[u8; 16],
    rounds: u64,
) -> i32 {
    let mut buf = [0u8; 16];
    for _ in 0..rounds {
        if requests.read_exact(&mut buf).is_err() {
            return CHILD_IO_FAILED;
        }
        if buf != *message {
            return CHILD_WRONG_MESSAGE;
        }
        if replies.write_all(message).is_err() {
            return CHILD_IO_FAILED;
        }
    }
    0
}

pub(in crate::rows) fn round_trip_socketpair(iterations: u64) -> Result<Duration, BenchError> {
    let (parent, child_end) = UnixStream::pair().map_err(io_error)?;
    bound_reads(&parent)?;
    bound_reads(&child_end)?;
    let (mut parent, child) = fork_with(parent, child_end, |end| {
        // One socket both ways: reads and writes through two copies of the reference.
        let (mut requests, mut replies) = (end, end);
        echo_each(&mut requests, &mut replies, &SMALL, iterations + 1)
    })?;
    let mut buf = [0u8; 16];
    let round_trip = || -> Result<(), BenchError> {
        parent.write_all(&SMALL).map_err(io_error)?;
        parent.read_exact(&mut buf).map_err(io_error)?;
        if buf != SMALL {
            return Err(BenchError::WrongOutcome("the reply differs".into()));
        }
        Ok(())
    };
    child.time_round_trips(iterations, WAIT_LIMIT, round_trip)
}

/// The byte at `index` of every big message: a pattern the receiver checks in part.
fn pattern(index: usize) -> u8 {
    (index % 251) as u8
}

fn throughput_mp(iterations: u64) -> Result<Duration, BenchError> {
    let (parent, child_end) = bounded_pipe::<()>()?;
    let message: Vec<u8> = (0..BIG).map(pattern).collect();
    let (parent, child) = fork_with(parent, child_end, |end| {
        let mut buf = vec![0u8; BIG];
        for _ in 0..=iterations {
            match end.recv_bytes_into(&mut buf) {
                Ok(BIG) if buf[BIG - 1] == pattern(BIG - 1) && buf[12345] == pattern(12345) => {}
                Ok(_) => return CHILD_WRONG_MESSAGE,
                Err(_) => return CHILD_IO_FAILED,
            }
        }
        if end.send_bytes(b"done").is_err() {
            return CHILD_IO_FAILED;
        }
        0
    })?;
    // One warm-up message, then the timed ones and the child's acknowledgement.
    parent.send_bytes(&message).map_err(ipc_error)?;
    let start = Instant::now();
    for _ in 0..iterations {
        parent.send_bytes(&message).map_err(ipc_error)?;
    }
    let done = parent.recv_bytes().map_err(ipc_error)?;
    let elapsed = start.elapsed();
    if done != b"done" {
        return Err(BenchError::WrongOutcome("no acknowledgement".into()));
    }
    child.reap(WAIT_LIMIT)?;
    Ok(elapsed)
}

fn throughput_socketpair(iterations: u64) -> Result<Duration, BenchError> {
    let (parent, child_end) = UnixStream::pair().map_err(io_error)?;
    bound_reads(&parent)?;
    bound_reads(&child_end)?;
    let message: Vec<u8> = (0..BIG).map(pattern).collect();
    let (mut parent, child) = fork_with(parent, child_end, |end| {
        let mut end = end;
        let mut buf = vec![0u8; BIG];
        for _ in 0..=iterations {
            if end.read_exact(&mut buf).is_err() {
                return CHILD_IO_FAILED;
            }
            if buf[BIG - 1] != pattern(BIG - 1) || buf[12345] != pattern(12345) {
                return CHILD_WRONG_MESSAGE;
            }
        }
        if end.write_all(b"done").is_err() {
            return CHILD_IO_FAILED;
        }
        0
    })?;
    parent.write_all(&message).map_err(io_error)?;
    let start = Instant::now();
    for _ in 0..iterations {
        parent.write_all(&message).map_err(io_error)?;
    }
    let mut done = [0u8; 4];
    parent.read_exact(&mut done).map_err(io_error)?;
    let elapsed = start.elapsed();
    if &done != b"done" {
        return Err(BenchError::WrongOutcome("no acknowledgement".into()));
    }
    child.reap(WAIT_LIMIT)?;
    Ok(elapsed)
}
