//! Thread pool rows: one task submitted and waited for at a time, batches of
//! tasks, and `map` over many items.
//!
//! The peer is the pool a user writes by hand in a few lines: [`WORKERS`]
//! threads receiving boxed closures from one crossbeam channel, each task
//! answering on its own one-slot channel (or, for `map`, on one shared channel
//! of `(index, value)`). For `map`, rayon's `par_iter` is the other peer: it
//! splits the items into chunks instead of making one task per item.
//!
//! Every pool has all its workers running before the clock starts: the warm-up
//! submits [`WORKERS`] tasks that wait for one another at a barrier, which only
//! succeeds once that many workers run at the same time.

use std::ops::Range;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mp_threads::ThreadPool;
use rayon::prelude::*;

use super::workload::{WAIT_LIMIT, WORKERS, expect_sum, plus_one, threads_error};
use crate::error::BenchError;
use crate::row::{Contender, Goal, Row, Unit};

/// The thread pool rows.
pub fn rows() -> Vec<Row> {
    vec![
        submit_row(
            "thread-pool-submit-result",
            "submit one trivial task to a pool of 4 workers, then wait for its result, one task at a time",
            submit_result_mp_threads,
            submit_result_crossbeam,
            "pool-submit-result",
        ),
        submit_row(
            "thread-pool-submit-batch",
            "one trivial task submitted to a pool of 4 workers in batches of 100, each batch then waited for",
            submit_batch_mp_threads,
            submit_batch_crossbeam,
            "pool-submit-batch",
        ),
        map(),
    ]
}

/// Tasks submitted before the first is waited for, in the batch row.
const BATCH: u64 = 100;

/// Items of one `map` call; a measurement of fewer items makes one shorter map.
const MAP_LEN: u64 = 100_000;

/// Longest one whole `map` call may take.
const MAP_LIMIT: Duration = Duration::from_secs(60);

/// The label the design's goal for the pool is set against.
const CROSSBEAM_POOL: &str = "crossbeam-channel pool";

/// A row of submitted tasks: our pool against the hand-written crossbeam pool (the
/// design's goal: within 2x of it) and Python's `ThreadPoolExecutor` running `case`.
fn submit_row(
    name: &'static str,
    what: &'static str,
    ours: fn(u64) -> Result<Duration, BenchError>,
    crossbeam_pool: fn(u64) -> Result<Duration, BenchError>,
    case: &'static str,
) -> Row {
    Row {
        name,
        family: "threads",
        what,
        unit: Unit::TimePer("task"),
        goal: Some(Goal::within(2.0, CROSSBEAM_POOL)),
        contenders: vec![
            Contender::ours("mp_threads::ThreadPool", ours),
            Contender::peer(CROSSBEAM_POOL, crossbeam_pool),
            Contender::python("concurrent.futures.ThreadPoolExecutor", "threads.py", case),
        ],
    }
}

fn map() -> Row {
    Row {
        name: "thread-pool-map",
        family: "threads",
        what: "one item of a map of a trivial function over 100000 items (fewer in short runs), results in order, 4 workers",
        unit: Unit::TimePer("item"),
        goal: None,
        contenders: vec![
            Contender::ours("mp_threads::ThreadPool::map", map_mp_threads),
            Contender::peer(CROSSBEAM_POOL, map_crossbeam),
            Contender::peer("rayon par_iter().map().collect()", map_rayon),
            Contender::python("ThreadPoolExecutor.map", "threads.py", "pool-map"),
        ],
    }
}

// ---- ours ----

/// A pool of `workers` threads, all of them started: `workers` tasks that wait for one
/// another at a barrier, which they pass only once that many workers run at once.
///
/// The pool starts a worker for each task no spare worker can take, so one round of
/// tasks is enough; a pool left short is an error, never retried into a figure.
pub(in crate::rows) fn warm_pool(workers: usize) -> Result<ThreadPool, BenchError> {
    let pool = ThreadPool::new(workers).map_err(threads_error("the pool"))?;
    let barrier = Arc::new(mp_sync::Barrier::new(workers as u32)?);
    let mut futures = Vec::with_capacity(workers);
    for _ in 0..workers {
        let barrier = Arc::clone(&barrier);
        let meet = move || barrier.wait_timeout(WAIT_LIMIT).is_ok();
        futures.push(
            pool.submit(meet, ())
                .map_err(threads_error("a warm-up task to be accepted"))?,
        );
    }
    let mut all_met = true;
    for future in futures {
        all_met &= future
            .result_timeout(WAIT_LIMIT)
            .map_err(threads_error("the warm-up tasks"))?;
    }
    if all_met && pool.worker_count() == workers {
        Ok(pool)
    } else {
        Err(BenchError::WrongOutcome(format!(
            "the pool did not run {workers} warm-up tasks at once ({} workers)",
            pool.worker_count()
        )))
    }
}

fn submit_result_mp_threads(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let mut sum = 0;
    let start = Instant::now();
    for n in 0..iterations {
        let future = pool
            .submit(plus_one, (n,))
            .map_err(threads_error("a task to be accepted"))?;
        sum += future
            .result_timeout(WAIT_LIMIT)
            .map_err(threads_error("a task's result"))?;
    }
    let elapsed = start.elapsed();
    drop(pool);
    expect_sum(sum, iterations * (iterations + 1) / 2)?;
    Ok(elapsed)
}

fn submit_batch_mp_threads(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let mut sum = 0;
    let mut futures = Vec::with_capacity(BATCH as usize);
    let start = Instant::now();
    for batch in batches(iterations, BATCH) {
        for n in batch {
            futures.push(
                pool.submit(plus_one, (n,))
                    .map_err(threads_error("a task to be accepted"))?,
            );
        }
        for future in futures.drain(..) {
            sum += future
                .result_timeout(WAIT_LIMIT)
                .map_err(threads_error("a task's result"))?;
        }
    }
    let elapsed = start.elapsed();
    drop(pool);
    expect_sum(sum, iterations * (iterations + 1) / 2)?;
    Ok(elapsed)
}

fn map_mp_threads(iterations: u64) -> Result<Duration, BenchError> {
    let pool = warm_pool(WORKERS)?;
    let mut elapsed = Duration::ZERO;
    for items in batches(iterations, MAP_LEN) {
        let first = items.start;
        let start = Instant::now();
        let results: Vec<u64> = pool
            .map_timeout(plus_one, items, MAP_LIMIT)
            .map_err(threads_error("the map's tasks to be accepted"))?
            .collect::<Result<_, _>>()
            .map_err(threads_error("the map's results"))?;
        elapsed += start.elapsed();
        expect_mapped(&results, first)?;
    }
    Ok(elapsed)
}

// ---- the crossbeam-channel pool ----

type Job = Box<dyn FnOnce() + Send>;

/// The pool a user writes by hand: workers looping over one job channel.
struct CrossbeamPool {
    /// `None` once dropping: closing the channel ends the workers' loops.
    jobs: Option<Sender<Job>>,
    workers: Vec<thread::JoinHandle<()>>,
}

impl CrossbeamPool {
    /// A pool of [`WORKERS`] threads, all of them started.
    fn warm() -> Result<Self, BenchError> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let mut pool = CrossbeamPool {
            jobs: Some(jobs),
            workers: Vec::with_capacity(WORKERS),
        };
        for _ in 0..WORKERS {
            let queue = queue.clone();
            let worker = thread::Builder::new()
                .name("crossbeam-pool".into())
                .spawn(move || {
                    for job in queue {
                        job();
                    }
                })
                // Dropping the pool stops and joins the workers already started.
                .map_err(BenchError::Thread)?;
            pool.workers.push(worker);
        }
        let barrier = Arc::new(mp_sync::Barrier::new(WORKERS as u32)?);
        let mut answers = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let barrier = Arc::clone(&barrier);
            answers.push(pool.submit(move || barrier.wait_timeout(WAIT_LIMIT).map(drop))?);
        }
        for answer in answers {
            receive(&answer, "the warm-up tasks")??;
        }
        Ok(pool)
    }

    fn execute(&self, job: impl FnOnce() + Send + 'static) -> Result<(), BenchError> {
        let sent = match &self.jobs {
            Some(jobs) => jobs.send(Box::new(job)).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            Err(BenchError::WrongOutcome(
                "the crossbeam pool's workers are gone".into(),
            ))
        }
    }

    /// Runs `task` on a worker; its value arrives on the returned channel.
    fn submit<R: Send + 'static>(
        &self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> Result<Receiver<R>, BenchError> {
        let (answer, answered) = crossbeam_channel::bounded(1);
        self.execute(move || {
            let _ = answer.send(task());
        })?;
        Ok(answered)
    }

    /// Maps `items` through `plus_one` on the workers; the results, in order.
    fn map(&self, items: Range<u64>) -> Result<Vec<u64>, BenchError> {
        let first = items.start;
        let len = (items.end - items.start) as usize;
        let (results, arrived) = crossbeam_channel::unbounded();
        for n in items {
            let results = results.clone();
            self.execute(move || {
                let _ = results.send((n, plus_one(n)));
            })?;
        }
        drop(results);
        let deadline = Instant::now() + MAP_LIMIT;
        let mut ordered = vec![0; len];
        for _ in 0..len {
            let (n, value) = arrived
                .recv_deadline(deadline)
                .map_err(|_| BenchError::TimedOut {
                    what: "the crossbeam pool's map results",
                    timeout: MAP_LIMIT,
                })?;
            ordered[(n - first) as usize] = value;
        }
        Ok(ordered)
    }
}

impl Drop for CrossbeamPool {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for worker in self.workers.drain(..) {
            // A panicking job is reported by the missing answer it leaves.
            let _ = worker.join();
        }
    }
}

fn receive<T>(answer: &Receiver<T>, awaited: &'static str) -> Result<T, BenchError> {
    answer
        .recv_timeout(WAIT_LIMIT)
        .map_err(|_| BenchError::TimedOut {
            what: awaited,
            timeout: WAIT_LIMIT,
        })
}

fn submit_result_crossbeam(iterations: u64) -> Result<Duration, BenchError> {
    let pool = CrossbeamPool::warm()?;
    let mut sum = 0;
    let start = Instant::now();
    for n in 0..iterations {
        let answer = pool.submit(move || plus_one(n))?;
        sum += receive(&answer, "a task's result")?;
    }
    let elapsed = start.elapsed();
    drop(pool);
    expect_sum(sum, iterations * (iterations + 1) / 2)?;
    Ok(elapsed)
}

fn submit_batch_crossbeam(iterations: u64) -> Result<Duration, BenchError> {
    let pool = CrossbeamPool::warm()?;
    let mut sum = 0;
    let mut answers = Vec::with_capacity(BATCH as usize);
    let start = Instant::now();
    for batch in batches(iterations, BATCH) {
        for n in batch {
            answers.push(pool.submit(move || plus_one(n))?);
        }
        for answer in answers.drain(..) {
            sum += receive(&answer, "a task's result")?;
        }
    }
    let elapsed = start.elapsed();
    drop(pool);
    expect_sum(sum, iterations * (iterations + 1) / 2)?;
    Ok(elapsed)
}

fn map_crossbeam(iterations: u64) -> Result<Duration, BenchError> {
    let pool = CrossbeamPool::warm()?;
    let mut elapsed = Duration::ZERO;
    for items in batches(iterations, MAP_LEN) {
        let first = items.start;
        let start = Instant::now();
        let results = pool.map(items)?;
        elapsed += start.elapsed();
        expect_mapped(&results, first)?;
    }
    Ok(elapsed)
}

// ---- rayon ----

fn map_rayon(iterations: u64) -> Result<Duration, BenchError> {
    // Scoped, so the pool's threads are joined before this returns.
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .thread_name(|index| format!("rayon-{index}"))
        .build_scoped(
            |worker| worker.run(),
            |pool| {
                let warm: u64 = pool.install(|| (0..10_000u64).into_par_iter().sum());
                expect_sum(warm, 10_000 * 9_999 / 2)?;
                let mut elapsed = Duration::ZERO;
                for items in batches(iterations, MAP_LEN) {
                    let first = items.start;
                    let start = Instant::now();
                    let results: Vec<u64> =
                        pool.install(|| items.into_par_iter().map(plus_one).collect());
                    elapsed += start.elapsed();
                    expect_mapped(&results, first)?;
                }
                Ok(elapsed)
            },
        )
        .map_err(|e| BenchError::Thread(std::io::Error::other(e)))?
}

// ---- shared ----

/// `0..total` cut into consecutive ranges of at most `size` items.
fn batches(total: u64, size: u64) -> impl Iterator<Item = Range<u64>> {
    (0..total)
        .step_by(size as usize)
        .map(move |first| first..(first + size).min(total))
}

/// Every result is `plus_one` of its item, in the items' order.
fn expect_mapped(results: &[u64], first: u64) -> Result<(), BenchError> {
    match (first..)
        .zip(results)
        .position(|(n, &value)| value != plus_one(n))
    {
        None => Ok(()),
        Some(index) => Err(BenchError::WrongOutcome(format!(
            "map result {index} is {}, expected {}",
            results[index],
            plus_one(first + index as u64)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_item_once() {
        let cut: Vec<Range<u64>> = batches(250, 100).collect();
        assert_eq!(cut, [0..100, 100..200, 200..250]);
        assert_eq!(batches(0, 100).count(), 0);
        let whole: Vec<Range<u64>> = batches(100, 100).collect();
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0], 0..100);
    }

    #[test]
    fn a_missing_or_misplaced_map_result_is_an_error() {
        assert!(expect_mapped(&[11, 12, 13], 10).is_ok());
        assert!(expect_mapped(&[11, 0, 13], 10).is_err());
        assert!(expect_mapped(&[12, 11, 13], 10).is_err());
    }
}
