//! Ours: mp-cluster's `Pool` on worker processes and its queues, each measurement on a
//! server of its own (see [`loopback`](super::loopback)).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_cluster::{Cluster, Pool};

use super::loopback::{Workers, serving_worker, start_server};
use crate::error::BenchError;
use crate::rows::pool::deadline::Deadline;
use crate::rows::pool::workload::{
    MAP_LEN, WAIT_LIMIT, WORKERS, batches, cpu_bound, cpu_bound_value, double, echo, expect_mapped,
};

/// The pool every measurement's workers serve (each measurement has a server of its own).
const POOL: &str = "bench";

/// An mp-cluster error, as the harness reports a failed measurement.
fn cluster_error(what: &'static str) -> impl FnOnce(mp_cluster::Error) -> BenchError {
    move |e| BenchError::Child(format!("mp_cluster {what}: {e}"))
}

/// Runs `measure` on a pool served by `workers` worker processes of `processes` local
/// processes each, every one of them warm; then drops the pool, kills and reaps the
/// workers and stops the server, whatever `measure` returned.
fn with_pool(
    workers: usize,
    processes: usize,
    measure: impl FnOnce(&Arc<Pool>) -> Result<Duration, BenchError>,
) -> Result<Duration, BenchError> {
    let server = start_server()?;
    let url = server.url();
    let started = Workers::start(&url, POOL, workers, processes)?;
    let cluster = Cluster::connect(&url).map_err(cluster_error("connect"))?;
    let pool = Pool::builder(&cluster, POOL)
        .worker_wait(WAIT_LIMIT)
        .build()
        .map(Arc::new)
        .map_err(cluster_error("Pool build"))?;
    warm_up(&pool, &started.pids())?;
    // Dropped in reverse order: the pool (its keys deleted), the workers, the server.
    measure(&pool)
}

/// Waits until every worker has run a task, so that none is still starting (or not
/// yet connected) when the clock runs. Each round submits a few short tasks per worker
/// that name the worker that ran them.
fn warm_up(pool: &Arc<Pool>, workers: &[u32]) -> Result<(), BenchError> {
    let started = Instant::now();
    let mut seen = HashSet::new();
    while seen.len() < workers.len() {
        if started.elapsed() > WAIT_LIMIT {
            return Err(BenchError::TimedOut {
                what: "every cluster worker running a task",
                timeout: WAIT_LIMIT,
            });
        }
        let futures = (0..workers.len() * 4)
            .map(|_| {
                pool.apply_async(name_worker, (workers.to_vec(),))
                    .map_err(cluster_error("warm-up apply_async"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for future in futures {
            let worker = future
                .result_timeout(WAIT_LIMIT)
                .map_err(cluster_error("warm-up result"))?;
            if worker == 0 {
                return Err(BenchError::WrongOutcome(
                    "a warm-up task ran outside the bench's workers".into(),
                ));
            }
            seen.insert(worker);
        }
    }
    Ok(())
}

/// A warm-up task: which of `workers` runs it. It lasts a few milliseconds, so that
/// the first worker to connect does not take every task of the round.
fn name_worker(workers: Vec<u32>) -> u32 {
    std::thread::sleep(Duration::from_millis(5));
    serving_worker(&workers)
}

/// `call(pool)`, bounded: if it has not returned within [`WAIT_LIMIT`], the pool is
/// terminated, which fails every result still to come, so `call` returns.
fn bounded<T>(
    pool: &Arc<Pool>,
    what: &'static str,
    call: impl FnOnce(&Pool) -> Result<T, mp_cluster::Error>,
) -> Result<T, BenchError> {
    let guarded = Arc::clone(pool);
    let deadline = Deadline::arm(WAIT_LIMIT, move || guarded.terminate())?;
    let result = call(pool);
    if deadline.disarm() {
        return Err(BenchError::TimedOut {
            what,
            timeout: WAIT_LIMIT,
        });
    }
    result.map_err(cluster_error(what))
}

/// `iterations` items doubled by `Pool::map` with the default chunking, in calls of at
/// most [`MAP_LEN`], on 1 worker of [`WORKERS`] local processes.
pub(super) fn map_trivial(iterations: u64) -> Result<Duration, BenchError> {
    with_pool(1, WORKERS, |pool| {
        let mut elapsed = Duration::ZERO;
        for items in batches(iterations, MAP_LEN) {
            let start = Instant::now();
            let values = bounded(pool, "Pool::map", |pool| pool.map(double, items.clone()))?;
            elapsed += start.elapsed();
            expect_mapped(&values, items, double, "mp_cluster::Pool::map")?;
        }
        Ok(elapsed)
    })
}

/// `iterations` items of [`cpu_bound`] work by `Pool::map` on `workers` workers of one
/// local process each.
pub(super) fn cpu_map(workers: usize, iterations: u64) -> Result<Duration, BenchError> {
    with_pool(workers, 1, |pool| {
        let start = Instant::now();
        let values = bounded(pool, "Pool::map", |pool| pool.map(cpu_bound, 0..iterations))?;
        let elapsed = start.elapsed();
        expect_mapped(
            &values,
            0..iterations,
            cpu_bound_value,
            "mp_cluster::Pool::map",
        )?;
        Ok(elapsed)
    })
}

/// `iterations` times: `apply_async(echo, (n,))`, then wait for its value, on 1 worker of
/// [`WORKERS`] local processes.
pub(super) fn apply_round_trip(iterations: u64) -> Result<Duration, BenchError> {
    with_pool(1, WORKERS, |pool| {
        let start = Instant::now();
        for n in 0..iterations {
            let value = pool
                .apply_async(echo, (n,))
                .map_err(cluster_error("Pool::apply_async"))?
                .result_timeout(WAIT_LIMIT)
                .map_err(cluster_error("its result"))?;
            if value != n {
                return Err(BenchError::WrongOutcome(format!(
                    "mp_cluster::Pool::apply_async returned {value} instead of {n}"
                )));
            }
        }
        Ok(start.elapsed())
    })
}

/// The message of the queue rows: 16 bytes, its sequence number first.
type Message = [u64; 2];

/// `iterations` messages through an `mp_cluster::Queue`, from one thread to another.
pub(super) fn queue_1x1(iterations: u64) -> Result<Duration, BenchError> {
    let server = start_server()?;
    let cluster = Cluster::connect(&server.url()).map_err(cluster_error("connect"))?;
    let queue = cluster
        .queue::<Message>("bench-1x1")
        .map_err(cluster_error("Queue"))?;
    one_to_one(
        iterations,
        |message| queue.put(message).map_err(cluster_error("Queue::put")),
        || {
            queue
                .get_timeout(WAIT_LIMIT)
                .map_err(cluster_error("Queue::get_timeout"))
        },
    )
}

/// `iterations` messages through an `mp_cluster::JoinableQueue`, each marked done by
/// the consumer as it is got.
pub(super) fn joinable_queue_1x1(iterations: u64) -> Result<Duration, BenchError> {
    let server = start_server()?;
    let cluster = Cluster::connect(&server.url()).map_err(cluster_error("connect"))?;
    let queue = cluster
        .joinable_queue::<Message>("bench-1x1")
        .map_err(cluster_error("JoinableQueue"))?;
    one_to_one(
        iterations,
        |message| {
            queue
                .put(message)
                .map_err(cluster_error("JoinableQueue::put"))
        },
        || {
            let message = queue
                .get_timeout(WAIT_LIMIT)
                .map_err(cluster_error("JoinableQueue::get_timeout"))?;
            queue
                .task_done()
                .map_err(cluster_error("JoinableQueue::task_done"))?;
            Ok(message)
        },
    )
}

/// Times `iterations` messages from a producer (this thread, with `put`) to a consumer
/// thread (with `get`, each wait bounded), from the first `put` to the last message got,
/// and checks that they arrive once each and in order.
fn one_to_one(
    iterations: u64,
    put: impl Fn(&Message) -> Result<(), BenchError>,
    get: impl Fn() -> Result<Message, BenchError> + Sync,
) -> Result<Duration, BenchError> {
    // One message through, outside the clock: the queue and its connections exist.
    put(&[u64::MAX, u64::MAX.wrapping_mul(3)])?;
    expect_message(get()?, u64::MAX)?;
    std::thread::scope(|scope| {
        let consumer = std::thread::Builder::new()
            .name("bench-consumer".into())
            .spawn_scoped(scope, || -> Result<(), BenchError> {
                for n in 0..iterations {
                    expect_message(get()?, n)?;
                }
                Ok(())
            })
            .map_err(BenchError::Thread)?;
        let start = Instant::now();
        let produced = (0..iterations).try_for_each(|n| put(&[n, n.wrapping_mul(3)]));
        let consumed = consumer
            .join()
            .map_err(|_| BenchError::WrongOutcome("the consumer thread panicked".into()))?;
        let elapsed = start.elapsed();
        produced?;
        consumed?;
        Ok(elapsed)
    })
}

fn expect_message(message: Message, sequence: u64) -> Result<(), BenchError> {
    if message == [sequence, sequence.wrapping_mul(3)] {
        Ok(())
    } else {
        Err(BenchError::WrongOutcome(format!(
            "message {sequence} arrived as {message:?}"
        )))
    }
}
