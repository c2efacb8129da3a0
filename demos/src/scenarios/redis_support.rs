//! A Redis server of the scenario's own, and worker processes that stand in for
//! machines: what `cluster-pool` needs around mp-cluster's `Pool`.
//!
//! The server is test-support's `RedisServer`, the one every test of the workspace
//! starts: the Debian package's `redis-server` on a free loopback port, with nothing
//! persisted, asked to die with the scenario, shut down, reaped and its folder removed
//! when dropped, every wait bounded. Keeping one launcher keeps one set of those
//! safeguards. Where it is not installed the scenario is skipped, not failed: it says
//! how to install it.
//!
//! A worker is this very binary started again with the variables mp-cluster reads before
//! `main` (`MP_CLUSTER_WORKER`, `MP_REDIS_URL`, ...), so it serves the pool instead of
//! running the demos. It too dies with the scenario, and dropping it kills and reaps it.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use mp::sys::Deadline;
use test_support::redis::{RedisServer, ServerError};

use crate::DemoError;
use crate::isolated::die_with_parent;

/// How the scenario says where to get the server when it is missing.
pub(super) const INSTALL_HINT: &str = "redis-server is not installed: install it with \
     `sudo apt-get install redis-server` (or set MP_REDIS_URL to a Redis 7 server)";

/// How long a killed process may take to be reaped: `SIGKILL` ends it at once, so this
/// only bounds a wait that something else went wrong with.
const REAP_BOUND: Duration = Duration::from_secs(10);

/// Kills `child` (`SIGKILL`) unless it has ended, and reaps it within [`REAP_BOUND`];
/// how it ended, if it was reaped.
fn kill_and_reap(child: &mut Child) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = child.kill();
    let deadline = Deadline::after(REAP_BOUND);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if !deadline.has_passed() => std::thread::sleep(Duration::from_millis(5)),
            _ => return None,
        }
    }
}

/// Starts a `redis-server` of the scenario's own (test-support's, the one every test of
/// the workspace uses) with its files in `dir`, created and removed with it; `None` if
/// `redis-server` is not installed.
pub(super) fn start_local_redis(dir: &Path) -> Result<Option<RedisServer>, DemoError> {
    match RedisServer::start_in(dir) {
        Ok(server) => Ok(Some(server)),
        Err(ServerError::NotInstalled) => Ok(None),
        Err(other) => Err(DemoError::Other(Box::new(other))),
    }
}

/// The names of the keys `server` holds, sorted.
pub(super) fn server_keys(server: &RedisServer) -> Result<Vec<String>, DemoError> {
    server
        .keys("*")
        .map_err(|err| DemoError::Other(Box::new(err)))
}

/// A worker of a cluster pool: this binary again, serving the pool; killed and reaped
/// when dropped.
pub(super) struct WorkerProcess {
    child: Child,
    ended: Option<ExitStatus>,
}

/// How a worker process is started: the variables mp-cluster's worker reads.
pub(super) struct WorkerSettings<'a> {
    /// The Redis server.
    pub(super) url: &'a str,
    /// The pool to serve.
    pub(super) pool: &'a str,
    /// Its local worker processes.
    pub(super) processes: u32,
    /// How long its tasks stay leased to it without a renewal.
    pub(super) lease: Duration,
}

impl WorkerProcess {
    /// Starts a worker with `settings`; its standard output is discarded, its errors go to
    /// the scenario's.
    pub(super) fn start(settings: &WorkerSettings<'_>) -> Result<WorkerProcess, DemoError> {
        let mut command = Command::new("/proc/self/exe");
        command
            .env(mp::cluster::worker::boot::WORKER_ENV, settings.pool)
            .env(mp::cluster::URL_ENV, settings.url)
            .env("MP_CLUSTER_PROCESSES", settings.processes.to_string())
            .env(
                "MP_CLUSTER_LEASE_MS",
                settings.lease.as_millis().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|e| DemoError::io("starting a worker process", e))?;
        tracing::debug!(
            pid = child.id(),
            pool = settings.pool,
            "worker process started"
        );
        Ok(WorkerProcess { child, ended: None })
    }

    /// Its process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with `SIGKILL`, as a machine that dies, and reaps it; the signal that
    /// ended it (`None` if it had ended otherwise, or could not be reaped).
    pub(super) fn kill(&mut self) -> Option<i32> {
        if self.ended.is_none() {
            self.ended = kill_and_reap(&mut self.child);
        }
        self.ended.and_then(|status| status.signal())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
