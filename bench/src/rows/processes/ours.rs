//! Ours: `Process::new(echo, (n,)).start_method(method).start()?`, joined for `n`.

use std::time::{Duration, Instant};

use mp_processes::{Error, Process, ProcessHandle, StartMethod};

use super::workload::{WAIT_LIMIT, WAVE, child_error, waves};
use crate::error::BenchError;

/// The target of every child: trivial, and its value checks the round trip.
fn echo(n: u64) -> u64 {
    n
}

/// Starts `echo(n)` in a child with `method`.
fn start(method: StartMethod, n: u64) -> Result<ProcessHandle<u64>, BenchError> {
    Process::new(echo, (n,))
        .start_method(method)
        .start()
        .map_err(|e| child_error("a child to start")(e.to_string()))
}

/// Joins `child` (at most [`WAIT_LIMIT`], then kills it) and checks that it returned
/// `n` and was reaped with exit code 0.
fn finish(child: &ProcessHandle<u64>, n: u64) -> Result<(), BenchError> {
    let value = match child.join_timeout(WAIT_LIMIT) {
        Ok(value) => value,
        Err(Error::TimedOut) => {
            stop(child);
            return Err(BenchError::TimedOut {
                what: "a child to return",
                timeout: WAIT_LIMIT,
            });
        }
        Err(e) => return Err(child_error("a child to return")(e.to_string())),
    };
    if value != n {
        return Err(BenchError::WrongOutcome(format!(
            "child {} returned {value} instead of {n}",
            child.pid()
        )));
    }
    match child.exitcode() {
        Some(0) => Ok(()),
        other => Err(BenchError::WrongOutcome(format!(
            "child {} returned but its exit code is {other:?}",
            child.pid()
        ))),
    }
}

/// Kills `child` and reaps it, on a path that has already failed: its outcome is
/// not needed, only that it does not outlive the measurement.
fn stop(child: &ProcessHandle<u64>) {
    let _ = child.kill();
    // A SIGKILLed child ends at once; the bound only guards against the impossible.
    let _ = child.join_timeout(Duration::from_secs(5));
}

/// `iterations` times: start a child, join it.
pub(super) fn start_join(method: StartMethod, iterations: u64) -> Result<Duration, BenchError> {
    // Outside the clock: the first start of a method pays its one-time costs.
    finish(&start(method, u64::MAX)?, u64::MAX)?;
    let clock = Instant::now();
    for n in 0..iterations {
        finish(&start(method, n)?, n)?;
    }
    Ok(clock.elapsed())
}

/// `iterations` children, in waves: start a whole wave, then join all of it.
pub(super) fn start_join_waves(
    method: StartMethod,
    iterations: u64,
) -> Result<Duration, BenchError> {
    finish(&start(method, u64::MAX)?, u64::MAX)?;
    let mut first = 0;
    let clock = Instant::now();
    for size in waves(iterations) {
        let numbers = first..first + size;
        first += size;
        let mut wave = Vec::with_capacity(WAVE as usize);
        for n in numbers {
            match start(method, n) {
                Ok(child) => wave.push((child, n)),
                Err(e) => {
                    wave.iter().for_each(|(child, _)| stop(child));
                    return Err(e);
                }
            }
        }
        for (index, (child, n)) in wave.iter().enumerate() {
            if let Err(e) = finish(child, *n) {
                wave[index + 1..].iter().for_each(|(child, _)| stop(child));
                return Err(e);
            }
        }
    }
    Ok(clock.elapsed())
}
