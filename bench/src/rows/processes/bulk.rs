//! The `process-args-16mib` row: a child started with the default start method, given
//! a 16 MiB `Vec<u8>` and joined for a 16 MiB `Vec<u8>`.
//!
//! Ours hands the child the vector, the child bumps its first byte and returns it, and
//! the vector that comes back is the argument of the next child, so no copy is made
//! outside the library and the first byte checks that every child ran. The bound is
//! the same start with a `u64` in and out (the child of the start rows) plus two
//! `memcpy`s of 16 MiB between buffers allocated and touched before the clock runs:
//! what moving the bytes there and back costs at least. It leaves out what no fresh
//! process escapes: faulting in the 16 MiB it decodes the argument into.
//!
//! Both ways, the 16 MiB go through a sealed memfd (mp-processes does so from 1 MiB
//! on), not through the socket. A second peer measures that path's floor in this one
//! process, with mp-sys's calls alone: the same empty start, then twice the 16 MiB
//! written into a new memfd, sealed, mapped and copied into a new vector. Sealing is what
//! keeps a sender from changing the bytes under the receiver, and a sealed file cannot be
//! reused, so its pages are allocated, zeroed, faulted in and freed on every transfer.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mp_processes::{Process, ProcessHandle};

use super::workload::{WAIT_LIMIT, child_error};
use crate::error::BenchError;

/// The size of the argument and of the result.
pub(super) const PAYLOAD_LEN: usize = 16 << 20;

/// The child's target: the bytes back, their first one bumped.
fn bump_first(mut bytes: Vec<u8>) -> Vec<u8> {
    if let Some(first) = bytes.first_mut() {
        *first = first.wrapping_add(1);
    }
    bytes
}

/// The target of the bound's child: a `u64` in and out, as the start rows' children.
fn echo(n: u64) -> u64 {
    n
}

/// Joins `child` within [`WAIT_LIMIT`] (killing it past that).
fn join<R: serde::Serialize + serde::de::DeserializeOwned + 'static>(
    child: &ProcessHandle<R>,
) -> Result<R, BenchError> {
    match child.join_timeout(WAIT_LIMIT) {
        Ok(value) => Ok(value),
        Err(mp_processes::Error::TimedOut) => {
            let _ = child.kill();
            let _ = child.join_timeout(Duration::from_secs(5));
            Err(BenchError::TimedOut {
                what: "a child to return",
                timeout: WAIT_LIMIT,
            })
        }
        Err(e) => Err(child_error("a child to return")(e.to_string())),
    }
}

/// One child given `bytes`, joined for them: checks that they came back whole with
/// their first byte bumped.
fn round_trip(bytes: Vec<u8>) -> Result<Vec<u8>, BenchError> {
    let expected = bytes.first().map(|first| first.wrapping_add(1));
    let child = Process::new(bump_first, (bytes,))
        .start()
        .map_err(|e| child_error("a child to start")(e.to_string()))?;
    let back = join(&child)?;
    if back.len() != PAYLOAD_LEN || back.first().copied() != expected {
        return Err(BenchError::WrongOutcome(format!(
            "child {} returned {} bytes starting with {:?}, expected {PAYLOAD_LEN} starting with {expected:?}",
            child.pid(),
            back.len(),
            back.first()
        )));
    }
    Ok(back)
}

/// Ours: `iterations` children, each given the 16 MiB its predecessor returned.
pub(super) fn args_round_trip(iterations: u64) -> Result<Duration, BenchError> {
    // Outside the clock: the first start pays the forkserver's.
    let mut bytes = round_trip(vec![7; PAYLOAD_LEN])?;
    let clock = Instant::now();
    for _ in 0..iterations {
        bytes = round_trip(bytes)?;
    }
    Ok(clock.elapsed())
}

/// One start and join of a child with `n` in and out, as the start rows' children.
fn empty_start(n: u64) -> Result<(), BenchError> {
    let child = Process::new(echo, (n,))
        .start()
        .map_err(|e| child_error("a child to start")(e.to_string()))?;
    match join(&child)? {
        value if value == n => Ok(()),
        value => Err(BenchError::WrongOutcome(format!(
            "child {} returned {value} instead of {n}",
            child.pid()
        ))),
    }
}

/// The bound: `iterations` times, a start and join with a `u64` in and out, then two
/// 16 MiB `memcpy`s between touched buffers.
pub(super) fn start_join_and_two_copies(iterations: u64) -> Result<Duration, BenchError> {
    let mut there = vec![1u8; PAYLOAD_LEN];
    let mut back = vec![2u8; PAYLOAD_LEN];
    empty_start(u64::MAX)?;
    let clock = Instant::now();
    for n in 0..iterations {
        empty_start(n)?;
        there.copy_from_slice(black_box(&back));
        back.copy_from_slice(black_box(&there));
        black_box((&mut there, &mut back));
    }
    Ok(clock.elapsed())
}

/// One 16 MiB transfer by mp-sys's calls alone: `bytes` written into a new memfd and
/// sealed, then mapped and copied into a new vector (the mapping and file then closed).
fn sealed_transfer(bytes: &[u8]) -> Result<Vec<u8>, BenchError> {
    let sealed = mp_sys::sealed::seal(bytes).map_err(|e| sealing_error(&e))?;
    let mapped =
        mp_sys::sealed::SealedBytes::open(sealed, bytes.len()).map_err(|e| sealing_error(&e))?;
    Ok(mp_sys::copy::to_vec(&mapped))
}

fn sealing_error(error: &mp_sys::Error) -> BenchError {
    BenchError::WrongOutcome(format!("a sealed transfer by hand: {error}"))
}

/// The floor of the sealed-memfd path: `iterations` times, a start and join with a
/// `u64` in and out, then the 16 MiB there and back by [`sealed_transfer`].
pub(super) fn start_join_and_two_sealed_transfers(iterations: u64) -> Result<Duration, BenchError> {
    let mut bytes = vec![3u8; PAYLOAD_LEN];
    empty_start(u64::MAX)?;
    let clock = Instant::now();
    for n in 0..iterations {
        empty_start(n)?;
        let there = sealed_transfer(black_box(&bytes))?;
        bytes = sealed_transfer(black_box(&there))?;
    }
    let elapsed = clock.elapsed();
    if bytes.len() != PAYLOAD_LEN || bytes.iter().any(|byte| *byte != 3) {
        return Err(BenchError::WrongOutcome(
            "the sealed transfers changed the bytes".into(),
        ));
    }
    Ok(elapsed)
}
