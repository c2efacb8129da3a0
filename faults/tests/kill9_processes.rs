//! kill -9 against `Pool` and the forkserver.
//!
//! Pool: workers killed at seeded random instants while tasks run; every task must
//! come back with its result, or (at most one per kill) with the error naming the
//! signal, and the pool must run a task after every kill (the recovery is the time
//! until it does). Forkserver: a child it started, then the server itself, killed;
//! the next start must succeed and its child return its value.

use std::time::{Duration, Instant};

use mp_faults::{Resources, Rng, Tally, exclusive, scaled};
use mp_processes::{Error, Pool, Process, StartMethod};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const KILLS: u64 = 12;
const BOUND: Duration = Duration::from_secs(30);
const KILL_WINDOW_US: u64 = 20_000;

fn square_after(x: u64, micros: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(micros));
    x * x
}

fn sleep_then(millis: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    millis
}

fn kill_pid(pid: u32) {
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// The parent of process `pid`, from `/proc`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn pool_kill9() {
    let _only_me = exclusive();
    let mut rng = Rng::for_loop("pool-kill9");
    let mut tally = Tally::new("pool-kill9");
    // The forkserver the pool's workers come from stays for the next starts: it is
    // started before the count, not counted as left over.
    let _ = Process::new(sleep_then, (0,))
        .start()
        .map(|warm_up| warm_up.join_timeout(BOUND));
    let before = Resources::now();
    let pool = Pool::builder()
        .processes(2)
        .build()
        .expect("the pool starts");
    for round in 0..scaled(KILLS) {
        let tasks: Vec<_> = (0..20)
            .map(|i| (i, pool.apply_async(square_after, (round * 100 + i, 500))))
            .collect();
        std::thread::sleep(Duration::from_micros(rng.below(KILL_WINDOW_US)));
        let pids = pool.worker_pids();
        if let Some(&victim) = pids.get(rng.below(pids.len() as u64) as usize) {
            kill_pid(victim);
            tally.tries += 1;
        }
        let mut signaled = 0;
        for (i, task) in tasks {
            let expected = (round * 100 + i) * (round * 100 + i);
            match task.map(|task| task.get_timeout(BOUND)) {
                Ok(Ok(value)) if value == expected => {}
                Ok(Ok(_)) => tally.corrupted += 1,
                Ok(Err(Error::Signaled { .. })) => signaled += 1,
                Ok(Err(Error::TimedOut)) => tally.hung += 1,
                _ => tally.lost += 1,
            }
        }
        // One task runs in the killed worker at most (a chunk of one).
        tally.lost += u64::saturating_sub(signaled, 1);
        let started = Instant::now();
        match pool
            .apply_async(square_after, (3, 0))
            .map(|task| task.get_timeout(BOUND))
        {
            Ok(Ok(9)) => tally.recovered_in(started.elapsed()),
            Ok(Err(Error::TimedOut)) => tally.hung += 1,
            _ => tally.lost += 1,
        }
    }
    pool.terminate();
    if pool.join_timeout(BOUND).is_err() {
        tally.hung += 1;
    }
    drop(pool);
    tally.leaked = before.leaked_by(&Resources::now(), u64::MAX);
    tally.report();
}

#[test]
fn forkserver_child_kill9() {
    forkserver_loop("forkserver-child-kill9", false);
}

#[test]
fn forkserver_server_kill9() {
    forkserver_loop("forkserver-server-kill9", true);
}

/// Kills forkserver children, and the server too when `kill_server`, then starts one.
fn forkserver_loop(name: &str, kill_server: bool) {
    let _only_me = exclusive();
    let mut rng = Rng::for_loop(name);
    let mut tally = Tally::new(name);
    for _ in 0..scaled(KILLS / 2) {
        // A child of the forkserver, killed at a random instant.
        let victim = Process::new(sleep_then, (5_000,))
            .start_method(StartMethod::Forkserver)
            .start()
            .expect("a forkserver child starts");
        std::thread::sleep(Duration::from_micros(rng.below(KILL_WINDOW_US)));
        let server = parent_of(victim.pid());
        let _ = victim.kill();
        tally.tries += 1;
        match victim.join_timeout(BOUND) {
            Err(Error::Signaled { .. }) => {}
            Err(Error::TimedOut) => tally.hung += 1,
            _ => tally.corrupted += 1,
        }
        // Then, every other round, the server itself.
        if kill_server
            && rng.below(2) == 0
            && let Some(server) = server
            && server != std::process::id()
        {
            kill_pid(server);
            tally.tries += 1;
        }
        let started = Instant::now();
        let outcome = Process::new(sleep_then, (1,))
            .start_method(StartMethod::Forkserver)
            .start()
            .map(|child| child.join_timeout(BOUND));
        match outcome {
            Ok(Ok(1)) => tally.recovered_in(started.elapsed()),
            Ok(Err(Error::TimedOut)) => tally.hung += 1,
            other => {
                eprintln!("fault-suite | {name} | start after a kill: {other:?}");
                tally.lost += 1;
            }
        }
    }
    tally.report();
}
