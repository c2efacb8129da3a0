//! procspawn's pool: `procspawn::Pool::spawn` per task, joined with `join_timeout`.
//!
//! procspawn re-executes the binary for each worker, and the worker picks the calls
//! up in `procspawn::init()`, which the bench's `main` calls first thing (under
//! `cargo test`, the processes family's `enable_test_support!` serves the same
//! purpose). A pooled handle's `join_timeout` waits on a channel, so, unlike a lone
//! child's, it adds no polling sleeps to the figure.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use procspawn::{JoinHandle, Pool};

use super::deadline::Deadline;
use super::workload::{WAIT_LIMIT, WINDOW, WORKERS, batches, double, echo, expect_mapped};
use crate::error::BenchError;

/// A procspawn error, as the harness reports a failed pool.
fn spawn_error(what: &'static str) -> impl FnOnce(procspawn::SpawnError) -> BenchError {
    move |e| BenchError::Child(format!("procspawn::Pool {what}: {e}"))
}

/// The message for a procspawn call that panicked instead of failing.
fn panicked(what: &str) -> BenchError {
    BenchError::Child(format!(
        "procspawn::Pool {what} panicked (out of descriptors, a dead pool, or procspawn::init() not called first in main)"
    ))
}

/// A pool of `workers`, each of which has answered a task.
fn warm_pool(workers: usize) -> Result<Pool, BenchError> {
    let pool = {
        // Building waits, without a timeout, for every worker to connect back.
        let _deadline = Deadline::abort_after("building a procspawn::Pool", WAIT_LIMIT)?;
        catch_unwind(|| Pool::new(workers))
            .map_err(|_| panicked("build"))?
            .map_err(spawn_error("build"))?
    };
    let warm_items = 0..(workers as u64 * 4);
    let values = map_window(&pool, warm_items.clone())?;
    expect_mapped(&values, warm_items, double, "procspawn::Pool warm-up")?;
    Ok(pool)
}

/// Starts `function(arg)` in the pool.
fn spawn(pool: &Pool, arg: u64, function: fn(u64) -> u64) -> Result<JoinHandle<u64>, BenchError> {
    // `spawn` panics where it could fail (it unwraps the creation of its channels).
    catch_unwind(AssertUnwindSafe(|| pool.spawn(arg, function))).map_err(|_| panicked("spawn"))
}

/// Waits for a task's value, at most [`WAIT_LIMIT`]. A task that times out is
/// killed when its handle drops.
fn join(mut handle: JoinHandle<u64>) -> Result<u64, BenchError> {
    handle.join_timeout(WAIT_LIMIT).map_err(spawn_error("join"))
}

/// `double` of every item, all in flight at once, values in the items' order.
/// On an error the handles still held drop, which kills their tasks.
fn map_window(pool: &Pool, items: std::ops::Range<u64>) -> Result<Vec<u64>, BenchError> {
    let handles = items
        .map(|item| spawn(pool, item, double))
        .collect::<Result<Vec<_>, _>>()?;
    handles.into_iter().map(join).collect()
}

/// `iterations` items doubled, at most [`WINDOW`] of them in flight at once.
pub(super) fn map_trivial(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let mut elapsed = Duration::ZERO;
    for items in batches(iterations, WINDOW) {
        let start = Instant::now();
        let values = map_window(&pool, items.clone())?;
        elapsed += start.elapsed();
        expect_mapped(&values, items, double, "procspawn::Pool")?;
    }
    Ok(elapsed)
}

/// `iterations` times: spawn `echo(n)` in the pool, join its value.
pub(super) fn apply_round_trip(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let start = Instant::now();
    for n in 0..iterations {
        let value = join(spawn(&pool, n, echo)?)?;
        if value != n {
            return Err(BenchError::WrongOutcome(format!(
                "procspawn::Pool returned {value} instead of {n}"
            )));
        }
    }
    Ok(start.elapsed())
}
