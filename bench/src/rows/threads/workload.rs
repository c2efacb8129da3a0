//! What every thread contender of the rows shares, below them all: the limits of a
//! measurement, the target the threads run, the check of what comes back, and the
//! release of a measurement's threads together. The contenders and the row table import
//! this; it imports none of them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// Threads of every pool measured (ours, the peers' and Python's), as the
/// design's `ThreadPool::new(4)`.
pub(super) const WORKERS: usize = 4;

/// Longest any single wait of a measurement (a result, an item, a join) may take.
pub(super) const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Longest the threads of a measurement may take to report ready.
const START_LIMIT: Duration = Duration::from_secs(10);

/// The target of every thread started: trivial, and its value checks the join.
pub(super) fn plus_one(n: u64) -> u64 {
    n + 1
}

/// Turns an mp-threads error into the harness's: a timeout names what was
/// awaited, a thread the OS refused stays a start failure, and anything else
/// (a panicked or cancelled task, a shut-down pool or queue) means the work
/// was not done, so no figure.
pub(super) fn threads_error(awaited: &'static str) -> impl FnOnce(mp_threads::Error) -> BenchError {
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

pub(super) fn expect_sum(sum: u64, expected: u64) -> Result<(), BenchError> {
    if sum == expected {
        Ok(())
    } else {
        Err(BenchError::WrongOutcome(format!(
            "results add up to {sum}, expected {expected}"
        )))
    }
}

/// The work of one thread of a measurement.
pub(super) type Work<'scope> = Box<dyn FnOnce() -> Result<(), BenchError> + Send + 'scope>;

/// Runs every closure of `works` on its own thread, releases them together once
/// all are running, and returns the time from the release until the last one
/// finished. The first error of any of them is the outcome.
pub(super) fn released_together(works: Vec<Work<'_>>) -> Result<Duration, BenchError> {
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
