//! Which workers serve a pool, and which build each runs: a set of worker names, and per
//! worker a key holding its build that expires unless the worker renews it.

use std::time::Duration;

use crate::pool::keys::Keys;
use crate::{Cluster, Error};

/// A worker that announced itself and has not gone quiet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConnectedWorker {
    pub(crate) build: String,
    pub(crate) processes: usize,
}

/// The workers of a pool whose keys have not expired; the expired ones are forgotten.
pub(crate) fn connected(cluster: &Cluster, keys: &Keys) -> Result<Vec<ConnectedWorker>, Error> {
    let workers_key = keys.workers();
    cluster.run("SMEMBERS", |connection| {
        let names: Vec<String> = redis::cmd("SMEMBERS").arg(&workers_key).query(connection)?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let worker_keys: Vec<String> = names.iter().map(|name| keys.worker(name)).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&worker_keys).query(connection)?;
        let mut connected = Vec::new();
        let mut gone = Vec::new();
        for (name, value) in names.iter().zip(values) {
            match value.as_deref().and_then(parse_announcement) {
                Some(worker) => connected.push(worker),
                None => gone.push(name),
            }
        }
        if !gone.is_empty() {
            redis::cmd("SREM")
                .arg(&workers_key)
                .arg(&gone)
                .query::<()>(connection)?;
        }
        Ok(connected)
    })
}

/// Announces (or renews) a worker for `ttl`.
pub(crate) fn announce(
    cluster: &Cluster,
    keys: &Keys,
    name: &str,
    worker: &ConnectedWorker,
    ttl: Duration,
) -> Result<(), Error> {
    let ttl = crate::names::millis(ttl);
    let value = format!("{} {}", worker.build, worker.processes);
    cluster.run("SET", |connection| {
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(keys.worker(name))
            .arg(&value)
            .arg("PX")
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(keys.workers())
            .arg(name)
            .ignore()
            .cmd("PEXPIRE")
            .arg(keys.workers())
            .arg(ttl)
            .ignore()
            .query::<()>(connection)
    })
}

/// Withdraws a worker that stops.
pub(crate) fn withdraw(cluster: &Cluster, keys: &Keys, name: &str) -> Result<(), Error> {
    cluster.run("DEL", |connection| {
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(keys.worker(name))
            .ignore()
            .cmd("SREM")
            .arg(keys.workers())
            .arg(name)
            .ignore()
            .query::<()>(connection)
    })
}

fn parse_announcement(value: &str) -> Option<ConnectedWorker> {
    let (build, processes) = value.split_once(' ')?;
    Some(ConnectedWorker {
        build: build.to_owned(),
        processes: processes.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_parse_and_garbage_does_not() {
        assert_eq!(
            parse_announcement("ab12 4"),
            Some(ConnectedWorker {
                build: "ab12".into(),
                processes: 4
            })
        );
        assert_eq!(parse_announcement("ab12"), None);
        assert_eq!(parse_announcement("ab12 many"), None);
    }
}
