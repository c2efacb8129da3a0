//! Ours: `mp_processes::Pool`, built and warmed outside the clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_processes::Pool;

use super::deadline::Deadline;
use super::workload::{
    MAP_LEN, WAIT_LIMIT, WORKERS, batches, cpu_bound, cpu_bound_value, double, echo, expect_mapped,
};
use crate::error::BenchError;

/// An mp-processes error, as the harness reports a failed pool.
fn pool_error(what: &'static str) -> impl FnOnce(mp_processes::Error) -> BenchError {
    move |e| BenchError::Child(format!("mp_processes::Pool {what}: {e}"))
}

/// A pool of `workers`, every one of them running: each has answered a task.
///
/// Built with the defaults a user gets: no per-task timeout (with one, each worker
/// reads the clock around every call, which would count in the figures). The waits
/// are bounded by [`bounded`] and `get_timeout` instead.
fn warm_pool(workers: usize) -> Result<Arc<Pool>, BenchError> {
    let pool = Pool::builder()
        .processes(workers)
        .build()
        .map(Arc::new)
        .map_err(pool_error("build"))?;
    // One item per chunk, so every worker gets one while the first is still busy
    // starting; a worker that has not started yet gets it when it is ready.
    let warm_items = 0..(workers as u64 * 4);
    let warm = bounded(&pool, "warm-up map", |pool| {
        pool.chunked(1).map(double, warm_items.clone())
    })?;
    expect_mapped(&warm, warm_items, double, "mp_processes::Pool warm-up")?;
    Ok(pool)
}

/// `call(pool)`, bounded: if it has not returned within [`WAIT_LIMIT`], the pool is
/// terminated, which fails every result still to come, so `call` returns.
fn bounded<T>(
    pool: &Arc<Pool>,
    what: &'static str,
    call: impl FnOnce(&Pool) -> Result<T, mp_processes::Error>,
) -> Result<T, BenchError> {
    bounded_by(pool, what, WAIT_LIMIT, call)
}

/// [`bounded`] with a limit of `limit`.
fn bounded_by<T>(
    pool: &Arc<Pool>,
    what: &'static str,
    limit: Duration,
    call: impl FnOnce(&Pool) -> Result<T, mp_processes::Error>,
) -> Result<T, BenchError> {
    let guarded = Arc::clone(pool);
    let deadline = Deadline::arm(limit, move || guarded.terminate())?;
    let result = call(pool);
    if deadline.disarm() {
        return Err(BenchError::TimedOut {
            what,
            timeout: limit,
        });
    }
    result.map_err(pool_error(what))
}

/// `iterations` items doubled by `Pool::map`, in calls of at most [`MAP_LEN`].
pub(in crate::rows) fn map_trivial(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let mut elapsed = Duration::ZERO;
    for items in batches(iterations, MAP_LEN) {
        let start = Instant::now();
        let values = pool.map(double, items.clone()).map_err(pool_error("map"))?;
        elapsed += start.elapsed();
        expect_mapped(&values, items, double, "mp_processes::Pool::map")?;
    }
    Ok(elapsed)
}

/// `iterations` times: `apply_async(echo, (n,))`, then `get` its value.
pub(in crate::rows) fn apply_round_trip(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let start = Instant::now();
    for n in 0..iterations {
        let value = pool
            .apply_async(echo, (n,))
            .map_err(pool_error("apply_async"))?
            .get_timeout(WAIT_LIMIT)
            .map_err(pool_error("get"))?;
        if value != n {
            return Err(BenchError::WrongOutcome(format!(
                "mp_processes::Pool::apply_async returned {value} instead of {n}"
            )));
        }
    }
    Ok(start.elapsed())
}

/// `iterations` items of [`cpu_bound`] work, by `Pool::map` on `workers` workers.
pub(in crate::rows) fn cpu_map(workers: usize, iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(workers)?;
    let start = Instant::now();
    let values = bounded(&pool, "map", |pool| pool.map(cpu_bound, 0..iterations))?;
    let elapsed = start.elapsed();
    expect_mapped(
        &values,
        0..iterations,
        cpu_bound_value,
        "mp_processes::Pool::map",
    )?;
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mp_processes::Pool;

    use super::bounded_by;
    use crate::error::BenchError;

    #[test]
    fn a_map_past_its_limit_terminates_the_pool_and_fails() {
        let pool = Arc::new(Pool::new(1).expect("a pool"));
        let stuck = bounded_by(&pool, "map", Duration::from_millis(200), |pool| {
            pool.map(
                |_: u64| std::thread::sleep(Duration::from_secs(600)),
                0..2u64,
            )
        });
        assert!(
            matches!(stuck, Err(BenchError::TimedOut { what: "map", .. })),
            "{stuck:?}"
        );
    }

    #[test]
    fn a_map_in_time_gives_its_values() {
        let pool = Arc::new(Pool::new(1).expect("a pool"));
        let values = bounded_by(&pool, "map", Duration::from_secs(60), |pool| {
            pool.map(|n: u64| n + 1, 0..3u64)
        });
        assert_eq!(values.expect("values"), [1, 2, 3]);
    }
}
