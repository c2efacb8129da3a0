//! Thread rows: starting and joining a thread, the thread pool (one task at a
//! time, batches, `map`), and the thread queues (1 producer 1 consumer, 4 x 4).
//!
//! Pools on every side have [`WORKERS`](workload::WORKERS) threads, all started before
//! the clock runs. Every wait is bounded: ours and the crossbeam peers wait with their
//! `_timeout` forms; a std `join` only ever waits for a target that cannot block.

use std::thread;
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::row::{Contender, Row, Unit};

pub(super) mod pool;
mod queues;
mod workload;

use workload::{WAIT_LIMIT, expect_sum, plus_one, threads_error};

/// The thread rows, in table order.
pub fn rows() -> Vec<Row> {
    let mut rows = vec![start_join()];
    rows.extend(pool::rows());
    rows.extend(queues::rows());
    rows
}

fn start_join() -> Row {
    Row {
        name: "thread-start-join",
        family: "threads",
        what: "start a thread running a trivial target with one argument, then join it for its return value",
        unit: Unit::TimePer("start+join"),
        goal: None,
        contenders: vec![
            Contender::ours("mp_threads::Thread", start_join_mp_threads),
            Contender::peer("std::thread::Builder::spawn", start_join_std),
            Contender::python("threading.Thread", "threads.py", "thread-start-join"),
        ],
    }
}

fn start_join_mp_threads(iterations: u64) -> Result<Duration, BenchError> {
    let mut sum = 0u64;
    let start = Instant::now();
    for n in 0..iterations {
        let handle = mp_threads::Thread::new(plus_one, (n,))
            .start()
            .map_err(threads_error("a thread to start"))?;
        sum += handle
            .join_timeout(WAIT_LIMIT)
            .map_err(threads_error("a thread to finish"))?;
    }
    let elapsed = start.elapsed();
    expect_sum(sum, iterations * (iterations + 1) / 2)?;
    Ok(elapsed)
}

fn start_join_std(iterations: u64) -> Result<Duration, BenchError> {
    let mut sum = 0u64;
    let start = Instant::now();
    for n in 0..iterations {
        let handle = thread::Builder::new()
            .spawn(move || plus_one(n))
            .map_err(BenchError::Thread)?;
        sum += handle
            .join()
            .map_err(|_| BenchError::WrongOutcome("a thread panicked".into()))?;
    }
    let elapsed = start.elapsed();
    expect_sum(sum, iterations * (iterations + 1) / 2)?;
    Ok(elapsed)
}
