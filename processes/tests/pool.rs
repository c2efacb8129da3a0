//! Every operation and error path of `Pool`, put through each start method by the same
//! test functions (see `for_each_method!` at the bottom): results in order, panics and
//! crashes per task, `SIGKILL` and `abort()` mid-task, timeouts, `maxtasksperchild`,
//! the initializer, close/join/terminate and drop. Every wait is bounded, and every test
//! checks that its workers are gone at the end.

mod common;

use std::collections::HashSet;
use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mp_processes::{
    ArgumentsFault, BrokenCause, Error, Pool, SendFault, StartMethod, active_children,
};
use mp_shared_mem::{Shared, Value};
use test_support::holds_within;

/// The bound on any wait that is expected to succeed.
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs `work` on another thread and fails the test if it does not return within
/// [`PATIENCE`] (a pool bug must fail a test, not hang it).
fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(PATIENCE)
        .expect("the pool operation did not finish in time")
}

/// Polls `condition` until it holds, or fails the test after [`PATIENCE`].
fn eventually(what: &str, condition: impl FnMut() -> bool) {
    assert!(holds_within(condition, PATIENCE), "never happened: {what}");
}

fn pool(method: StartMethod, processes: usize) -> Arc<Pool> {
    Arc::new(
        Pool::builder()
            .processes(processes)
            .start_method(method)
            .build()
            .expect("the pool starts"),
    )
}

/// Whether process `pid` no longer exists (reaped: not even a zombie).
fn is_gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Terminates the pool by dropping it (it must be the last reference) and checks that
/// every worker it ever had in `pids` is gone and no longer a child of ours.
fn drop_and_check_gone(pool: Arc<Pool>, mut pids: Vec<u32>) {
    pids.extend(pool.worker_pids());
    let pool = Arc::try_unwrap(pool).expect("the test holds the last reference");
    bounded(move || drop(pool));
    for pid in pids {
        assert!(is_gone(pid), "worker {pid} outlived its pool");
        assert!(
            active_children().iter().all(|child| child.pid() != pid),
            "worker {pid} is still listed as a child"
        );
    }
}

fn square(n: u64) -> u64 {
    n * n
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn worker_pid() -> u32 {
    std::process::id()
}

fn panic_on_odd(n: u32) -> u32 {
    if n % 2 == 1 {
        panic!("odd item {n}");
    }
    n
}

fn abort_on(n: u32, bad: u32) -> u32 {
    if n == bad {
        std::process::abort();
    }
    n
}

/// Records its worker's pid, then sleeps until killed.
fn announce_and_sleep(pid_out: Shared<AtomicU32>) -> u32 {
    pid_out.store(std::process::id(), Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(600));
    0
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Sleeps `ms`, then takes the next ticket.
fn take_ticket_after((tickets, ms): (Shared<AtomicU32>, u64)) -> u32 {
    sleep_ms(ms);
    tickets.fetch_add(1, Ordering::SeqCst)
}

fn results_come_back_in_order(method: StartMethod) {
    let pool = pool(method, 3);
    let p = Arc::clone(&pool);
    bounded(move || {
        assert_eq!(p.map(square, 1..=5).unwrap(), [1, 4, 9, 16, 25]);
        assert_eq!(p.map(square, Vec::new()).unwrap(), Vec::<u64>::new());
        for chunksize in [1, 3, 7, 1000] {
            let squares = p.chunked(chunksize).map(square, 0..200).unwrap();
            assert_eq!(squares, (0..200).map(|n| n * n).collect::<Vec<_>>());
        }
        assert_eq!(
            p.starmap(add, [(1, 2), (3, 4), (-5, 5)]).unwrap(),
            [3, 7, 0]
        );
        assert_eq!(
            p.chunked(4).starmap(add, (0..10).map(|i| (i, i))).unwrap(),
            (0..10).map(|i| 2 * i).collect::<Vec<_>>()
        );

        let imap = p.imap(square, 0..50).unwrap();
        assert_eq!(imap.len(), 50);
        let in_order: Vec<u64> = imap.map(Result::unwrap).collect();
        assert_eq!(in_order, (0..50).map(|n| n * n).collect::<Vec<_>>());

        let mut imap = p.chunked(3).imap(square, 0..10).unwrap();
        assert_eq!(imap.next().unwrap().unwrap(), 0);
        assert_eq!(imap.len(), 9, "an exact-size iterator counts down");

        // The unordered results come in the order the items end: each item takes a
        // ticket as it ends, and the tickets come out increasing (however many workers
        // ran them at once).
        let tickets = Shared::new(AtomicU32::new(0)).unwrap();
        let items = [300, 0, 150].map(|ms| (tickets.clone(), ms));
        let unordered: Vec<u32> = p
            .imap_unordered(take_ticket_after, items)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(unordered, [0, 1, 2]);
        let mut all: Vec<u64> = p
            .chunked(4)
            .imap_unordered(square, 0..30)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..30).map(|n| n * n).collect::<Vec<_>>());
    });
    drop_and_check_gone(pool, Vec::new());
}

fn apply_and_async_results(method: StartMethod) {
    let pool = pool(method, 2);
    let p = Arc::clone(&pool);
    bounded(move || {
        assert_eq!(p.apply(add, (40, 2)).unwrap(), 42);
        assert_eq!(p.submit(square, (9,)).unwrap().get().unwrap(), 81);

        let (ok_tx, ok_rx) = std::sync::mpsc::channel();
        let (err_tx, err_rx) = std::sync::mpsc::channel();
        let ok = p.apply_async(sleep_ms, (50,)).unwrap();
        ok.on_success(move |value| ok_tx.send(*value).unwrap());
        ok.on_error(|error| panic!("no error expected: {error}"));
        let fails = p.apply_async(panic_on_odd, (3,)).unwrap();
        fails.on_error(move |error| err_tx.send(error.to_string()).unwrap());
        fails.on_success(|_| panic!("no value expected"));

        assert!(ok.wait_timeout(PATIENCE).is_ok());
        assert!(ok.ready());
        assert_eq!(ok.successful(), Some(true));
        assert_eq!(ok_rx.recv_timeout(PATIENCE).unwrap(), 50);
        assert_eq!(ok.get_timeout(PATIENCE).unwrap(), 50);
        assert!(matches!(ok.get_timeout(PATIENCE), Err(Error::AlreadyTaken)));
        // As Python: a task that returned stays successful after its value was had.
        assert_eq!(ok.successful(), Some(true), "taken");

        assert!(
            err_rx
                .recv_timeout(PATIENCE)
                .unwrap()
                .contains("odd item 3")
        );
        assert_eq!(fails.successful(), Some(false));

        let slow = p.apply_async(sleep_ms, (300,)).unwrap();
        assert!(matches!(
            slow.get_timeout(Duration::from_millis(1)),
            Err(Error::TimedOut)
        ));
        assert_eq!(slow.successful(), None, "still running");
        slow.wait();
        // A callback added after the end runs at once, here.
        let (late_tx, late_rx) = std::sync::mpsc::channel();
        slow.add_done_callback(move |outcome| late_tx.send(outcome.ok().copied()).unwrap());
        assert_eq!(late_rx.try_recv().unwrap(), Some(300));
        assert_eq!(slow.get().unwrap(), 300);

        // Many at once: each gets its own value.
        let results: Vec<_> = (0..100)
            .map(|i| p.apply_async(add, (i, 1)).unwrap())
            .collect();
        for (i, result) in results.into_iter().enumerate() {
            assert_eq!(result.get_timeout(PATIENCE).unwrap(), i as i64 + 1);
        }
    });
    drop_and_check_gone(pool, Vec::new());
}

fn a_panic_fails_only_its_item(method: StartMethod) {
    let pool = pool(method, 2);
    let pids = pool.worker_pids();
    let p = Arc::clone(&pool);
    bounded(move || {
        for chunksize in [1, 4] {
            let results: Vec<Result<u32, Error>> = p
                .chunked(chunksize)
                .imap(panic_on_odd, 0..10)
                .unwrap()
                .collect();
            for (n, result) in results.iter().enumerate() {
                match (n % 2, result) {
                    (0, Ok(value)) => assert_eq!(*value as usize, n),
                    (1, Err(Error::Panicked { message, .. })) => {
                        assert_eq!(*message, format!("odd item {n}"))
                    }
                    other => panic!("item {n}: {other:?}"),
                }
            }
        }
        // `map` gives the first error in the items' order.
        match p.map(panic_on_odd, [0, 2, 5, 7]) {
            Err(Error::Panicked { message, .. }) => assert_eq!(message, "odd item 5"),
            other => panic!("{other:?}"),
        }
    });
    // A panic is not a crash: the same workers are still there.
    assert_eq!(pool.worker_pids(), pids);
    drop_and_check_gone(pool, pids);
}

fn sigkill_mid_task_fails_only_that_task(method: StartMethod) {
    let pool = pool(method, 2);
    let first_pids = pool.worker_pids();
    let victim_pid = Shared::new(AtomicU32::new(0)).unwrap();
    let doomed = pool
        .apply_async(announce_and_sleep, (victim_pid.clone(),))
        .unwrap();
    let others: Vec<_> = (0..20)
        .map(|i| pool.apply_async(sleep_ms, (i,)).unwrap())
        .collect();

    eventually("the task records its worker", || {
        victim_pid.load(Ordering::SeqCst) != 0
    });
    let pid = victim_pid.load(Ordering::SeqCst);
    assert!(first_pids.contains(&pid));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    match doomed.get_timeout(PATIENCE) {
        Err(Error::Signaled {
            signal,
            signal_name,
            ..
        }) => {
            assert_eq!(signal, 9);
            assert_eq!(signal_name, "SIGKILL");
        }
        other => panic!("{other:?}"),
    }
    for (i, other) in others.into_iter().enumerate() {
        assert_eq!(other.get_timeout(PATIENCE).unwrap(), i as u64);
    }
    // A replacement took the dead worker's place, and the pool goes on.
    eventually("a replacement worker", || {
        let pids = pool.worker_pids();
        pids.len() == 2 && !pids.contains(&pid)
    });
    assert!(is_gone(pid), "the killed worker was reaped");
    let p = Arc::clone(&pool);
    assert_eq!(bounded(move || p.map(square, 0..4).unwrap()), [0, 1, 4, 9]);
    drop_and_check_gone(pool, first_pids);
}

fn abort_inside_a_task_fails_only_that_item(method: StartMethod) {
    let pool = pool(method, 2);
    let first_pids = pool.worker_pids();
    let p = Arc::clone(&pool);
    bounded(move || {
        let crashed = p.apply_async(abort_on, (1, 1)).unwrap();
        match crashed.get_timeout(PATIENCE) {
            Err(Error::Signaled { signal_name, .. }) => assert_eq!(signal_name, "SIGABRT"),
            other => panic!("{other:?}"),
        }
        // In the middle of a chunk: that item fails, every other item of the chunk and
        // of the map completes.
        for chunksize in [1, 5, 20] {
            let results: Vec<Result<u32, Error>> = p
                .chunked(chunksize)
                .imap(|n: u32| abort_on(n, 7), 0..20)
                .unwrap()
                .collect();
            for (n, result) in results.into_iter().enumerate() {
                match result {
                    Ok(value) => assert_eq!(value as usize, n),
                    Err(Error::Signaled { signal, .. }) if n == 7 => assert_eq!(signal, 6),
                    other => panic!("chunksize {chunksize}, item {n}: {other:?}"),
                }
            }
        }
    });
    eventually("the pool is back to two workers", || {
        pool.worker_pids().len() == 2
    });
    drop_and_check_gone(pool, first_pids);
}

fn an_exit_inside_a_task_gives_its_code(method: StartMethod) {
    let pool = pool(method, 1);
    let p = Arc::clone(&pool);
    bounded(move || {
        let result = p.apply(|| -> u8 { std::process::exit(3) }, ());
        assert!(
            matches!(result, Err(Error::Exited { code: 3, .. })),
            "{result:?}"
        );
        assert_eq!(p.apply(square, (3,)).unwrap(), 9);
    });
    drop_and_check_gone(pool, Vec::new());
}

fn a_task_over_its_timeout_fails_and_its_worker_is_replaced(method: StartMethod) {
    let pool = Arc::new(
        Pool::builder()
            .processes(2)
            .task_timeout(Duration::from_millis(1500))
            .start_method(method)
            .build()
            .unwrap(),
    );
    let first_pids = pool.worker_pids();
    let p = Arc::clone(&pool);
    bounded(move || {
        let stuck = p.apply_async(sleep_ms, (600_000,)).unwrap();
        let quick: Vec<_> = (0..10)
            .map(|i| p.apply_async(square, (i,)).unwrap())
            .collect();
        match stuck.get_timeout(PATIENCE) {
            Err(Error::TaskTimedOut { timeout }) => {
                assert_eq!(timeout, Duration::from_millis(1500))
            }
            other => panic!("{other:?}"),
        }
        for (i, result) in quick.into_iter().enumerate() {
            assert_eq!(result.get_timeout(PATIENCE).unwrap(), (i * i) as u64);
        }
        // Per item of a chunk: only the slow item times out.
        let results: Vec<Result<u64, Error>> = p
            .chunked(4)
            .imap(sleep_ms, [1, 2, 600_000, 3])
            .unwrap()
            .collect();
        assert!(matches!(results[2], Err(Error::TaskTimedOut { .. })));
        assert_eq!(results[0].as_ref().unwrap(), &1);
        assert_eq!(results[1].as_ref().unwrap(), &2);
        assert_eq!(results[3].as_ref().unwrap(), &3);
    });
    eventually("the pool is back to two workers", || {
        pool.worker_pids().len() == 2
    });
    let now = pool.worker_pids();
    assert!(
        first_pids.iter().any(|pid| !now.contains(pid)),
        "a timed-out worker was replaced"
    );
    drop_and_check_gone(pool, first_pids);
}

fn maxtasksperchild_replaces_workers(method: StartMethod) {
    let pool = Arc::new(
        Pool::builder()
            .processes(1)
            .maxtasksperchild(2)
            .start_method(method)
            .build()
            .unwrap(),
    );
    let p = Arc::clone(&pool);
    let pids = bounded(move || {
        (0..6)
            .map(|_| p.apply(worker_pid, ()).unwrap())
            .collect::<Vec<u32>>()
    });
    assert_eq!(pids[0], pids[1]);
    assert_eq!(pids[2], pids[3]);
    assert_eq!(pids[4], pids[5]);
    assert_eq!(
        pids.iter().collect::<HashSet<_>>().len(),
        3,
        "a new worker every two tasks: {pids:?}"
    );
    // A chunk counts as one task.
    let p = Arc::clone(&pool);
    let chunk_pids = bounded(move || p.chunked(4).map(|_: u8| worker_pid(), 0..8).unwrap());
    assert!(chunk_pids[..4].iter().all(|pid| *pid == chunk_pids[0]));
    assert!(chunk_pids[4..].iter().all(|pid| *pid == chunk_pids[4]));
    let mut all = pids;
    all.extend(chunk_pids);
    drop_and_check_gone(pool, all);
}

fn count_start(starts: Shared<AtomicU32>, step: u32) {
    starts.fetch_add(step, Ordering::SeqCst);
}

fn the_initializer_runs_once_per_worker(method: StartMethod) {
    let starts = Shared::new(AtomicU32::new(0)).unwrap();
    let pool = Arc::new(
        Pool::builder()
            .processes(3)
            .maxtasksperchild(1)
            .initializer(count_start, (starts.clone(), 1))
            .start_method(method)
            .build()
            .unwrap(),
    );
    let pids = pool.worker_pids();
    eventually("each worker ran its initializer", || {
        starts.load(Ordering::SeqCst) == 3
    });
    // Tasks do not run it again; replacements (one per task here) do, once each.
    let p = Arc::clone(&pool);
    bounded(move || {
        for n in 0..4 {
            assert_eq!(p.apply(square, (n,)).unwrap(), n * n);
        }
    });
    eventually("the replacements ran it", || {
        starts.load(Ordering::SeqCst) == 3 + 4
    });
    pool.close();
    let p = Arc::clone(&pool);
    bounded(move || p.join().unwrap());
    assert_eq!(starts.load(Ordering::SeqCst), 3 + 4);
    drop_and_check_gone(pool, pids);
}

fn panicking_initializer(_: u8) {
    panic!("cannot initialize");
}

fn an_initializer_that_panics_breaks_the_pool(method: StartMethod) {
    let pool = Arc::new(
        Pool::builder()
            .processes(2)
            .initializer(panicking_initializer, (0,))
            .start_method(method)
            .build()
            .unwrap(),
    );
    let p = Arc::clone(&pool);
    bounded(move || {
        // Submitted before the failure is known, or refused after: either way, an error.
        match p.apply_async(square, (2,)) {
            Ok(result) => match result.get_timeout(PATIENCE) {
                Err(Error::PoolBroken {
                    cause: BrokenCause::InitializerPanicked { message, .. },
                }) => assert!(message.contains("cannot initialize")),
                other => panic!("{other:?}"),
            },
            Err(Error::PoolBroken {
                cause: BrokenCause::InitializerPanicked { message, .. },
            }) => assert!(message.contains("cannot initialize")),
            Err(other) => panic!("{other:?}"),
        }
        eventually("the pool refuses new tasks", || {
            matches!(p.apply_async(square, (2,)), Err(Error::PoolBroken { .. }))
        });
    });
    drop_and_check_gone(pool, Vec::new());
}

fn close_lets_tasks_finish_then_join_waits(method: StartMethod) {
    let pool = pool(method, 2);
    let pids = pool.worker_pids();
    assert!(matches!(pool.join(), Err(Error::PoolRunning)));
    let pending: Vec<_> = (0..6)
        .map(|i| pool.apply_async(sleep_ms, (20 * i,)).unwrap())
        .collect();
    let mapped = pool.imap(square, 0..10).unwrap();
    pool.close();
    assert!(matches!(
        pool.apply_async(square, (1,)),
        Err(Error::PoolClosed)
    ));
    assert!(matches!(pool.map(square, 0..2), Err(Error::PoolClosed)));
    assert!(matches!(
        pool.join_timeout(Duration::from_millis(1)),
        Err(Error::TimedOut)
    ));
    // Two joiners at once: both return once the workers are gone.
    let (p, q) = (Arc::clone(&pool), Arc::clone(&pool));
    bounded(move || {
        let other = std::thread::spawn(move || q.join_timeout(PATIENCE));
        p.join().unwrap();
        other.join().unwrap().unwrap();
    });
    for pid in &pids {
        assert!(is_gone(*pid), "worker {pid} ended after close and join");
    }
    for (i, result) in pending.into_iter().enumerate() {
        assert_eq!(result.get_timeout(PATIENCE).unwrap(), 20 * i as u64);
    }
    assert_eq!(
        mapped.map(Result::unwrap).collect::<Vec<_>>(),
        (0..10).map(|n| n * n).collect::<Vec<_>>()
    );
    assert!(pool.worker_pids().is_empty());
    drop_and_check_gone(pool, pids);
}

fn terminate_fails_what_is_left(method: StartMethod) {
    let pool = pool(method, 1);
    let pids = pool.worker_pids();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let running = pool
        .apply_async(announce_and_sleep, (started.clone(),))
        .unwrap();
    let queued = pool.apply_async(square, (3,)).unwrap();
    let mapped = pool.imap(square, 0..5).unwrap();
    eventually("the first task runs", || {
        started.load(Ordering::SeqCst) != 0
    });
    pool.terminate();
    assert!(matches!(
        running.get_timeout(PATIENCE),
        Err(Error::Terminated)
    ));
    assert!(matches!(
        queued.get_timeout(PATIENCE),
        Err(Error::Terminated)
    ));
    let p = Arc::clone(&pool);
    let results: Vec<Result<u64, Error>> = bounded(move || mapped.collect());
    assert!(
        results
            .iter()
            .all(|result| matches!(result, Err(Error::Terminated)))
    );
    assert!(matches!(
        pool.apply_async(square, (1,)),
        Err(Error::PoolClosed)
    ));
    bounded(move || p.join().unwrap());
    for pid in &pids {
        assert!(is_gone(*pid), "worker {pid} was killed and reaped");
    }
    pool.terminate(); // twice is fine
    drop_and_check_gone(pool, pids);
}

fn dropping_the_pool_while_tasks_run(method: StartMethod) {
    let pool = pool(method, 2);
    let pids = pool.worker_pids();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let running = pool
        .apply_async(announce_and_sleep, (started.clone(),))
        .unwrap();
    let more: Vec<_> = (0..10)
        .map(|_| pool.apply_async(sleep_ms, (10_000,)).unwrap())
        .collect();
    eventually("a task runs", || started.load(Ordering::SeqCst) != 0);
    drop_and_check_gone(pool, pids);
    assert!(matches!(
        running.get_timeout(PATIENCE),
        Err(Error::Terminated)
    ));
    for result in more {
        assert!(matches!(
            result.get_timeout(PATIENCE),
            Err(Error::Terminated)
        ));
    }
}

fn add_into(total: Value<u64>, n: u64) -> u64 {
    *total.lock().unwrap() += n;
    n
}

fn make_counter(start: u32) -> Shared<AtomicU32> {
    Shared::new(AtomicU32::new(start)).unwrap()
}

fn handles_cross_both_ways(method: StartMethod) {
    let pool = pool(method, 2);
    let total = Value::new(0u64).unwrap();
    let p = Arc::clone(&pool);
    let t = total.clone();
    bounded(move || {
        let added = p
            .chunked(3)
            .starmap(add_into, (1..=10).map(|n| (t.clone(), n)))
            .unwrap();
        assert_eq!(added.iter().sum::<u64>(), 55);
        let counter = p.apply(make_counter, (5,)).unwrap();
        counter.fetch_add(1, Ordering::SeqCst);
        assert_eq!(counter.load(Ordering::SeqCst), 6);
    });
    assert_eq!(total.get().unwrap(), 55);
    drop_and_check_gone(pool, Vec::new());
}

fn bad_options_are_refused(method: StartMethod) {
    let refused = |builder: mp_processes::PoolBuilder| {
        matches!(
            builder.start_method(method).build(),
            Err(Error::InvalidArgument { .. })
        )
    };
    assert!(refused(Pool::builder().processes(0)));
    assert!(refused(Pool::builder().processes(1).maxtasksperchild(0)));
    assert!(refused(
        Pool::builder().processes(1).task_timeout(Duration::ZERO)
    ));
    let pool = pool(method, 1);
    assert!(matches!(
        pool.chunked(0).map(square, 0..3),
        Err(Error::InvalidArgument {
            argument: "chunksize",
            ..
        })
    ));
    assert!(matches!(
        pool.chunked(0).imap(square, 0..3),
        Err(Error::InvalidArgument { .. })
    ));
    drop_and_check_gone(pool, Vec::new());
}

/// Decodes as `Picky(n)` for n >= 2; refuses 0 and panics on 1.
#[derive(Debug, serde::Serialize)]
struct Picky(u8);

impl<'de> serde::Deserialize<'de> for Picky {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match <u8 as serde::Deserialize>::deserialize(deserializer)? {
            0 => Err(serde::de::Error::custom("zero is refused")),
            1 => panic!("one makes Deserialize panic"),
            n => Ok(Picky(n)),
        }
    }
}

/// Never serializes: an error, or a panic when it holds `true`.
#[derive(Debug, serde::Deserialize)]
struct Unsendable(bool);

impl serde::Serialize for Unsendable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        if self.0 {
            panic!("Serialize panics");
        }
        Err(serde::ser::Error::custom("cannot serialize"))
    }
}

fn picky_value(picky: Picky) -> u8 {
    picky.0
}

fn make_picky(n: u8) -> Picky {
    Picky(n)
}

fn unsendable(panics: bool) -> Unsendable {
    Unsendable(panics)
}

fn values_that_cannot_cross_fail_their_task(method: StartMethod) {
    let pool = pool(method, 1);
    let pids = pool.worker_pids();
    let p = Arc::clone(&pool);
    bounded(move || {
        assert_eq!(p.apply(picky_value, (Picky(5),)).unwrap(), 5);
        // Arguments the worker cannot decode: an error, then a panic.
        let result = p.apply(picky_value, (Picky(0),));
        assert!(
            matches!(
                result,
                Err(Error::ArgumentsNotDecoded {
                    fault: ArgumentsFault::Undecodable { .. },
                    ..
                })
            ),
            "{result:?}"
        );
        let result = p.apply(picky_value, (Picky(1),));
        assert!(
            matches!(
                result,
                Err(Error::ArgumentsNotDecoded {
                    fault: ArgumentsFault::Panicked { .. },
                    ..
                })
            ),
            "{result:?}"
        );
        // Results the pool cannot decode: an error, then a panic on its supervisor thread.
        let result = p.apply(make_picky, (0,));
        assert!(matches!(result, Err(Error::Transfer(_))), "{result:?}");
        let result = p.apply(make_picky, (1,));
        assert!(
            matches!(result, Err(Error::ResultDecodePanicked { .. })),
            "{result:?}"
        );
        assert_eq!(p.apply(make_picky, (7,)).unwrap().0, 7);
        // Results the worker cannot encode.
        let result = p.apply(unsendable, (false,));
        assert!(
            matches!(
                result,
                Err(Error::ResultNotSent {
                    fault: SendFault::Unencodable { .. },
                    ..
                })
            ),
            "{result:?}"
        );
        let result = p.apply(unsendable, (true,));
        assert!(
            matches!(
                result,
                Err(Error::ResultNotSent {
                    fault: SendFault::SerializePanicked { .. },
                    ..
                })
            ),
            "{result:?}"
        );
        // A panicking callback costs the task nothing.
        let result = p.apply_async(square, (3,)).unwrap();
        result.on_success(|_| panic!("a callback panics"));
        assert_eq!(result.get_timeout(PATIENCE).unwrap(), 9);
        assert_eq!(p.apply(square, (4,)).unwrap(), 16);
    });
    assert_eq!(pool.worker_pids(), pids, "no worker died of any of it");
    drop_and_check_gone(pool, pids);
}

/// In a forked child of the test (descriptor limits are per process): a pool whose
/// replacement workers cannot start, for lack of descriptors, fails the waiting tasks
/// instead of hanging, and recovers once descriptors are free again.
fn out_of_descriptors(method: StartMethod) -> Vec<String> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let mut seen = Vec::new();
    let pool = Pool::builder()
        .processes(1)
        .start_method(method)
        .build()
        .expect("the pool starts");
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let highest = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    setrlimit(Resource::RLIMIT_NOFILE, highest + 1, hard).expect("setrlimit");
    let mut hoard = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        hoard.push(file);
    }
    seen.push(format!(
        "new pool: {:?}",
        Pool::builder()
            .processes(1)
            .start_method(method)
            .build()
            .err()
    ));
    seen.push(format!(
        "crash: {:?}",
        pool.apply(|| -> u8 { std::process::abort() }, ()).err()
    ));
    seen.push(format!("next: {:?}", pool.apply(square, (2,)).err()));
    drop(hoard);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).expect("setrlimit");
    let deadline = Instant::now() + PATIENCE;
    let recovered = loop {
        match pool.apply(square, (3,)) {
            Ok(value) => break Some(value),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => break None,
        }
    };
    seen.push(format!("recovered: {recovered:?}"));
    seen
}

fn running_out_of_descriptors_fails_tasks_not_hangs(method: StartMethod) {
    let child = mp_processes::Process::fork(move || out_of_descriptors(method))
        .start()
        .expect("the child starts");
    let seen = match child.join_timeout(PATIENCE * 2) {
        Ok(seen) => seen,
        Err(error) => {
            let _ = child.kill();
            let _ = child.join_timeout(PATIENCE);
            panic!("the child failed: {error}");
        }
    };
    assert!(seen[0].starts_with("new pool: Some("), "{seen:?}");
    assert!(seen[1].contains("SIGABRT"), "{seen:?}");
    assert!(
        seen[2].starts_with("next: Some(")
            && (seen[2].contains("EMFILE") || seen[2].contains("os error 24")),
        "{seen:?}"
    );
    assert_eq!(seen[3], "recovered: Some(9)", "{seen:?}");
}

/// Records that it started, then sleeps `ms`.
fn flag_and_sleep(started: Shared<AtomicU32>, ms: u64) -> u64 {
    started.store(1, Ordering::SeqCst);
    sleep_ms(ms)
}

fn shutdown_as_the_executor_does(method: StartMethod) {
    let pool = pool(method, 1);
    let pids = pool.worker_pids();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let first = pool.submit(flag_and_sleep, (started.clone(), 200)).unwrap();
    let queued: Vec<_> = (0..5).map(|i| pool.submit(square, (i,)).unwrap()).collect();
    eventually("the first task runs", || {
        started.load(Ordering::SeqCst) == 1
    });
    let p = Arc::clone(&pool);
    bounded(move || p.shutdown(true, true));
    assert_eq!(
        first.result_timeout(PATIENCE).unwrap(),
        200,
        "it had started"
    );
    for future in queued {
        assert!(future.done());
        assert!(matches!(future.result(), Err(Error::Cancelled)));
    }
    assert!(matches!(pool.submit(square, (1,)), Err(Error::PoolClosed)));
    for pid in &pids {
        assert!(is_gone(*pid), "shutdown(wait) waited for worker {pid}");
    }
    pool.shutdown(true, false); // again: harmless

    // Without cancelling, every task still runs; without waiting, join comes later.
    let pool = self::pool(method, 2);
    let pids = pool.worker_pids();
    let futures: Vec<_> = (0..6)
        .map(|i| pool.submit(sleep_ms, (10 * i,)).unwrap())
        .collect();
    pool.shutdown(false, false);
    for (i, future) in futures.into_iter().enumerate() {
        assert_eq!(future.result_timeout(PATIENCE).unwrap(), 10 * i as u64);
    }
    let p = Arc::clone(&pool);
    bounded(move || p.join().unwrap());
    drop_and_check_gone(pool, pids);
}

/// Runs a future to its end on this thread, parking between polls (the waker unparks).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

fn results_can_be_awaited(method: StartMethod) {
    let pool = pool(method, 2);
    let pids = pool.worker_pids();
    let p = Arc::clone(&pool);
    bounded(move || {
        let results: Vec<_> = (0..10)
            .map(|i| p.submit(sleep_ms, (i * 5,)).unwrap())
            .collect();
        let failing = p.submit(panic_on_odd, (1,)).unwrap();
        let values: Vec<u64> = block_on(async move {
            let mut values = Vec::new();
            for result in results {
                values.push(result.await.unwrap());
            }
            values
        });
        assert_eq!(values, (0..10).map(|i| i * 5).collect::<Vec<_>>());
        assert!(matches!(
            block_on(failing.into_future()),
            Err(Error::Panicked { .. })
        ));
        let stuck = p.submit(sleep_ms, (600_000,)).unwrap();
        p.terminate();
        assert!(matches!(
            block_on(stuck.into_future()),
            Err(Error::Terminated)
        ));
    });
    drop_and_check_gone(pool, pids);
}

common::for_each_method!(
    results_come_back_in_order,
    apply_and_async_results,
    a_panic_fails_only_its_item,
    sigkill_mid_task_fails_only_that_task,
    abort_inside_a_task_fails_only_that_item,
    an_exit_inside_a_task_gives_its_code,
    a_task_over_its_timeout_fails_and_its_worker_is_replaced,
    maxtasksperchild_replaces_workers,
    the_initializer_runs_once_per_worker,
    an_initializer_that_panics_breaks_the_pool,
    close_lets_tasks_finish_then_join_waits,
    terminate_fails_what_is_left,
    dropping_the_pool_while_tasks_run,
    handles_cross_both_ways,
    bad_options_are_refused,
    values_that_cannot_cross_fail_their_task,
    running_out_of_descriptors_fails_tasks_not_hangs,
    shutdown_as_the_executor_does,
    results_can_be_awaited,
);
