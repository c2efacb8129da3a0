//! What one cluster measurement runs on: a `redis-server` of its own on loopback and
//! worker processes that are this executable again; both gone when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use mp_cluster::worker::boot::WORKER_ENV;
use test_support::redis::{RedisServer, ServerError};

use crate::error::BenchError;

/// The local processes of each worker, as `MP_CLUSTER_PROCESSES` tells it.
const PROCESSES_ENV: &str = "MP_CLUSTER_PROCESSES";

/// A fresh server on a free loopback port, without persistence, in a temporary folder;
/// dropped, it is shut down, reaped and its folder removed. Without `redis-server`
/// installed, [`BenchError::Unavailable`] says how to install it.
pub(super) fn start_server() -> Result<RedisServer, BenchError> {
    RedisServer::start().map_err(server_error)
}

/// A missing server is a skip; any other failure to start one is an error.
fn server_error(error: ServerError) -> BenchError {
    match error {
        ServerError::NotInstalled => BenchError::Unavailable(error.to_string()),
        other => BenchError::Child(format!("redis-server: {other}")),
    }
}

/// Worker processes serving one pool: this executable, started with the variables that
/// make mp-cluster serve the pool before `main` runs. Dropped, each is killed and reaped.
pub(super) struct Workers {
    children: Vec<Child>,
}

impl Workers {
    /// Starts `count` workers of the pool `pool` on the server at `url`, each running
    /// its tasks on `processes` local processes.
    pub(super) fn start(
        url: &str,
        pool: &str,
        count: usize,
        processes: usize,
    ) -> Result<Workers, BenchError> {
        let program = own_executable()?;
        let mut workers = Workers {
            children: Vec::with_capacity(count),
        };
        for _ in 0..count {
            let child = Command::new(&program)
                .env(WORKER_ENV, pool)
                .env(mp_cluster::URL_ENV, url)
                .env(PROCESSES_ENV, processes.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| BenchError::Child(format!("starting a cluster worker: {e}")))?;
            // Pushed at once, so that an error starting the next one still reaps it.
            workers.children.push(child);
        }
        Ok(workers)
    }

    /// The workers' process ids.
    pub(super) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            // Errors mean it already exited; the wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn own_executable() -> Result<PathBuf, BenchError> {
    std::env::current_exe()
        .map_err(|e| BenchError::Child(format!("finding the bench's own executable: {e}")))
}

/// Which of `workers` runs the calling process: the nearest ancestor among them (a
/// task runs in a local process the worker started, directly or through a server of
/// its own), or 0 if none is.
pub(super) fn serving_worker(workers: &[u32]) -> u32 {
    let mut pid = std::process::id();
    while pid > 1 {
        if workers.contains(&pid) {
            return pid;
        }
        pid = parent_of(pid);
    }
    0
}

/// The parent of `pid`, from `/proc/<pid>/stat` (0 if it cannot be read).
fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after_name
        .split_whitespace()
        .nth(1)
        .and_then(|ppid| ppid.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use test_support::redis::ServerError;

    use super::{parent_of, server_error, serving_worker};
    use crate::error::BenchError;

    #[test]
    fn a_missing_server_skips_the_row_and_says_how_to_install_it() {
        match server_error(ServerError::NotInstalled) {
            BenchError::Unavailable(why) => assert!(why.contains("apt-get install"), "{why}"),
            other => panic!("not a skip: {other:?}"),
        }
        let refused = server_error(ServerError::NoFreePort { attempts: 8 });
        assert!(matches!(refused, BenchError::Child(_)), "{refused:?}");
    }

    #[test]
    fn the_serving_worker_is_the_nearest_listed_ancestor() {
        let me = std::process::id();
        let parent = parent_of(me);
        assert!(parent > 0);
        assert_eq!(serving_worker(&[parent]), parent);
        assert_eq!(serving_worker(&[me, parent]), me);
        assert_eq!(serving_worker(&[]), 0);
    }
}
