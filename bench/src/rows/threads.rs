//! Thread rows: starting and joining a thread, the thread pool (one task at a
//! time, batches, `map`), and the thread queues (1 producer 1 consumer, 4 x 4).
//!
//! Pools on every side have [`WORKERS`] threads, all started before the clock
//! runs. Every wait is bounded: ours and the crossbeam peers wait with their
//! `_timeout` forms; a std `join` only ever waits for a target that cannot block.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::row::{Contender, Row, Unit};

mod pool;
mod queues;

/// The thread rows, in table order.
pub fn rows() -> Vec<Row> {
    let mut rows = vec![start_join()];
    rows.extend(pool::rows());
    rows.extend(queues::rows());
    rows
}

/// Threads of every pool measured (ours, the peers' and Python's), as the
/// design's `ThreadPool::new(4)`.
const WORKERS: usize = 4;

/// Longest any single wait of a measurement (a result, an item, a join) may take.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Longest the threads of a measurement may take to report ready.
const START_LIMIT: Duration = Duration::from_secs(10);

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

/// The target of every thread started: trivial, and its value checks the join.
fn plus_one(n: u64) -> u64 {
    n + 1
}

fn start_join_mp_threads(iterations: u64) -> Result<Duration, BenchError> {
    let mut sum = 0u64;
    let start = Instant::now();
    for n in 0..iterations {
        let mut handle = mp_threads::Thread::new(plus_one, (n,))
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

/// Turns an mp-threads error into the harness's: a timeout names what was
/// awaited, a thread the OS refused stays a start failure, and anything else
/// (a panicked or cancelled task, a shut-down pool or queue) means the work
/// was not done, so no figure.
fn threads_error(awaited: &'static str) -> impl FnOnce(mp_threads::Error) -> BenchError {
    move |error| match error {
        mp_threads::Error::TimedOut => BenchError::TimedOut {
            what: awaited,
            timeout: WAIT_LIMIT,
        },
        mp_threads::Error::Spawn { ref source, .. } => {
            BenchError::Thread(std::io::Error::new(source.kind(), error.to_string()))
        }
        other => BenchError::WrongOutcome(format!("mp-threads, waiting for {awaited}: {other}")),
    }
}

fn expect_sum(sum: u64, expected: u64) -> Result<(), BenchError> {
    if sum == expected {
        Ok(())
    } else {
        Err(BenchError::WrongOutcome(format!(
            "results add up to {sum}, expected {expected}"
        )))
    }
}

/// The work of one thread of a measurement.
type Work<'scope> = Box<dyn FnOnce() -> Result<(), BenchError> + Send + 'scope>;

/// Runs every closure of `works` on its own thread, releases them together once
/// all are running, and returns the time from the release until the last one
/// finished. The first error of any of them is the outcome.
fn released_together(works: Vec<Work<'_>>) -> Result<Duration, BenchError> {
    let count = works.len();
    let ready = AtomicUsize::new(0);
    let go = AtomicBool::new(false);
    let abort = AtomicBool::new(false);
    let (ready, go, abort) = (&ready, &go, &abort);
    thread::scope(|scope| {
        let mut handles = Vec::with_capacity(count);
        for work in works {
            let spawned = thread::Builder::new()
                .name("bench-thread".into())
                .spawn_scoped(scope, move || {
                    ready.fetch_add(1, Ordering::AcqRel);
                    while !go.load(Ordering::Acquire) {
                        if abort.load(Ordering::Acquire) {
                            return Ok(());
                        }
                        thread::yield_now();
                    }
                    work()
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // The threads already started see the abort and return; the
                    // scope joins them.
                    abort.store(true, Ordering::Release);
                    return Err(BenchError::Thread(e));
                }
            }
        }
        let deadline = Instant::now() + START_LIMIT;
        while ready.load(Ordering::Acquire) < count {
            if Instant::now() >= deadline {
                abort.store(true, Ordering::Release);
                return Err(BenchError::TimedOut {
                    what: "the measurement's threads to start",
                    timeout: START_LIMIT,
                });
            }
            thread::yield_now();
        }
        let start = Instant::now();
        go.store(true, Ordering::Release);
        let outcomes: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        let elapsed = start.elapsed();
        for outcome in outcomes {
            outcome.map_err(|_| BenchError::WrongOutcome("a thread panicked".into()))??;
        }
        Ok(elapsed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_sum_is_an_error() {
        assert!(expect_sum(10, 10).is_ok());
        assert!(matches!(
            expect_sum(9, 10),
            Err(BenchError::WrongOutcome(message)) if message.contains("expected 10")
        ));
    }

    #[test]
    fn threads_errors_keep_their_meaning() {
        let timed_out = threads_error("x")(mp_threads::Error::TimedOut);
        assert!(matches!(timed_out, BenchError::TimedOut { what: "x", .. }));
        let cancelled = threads_error("y")(mp_threads::Error::Cancelled);
        assert!(matches!(cancelled, BenchError::WrongOutcome(m) if m.contains("cancelled")));
    }

    #[test]
    fn released_together_reports_the_first_failure() {
        let works: Vec<Work<'_>> = vec![
            Box::new(|| Ok(())),
            Box::new(|| Err(BenchError::WrongOutcome("lost".into()))),
        ];
        assert!(matches!(
            released_together(works),
            Err(BenchError::WrongOutcome(m)) if m == "lost"
        ));
    }

    #[test]
    fn released_together_runs_the_works_at_the_same_time() {
        // Each work waits for all the others: run one after another, they would
        // break the barrier by timing out.
        let barrier = mp_sync::Barrier::new(3).expect("three parties");
        let ran = AtomicUsize::new(0);
        let works: Vec<Work<'_>> = (0..3)
            .map(|_| -> Work<'_> {
                Box::new(|| {
                    barrier.wait_timeout(WAIT_LIMIT)?;
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
            })
            .collect();
        released_together(works).expect("three concurrent works meet at the barrier");
        assert_eq!(ran.load(Ordering::SeqCst), 3);
    }
}
