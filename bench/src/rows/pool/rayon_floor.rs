//! The floor: rayon's `par_iter` on threads of this process, as many as the process
//! pools have workers. The same work, with no process boundary to cross.

use std::ops::Range;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::workload::{
    MAP_LEN, WORKERS, batches, cpu_bound, cpu_bound_value, double, expect_mapped,
};
use crate::error::BenchError;

/// Runs `measure` on a scoped rayon pool of `threads`, joined before this returns.
fn with_pool(
    threads: usize,
    measure: impl FnOnce(&rayon::ThreadPool) -> Result<Duration, BenchError> + Send,
) -> Result<Duration, BenchError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|index| format!("rayon-{index}"))
        .build_scoped(|worker| worker.run(), measure)
        .map_err(|e| BenchError::Thread(std::io::Error::other(e)))?
}

/// `function` of every item, in order, on `pool`.
fn par_map(pool: &rayon::ThreadPool, items: Range<u64>, function: fn(u64) -> u64) -> Vec<u64> {
    pool.install(|| items.into_par_iter().map(function).collect())
}

/// `iterations` items doubled, in calls of at most [`MAP_LEN`].
pub(super) fn map_trivial(iterations: u64) -> Result<Duration, BenchError> {
    with_pool(WORKERS, |pool| {
        let warm = par_map(pool, 0..1000, double);
        expect_mapped(&warm, 0..1000, double, "rayon warm-up")?;
        let mut elapsed = Duration::ZERO;
        for items in batches(iterations, MAP_LEN) {
            let start = Instant::now();
            let values = par_map(pool, items.clone(), double);
            elapsed += start.elapsed();
            expect_mapped(&values, items, double, "rayon par_iter")?;
        }
        Ok(elapsed)
    })
}

/// `iterations` items of [`cpu_bound`] work on `threads` threads.
pub(super) fn cpu_map(threads: usize, iterations: u64) -> Result<Duration, BenchError> {
    with_pool(threads, |pool| {
        let warm = par_map(pool, 0..100, double);
        expect_mapped(&warm, 0..100, double, "rayon warm-up")?;
        let start = Instant::now();
        let values = par_map(pool, 0..iterations, cpu_bound);
        let elapsed = start.elapsed();
        expect_mapped(&values, 0..iterations, cpu_bound_value, "rayon par_iter")?;
        Ok(elapsed)
    })
}
