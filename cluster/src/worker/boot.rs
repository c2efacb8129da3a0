//! The hook that turns a run of any binary linking mp-cluster into a worker, before
//! `main`.
//!
//! The C runtime calls every function of `.init_array` before `main`. Ours looks for
//! [`WORKER_ENV`]; if it names a pool, the process serves it (with the server of
//! `MP_REDIS_URL`) and exits without running `main`. So the binary that submits tasks
//! is, started with one variable, the worker that runs them, on any machine, with no
//! code in `main`, as Ray and mp-processes' spawned children do it.
//!
//! | variable | meaning |
//! |---|---|
//! | `MP_CLUSTER_WORKER` | the pool to serve (required: without it, the program runs as usual) |
//! | `MP_REDIS_URL` | the Redis server (required) |
//! | `MP_CLUSTER_PROCESSES` | local worker processes (default: the CPUs) |
//! | `MP_CLUSTER_AUTHKEY` | the pool's key (its bytes; default: none) |
//! | `MP_CLUSTER_LEASE_MS` | the lease, in milliseconds (default 30000) |
//! | `MP_CLUSTER_MAX_ATTEMPTS` | deliveries before a task is failed (default 3) |
//!
//! Each is removed from the environment before the worker starts its local pool, so the
//! local pool's processes (fresh runs of the same binary) do not become workers too.

use std::time::Duration;

use crate::{Cluster, Worker};

/// The variable that makes a run of the binary a worker of the pool it names.
///
/// ```
/// assert_eq!(mp_cluster::worker::boot::WORKER_ENV, "MP_CLUSTER_WORKER");
/// ```
pub const WORKER_ENV: &str = "MP_CLUSTER_WORKER";

const PROCESSES_ENV: &str = "MP_CLUSTER_PROCESSES";
const AUTHKEY_ENV: &str = "MP_CLUSTER_AUTHKEY";
const LEASE_ENV: &str = "MP_CLUSTER_LEASE_MS";
const ATTEMPTS_ENV: &str = "MP_CLUSTER_MAX_ATTEMPTS";

#[used]
#[unsafe(link_section = ".init_array")]
static WORKER_HOOK: extern "C" fn() = boot;

/// Referenced from the pool and the worker, so that the linker keeps the object file
/// holding [`WORKER_HOOK`] in every binary that uses either.
pub(crate) fn keep_hook() {
    std::hint::black_box(&WORKER_HOOK);
}

extern "C" fn boot() {
    let Some(pool) = take_var(WORKER_ENV) else {
        return;
    };
    let processes = take_var(PROCESSES_ENV);
    let authkey = std::env::var_os(AUTHKEY_ENV);
    // SAFETY: this runs before `main`, from the C runtime's constructor list, when no
    // thread has been started yet, so nothing reads the environment at the same time.
    unsafe { std::env::remove_var(AUTHKEY_ENV) };
    let lease = take_var(LEASE_ENV);
    let attempts = take_var(ATTEMPTS_ENV);
    // Rust's `main` ignores SIGPIPE before user code runs; ours never runs, so do the
    // same: a write to a closed socket must fail, not kill the worker.
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let outcome = Cluster::from_env().and_then(|cluster| {
        let mut worker = Worker::builder(&cluster, &pool);
        if let Some(processes) = processes.as_deref().and_then(|n| n.parse().ok()) {
            worker = worker.processes(processes);
        }
        if let Some(key) = &authkey {
            worker = worker.authkey(std::os::unix::ffi::OsStrExt::as_bytes(key.as_os_str()));
        }
        if let Some(ms) = lease.as_deref().and_then(|ms| ms.parse().ok()) {
            worker = worker.lease(Duration::from_millis(ms));
        }
        if let Some(attempts) = attempts.as_deref().and_then(|n| n.parse().ok()) {
            worker = worker.max_attempts(attempts);
        }
        worker.serve()
    });
    match outcome {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("mp-cluster worker of pool {pool:?}: {error}");
            std::process::exit(1);
        }
    }
}

/// The variable's value (if it is text), removed from the environment.
fn take_var(name: &str) -> Option<String> {
    let value = std::env::var(name).ok();
    // SAFETY: as in `boot`: before `main`, no other thread exists.
    unsafe { std::env::remove_var(name) };
    value
}
