//! The worker's side: a process that serves a [`Pool`](crate::Pool) by name, running
//! its tasks on a local mp-processes `Pool`.
//!
//! Any binary that links mp-cluster becomes a worker when it starts with
//! `MP_CLUSTER_WORKER=<pool name>` and `MP_REDIS_URL` in its environment (picked up before
//! `main`, as mp-processes' spawned children are; see [`boot`]), or by calling
//! [`WorkerBuilder::serve`]. A worker serves only tasks of its own build: the tasks stream of a
//! pool is per build, so a worker of another build never sees them.
//!
//! How a task is served, and why nothing is lost or done twice:
//! 1. Taken with `XREADGROUP` (group `workers`): the entry stays pending, owned by this
//!    worker, until its result is posted. Every third of the lease the worker renews the
//!    lease of each task it runs (`XCLAIM ... JUSTID` resets their idle time).
//! 2. A worker that dies stops renewing: once a task has been idle for the lease, the
//!    next worker to look (each looks every quarter lease) takes it over
//!    (`XAUTOCLAIM`). The stream counts deliveries: a task delivered more than
//!    `max_attempts` times has killed that many workers and is failed with
//!    [`Error::TaskKilledWorkers`] instead.
//! 3. The task runs on the local pool: a call that crashes kills one local worker
//!    process, and fails alone.
//! 4. The result is posted by one script: if the caller still lives and no result for
//!    the task was posted yet (a hash of done tasks, `HSETNX`), it is added to the caller's
//!    results stream; in every case the task is acknowledged and deleted. So a task taken
//!    over while its first worker was merely slow gets one result, whichever finishes
//!    first; the caller drops a second one anyway.

pub mod boot;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use mp_processes::pool::{EncodedOutcomes, EncodedTask};
use mp_sys::build_id::BuildId;
use redis::Value;

use crate::names::{millis, unique_name};
use crate::pool::keys::Keys;
use crate::pool::message::{self, ResultMessage, TaskMessage, Verdict};
use crate::registry::{self, ConnectedWorker};
use crate::sign::Signer;
use crate::{Cluster, Error};

/// The consumer group of every tasks stream.
const GROUP: &str = "workers";

/// Posts a result once: see the module docs, step 4. The caller's keys made here expire
/// with the caller's liveness key, which the caller's heartbeats renew together.
///
/// KEYS: done hash, results stream, caller key, tasks stream.
/// ARGV: group, entry id, task number, message, signature.
const POST_RESULT: &str = r"
local ttl = redis.call('PTTL', KEYS[3])
if ttl > 0 and redis.call('HSETNX', KEYS[1], ARGV[3], 1) == 1 then
  redis.call('XADD', KEYS[2], '*', 'm', ARGV[4], 's', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('XACK', KEYS[4], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[4], ARGV[2])
return 1
";

/// Options of a worker; see [`Worker::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use mp_cluster::{Cluster, Worker};
///
/// let cluster = Cluster::from_env()?;
/// Worker::builder(&cluster, "thumbnails")
///     .processes(8)
///     .authkey(b"shared secret")
///     .lease(Duration::from_secs(60))
///     .serve()?;
/// # Ok::<(), mp_cluster::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until serve()"]
pub struct WorkerBuilder {
    cluster: Cluster,
    pool: String,
    processes: usize,
    signer: Signer,
    lease: Duration,
    max_attempts: u32,
}

/// A worker of a cluster pool. See the [module docs](self).
///
/// ```no_run
/// let cluster = mp_cluster::Cluster::from_env()?;
/// mp_cluster::Worker::builder(&cluster, "reports").serve()?;
/// # Ok::<(), mp_cluster::Error>(())
/// ```
#[derive(Debug)]
pub struct Worker;

impl Worker {
    /// A worker for the pool `pool`, with the defaults: one local process per CPU, no
    /// key, a 30 s lease, 3 attempts.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let worker = mp_cluster::Worker::builder(&cluster, "reports").processes(2);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn builder(cluster: &Cluster, pool: &str) -> WorkerBuilder {
        WorkerBuilder {
            cluster: cluster.clone(),
            pool: pool.to_owned(),
            processes: mp_processes::cpu_count(),
            signer: Signer::default(),
            lease: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

impl WorkerBuilder {
    /// How many local worker processes run tasks (default: the CPUs).
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = processes.max(1);
        self
    }

    /// Runs only tasks signed with `key` and signs results with it.
    pub fn authkey(mut self, key: &[u8]) -> Self {
        self.signer = Signer::new(Some(key));
        self
    }

    /// How long a task may go without its worker renewing it before another worker
    /// takes it over (default 30 s; the same for every worker of a pool).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// How many deliveries a task may have (each one a worker that took it and died, but
    /// the last) before it fails with
    /// [`Error::TaskKilledWorkers`] (default 3; 0 counts
    /// as 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Serves the pool until the process ends, or an error it cannot recover from (the
    /// local pool broke; Redis out of reach for longer than the cluster's reconnect
    /// bound, many times over).
    pub fn serve(self) -> Result<(), Error> {
        self.serve_until(&AtomicBool::new(false))
    }

    /// Serves until `stop` is set; then takes no new task, waits for the running ones,
    /// posts their results and withdraws.
    ///
    /// ```no_run
    /// use std::sync::atomic::AtomicBool;
    ///
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let stop = AtomicBool::new(false);
    /// std::thread::scope(|scope| {
    ///     scope.spawn(|| mp_cluster::Worker::builder(&cluster, "reports").serve_until(&stop));
    ///     // ... later:
    ///     stop.store(true, std::sync::atomic::Ordering::Release);
    /// });
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn serve_until(self, stop: &AtomicBool) -> Result<(), Error> {
        boot::keep_hook();
        let serving = Arc::new(Serving::start(self)?);
        let (finished, finished_rx) = crossbeam_channel::unbounded();
        let poster = {
            let serving = Arc::clone(&serving);
            std::thread::Builder::new()
                .name("mp-cluster worker results".into())
                .spawn(move || serving.post_finished(&finished_rx))
                .map_err(|err| Error::Thread {
                    reason: err.to_string(),
                })?
        };
        let outcome = serving.run(stop, &finished);
        if outcome.is_ok() {
            serving.wait_idle();
        }
        drop(finished);
        let _ = poster.join();
        if let Err(error) = registry::withdraw(&serving.cluster, &serving.keys, &serving.name) {
            tracing::debug!(%error, "worker not withdrawn; its key expires");
        }
        outcome
    }
}

/// A task that ended on the local pool: its entry, and what became of it.
type Finished = crossbeam_channel::Sender<(String, Result<EncodedOutcomes, mp_processes::Error>)>;

/// A task running on the local pool.
struct Running {
    caller: String,
    task: u64,
}

struct Serving {
    cluster: Cluster,
    keys: Keys,
    name: String,
    build: String,
    tasks_key: String,
    signer: Signer,
    lease: Duration,
    max_attempts: u32,
    capacity: usize,
    local: mp_processes::Pool,
    running: Arc<(Mutex<HashMap<String, Running>>, Condvar)>,
    post: redis::Script,
}

impl Serving {
    fn start(options: WorkerBuilder) -> Result<Serving, Error> {
        let keys = Keys::of(&options.pool)?;
        let build = BuildId::current()
            .map_err(|source| Error::BuildId { source })?
            .to_string();
        let local = mp_processes::Pool::builder()
            .processes(options.processes)
            .build()?;
        let serving = Serving {
            tasks_key: keys.tasks(&build),
            keys,
            cluster: options.cluster,
            name: unique_name(),
            build,
            signer: options.signer,
            lease: options.lease,
            max_attempts: options.max_attempts,
            // Two tasks per process: one running, one waiting, so a process never idles
            // while the next task crosses the network.
            capacity: options.processes * 2,
            local,
            running: Arc::new((Mutex::new(HashMap::new()), Condvar::new())),
            post: redis::Script::new(POST_RESULT),
        };
        serving.ensure_group()?;
        serving.heartbeat(&[])?;
        tracing::debug!(worker = %serving.name, build = %serving.build, "worker serving");
        Ok(serving)
    }

    fn running(&self) -> MutexGuard<'_, HashMap<String, Running>> {
        self.running
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves until `stop`; a server out of reach is waited for (a worker outlives a
    /// Redis restart or failover), any other error ends the worker.
    fn run(&self, stop: &AtomicBool, finished: &Finished) -> Result<(), Error> {
        while !stop.load(Ordering::Acquire) {
            match self.serve_tasks(stop, finished) {
                Err(error @ Error::Unreachable { .. }) => {
                    tracing::warn!(worker = %self.name, %error, "Redis out of reach; trying again");
                    std::thread::sleep(Duration::from_secs(1));
                }
                other => return other,
            }
        }
        Ok(())
    }

    fn serve_tasks(&self, stop: &AtomicBool, finished: &Finished) -> Result<(), Error> {
        let mut beat = Instant::now();
        // Expired leases are looked for every quarter lease, not at every read: a
        // take-over comes at most a quarter lease late, and a busy worker saves a command
        // per task.
        let mut claimed_at: Option<Instant> = None;
        while !stop.load(Ordering::Acquire) {
            if beat.elapsed() >= self.lease / 3 {
                let ids: Vec<String> = self.running().keys().cloned().collect();
                self.heartbeat(&ids)?;
                beat = Instant::now();
            }
            let room = self.capacity.saturating_sub(self.running().len());
            if room == 0 {
                let running = self.running();
                let _ = self
                    .running
                    .1
                    .wait_timeout(running, Duration::from_millis(100))
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let claim_due = claimed_at.is_none_or(|at| at.elapsed() >= self.lease / 4);
            let claimed = if claim_due {
                claimed_at = Some(Instant::now());
                self.claim_expired(room, finished)?
            } else {
                0
            };
            let left = room - claimed;
            if left > 0 {
                let wait = if self.running().is_empty() && claimed == 0 {
                    Duration::from_millis(500)
                } else {
                    Duration::from_millis(20)
                };
                self.read_new(left, wait.min(self.lease / 3), finished)?;
            }
        }
        Ok(())
    }

    /// Takes over up to `room` tasks whose workers stopped renewing them; how many.
    fn claim_expired(&self, room: usize, finished: &Finished) -> Result<usize, Error> {
        let idle = millis(self.lease);
        let reply: Value = self.grouped("XAUTOCLAIM", Duration::ZERO, |connection| {
            redis::cmd("XAUTOCLAIM")
                .arg(&self.tasks_key)
                .arg(GROUP)
                .arg(&self.name)
                .arg(idle)
                .arg("0-0")
                .arg("COUNT")
                .arg(room)
                .query(connection)
        })?;
        let entries = autoclaimed_entries(reply);
        let count = entries.len();
        for (id, fields) in entries {
            let deliveries = self.deliveries(&id)?;
            tracing::debug!(worker = %self.name, %id, deliveries, "took over a task");
            self.serve_entry(id, &fields, deliveries, finished)?;
        }
        Ok(count)
    }

    /// How many times the entry was delivered (taken, or taken over).
    fn deliveries(&self, id: &str) -> Result<u32, Error> {
        let reply: Value = self.cluster.run("XPENDING", |connection| {
            redis::cmd("XPENDING")
                .arg(&self.tasks_key)
                .arg(GROUP)
                .arg(id)
                .arg(id)
                .arg(1)
                .query(connection)
        })?;
        // [[id, consumer, idle, deliveries]]
        let count = match reply {
            Value::Array(rows) => rows.into_iter().next().and_then(|row| match row {
                Value::Array(fields) => match fields.get(3) {
                    Some(Value::Int(count)) => u32::try_from(*count).ok(),
                    _ => None,
                },
                _ => None,
            }),
            _ => None,
        };
        Ok(count.unwrap_or(1))
    }

    /// Takes up to `room` new tasks, waiting up to `wait` for the first.
    fn read_new(&self, room: usize, wait: Duration, finished: &Finished) -> Result<(), Error> {
        let reply: Option<redis::streams::StreamReadReply> =
            self.grouped("XREADGROUP", wait, |connection| {
                redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(GROUP)
                    .arg(&self.name)
                    .arg("COUNT")
                    .arg(room)
                    .arg("BLOCK")
                    .arg(millis(wait).max(1))
                    .arg("STREAMS")
                    .arg(&self.tasks_key)
                    .arg(">")
                    .query(connection)
            })?;
        for entry in reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
        {
            self.serve_entry(entry.id, &entry.map, 1, finished)?;
        }
        Ok(())
    }

    /// Runs one task entry, or settles it at once (refused, failed, or not wanted).
    fn serve_entry(
        &self,
        id: String,
        fields: &HashMap<String, Value>,
        deliveries: u32,
        finished: &Finished,
    ) -> Result<(), Error> {
        let Some((bytes, signature)) = message::fields(fields) else {
            tracing::warn!(worker = %self.name, %id, "a task entry without a message; deleted");
            return self.drop_entry(&id);
        };
        let Ok(task) = mp_wire::decode_bytes::<TaskMessage>(&bytes) else {
            tracing::warn!(worker = %self.name, %id, "a task entry that does not decode; deleted");
            return self.drop_entry(&id);
        };
        if !self.signer.verify(&bytes, &signature) {
            tracing::warn!(worker = %self.name, %id, caller = %task.caller, "a task with a wrong signature; refused");
            let verdict = Verdict::BadSignature {
                worker: self.name.clone(),
            };
            // Unsigned: the caller believes a refusal without a signature.
            return self.post(&id, &task.caller, task.task, verdict, false);
        }
        if deliveries > self.max_attempts {
            let attempts = deliveries - 1;
            tracing::warn!(worker = %self.name, %id, attempts, "a task that killed its workers; failed");
            return self.post(
                &id,
                &task.caller,
                task.task,
                Verdict::KilledWorkers { attempts },
                true,
            );
        }
        if !self.wanted(&task)? {
            return self.drop_entry(&id);
        }
        // SAFETY: the entry came from this build's own tasks stream (its name holds this
        // executable's build id), and, with a key, carries a signature made with it, so
        // `task.entry` was made by `EncodedTask::new` in a process running this same
        // build. Without a key the crate docs state the trust placed in whoever can write
        // to the pool's streams (they can make workers run any function of the program).
        let encoded = unsafe { EncodedTask::from_parts(task.entry, task.items, task.len as usize) };
        let future = self.local.submit_encoded(encoded)?;
        self.running().insert(
            id.clone(),
            Running {
                caller: task.caller,
                task: task.task,
            },
        );
        let finished = finished.clone();
        future.add_done_callback(move |outcome| {
            // The poster thread posts it: the local pool's thread, which runs this
            // callback, must not wait on Redis.
            let _ = finished.send((id, outcome.cloned().map_err(Clone::clone)));
        });
        Ok(())
    }

    /// Whether the task's caller still waits for it and nobody posted its result.
    fn wanted(&self, task: &TaskMessage) -> Result<bool, Error> {
        let (alive, done): (bool, bool) = self.cluster.run("EXISTS", |connection| {
            redis::pipe()
                .cmd("EXISTS")
                .arg(self.keys.caller(&task.caller))
                .cmd("HEXISTS")
                .arg(self.keys.done(&task.caller))
                .arg(task.task)
                .query(connection)
        })?;
        Ok(alive && !done)
    }
}

impl Serving {
    /// The poster thread: posts the result of each task that ends, until the channel
    /// closes.
    fn post_finished(
        &self,
        finished: &crossbeam_channel::Receiver<(
            String,
            Result<EncodedOutcomes, mp_processes::Error>,
        )>,
    ) {
        for (id, outcome) in finished {
            let Some(running) = self.running().remove(&id) else {
                continue;
            };
            let posted = match outcome {
                Ok(outcomes) if !outcomes.did_not_run() => self.post(
                    &id,
                    &running.caller,
                    running.task,
                    Verdict::Ran(outcomes),
                    true,
                ),
                Ok(_) | Err(_) => {
                    // The local pool could not run it: left pending, not renewed, so
                    // another worker takes it over after the lease.
                    tracing::warn!(worker = %self.name, %id, "the local pool could not run a task; left for another worker");
                    Ok(())
                }
            };
            if let Err(error) = posted {
                tracing::warn!(worker = %self.name, %id, %error, "a result could not be posted; the task will run again elsewhere");
            }
            self.running.1.notify_all();
        }
    }

    /// Waits until no task runs here.
    fn wait_idle(&self) {
        let mut running = self.running();
        while !running.is_empty() {
            running = self
                .running
                .1
                .wait(running)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Posts a verdict to the task's caller (see [`POST_RESULT`]), acknowledging and
    /// deleting the task's entry.
    fn post(
        &self,
        id: &str,
        caller: &str,
        task: u64,
        verdict: Verdict,
        signed: bool,
    ) -> Result<(), Error> {
        let result = ResultMessage { task, verdict };
        let signer = if signed {
            self.signer.clone()
        } else {
            Signer::default()
        };
        let (bytes, signature) = message::seal(&result, &signer).map_err(Error::Encode)?;
        self.cluster.run("EVALSHA", |connection| {
            self.post
                .key(self.keys.done(caller))
                .key(self.keys.results(caller))
                .key(self.keys.caller(caller))
                .key(&self.tasks_key)
                .arg(GROUP)
                .arg(id)
                .arg(task)
                .arg(&bytes)
                .arg(&signature)
                .invoke::<()>(connection)
        })
    }

    /// Acknowledges and deletes an entry that is not run.
    fn drop_entry(&self, id: &str) -> Result<(), Error> {
        self.cluster.run("XACK", |connection| {
            redis::pipe()
                .atomic()
                .cmd("XACK")
                .arg(&self.tasks_key)
                .arg(GROUP)
                .arg(id)
                .ignore()
                .cmd("XDEL")
                .arg(&self.tasks_key)
                .arg(id)
                .ignore()
                .query::<()>(connection)
        })
    }

    /// Announces the worker again and renews the lease of the tasks in `running`.
    fn heartbeat(&self, running: &[String]) -> Result<(), Error> {
        let ttl = self.key_ttl();
        registry::announce(
            &self.cluster,
            &self.keys,
            &self.name,
            &ConnectedWorker {
                build: self.build.clone(),
                processes: self.capacity / 2,
            },
            ttl,
        )?;
        self.grouped("XCLAIM", Duration::ZERO, |connection| {
            let mut transaction = redis::pipe();
            transaction
                .cmd("PEXPIRE")
                .arg(&self.tasks_key)
                .arg(millis(ttl))
                .ignore();
            if !running.is_empty() {
                // Idle time back to zero: the lease starts over.
                transaction
                    .cmd("XCLAIM")
                    .arg(&self.tasks_key)
                    .arg(GROUP)
                    .arg(&self.name)
                    .arg(0)
                    .arg(running)
                    .arg("JUSTID")
                    .ignore();
            }
            transaction.query::<()>(connection)
        })
    }

    fn ensure_group(&self) -> Result<(), Error> {
        self.cluster.run("XGROUP", |connection| {
            create_group(connection, &self.tasks_key, self.key_ttl())
        })
    }

    /// How long the worker's keys outlive its last heartbeat.
    fn key_ttl(&self) -> Duration {
        self.lease.saturating_mul(3)
    }

    /// Runs a command on the tasks stream's group, creating the group (and the stream)
    /// again if the last caller deleted them meanwhile.
    fn grouped<R>(
        &self,
        operation: &'static str,
        wait: Duration,
        mut command: impl FnMut(&mut redis::Connection) -> redis::RedisResult<R>,
    ) -> Result<R, Error> {
        self.cluster
            .run_waiting(operation, wait, |connection| match command(connection) {
                // The last caller deleted the stream (its group with it), before this
                // command or while it was blocked in it.
                Err(err) if matches!(err.code(), Some("NOGROUP" | "UNBLOCKED")) => {
                    create_group(connection, &self.tasks_key, self.key_ttl())?;
                    command(connection)
                }
                outcome => outcome,
            })
    }
}

/// Creates the tasks stream's group (and the stream, if the last caller deleted it) and
/// sets its expiry, in one script: a worker killed between the two would leave a stream
/// that never expires.
///
/// KEYS: the tasks stream. ARGV: the group, the expiry in ms.
const CREATE_GROUP: &str = r"
local created = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if type(created) == 'table' and created.err and not string.find(created.err, 'BUSYGROUP') then
  return created
end
return 1
";

fn create_group(
    connection: &mut redis::Connection,
    stream: &str,
    ttl: Duration,
) -> redis::RedisResult<()> {
    redis::Script::new(CREATE_GROUP)
        .key(stream)
        .arg(GROUP)
        .arg(millis(ttl))
        .invoke::<()>(connection)
}

/// The entries of an `XAUTOCLAIM` reply (`[cursor, [[id, [field, value, ...]], ...],
/// [deleted ids]]`); entries deleted meanwhile come as nil and are left out.
fn autoclaimed_entries(reply: Value) -> Vec<(String, HashMap<String, Value>)> {
    let Value::Array(parts) = reply else {
        return Vec::new();
    };
    let Some(Value::Array(entries)) = parts.into_iter().nth(1) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(mut pair) = entry else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let fields = pair.pop()?;
            let id = match pair.pop()? {
                Value::BulkString(id) => String::from_utf8(id).ok()?,
                Value::SimpleString(id) => id,
                _ => return None,
            };
            let Value::Array(flat) = fields else {
                return None;
            };
            let mut map = HashMap::new();
            let mut flat = flat.into_iter();
            while let (Some(field), Some(value)) = (flat.next(), flat.next()) {
                let field = match field {
                    Value::BulkString(field) => String::from_utf8(field).ok()?,
                    Value::SimpleString(field) => field,
                    _ => return None,
                };
                map.insert(field, value);
            }
            Some((id, map))
        })
        .collect()
}
