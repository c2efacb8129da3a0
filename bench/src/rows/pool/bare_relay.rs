//! The floors of `pool-apply-async`: what a round trip to another process costs through
//! the kernel alone, with no encoding, no state and no crash handling.
//!
//! - *bare relay*: the pool's own path. The caller writes to a socket of a forked child;
//!   the child's answer goes to a second socket, which a relay thread (the pool's
//!   supervisor) waits on with `poll` and reads; the relay wakes the caller, who sleeps on
//!   a condition variable. Three sleeps and three wake-ups per round trip.
//! - *bare socketpair* (the `pipe-roundtrip` row's peer, measured again here): the caller
//!   reads the child's answer itself. Two of each: the floor of a design in which a
//!   waiting caller reads its own result.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::workload::WAIT_LIMIT;
use crate::error::BenchError;
use crate::rows::pipe::{bound_reads, echo_each, fork_with};

/// The task and its answer: 16 bytes each way, about what a small `apply_async` sends.
const MESSAGE: [u8; 16] = *b"apply_async echo";

fn io_error(error: std::io::Error) -> BenchError {
    BenchError::WrongOutcome(format!("socket: {error}"))
}

/// Two connected sockets whose reads give up after [`WAIT_LIMIT`].
fn bounded_pair() -> Result<(UnixStream, UnixStream), BenchError> {
    let (one, other) = UnixStream::pair().map_err(io_error)?;
    bound_reads(&one)?;
    bound_reads(&other)?;
    Ok((one, other))
}

/// Forks a child that answers `rounds` messages read from `requests` on `replies`.
fn echo_child(
    caller: UnixStream,
    requests: UnixStream,
    relay: UnixStream,
    replies: UnixStream,
    rounds: u64,
) -> Result<((UnixStream, UnixStream), crate::fork::ForkedChild), BenchError> {
    fork_with(
        (caller, relay),
        (requests, replies),
        |(requests, replies)| {
            let (mut requests, mut replies) = (requests, replies);
            echo_each(&mut requests, &mut replies, &MESSAGE, rounds)
        },
    )
}

/// `iterations` round trips (after one warm-up) through a child and a relay thread.
pub(in crate::rows) fn relay_round_trip(iterations: u64) -> Result<Duration, BenchError> {
    let (caller, requests) = bounded_pair()?;
    let (relay, replies) = bounded_pair()?;
    let rounds = iterations + 1;
    let ((mut caller, relay), child) = echo_child(caller, requests, relay, replies, rounds)?;
    let answered = Mutex::new(0u64);
    let woken = Condvar::new();
    std::thread::scope(|scope| {
        let relay_thread = scope.spawn(|| relay_answers(&relay, rounds, &answered, &woken));
        let mut sent = 0u64;
        let round_trip = || -> Result<(), BenchError> {
            caller.write_all(&MESSAGE).map_err(io_error)?;
            sent += 1;
            let seen = answered.lock().map_err(|_| poisoned())?;
            let (seen, _) = woken
                .wait_timeout_while(seen, WAIT_LIMIT, |seen| *seen < sent)
                .map_err(|_| poisoned())?;
            if *seen < sent {
                return Err(BenchError::TimedOut {
                    what: "the relay's answer",
                    timeout: WAIT_LIMIT,
                });
            }
            Ok(())
        };
        let timed = child.time_round_trips(iterations, WAIT_LIMIT, round_trip);
        let relayed = relay_thread
            .join()
            .map_err(|_| BenchError::WrongOutcome("the relay thread panicked".into()))?;
        relayed.and(timed)
    })
}

/// The relay: `rounds` times, `poll` then read one answer, then wake the caller.
fn relay_answers(
    mut relay: &UnixStream,
    rounds: u64,
    answered: &Mutex<u64>,
    woken: &Condvar,
) -> Result<(), BenchError> {
    let mut buf = [0u8; 16];
    for _ in 0..rounds {
        let mut watched = [PollFd::new(relay.as_fd(), PollFlags::POLLIN)];
        let limit = PollTimeout::try_from(WAIT_LIMIT).unwrap_or(PollTimeout::MAX);
        match poll(&mut watched, limit) {
            Ok(0) => {
                return Err(BenchError::TimedOut {
                    what: "the child's answer",
                    timeout: WAIT_LIMIT,
                });
            }
            Ok(_) => {}
            Err(errno) => return Err(BenchError::sys("poll")(errno)),
        }
        relay.read_exact(&mut buf).map_err(io_error)?;
        if buf != MESSAGE {
            return Err(BenchError::WrongOutcome("the answer differs".into()));
        }
        *answered.lock().map_err(|_| poisoned())? += 1;
        woken.notify_one();
    }
    Ok(())
}

fn poisoned() -> BenchError {
    BenchError::WrongOutcome("a lock of the relay was poisoned".into())
}
