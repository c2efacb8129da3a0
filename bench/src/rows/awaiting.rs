//! Async rows: the `async` features of mp-sync, mp-threads and mp-processes, awaited
//! from a task of a one-thread tokio runtime.
//!
//! - `event-async-wake`: a thread sets an `Event`; a task awaiting it wakes, clears it and
//!   answers on a second `Event` the thread waits for (blocking). One operation is one
//!   round trip. Ours awaits through mp-sys's reactor; the peers are what a tokio user
//!   would otherwise write: `tokio::sync::Notify` (in-process only, no futex word: the
//!   floor of an in-process async wake-up), or a blocking wait handed to
//!   `spawn_blocking` (a thread parked per waiter, which the reactor avoids).
//! - `thread-pool-submit-await`: a task submits a trivial function to a 4-worker pool and
//!   awaits its result. Ours: `ThreadPool::submit(..).await`; the peer: tokio's own
//!   blocking pool (`spawn_blocking`, capped at 4 threads); Python:
//!   `await loop.run_in_executor(ThreadPoolExecutor(4), f)`. All three have their 4
//!   threads started before the clock runs (4 tasks meet at a barrier): pools that
//!   start threads lazily would otherwise be measured while they grow, at a pace set by
//!   races between a result and the next submit.
//! - `process-join-async`: a task starts a forked child that returns at once and awaits
//!   its join. Ours: `ProcessHandle::join_async` (woken by mp-sys's reactor when the
//!   child's pidfd turns readable); the peers: the blocking `join` on a plain thread (no
//!   runtime: the floor), and the blocking `join` handed to `spawn_blocking`; Python:
//!   `await loop.run_in_executor(None, p.join)` on a fork-context `Process`.
//!
//! The runtime runs on a thread of its own, started and joined around each measurement;
//! every await is bounded by [`WAIT_LIMIT`], and so is every blocking wait.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_processes::{Process, ProcessHandle, StartMethod};
use mp_sync::Event;
use tokio::sync::Notify;

use crate::error::BenchError;
use crate::row::{Contender, Row, Unit};
use crate::rows::threads::pool::warm_pool;

/// The async rows.
pub fn rows() -> Vec<Row> {
    vec![
        event_async_wake(),
        pool_submit_await(),
        process_join_async(),
    ]
}

/// Longest any single wait of a measurement may take.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Threads of the pools measured.
const WORKERS: usize = 4;

fn event_async_wake() -> Row {
    Row {
        name: "event-async-wake",
        family: "async",
        what: "a thread sets an event, an async task awaiting it wakes and answers through an Event the thread waits on (a round trip)",
        unit: Unit::TimePer("round trip"),
        goal: None,
        contenders: vec![
            Contender::ours("Event::wait_async (reactor)", wake_event_async),
            Contender::peer("tokio::sync::Notify", wake_notify),
            Contender::peer("spawn_blocking(Event::wait)", wake_spawn_blocking),
            Contender::python(
                "asyncio.Event via call_soon_threadsafe",
                "awaiting.py",
                "event-async-wake",
            ),
        ],
    }
}

fn pool_submit_await() -> Row {
    Row {
        name: "thread-pool-submit-await",
        family: "async",
        what: "an async task submits one trivial function to a 4-worker pool and awaits its result",
        unit: Unit::TimePer("submit+await"),
        goal: None,
        contenders: vec![
            Contender::ours("ThreadPool::submit(..).await", submit_await_thread_pool),
            Contender::peer(
                "tokio spawn_blocking (4 threads)",
                submit_await_spawn_blocking,
            ),
            Contender::python(
                "loop.run_in_executor(ThreadPoolExecutor)",
                "awaiting.py",
                "thread-pool-submit-await",
            ),
        ],
    }
}

fn process_join_async() -> Row {
    Row {
        name: "process-join-async",
        family: "async",
        what: "an async task starts a forked child that returns at once and awaits its join",
        unit: Unit::TimePer("start+join"),
        goal: None,
        contenders: vec![
            Contender::ours("ProcessHandle::join_async (reactor)", join_async),
            Contender::peer("blocking join, no runtime", join_blocking),
            Contender::peer("spawn_blocking(join)", join_spawn_blocking),
            Contender::python(
                "run_in_executor(None, p.join)",
                "awaiting.py",
                "process-join-async",
            ),
        ],
    }
}

/// The target of every child: trivial, and its value checks the round trip.
fn echo(n: u64) -> u64 {
    n
}

/// Starts `echo(n)` in a forked child.
fn start_echo(n: u64) -> Result<ProcessHandle<u64>, BenchError> {
    Process::new(echo, (n,))
        .start_method(StartMethod::Fork)
        .start()
        .map_err(|e| BenchError::WrongOutcome(format!("a child to start: {e}")))
}

/// Checks a child's value; on a failed join, kills and reaps the child first.
fn joined(
    child: &ProcessHandle<u64>,
    value: Result<u64, mp_processes::Error>,
    n: u64,
) -> Result<(), BenchError> {
    match value {
        Ok(value) if value == n => Ok(()),
        Ok(value) => Err(BenchError::WrongOutcome(format!(
            "child {} returned {value} instead of {n}",
            child.pid()
        ))),
        Err(e) => {
            let _ = child.kill();
            let _ = child.join_timeout(WAIT_LIMIT);
            Err(BenchError::WrongOutcome(format!("a child to return: {e}")))
        }
    }
}

/// Kills and reaps `child` after an await that timed out.
fn stop(child: &ProcessHandle<u64>) {
    let _ = child.kill();
    let _ = child.join_timeout(WAIT_LIMIT);
}

/// Starts `echo(n)` and awaits its join.
async fn start_and_await(n: u64) -> Result<(), BenchError> {
    let child = start_echo(n)?;
    match bounded("a child to return", child.join_async()).await {
        Ok(value) => joined(&child, value, n),
        Err(e) => {
            stop(&child);
            Err(e)
        }
    }
}

fn join_async(iterations: u64) -> Result<Duration, BenchError> {
    runtime()?.block_on(async {
        // Outside the clock: the first fork and the reactor's thread start.
        start_and_await(u64::MAX).await?;
        let start = Instant::now();
        for n in 0..iterations {
            start_and_await(n).await?;
        }
        Ok(start.elapsed())
    })
}

fn join_blocking(iterations: u64) -> Result<Duration, BenchError> {
    let warm_up = start_echo(u64::MAX)?;
    joined(&warm_up, warm_up.join_timeout(WAIT_LIMIT), u64::MAX)?;
    let start = Instant::now();
    for n in 0..iterations {
        let child = start_echo(n)?;
        joined(&child, child.join_timeout(WAIT_LIMIT), n)?;
    }
    Ok(start.elapsed())
}

fn join_spawn_blocking(iterations: u64) -> Result<Duration, BenchError> {
    let join_error = |e: tokio::task::JoinError| BenchError::WrongOutcome(format!("a task: {e}"));
    runtime()?.block_on(async {
        let mut start = Instant::now();
        for n in std::iter::once(u64::MAX).chain(0..iterations) {
            if n == 0 {
                // The warm-up child is done: the clock runs from here.
                start = Instant::now();
            }
            let child = Arc::new(start_echo(n)?);
            let waiter = Arc::clone(&child);
            let value = bounded(
                "a child to return",
                tokio::task::spawn_blocking(move || waiter.join_timeout(WAIT_LIMIT)),
            )
            .await?
            .map_err(join_error)?;
            joined(&child, value, n)?;
        }
        Ok(start.elapsed())
    })
}

/// A one-thread tokio runtime whose blocking pool has at most [`WORKERS`] threads.
fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .max_blocking_threads(WORKERS)
        .build()
        .map_err(BenchError::Thread)
}

/// Awaits `future`, failing after [`WAIT_LIMIT`].
async fn bounded<F: IntoFuture>(what: &'static str, future: F) -> Result<F::Output, BenchError> {
    tokio::time::timeout(WAIT_LIMIT, future)
        .await
        .map_err(|_| BenchError::TimedOut {
            what,
            timeout: WAIT_LIMIT,
        })
}

/// The round trip of `event-async-wake`, with `ping` the way the thread wakes the task.
///
/// `serve` runs on the runtime's thread: it awaits one ping per iteration, then sets
/// `pong`. This thread times `iterations` rounds of `ping`, then a blocking wait for `pong`.
fn round_trips<S, Fut>(iterations: u64, ping: impl Fn(), serve: S) -> Result<Duration, BenchError>
where
    S: FnOnce(Arc<Event>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BenchError>>,
{
    let pong = Arc::new(Event::new());
    let runtime = runtime()?;
    let server = {
        let pong = Arc::clone(&pong);
        std::thread::Builder::new()
            .name("bench-async-server".into())
            .spawn(move || runtime.block_on(serve(pong)))
            .map_err(BenchError::Thread)?
    };
    let mut outcome = Ok(());
    let start = Instant::now();
    for _ in 0..iterations {
        ping();
        if pong.wait_timeout(WAIT_LIMIT).is_err() {
            outcome = Err(BenchError::TimedOut {
                what: "the async task's answer",
                timeout: WAIT_LIMIT,
            });
            break;
        }
        pong.clear();
    }
    let elapsed = start.elapsed();
    // The server ends by itself: after its last round, or at its own bounded wait.
    let served = server
        .join()
        .map_err(|_| BenchError::WrongOutcome("the async server panicked".into()))?;
    outcome.and(served).map(|()| elapsed)
}

fn wake_event_async(iterations: u64) -> Result<Duration, BenchError> {
    let ping = Arc::new(Event::new());
    let served = Arc::clone(&ping);
    round_trips(
        iterations,
        || ping.set(),
        move |pong| async move {
            for _ in 0..iterations {
                bounded("a ping", served.wait_async()).await?;
                served.clear();
                pong.set();
            }
            Ok(())
        },
    )
}

fn wake_notify(iterations: u64) -> Result<Duration, BenchError> {
    let ping = Arc::new(Notify::new());
    let served = Arc::clone(&ping);
    round_trips(
        iterations,
        // A permit is kept when the task is not waiting yet: no wake-up is lost.
        || ping.notify_one(),
        move |pong| async move {
            for _ in 0..iterations {
                bounded("a ping", served.notified()).await?;
                pong.set();
            }
            Ok(())
        },
    )
}

fn wake_spawn_blocking(iterations: u64) -> Result<Duration, BenchError> {
    let ping = Arc::new(Event::new());
    let served = Arc::clone(&ping);
    round_trips(
        iterations,
        || ping.set(),
        move |pong| async move {
            for _ in 0..iterations {
                let waiter = Arc::clone(&served);
                let woken =
                    tokio::task::spawn_blocking(move || waiter.wait_timeout(WAIT_LIMIT).is_ok())
                        .await
                        .map_err(|e| BenchError::WrongOutcome(format!("the blocking wait: {e}")))?;
                if !woken {
                    return Err(BenchError::TimedOut {
                        what: "a ping",
                        timeout: WAIT_LIMIT,
                    });
                }
                served.clear();
                pong.set();
            }
            Ok(())
        },
    )
}

fn plus_one(n: u64) -> u64 {
    n + 1
}

fn expect_sum(sum: u64, iterations: u64) -> Result<(), BenchError> {
    let expected = iterations * (iterations + 1) / 2;
    if sum == expected {
        Ok(())
    } else {
        Err(BenchError::WrongOutcome(format!(
            "results add up to {sum}, expected {expected}"
        )))
    }
}

fn submit_await_thread_pool(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let pool_error = |e: mp_threads::Error| BenchError::WrongOutcome(format!("a pool task: {e}"));
    runtime()?.block_on(async {
        let mut sum = 0;
        let start = Instant::now();
        for n in 0..iterations {
            let task = pool.submit(plus_one, (n,)).map_err(pool_error)?;
            sum += bounded("a pool task", task).await?.map_err(pool_error)?;
        }
        let elapsed = start.elapsed();
        expect_sum(sum, iterations)?;
        Ok(elapsed)
    })
}

fn submit_await_spawn_blocking(iterations: u64) -> Result<Duration, BenchError> {
    let join_error = |e: tokio::task::JoinError| BenchError::WrongOutcome(format!("a task: {e}"));
    runtime()?.block_on(async {
        // All its threads started, as ours: tasks that meet at a barrier, which they
        // pass only once that many threads run at once.
        let barrier = Arc::new(mp_sync::Barrier::new(WORKERS as u32)?);
        let meetings: Vec<_> = (0..WORKERS)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                tokio::task::spawn_blocking(move || barrier.wait_timeout(WAIT_LIMIT).is_ok())
            })
            .collect();
        for meeting in meetings {
            let met = bounded("a warm-up task", meeting)
                .await?
                .map_err(join_error)?;
            if !met {
                return Err(BenchError::WrongOutcome(format!(
                    "spawn_blocking did not run {WORKERS} warm-up tasks at once"
                )));
            }
        }
        let mut sum = 0;
        let start = Instant::now();
        for n in 0..iterations {
            let task = tokio::task::spawn_blocking(move || plus_one(n));
            sum += bounded("a blocking task", task)
                .await?
                .map_err(join_error)?;
        }
        let elapsed = start.elapsed();
        expect_sum(sum, iterations)?;
        Ok(elapsed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::How;

    #[test]
    fn every_rust_contender_runs() {
        for row in rows() {
            for contender in &row.contenders {
                if let How::Rust(measure) = &contender.how {
                    let took = measure(50);
                    assert!(
                        took.is_ok(),
                        "{} / {}: {:?}",
                        row.name,
                        contender.label,
                        took.err()
                    );
                }
            }
        }
    }
}
