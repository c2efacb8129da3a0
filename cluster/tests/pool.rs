//! The cluster pool against a real `redis-server`, with workers in separate processes
//! standing in for machines: each worker is this test binary run again with
//! `MP_CLUSTER_WORKER` set, which the library picks up before `main`.
//!
//! Every test checks at its end that Redis holds nothing of the pool (the keys of killed
//! workers expire after three of their short leases).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mp_cluster::{Cluster, Error, Pool};
use mp_futures::Executor;
use mp_processes::pool::ItemFailure;
use test_support::PATIENCE;
use test_support::eventually;
use test_support::redis::RedisServer;

/// The workers' lease in these tests: short, so that take-overs happen quickly.
const LEASE: Duration = Duration::from_millis(600);

/// A worker process (this binary again) that is killed and reaped when dropped.
struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    fn start(url: &str, pool: &str, extra: &[(&str, &str)]) -> WorkerProcess {
        let mut command = Command::new("/proc/self/exe");
        command
            .env("MP_CLUSTER_WORKER", pool)
            .env("MP_REDIS_URL", url)
            .env("MP_CLUSTER_PROCESSES", "2")
            .env("MP_CLUSTER_LEASE_MS", LEASE.as_millis().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (name, value) in extra {
            command.env(name, value);
        }
        WorkerProcess {
            child: command.spawn().expect("a worker process"),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a machine that dies.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn square(n: u64) -> u64 {
    n * n
}

fn slow_square(n: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(30));
    n * n
}

fn panic_on_seven(n: u64) -> u64 {
    assert_ne!(n, 7, "seven is not allowed");
    n
}

/// Kills whichever of `pids` is an ancestor of this process: the worker running this.
fn kill_my_worker(pids: Vec<u32>) -> u32 {
    let mut pid = std::process::id();
    while pid > 1 {
        if pids.contains(&pid) {
            // SAFETY: sending a signal to a process id is a plain system call.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            std::thread::sleep(Duration::from_secs(5));
            return pid;
        }
        pid = parent_of(pid);
    }
    0
}

fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after
        .split_whitespace()
        .nth(1)
        .and_then(|ppid| ppid.parse().ok())
        .unwrap_or(0)
}

fn connect(server: &RedisServer) -> Cluster {
    Cluster::connect(&server.url()).expect("connected")
}

fn pool(cluster: &Cluster, name: &str) -> mp_cluster::PoolBuilder {
    Pool::builder(cluster, name)
        .heartbeat(Duration::from_millis(300))
        .worker_wait(PATIENCE)
}

/// Announces a worker by hand, as a worker announces itself (keys that expire), with no
/// process behind it.
fn announce(server: &RedisServer, pool: &str, worker: &str, value: &str) {
    let workers = format!("mp:pool:{{{pool}}}:workers");
    let key = format!("mp:pool:{{{pool}}}:worker:{worker}");
    for command in [
        vec!["SADD", &workers, worker],
        vec!["PEXPIRE", &workers, "2000"],
        vec!["SET", &key, value, "PX", "2000"],
    ] {
        server.command(&command).expect("announcing a worker");
    }
}

/// Redis holds nothing: the pool and the killed workers' keys are gone or expired.
fn assert_redis_empty(server: &RedisServer) {
    let empty = test_support::holds_within(|| server.dbsize().ok() == Some(0), PATIENCE);
    let left: Vec<(String, Option<i64>)> = server
        .keys("*")
        .unwrap_or_default()
        .into_iter()
        .map(|key| {
            let ttl = server
                .command(&["PTTL", &key])
                .ok()
                .and_then(|reply| reply.as_integer());
            (key, ttl)
        })
        .collect();
    assert!(
        empty,
        "keys left in Redis (with their time to live in ms): {left:?}"
    );
}

#[test]
fn every_pool_call_runs_on_the_workers_in_order() {
    let server = RedisServer::start().expect("redis-server");
    let url = server.url();
    let _workers: Vec<_> = (0..2)
        .map(|_| WorkerProcess::start(&url, "calls", &[]))
        .collect();
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "calls")
            .chunksize(7)
            .build()
            .expect("a pool");
        assert_eq!(
            pool.map(square, 0..200).expect("map"),
            (0..200).map(square).collect::<Vec<_>>()
        );
        let imap = pool.imap(square, 0..10).expect("imap");
        assert_eq!(imap.len(), 10);
        assert_eq!(
            imap.collect::<Result<Vec<_>, _>>().expect("imap"),
            (0..10).map(square).collect::<Vec<_>>()
        );
        let mut unordered: Vec<u64> = pool
            .imap_unordered(slow_square, 0..20)
            .expect("imap_unordered")
            .collect::<Result<_, _>>()
            .expect("every result");
        unordered.sort_unstable();
        assert_eq!(unordered, (0..20).map(square).collect::<Vec<_>>());
        assert_eq!(
            pool.starmap(|a: u32, b: u32| a * b, [(2, 3), (4, 5)])
                .expect("starmap"),
            [6, 20]
        );
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let later = pool.apply_async(square, (12,)).expect("apply_async");
        later.on_success(move |value| {
            let _ = seen_tx.send(*value);
        });
        assert_eq!(later.result_timeout(PATIENCE).expect("its value"), 144);
        assert_eq!(
            seen_rx.recv_timeout(PATIENCE).expect("the callback ran"),
            144
        );
        assert_eq!(pool.apply(square, (9,)).expect("apply"), 81);
        pool.close();
        assert!(matches!(pool.apply(square, (1,)), Err(Error::PoolClosed)));
        pool.join().expect("join");
    }
    drop(_workers);
    assert_redis_empty(&server);
}

/// The seed's lesson: the same code runs on threads, local processes or machines.
fn sum_of_squares<E: Executor>(executor: &E) -> u64
where
    E::Error: std::fmt::Debug,
{
    executor
        .map(square, 1..=10)
        .expect("map")
        .map(|result| result.expect("a value"))
        .sum()
}

#[test]
fn the_executor_trait_switches_between_threads_processes_and_machines() {
    let server = RedisServer::start().expect("redis-server");
    let _worker = WorkerProcess::start(&server.url(), "executor", &[]);
    let cluster = connect(&server);
    let threads = mp_threads::ThreadPool::new(2).expect("a thread pool");
    let processes = mp_processes::Pool::new(2).expect("a process pool");
    let machines = pool(&cluster, "executor").build().expect("a cluster pool");
    assert_eq!(sum_of_squares(&threads), 385);
    assert_eq!(sum_of_squares(&processes), 385);
    assert_eq!(sum_of_squares(&machines), 385);
    drop(machines);
    drop(_worker);
    assert_redis_empty(&server);
}

#[test]
fn a_panicking_call_fails_alone() {
    let server = RedisServer::start().expect("redis-server");
    let _worker = WorkerProcess::start(&server.url(), "panics", &[]);
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "panics")
            .chunksize(4)
            .build()
            .expect("a pool");
        let results: Vec<_> = pool.imap(panic_on_seven, 0..12).expect("imap").collect();
        for (n, result) in results.into_iter().enumerate() {
            match (n, result) {
                (7, Err(Error::TaskFailed(ItemFailure::Panicked { message, .. }))) => {
                    assert!(message.contains("seven is not allowed"), "{message}")
                }
                (n, Ok(value)) if n != 7 => assert_eq!(value, n as u64),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(pool.apply(square, (3,)).expect("the pool goes on"), 9);
    }
    drop(_worker);
    assert_redis_empty(&server);
}

#[test]
fn a_worker_killed_mid_map_loses_nothing_and_doubles_nothing() {
    let server = RedisServer::start().expect("redis-server");
    let url = server.url();
    let mut first = WorkerProcess::start(&url, "kill", &[]);
    let _second = WorkerProcess::start(&url, "kill", &[]);
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "kill").chunksize(2).build().expect("a pool");
        let mut results = pool.imap(slow_square, 0..120).expect("imap");
        let mut values = Vec::new();
        for _ in 0..10 {
            values.push(results.next().expect("a result").expect("a value"));
        }
        first.kill();
        for result in results {
            values.push(result.expect("every task runs, on the worker left"));
        }
        assert_eq!(values, (0..120).map(square).collect::<Vec<_>>());
    }
    drop(_second);
    assert_redis_empty(&server);
}

#[test]
fn a_task_that_kills_its_workers_fails_after_max_attempts_and_the_pool_goes_on() {
    let server = RedisServer::start().expect("redis-server");
    let url = server.url();
    let attempts = [("MP_CLUSTER_MAX_ATTEMPTS", "2")];
    let workers: Vec<_> = (0..3)
        .map(|_| WorkerProcess::start(&url, "deadly", &attempts))
        .collect();
    let pids: Vec<u32> = workers.iter().map(WorkerProcess::pid).collect();
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "deadly").build().expect("a pool");
        let deadly = pool
            .apply_async(kill_my_worker, (pids,))
            .expect("submitted");
        match deadly.result_timeout(PATIENCE) {
            Err(Error::TaskKilledWorkers { attempts }) => assert_eq!(attempts, 2),
            other => panic!("expected TaskKilledWorkers, got {other:?}"),
        }
        assert_eq!(pool.apply(square, (5,)).expect("the pool goes on"), 25);
    }
    drop(workers);
    assert_redis_empty(&server);
}

#[test]
fn workers_refuse_tasks_not_signed_with_their_key() {
    let server = RedisServer::start().expect("redis-server");
    let _worker = WorkerProcess::start(
        &server.url(),
        "signed",
        &[("MP_CLUSTER_AUTHKEY", "the right key")],
    );
    let cluster = connect(&server);
    {
        let wrong = pool(&cluster, "signed")
            .authkey(b"a wrong key")
            .build()
            .expect("a pool");
        assert!(matches!(
            wrong.apply(square, (2,)),
            Err(Error::BadSignature { .. })
        ));
        let unsigned = pool(&cluster, "signed").build().expect("a pool");
        assert!(matches!(
            unsigned.apply(square, (2,)),
            Err(Error::BadSignature { .. })
        ));
        let right = pool(&cluster, "signed")
            .authkey(b"the right key")
            .build()
            .expect("a pool");
        assert_eq!(right.apply(square, (2,)).expect("signed: it runs"), 4);
    }
    drop(_worker);
    assert_redis_empty(&server);
}

#[test]
fn without_a_worker_of_this_build_the_caller_is_told_which_build_it_needs() {
    let server = RedisServer::start().expect("redis-server");
    let cluster = connect(&server);
    // A worker of another build, announced as a worker does.
    announce(&server, "builds", "elsewhere", "0badbuild 4");
    {
        let pool = Pool::builder(&cluster, "builds")
            .worker_wait(Duration::from_millis(300))
            .build()
            .expect("a pool");
        match pool.apply(square, (2,)) {
            Err(error @ Error::NoWorkers { .. }) => {
                let Error::NoWorkers {
                    build, connected, ..
                } = &error
                else {
                    unreachable!()
                };
                assert_eq!(build, pool.build());
                assert_eq!(connected, &["0badbuild".to_owned()]);
                assert!(error.to_string().contains(pool.build()), "{error}");
            }
            other => panic!("expected NoWorkers, got {other:?}"),
        }
    }
    assert_redis_empty(&server);
}

#[test]
fn a_task_over_the_size_limit_is_refused_at_submission() {
    let server = RedisServer::start().expect("redis-server");
    let _worker = WorkerProcess::start(&server.url(), "big", &[]);
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "big")
            .max_task_len(1024)
            .build()
            .expect("a pool");
        let big = vec![7u8; 4096];
        match pool.apply_async(|bytes: Vec<u8>| bytes.len(), (big,)) {
            Err(Error::MessageTooLarge { len, max }) => {
                assert!(len > 4096);
                assert_eq!(max, 1024);
            }
            other => panic!("expected MessageTooLarge, got {other:?}"),
        }
        assert_eq!(
            pool.apply(|bytes: Vec<u8>| bytes.len(), (vec![1u8; 100],))
                .expect("a small one runs"),
            100
        );
    }
    drop(_worker);
    assert_redis_empty(&server);
}

#[test]
fn terminate_fails_the_tasks_without_a_result_and_deletes_them() {
    let server = RedisServer::start().expect("redis-server");
    let cluster = connect(&server);
    // A worker that never runs anything of this build keeps the pool's submissions
    // waiting: announce one of ours by hand, with no process behind it.
    let pool = pool(&cluster, "terminate").build().expect("a pool");
    let announced = format!("{} 1", pool.build());
    announce(&server, "terminate", "ghost", &announced);
    let waiting = pool.apply_async(square, (3,)).expect("submitted");
    pool.terminate();
    assert!(matches!(
        waiting.result_timeout(PATIENCE),
        Err(Error::Terminated)
    ));
    assert!(matches!(pool.apply(square, (1,)), Err(Error::PoolClosed)));
    drop(pool);
    assert_redis_empty(&server);
}

/// Collects a map of 0..len with `chunksize`, doing `disrupt` once 10 results are in.
fn map_through(pool: &Pool, len: u64, disrupt: impl FnOnce()) -> Vec<u64> {
    let mut results = pool.imap(slow_square, 0..len).expect("imap");
    let mut values = Vec::new();
    for _ in 0..10 {
        values.push(results.next().expect("a result").expect("a value"));
    }
    disrupt();
    for result in results {
        values.push(result.expect("every task runs once the server is back"));
    }
    values
}

#[test]
fn dropped_connections_are_opened_again_and_the_map_completes_once() {
    let server = RedisServer::start().expect("redis-server");
    let url = server.url();
    let _workers: Vec<_> = (0..2)
        .map(|_| WorkerProcess::start(&url, "drops", &[]))
        .collect();
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "drops")
            .chunksize(2)
            .build()
            .expect("a pool");
        let values = map_through(&pool, 80, || {
            // Every client's connection, the pool's and the workers', cut at once.
            server
                .command(&["CLIENT", "KILL", "TYPE", "normal"])
                .expect("CLIENT KILL");
        });
        assert_eq!(values, (0..80).map(square).collect::<Vec<_>>());
    }
    drop(_workers);
    assert_redis_empty(&server);
}

#[test]
fn a_server_restarted_with_its_data_loses_nothing_and_doubles_nothing() {
    let mut server = RedisServer::start_persistent().expect("redis-server");
    let url = server.url();
    let _workers: Vec<_> = (0..2)
        .map(|_| WorkerProcess::start(&url, "restart", &[]))
        .collect();
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "restart")
            .chunksize(2)
            .build()
            .expect("a pool");
        let values = map_through(&pool, 80, || {
            server.restart().expect("the server restarts on its port");
        });
        assert_eq!(values, (0..80).map(square).collect::<Vec<_>>());
    }
    drop(_workers);
    assert_redis_empty(&server);
}

#[test]
fn a_caller_that_dies_has_its_tasks_dropped_and_its_keys_expire() {
    let server = RedisServer::start().expect("redis-server");
    let url = server.url();
    let _worker = WorkerProcess::start(&url, "orphans", &[]);
    let child = test_support::spawn_child(move || {
        let cluster = Cluster::connect(&url).expect("connected");
        let pool = pool(&cluster, "orphans")
            .chunksize(1)
            .build()
            .expect("a pool");
        let waiting = pool.imap(slow_square, 0..200).expect("submitted");
        std::thread::sleep(PATIENCE);
        drop(waiting);
        test_support::ensure(false, 3)
    });
    let tasks = || server.keys("mp:pool:{orphans}:tasks:*").unwrap_or_default();
    eventually(|| !tasks().is_empty(), PATIENCE);
    std::thread::sleep(Duration::from_millis(300));
    child.kill();
    // Its liveness key expires (three heartbeats), the worker drops what is left of its
    // tasks, and its results stream and done hash expire with it.
    let callers_keys = || {
        ["caller", "results", "done"].iter().any(|kind| {
            !server
                .keys(&format!("mp:pool:{{orphans}}:{kind}:*"))
                .unwrap_or_default()
                .is_empty()
        })
    };
    let tasks_left = || {
        tasks().iter().any(|key| {
            server
                .command(&["XLEN", key])
                .ok()
                .and_then(|reply| reply.as_integer())
                .unwrap_or(0)
                > 0
        })
    };
    eventually(|| !callers_keys() && !tasks_left(), PATIENCE);
    drop(_worker);
    assert_redis_empty(&server);
}

#[test]
fn tasks_fail_when_every_worker_of_the_build_is_gone() {
    let server = RedisServer::start().expect("redis-server");
    let mut only = WorkerProcess::start(&server.url(), "gone", &[]);
    let cluster = connect(&server);
    {
        let pool = pool(&cluster, "gone")
            .worker_wait(Duration::from_secs(2))
            .build()
            .expect("a pool");
        assert_eq!(pool.apply(square, (2,)).expect("served"), 4);
        let sleeping = pool
            .apply_async(
                |ms: u64| std::thread::sleep(Duration::from_millis(ms)),
                (60_000,),
            )
            .expect("submitted");
        std::thread::sleep(Duration::from_millis(300));
        only.kill();
        // The worker's key expires (three leases), then `worker_wait` passes.
        match sleeping.result_timeout(PATIENCE) {
            Err(Error::NoWorkers { build, .. }) => assert_eq!(build, pool.build()),
            other => panic!("expected NoWorkers, got {other:?}"),
        }
    }
    assert_redis_empty(&server);
}
