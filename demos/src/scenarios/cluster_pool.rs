//! Beyond the source texts (issue 14): `multiprocessing.Pool` across machines, and a
//! machine that dies in the middle of a map.
//!
//! Python users whose job outgrows one machine move to `ray.util.multiprocessing.Pool`:
//! the same `Pool` API, with tasks spread over a cluster. mp-cluster's
//! [`Pool`](mp::cluster::Pool) does it over a Redis server: the caller writes tasks to a
//! stream, and workers, which are the same executable started with two environment
//! variables, take them, run them on a local process pool and post the results back.
//!
//! The scenario uses the server of `MP_REDIS_URL` if it is set, else starts a
//! `redis-server` of its own (skipped, not failed, where none is installed). It starts
//! `--workers` processes that stand in for machines (this binary again, each with
//! `--processes` local processes and a lease of one second), maps `--items` CPU-bound
//! items over them (`imap_unordered`, with a progress bar on a terminal), and kills one
//! worker with `SIGKILL` when half the results are in. The tasks that worker held are
//! taken over by the others once its lease runs out.
//!
//! Each call returns its item, a hash of it, and the chain of process ids from the
//! process that ran it up to the first process without a parent: the worker among them
//! tells which stand-in machine did the work. The scenario checks that every item's
//! result came exactly once, that each equals the same hash computed here, and that each
//! came from one of the workers; it prints how many each worker did. At the end nothing
//! is left: the pool deletes its keys, the workers are killed and reaped, and a server of
//! the scenario's own is checked empty (the killed worker's keys expire three leases
//! after its last heartbeat), then stopped and its folder removed.
//!
//! Each item is about 0.3 ms of work at scale 1 (`--scale` scales it, as for
//! `gil-free-cpu`): a few seconds for the whole map, and as long again for the check.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use mp::cluster::{Cluster, Pool};
use mp::sys::Deadline;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::pool_support::{burn, calibrate, progress_bar};
use super::redis_support::{INSTALL_HINT, WorkerProcess, WorkerSettings, server_keys, start_local_redis};
use test_support::redis::RedisServer;
use crate::{Context, DemoError, Stopwatch, check, check_eq, scaled};

#[derive(clap::Parser)]
struct Args {
    /// Items to map: 0..N.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    items: u64,
    /// Worker processes, each standing in for a machine (one is killed, so at least 2).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=16))]
    workers: u32,
    /// Local processes of each worker.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    processes: u32,
    /// Items per task (Python's `chunksize`).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    chunksize: u32,
}

/// How long a task stays leased to a worker that stops renewing it: short, so that the
/// killed worker's tasks move on quickly.
const LEASE: Duration = Duration::from_secs(1);

/// How long a submission waits for the first worker to connect: a loaded machine may
/// take a while to start them.
const WORKER_WAIT: Duration = Duration::from_secs(30);

/// Far above what the map takes; only a hang gets there (then the pool is terminated,
/// which fails the results still missing).
const MAP_LIMIT: Duration = Duration::from_secs(100);

/// The work of one item at scale 1, in seconds.
const ITEM_SECONDS: f64 = 0.000_3;

/// How far up the chain of parents a call looks for its worker (the worker is the
/// grandparent of a local process under the default forkserver).
const MAX_LINEAGE: usize = 8;

/// What one call hands back.
#[derive(Debug, Serialize, Deserialize)]
struct Hashed {
    item: u64,
    digest: u64,
    /// The process that ran the call, its parent, and so on up.
    lineage: Vec<u32>,
}

/// A call: the digest of `item`, with where it ran.
fn hash_item(job: (u64, u64)) -> Hashed {
    let (item, rounds) = job;
    Hashed {
        item,
        digest: digest(item, rounds),
        lineage: lineage(),
    }
}

/// The work of one item: `rounds` rounds of the CPU-bound loop from a seed of its own
/// (odd, as the loop needs, and different for every item).
fn digest(item: u64, rounds: u64) -> u64 {
    burn(rounds, item.wrapping_mul(2) | 1)
}

/// This process's id, then its parent's, and so on up to [`MAX_LINEAGE`] of them.
fn lineage() -> Vec<u32> {
    let mut chain = vec![std::process::id()];
    while chain.len() < MAX_LINEAGE {
        match chain.last().copied().and_then(parent_of) {
            Some(parent) if parent > 1 => chain.push(parent),
            _ => break,
        }
    }
    chain
}

/// The parent of `pid`, from `/proc/<pid>/stat` (the field after the state, which
/// follows the command name in parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(1)?.parse().ok()
}

/// The results as they came: how many times each item came, its digest, and which
/// worker sent it.
struct Tally {
    worker_pids: Vec<u32>,
    counts: Vec<u32>,
    digests: Vec<u64>,
    per_worker: Vec<u64>,
    /// Results whose lineage holds none of the workers.
    strays: Vec<u64>,
}

impl Tally {
    fn new(items: u64, worker_pids: Vec<u32>) -> Self {
        let len = usize::try_from(items).unwrap_or(usize::MAX);
        Self {
            per_worker: vec![0; worker_pids.len()],
            worker_pids,
            counts: vec![0; len],
            digests: vec![0; len],
            strays: Vec::new(),
        }
    }

    fn record(&mut self, hashed: &Hashed) -> Result<(), DemoError> {
        let index = usize::try_from(hashed.item).unwrap_or(usize::MAX);
        check(
            index < self.counts.len(),
            format_args!("a result for item {}, which was not mapped", hashed.item),
        )?;
        self.counts[index] += 1;
        self.digests[index] = hashed.digest;
        let worker = hashed
            .lineage
            .iter()
            .find_map(|pid| self.worker_pids.iter().position(|worker| worker == pid));
        match worker {
            Some(worker) => self.per_worker[worker] += 1,
            None => self.strays.push(hashed.item),
        }
        Ok(())
    }

    /// The index of the worker that sent the most results so far.
    fn busiest(&self) -> usize {
        (0..self.per_worker.len())
            .max_by_key(|&worker| self.per_worker[worker])
            .unwrap_or(0)
    }
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let (url, local) = match std::env::var(mp::cluster::URL_ENV) {
        Ok(url) => {
            println!("Redis: {url} (from {})", mp::cluster::URL_ENV);
            (url, None)
        }
        Err(_) => {
            let dir = ctx.output_dir()?.join(format!("redis-{}", std::process::id()));
            let Some(server) = start_local_redis(&dir)? else {
                return Err(DemoError::Skipped(INSTALL_HINT.to_owned()));
            };
            println!("Redis: a redis-server of our own at {} (pid {})", server.url(), server.pid().unwrap_or(0));
            (server.url(), Some(server))
        }
    };
    let pool_name = format!("demos-cluster-pool-{}", std::process::id());
    let settings = WorkerSettings {
        url: &url,
        pool: &pool_name,
        processes: args.processes,
        lease: LEASE,
    };
    let mut workers = (0..args.workers)
        .map(|_| WorkerProcess::start(&settings))
        .collect::<Result<Vec<_>, _>>()?;
    let worker_pids: Vec<u32> = workers.iter().map(WorkerProcess::pid).collect();
    println!(
        "{} workers (this program again, {} local processes each, a lease of {LEASE:?}): pids {worker_pids:?}",
        workers.len(),
        args.processes
    );

    let rounds = calibrate(scaled(ITEM_SECONDS));
    let cluster = Cluster::connect(&url)?;
    let pool = Pool::builder(&cluster, &pool_name)
        .chunksize(args.chunksize as usize)
        .worker_wait(WORKER_WAIT)
        .build()?;
    let watch = Stopwatch::start();
    let (tally, killed) = map_killing_one(&pool, &args, rounds, &mut workers, worker_pids)?;
    let map_time = watch.elapsed();
    // Dropping the pool deletes its keys in Redis.
    drop(pool);
    for worker in &mut workers {
        worker.kill();
    }
    println!(
        "{} results in {watch} ({:.0} items/s)",
        args.items,
        args.items as f64 / map_time.as_secs_f64().max(f64::EPSILON)
    );
    print_counts(&tally, killed);

    let checked = Stopwatch::start();
    check_tally(&tally, rounds)?;
    println!("every item came back exactly once, equal to the same hash computed here (checked in {checked})");
    match &local {
        Some(server) => check_server_empty(server)?,
        None => println!(
            "the pool's keys are deleted; the killed worker's keys expire {:?} after its last heartbeat",
            LEASE * 3
        ),
    }
    Ok(())
}

/// Maps the items with `imap_unordered`, killing the busiest worker when half the results
/// are in; the tally, and which worker was killed when.
fn map_killing_one(
    pool: &Pool,
    args: &Args,
    rounds: u64,
    workers: &mut [WorkerProcess],
    worker_pids: Vec<u32>,
) -> Result<(Tally, Kill), DemoError> {
    let results = pool.imap_unordered(hash_item, (0..args.items).map(|item| (item, rounds)))?;
    let bar = progress_bar(results.len() as u64, "items")?;
    let (done, watchdog) = mpsc::channel::<()>();
    let gave_up = AtomicBool::new(false);
    let received = std::thread::scope(|scope| {
        // Ends the wait if the map hangs: terminating fails every result still missing.
        let gave_up = &gave_up;
        scope.spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = watchdog.recv_timeout(MAP_LIMIT) {
                gave_up.store(true, Ordering::Release);
                pool.terminate();
            }
        });
        let mut tally = Tally::new(args.items, worker_pids);
        let received = receive(results, &mut tally, &bar, args.items, workers);
        let _ = done.send(());
        received.map(|killed| (tally, killed))
    });
    bar.finish();
    if !bar.is_hidden() {
        // The finished bar stays on screen; the next line goes below it.
        println!();
    }
    let (tally, killed) = received.map_err(|error| {
        if gave_up.load(Ordering::Acquire) {
            DemoError::CheckFailed(format!("the map did not end within {MAP_LIMIT:?}: {error}"))
        } else {
            error
        }
    })?;
    let killed = killed.ok_or_else(|| DemoError::CheckFailed("no worker was killed".into()))?;
    check_eq(
        format_args!("the signal that ended worker {}", killed.worker + 1),
        killed.signal,
        Some(nix::libc::SIGKILL),
    )?;
    Ok((tally, killed))
}

/// Takes every result into `tally`, and kills the busiest worker when half are in.
fn receive(
    results: impl Iterator<Item = Result<Hashed, mp::cluster::Error>>,
    tally: &mut Tally,
    bar: &ProgressBar,
    items: u64,
    workers: &mut [WorkerProcess],
) -> Result<Option<Kill>, DemoError> {
    let half = (items / 2).max(1);
    let mut killed = None;
    for (received, result) in (1..).zip(results) {
        tally.record(&result?)?;
        bar.inc(1);
        if received == half {
            let victim = tally.busiest();
            let signal = workers[victim].kill();
            bar.suspend(|| {
                println!(
                    "{received} of {items} results in: killed worker {} (pid {}) with SIGKILL",
                    victim + 1,
                    workers[victim].pid()
                );
            });
            killed = Some(Kill { worker: victim, at: received, sent: tally.per_worker[victim], signal });
        }
    }
    Ok(killed)
}

/// Which worker was killed, after how many results, of which it had sent `sent`.
#[derive(Clone, Copy, Debug)]
struct Kill {
    worker: usize,
    at: u64,
    sent: u64,
    signal: Option<i32>,
}

fn print_counts(tally: &Tally, killed: Kill) {
    println!("results per worker:");
    for (index, (pid, count)) in tally.worker_pids.iter().zip(&tally.per_worker).enumerate() {
        let note = if index == killed.worker {
            format!(
                " (killed when {} results were in, {} of them its own)",
                killed.at, killed.sent
            )
        } else {
            String::new()
        };
        println!("  worker {} (pid {pid}): {count:>6}{note}", index + 1);
    }
}

/// Every item came exactly once, from a worker, with the right digest.
fn check_tally(tally: &Tally, rounds: u64) -> Result<(), DemoError> {
    let lost: Vec<usize> = (0..tally.counts.len()).filter(|&i| tally.counts[i] == 0).collect();
    let doubled: Vec<usize> = (0..tally.counts.len()).filter(|&i| tally.counts[i] > 1).collect();
    check(
        lost.is_empty(),
        format_args!("{} items never came back (the first: {:?})", lost.len(), first_few(&lost)),
    )?;
    check(
        doubled.is_empty(),
        format_args!("{} items came back more than once (the first: {:?})", doubled.len(), first_few(&doubled)),
    )?;
    check(
        tally.strays.is_empty(),
        format_args!(
            "{} results came from none of the workers (items {:?}...)",
            tally.strays.len(),
            first_few(&tally.strays)
        ),
    )?;
    for (item, got) in (0u64..).zip(&tally.digests) {
        let expected = digest(item, rounds);
        check(
            *got == expected,
            format_args!("item {item} hashes to {expected:#x}, the workers said {got:#x}"),
        )?;
    }
    Ok(())
}

fn first_few<T: Copy>(items: &[T]) -> &[T] {
    &items[..items.len().min(5)]
}

/// The server holds nothing once the killed worker's keys have expired.
fn check_server_empty(server: &RedisServer) -> Result<(), DemoError> {
    let deadline = Deadline::after(LEASE * 3 + Duration::from_secs(10));
    let watch = Stopwatch::start();
    loop {
        let keys = server_keys(server)?;
        if keys.is_empty() {
            println!("redis-server holds no key {watch} after the pool and the workers ended");
            return Ok(());
        }
        if deadline.has_passed() {
            return Err(DemoError::CheckFailed(format!("keys left in redis-server: {keys:?}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn a_small_map_survives_the_kill_or_is_skipped_without_a_server() {
        crate::set_scale(0.01).unwrap();
        let ctx = Context::new(
            "cluster-pool",
            vec!["--items=300".into(), "--workers=2".into(), "--processes=1".into(), "--chunksize=5".into()],
        );
        match run(&ctx) {
            Ok(()) => {}
            Err(DemoError::Skipped(why)) => assert_eq!(why, INSTALL_HINT),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("cluster-pool", run, &[&["--items=0"], &["--workers=1"], &["--processes=0"], &["--chunksize=0"]]);
    }

    #[test]
    fn a_call_names_the_processes_above_it() {
        let hashed = hash_item((7, 10));
        assert_eq!(hashed.item, 7);
        assert_eq!(hashed.digest, digest(7, 10));
        assert_ne!(digest(0, 10), digest(1, 10));
        assert_eq!(hashed.lineage[0], std::process::id());
        assert_eq!(hashed.lineage.get(1).copied(), Some(std::os::unix::process::parent_id()));
    }

    #[test]
    fn lost_doubled_stray_or_wrong_results_fail_the_check() {
        let rounds = 3;
        let result = |item: u64, lineage: Vec<u32>| Hashed { item, digest: digest(item, rounds), lineage };
        let full = || {
            let mut tally = Tally::new(3, vec![100, 200]);
            for item in 0..3 {
                tally.record(&result(item, vec![5, 100 + 100 * (item % 2) as u32])).unwrap();
            }
            tally
        };
        let tally = full();
        assert!(check_tally(&tally, rounds).is_ok());
        assert_eq!(tally.per_worker, [2, 1]);
        assert_eq!(tally.busiest(), 0);

        let mut doubled = full();
        doubled.record(&result(1, vec![200])).unwrap();
        assert!(check_tally(&doubled, rounds).is_err());

        let mut lost = Tally::new(3, vec![100]);
        lost.record(&result(0, vec![100])).unwrap();
        assert!(check_tally(&lost, rounds).is_err());

        let mut stray = Tally::new(1, vec![100]);
        stray.record(&result(0, vec![300])).unwrap();
        assert!(check_tally(&stray, rounds).is_err());

        let mut wrong = Tally::new(1, vec![100]);
        wrong.record(&Hashed { item: 0, digest: 1, lineage: vec![100] }).unwrap();
        assert!(check_tally(&wrong, rounds).is_err());

        assert!(Tally::new(1, vec![100]).record(&result(5, vec![100])).is_err());
    }
}
