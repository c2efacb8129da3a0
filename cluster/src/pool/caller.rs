//! [`Pool`]: the caller's side of a cluster pool. It writes tasks to the stream of its
//! build, reads its own results stream on one thread, and settles each task's future or
//! map slots from there, once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mp_futures::{Future, Promise};
use mp_processes::Target;
use mp_processes::pool::{EncodedOutcomes, EncodedTask};
use mp_sys::build_id::BuildId;
use redis::Value;
use redis::streams::StreamReadReply;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::Keys;
use super::message::{self, ResultMessage, TaskMessage, Verdict};
use super::results::{Imap, ImapUnordered, Slots};
use crate::names::{millis, unique_name};
use crate::sign::Signer;
use crate::{Cluster, Error};

/// How long one read of the results stream blocks: also how soon a dropped pool's
/// reader notices.
const READ_SLICE: Duration = Duration::from_millis(250);

/// What a task's outcome is turned into, once, by the reader thread.
pub(super) type Settle = Box<dyn FnOnce(Result<EncodedOutcomes, Error>) + Send>;

/// Options of a [`Pool`]; see [`Pool::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use mp_cluster::{Cluster, Pool};
///
/// let cluster = Cluster::from_env()?;
/// let pool = Pool::builder(&cluster, "thumbnails")
///     .authkey(b"shared secret")
///     .chunksize(64)
///     .heartbeat(Duration::from_secs(5))
///     .build()?;
/// # Ok::<(), mp_cluster::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until build()"]
pub struct PoolBuilder {
    cluster: Cluster,
    name: String,
    signer: Signer,
    chunksize: usize,
    heartbeat: Duration,
    max_task_len: usize,
    worker_wait: Duration,
}

impl PoolBuilder {
    /// Signs every task with `key` and believes only results signed with it; workers
    /// must be started with the same key (see the crate docs, "Security").
    pub fn authkey(mut self, key: &[u8]) -> Self {
        self.signer = Signer::new(Some(key));
        self
    }

    /// Calls per task for `map` and its kin (Python's `chunksize`); 0, the default,
    /// chooses as Python does: the items over four times the workers' processes.
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.chunksize = chunksize;
        self
    }

    /// How often the caller renews its keys in Redis (default 10 s). They expire three
    /// heartbeats after the last, so a caller that dies leaves nothing for longer, and
    /// workers drop its tasks once its liveness key is gone. (How long a *worker* may go
    /// quiet before its tasks move is the worker's lease: [`WorkerBuilder::lease`](crate::WorkerBuilder::lease).)
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(100));
        self
    }

    /// The largest task, encoded (default 64 MiB): a larger one is refused at submission
    /// with [`Error::MessageTooLarge`].
    pub fn max_task_len(mut self, len: usize) -> Self {
        self.max_task_len = len;
        self
    }

    /// How long a submission waits for a worker of this program's build to connect
    /// before it fails with [`Error::NoWorkers`] (default 10 s).
    pub fn worker_wait(mut self, wait: Duration) -> Self {
        self.worker_wait = wait;
        self
    }

    /// Registers the caller and starts its results reader.
    pub fn build(self) -> Result<Pool, Error> {
        crate::worker::boot::keep_hook();
        let keys = Keys::of(&self.name)?;
        let build = BuildId::current()
            .map_err(|source| Error::BuildId { source })?
            .to_string();
        let caller = unique_name();
        let inner = Arc::new(Inner {
            tasks_key: keys.tasks(&build),
            results_key: keys.results(&caller),
            done_key: keys.done(&caller),
            caller_key: keys.caller(&caller),
            callers_key: keys.callers(),
            keys,
            cluster: self.cluster,
            name: self.name,
            caller,
            build,
            signer: self.signer,
            chunksize: self.chunksize,
            heartbeat: self.heartbeat,
            max_task_len: self.max_task_len,
            worker_wait: self.worker_wait,
            next_task: AtomicU64::new(1),
            table: Mutex::new(Table {
                phase: Phase::Running,
                pending: HashMap::new(),
            }),
            settled: Condvar::new(),
            stop: AtomicBool::new(false),
            workers_seen: Mutex::new(None),
        });
        inner.heartbeat()?;
        let reader = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name(format!("mp-cluster pool {} results", inner.name))
                .spawn(move || inner.read_results())
                .map_err(|err| Error::Thread {
                    reason: err.to_string(),
                })?
        };
        Ok(Pool {
            inner,
            reader: Mutex::new(Some(reader)),
        })
    }
}

/// A pool of worker processes on any number of machines: `multiprocessing.Pool`'s API
/// (and the [`Executor`](mp_futures::Executor) trait), with tasks carried by Redis
/// Streams to workers started from the same executable. See the crate docs.
///
/// Dropping a pool terminates it, as leaving Python's `with Pool() as p:` block does
/// (and as mp-processes' `Pool`): tasks without a result fail with
/// [`Error::Terminated`], their entries are deleted, and the caller's keys with them.
///
/// ```no_run
/// use mp_cluster::{Cluster, Pool};
///
/// fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// let cluster = Cluster::from_env()?;
/// let pool = Pool::new(&cluster, "squares")?;
/// assert_eq!(pool.map(square, 0..4)?, [0, 1, 4, 9]);
/// # Ok::<(), mp_cluster::Error>(())
/// ```
pub struct Pool {
    inner: Arc<Inner>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

pub(super) struct Inner {
    cluster: Cluster,
    keys: Keys,
    name: String,
    caller: String,
    build: String,
    signer: Signer,
    chunksize: usize,
    heartbeat: Duration,
    max_task_len: usize,
    worker_wait: Duration,
    tasks_key: String,
    results_key: String,
    done_key: String,
    caller_key: String,
    callers_key: String,
    next_task: AtomicU64,
    table: Mutex<Table>,
    /// Signalled when a task is settled, for `join`.
    settled: Condvar,
    stop: AtomicBool,
    /// When a worker of this build was last seen, and how many processes the workers had.
    workers_seen: Mutex<Option<(Instant, usize)>>,
}

struct Table {
    phase: Phase,
    pending: HashMap<u64, Pending>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    Closed,
    Terminated,
}

struct Pending {
    /// The task's entry in the tasks stream (empty until written).
    entry: String,
    settle: Settle,
}

impl Pool {
    /// A pool named `name` with the default options (Python's `Pool()`); workers serve
    /// it by name.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "reports")?;
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn new(cluster: &Cluster, name: &str) -> Result<Pool, Error> {
        Pool::builder(cluster, name).build()
    }

    /// A builder for a pool named `name`, for its options.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::builder(&cluster, "reports").chunksize(16).build()?;
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn builder(cluster: &Cluster, name: &str) -> PoolBuilder {
        PoolBuilder {
            cluster: cluster.clone(),
            name: name.to_owned(),
            signer: Signer::default(),
            chunksize: 0,
            heartbeat: Duration::from_secs(10),
            max_task_len: 64 << 20,
            worker_wait: Duration::from_secs(10),
        }
    }

    /// The build of this program, which the pool's workers must run (hex of its
    /// build id; see `mp_sys::build_id`).
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "reports")?;
    /// println!("start workers of build {}", pool.build());
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn build(&self) -> &str {
        &self.inner.build
    }

    /// Runs `function(args...)` on a worker; returns at once with its future (Python's
    /// `apply_async`; `on_success`/`on_error` are its callbacks).
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "sums")?;
    /// let sum = pool.apply_async(|a: u32, b: u32| a + b, (2, 3))?;
    /// assert_eq!(sum.result()?, 5);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn apply_async<F, A>(&self, function: F, args: A) -> Result<Future<F::Output, Error>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let task = EncodedTask::new(function, std::slice::from_ref(&args))?;
        let (promise, future) = Promise::<F::Output, Error>::new();
        let settle: Settle = Box::new(move |outcome| {
            promise.complete(
                decode(outcome, 1)
                    .and_then(|mut results| results.pop().unwrap_or(Err(Error::Terminated))),
            );
        });
        self.inner.submit(task, settle)?;
        Ok(future)
    }

    /// [`apply_async`](Pool::apply_async) under `ProcessPoolExecutor.submit`'s name.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "sums")?;
    /// assert_eq!(pool.submit(|n: u8| n + 1, (1,))?.result()?, 2);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn submit<F, A>(&self, function: F, args: A) -> Result<Future<F::Output, Error>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(function, args)
    }

    /// Runs `function(args...)` on a worker and waits for its value (Python's `apply`).
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "sums")?;
    /// assert_eq!(pool.apply(|a: u8, b: u8| a.max(b), (3, 9))?, 9);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn apply<F, A>(&self, function: F, args: A) -> Result<F::Output, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(function, args)?.result()
    }

    /// Every `function(item)`, in the order of the items, or the first error (Python's
    /// `map`).
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "lengths")?;
    /// assert_eq!(pool.map(|s: String| s.len(), ["a", "bcd"].map(String::from))?, [1, 3]);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn map<F, T, I>(&self, function: F, items: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.imap(function, items)?.collect()
    }

    /// [`map`](Pool::map) for functions of several arguments, one tuple per call
    /// (Python's `starmap`).
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "sums")?;
    /// assert_eq!(pool.starmap(|a: u8, b: u8| a + b, [(1, 2), (3, 4)])?, [3, 7]);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn starmap<F, A, I>(&self, function: F, items: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
    {
        let items: Vec<A> = items.into_iter().collect();
        let len = items.len();
        Imap::new(self.submit_chunks(function, items)?, len).collect()
    }

    /// Each `function(item)`'s result in the order of the items, as they come (Python's
    /// `imap`): an exact-size iterator.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "squares")?;
    /// let results = pool.imap(|n: u64| n * n, 1..=3)?;
    /// assert_eq!(results.len(), 3);
    /// assert_eq!(results.collect::<Result<Vec<_>, _>>()?, [1, 4, 9]);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn imap<F, T, I>(&self, function: F, items: I) -> Result<Imap<F::Output>, Error>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        let items: Vec<(T,)> = items.into_iter().map(|item| (item,)).collect();
        let len = items.len();
        Ok(Imap::new(self.submit_chunks(function, items)?, len))
    }

    /// Each `function(item)`'s result as soon as it comes, in no set order (Python's
    /// `imap_unordered`).
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "squares")?;
    /// let mut results: Vec<u64> = pool
    ///     .imap_unordered(|n: u64| n * n, 1..=3)?
    ///     .collect::<Result<_, _>>()?;
    /// results.sort();
    /// assert_eq!(results, [1, 4, 9]);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn imap_unordered<F, T, I>(
        &self,
        function: F,
        items: I,
    ) -> Result<ImapUnordered<F::Output>, Error>
    where
        F: Target<(T,)>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = T>,
    {
        let items: Vec<(T,)> = items.into_iter().map(|item| (item,)).collect();
        let len = items.len();
        Ok(ImapUnordered::new(
            self.submit_chunks(function, items)?,
            len,
        ))
    }

    /// No more tasks; those submitted still run (Python's `close`).
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "squares")?;
    /// pool.close();
    /// assert!(matches!(pool.apply(|n: u8| n, (1,)), Err(mp_cluster::Error::PoolClosed)));
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn close(&self) {
        let mut table = self.inner.table();
        if table.phase == Phase::Running {
            table.phase = Phase::Closed;
        }
    }

    /// Waits until every submitted task has its result (Python's `join`); the pool must
    /// be closed or terminated first, else [`Error::PoolRunning`].
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "squares")?;
    /// let later = pool.apply_async(|n: u8| n, (1,))?;
    /// pool.close();
    /// pool.join()?;
    /// assert!(later.done());
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        let mut table = self.inner.table();
        if table.phase == Phase::Running {
            return Err(Error::PoolRunning);
        }
        while !table.pending.is_empty() {
            table = self
                .inner
                .settled
                .wait(table)
                .unwrap_or_else(PoisonError::into_inner);
        }
        Ok(())
    }

    /// Fails every task without a result with [`Error::Terminated`] and deletes their
    /// entries, so no worker starts them (Python's `terminate`). A task a worker is
    /// running finishes there; its result is dropped.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "squares")?;
    /// pool.terminate();
    /// assert!(matches!(pool.apply(|n: u8| n, (1,)), Err(mp_cluster::Error::PoolClosed)));
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn terminate(&self) {
        self.inner
            .cancel_pending(Phase::Terminated, || Error::Terminated);
    }

    /// `concurrent.futures.Executor.shutdown(wait, cancel_futures)`: no more tasks; with
    /// `cancel_futures`, every task without a result is cancelled (its entry deleted; one
    /// running on a worker finishes there, unseen); with `wait`, returns when the rest
    /// are done.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// let pool = mp_cluster::Pool::new(&cluster, "squares")?;
    /// pool.shutdown(true, false);
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.close();
        if cancel_futures {
            self.inner
                .cancel_pending(Phase::Closed, || Error::Cancelled);
        }
        if wait {
            let _ = self.join();
        }
    }

    /// Chunks `items`, submits each chunk as a task, and returns the slots their
    /// results fill.
    fn submit_chunks<F, A>(
        &self,
        function: F,
        items: Vec<A>,
    ) -> Result<Arc<Slots<F::Output>>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let chunksize = match self.inner.chunksize {
            0 => {
                let processes = self.inner.wait_for_workers()?;
                items.len().div_ceil(4 * processes.max(1)).max(1)
            }
            chosen => chosen,
        };
        let slots = Slots::new(items.len());
        for (number, chunk) in items.chunks(chunksize).enumerate() {
            let task = EncodedTask::new(function, chunk)?;
            let first = number * chunksize;
            let len = chunk.len();
            let target = Arc::clone(&slots);
            let settle: Settle = Box::new(move |outcome| {
                let results = decode(outcome, len)
                    .unwrap_or_else(|error| (0..len).map(|_| Err(error.clone())).collect());
                target.fill(first, results);
            });
            if let Err(error) = self.inner.submit(task, settle) {
                if number == 0 {
                    return Err(error);
                }
                // The chunks not submitted fail, so the iterators still end.
                slots.fill_from(first, &error);
                break;
            }
        }
        Ok(slots)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.inner
            .cancel_pending(Phase::Terminated, || Error::Terminated);
        self.inner.stop.store(true, Ordering::Release);
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(reader) = reader {
            let _ = reader.join();
        }
        if let Err(error) = self.inner.leave() {
            tracing::warn!(%error, pool = %self.inner.name, "could not delete the pool's keys; they expire");
        }
    }
}

/// Each call's result from a task's outcome.
fn decode<R: DeserializeOwned>(
    outcome: Result<EncodedOutcomes, Error>,
    len: usize,
) -> Result<Vec<Result<R, Error>>, Error> {
    Ok(outcome?
        .decode::<R>(len)?
        .into_iter()
        .map(|result| result.map_err(Error::TaskFailed))
        .collect())
}

impl Inner {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes one task to the tasks stream, its settlement kept for its result.
    fn submit(&self, task: EncodedTask, settle: Settle) -> Result<(), Error> {
        if self.table().phase != Phase::Running {
            return Err(Error::PoolClosed);
        }
        self.wait_for_workers()?;
        let (entry, items, len) = task.into_parts();
        let task = self.next_task.fetch_add(1, Ordering::Relaxed);
        let message = TaskMessage {
            caller: self.caller.clone(),
            task,
            entry,
            len: u32::try_from(len).map_err(|_| Error::MessageTooLarge {
                len,
                max: u32::MAX as usize,
            })?,
            items,
        };
        let (bytes, signature) = message::seal(&message, &self.signer).map_err(Error::Encode)?;
        if bytes.len() > self.max_task_len {
            return Err(Error::MessageTooLarge {
                len: bytes.len(),
                max: self.max_task_len,
            });
        }
        {
            let mut table = self.table();
            if table.phase != Phase::Running {
                return Err(Error::PoolClosed);
            }
            // Kept before the write: a fast worker's result must find it.
            table.pending.insert(
                task,
                Pending {
                    entry: String::new(),
                    settle,
                },
            );
        }
        let written = self.cluster.run("XADD", |connection| {
            let mut transaction = redis::pipe();
            transaction
                .atomic()
                .cmd("XADD")
                .arg(&self.tasks_key)
                .arg("*")
                .arg(message::MESSAGE)
                .arg(&bytes)
                .arg(message::SIGNATURE)
                .arg(&signature)
                .cmd("PEXPIRE")
                .arg(&self.tasks_key)
                .arg(self.expiry_ms())
                .ignore();
            transaction.query::<(String,)>(connection)
        });
        let mut table = self.table();
        match written {
            Ok((id,)) => {
                if let Some(pending) = table.pending.get_mut(&task) {
                    pending.entry = id;
                }
                Ok(())
            }
            Err(error) => {
                table.pending.remove(&task);
                Err(error)
            }
        }
    }

    /// How many processes the connected workers of this build have, waiting up to
    /// `worker_wait` for one to connect; the builds that are connected, if none.
    fn wait_for_workers(&self) -> Result<usize, Error> {
        const FRESH: Duration = Duration::from_secs(2);
        if let Some((seen, processes)) = *self
            .workers_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            && seen.elapsed() < FRESH
        {
            return Ok(processes);
        }
        let deadline = mp_sys::Deadline::after(self.worker_wait);
        loop {
            let builds = crate::registry::connected(&self.cluster, &self.keys)?;
            let processes: usize = builds
                .iter()
                .filter(|worker| worker.build == self.build)
                .map(|worker| worker.processes)
                .sum();
            if processes > 0 {
                *self
                    .workers_seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), processes));
                return Ok(processes);
            }
            if deadline.has_passed() {
                let mut connected: Vec<String> =
                    builds.into_iter().map(|worker| worker.build).collect();
                connected.sort();
                connected.dedup();
                return Err(Error::NoWorkers {
                    pool: self.name.clone(),
                    build: self.build.clone(),
                    connected,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The keys' expiry: long enough that heartbeats keep them, short enough that a
    /// caller or worker gone without a word leaves nothing for long.
    fn expiry_ms(&self) -> u64 {
        millis(self.heartbeat.saturating_mul(3))
    }

    /// Marks the caller alive and refreshes its keys' expiries.
    fn heartbeat(&self) -> Result<(), Error> {
        let expiry = self.expiry_ms();
        self.cluster.run("SET", |connection| {
            let mut transaction = redis::pipe();
            transaction
                .atomic()
                .cmd("SET")
                .arg(&self.caller_key)
                .arg(1)
                .arg("PX")
                .arg(expiry)
                .ignore()
                .cmd("SADD")
                .arg(&self.callers_key)
                .arg(&self.caller)
                .ignore();
            for key in [
                &self.callers_key,
                &self.tasks_key,
                &self.results_key,
                &self.done_key,
            ] {
                transaction.cmd("PEXPIRE").arg(key).arg(expiry).ignore();
            }
            transaction.query::<()>(connection)
        })
    }

    /// The reader thread: results as they come, and the caller's heartbeats.
    fn read_results(&self) {
        let mut last = String::from("0-0");
        let mut beat = Instant::now();
        let beat_every = self.heartbeat;
        // Since when tasks have waited with no worker of this build alive.
        let mut unserved_since: Option<Instant> = None;
        while !self.stop.load(Ordering::Acquire) {
            if beat.elapsed() >= beat_every {
                if let Err(error) = self.heartbeat() {
                    tracing::warn!(%error, pool = %self.name, "caller heartbeat failed");
                }
                unserved_since = self.check_served(unserved_since);
                beat = Instant::now();
            }
            let read = self.cluster.run_waiting("XREAD", READ_SLICE, |connection| {
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(512)
                    .arg("BLOCK")
                    .arg(millis(READ_SLICE))
                    .arg("STREAMS")
                    .arg(&self.results_key)
                    .arg(&last)
                    .query::<Option<StreamReadReply>>(connection)
            });
            let reply = match read {
                Ok(reply) => reply,
                Err(error) => {
                    // The server stayed out of reach for the whole reconnect bound: the
                    // tasks waiting cannot be told their results; fail them.
                    tracing::warn!(%error, pool = %self.name, "results unreadable; failing the tasks waiting");
                    self.cancel_pending(Phase::Running, || error.clone());
                    continue;
                }
            };
            let entries: Vec<_> = reply
                .into_iter()
                .flat_map(|reply| reply.keys)
                .flat_map(|key| key.ids)
                .collect();
            if entries.is_empty() {
                continue;
            }
            let mut seen = Vec::with_capacity(entries.len());
            for entry in entries {
                self.take_result(&entry.map);
                last.clone_from(&entry.id);
                seen.push(entry.id);
            }
            let deleted = self.cluster.run("XDEL", |connection| {
                redis::cmd("XDEL")
                    .arg(&self.results_key)
                    .arg(&seen)
                    .query::<()>(connection)
            });
            if let Err(error) = deleted {
                tracing::debug!(%error, "read results not deleted; they expire with the stream");
            }
        }
    }

    /// While tasks wait, whether a worker of this build still lives: the tasks of a pool
    /// whose every worker died fail after `worker_wait` with [`Error::NoWorkers`] instead
    /// of waiting for ever. Returns since when none has lived (`None`: one lives).
    fn check_served(&self, unserved_since: Option<Instant>) -> Option<Instant> {
        if self.table().pending.is_empty() {
            return None;
        }
        let workers = match crate::registry::connected(&self.cluster, &self.keys) {
            Ok(workers) => workers,
            // Out of reach: the read of results says so and fails the tasks.
            Err(_) => return unserved_since,
        };
        if workers.iter().any(|worker| worker.build == self.build) {
            return None;
        }
        let since = unserved_since.unwrap_or_else(Instant::now);
        if since.elapsed() >= self.worker_wait {
            let mut connected: Vec<String> =
                workers.into_iter().map(|worker| worker.build).collect();
            connected.sort();
            connected.dedup();
            tracing::warn!(pool = %self.name, "no worker of this build is left; failing the tasks waiting");
            self.cancel_pending(Phase::Running, || Error::NoWorkers {
                pool: self.name.clone(),
                build: self.build.clone(),
                connected: connected.clone(),
            });
            return None;
        }
        Some(since)
    }

    /// Settles the task a result entry names, if it is still waiting (a second result
    /// for a task, from a worker that took it over, is dropped here).
    fn take_result(&self, fields: &HashMap<String, Value>) {
        let Some((bytes, signature)) = message::fields(fields) else {
            tracing::warn!(pool = %self.name, "a results entry without a message; dropped");
            return;
        };
        let Ok(result) = mp_wire::decode_bytes::<ResultMessage>(&bytes) else {
            tracing::warn!(pool = %self.name, "a results entry that does not decode; dropped");
            return;
        };
        let believed = matches!(result.verdict, Verdict::BadSignature { .. })
            || self.signer.verify(&bytes, &signature);
        if !believed {
            tracing::warn!(pool = %self.name, task = result.task, "a result with a wrong signature; dropped");
            return;
        }
        let Some(pending) = self.table().pending.remove(&result.task) else {
            tracing::debug!(task = result.task, "a second result for a task; dropped");
            return;
        };
        let outcome = match result.verdict {
            Verdict::Ran(outcomes) => Ok(outcomes),
            Verdict::KilledWorkers { attempts } => Err(Error::TaskKilledWorkers { attempts }),
            Verdict::BadSignature { worker } => Err(Error::BadSignature { worker }),
        };
        (pending.settle)(outcome);
        self.settled.notify_all();
    }

    /// Settles every waiting task with `error()` and deletes their entries; moves to
    /// `phase` unless the pool is past it.
    fn cancel_pending(&self, phase: Phase, error: impl Fn() -> Error) {
        let pending: Vec<Pending> = {
            let mut table = self.table();
            if phase != Phase::Running && table.phase != Phase::Terminated {
                table.phase = phase;
            }
            table.pending.drain().map(|(_, pending)| pending).collect()
        };
        if pending.is_empty() {
            return;
        }
        let entries: Vec<&String> = pending
            .iter()
            .map(|pending| &pending.entry)
            .filter(|entry| !entry.is_empty())
            .collect();
        if !entries.is_empty() {
            let deleted = self.cluster.run("XDEL", |connection| {
                redis::cmd("XDEL")
                    .arg(&self.tasks_key)
                    .arg(&entries)
                    .query::<()>(connection)
            });
            if let Err(error) = deleted {
                tracing::debug!(%error, "task entries not deleted; workers drop them (their caller is gone)");
            }
        }
        for pending in pending {
            (pending.settle)(Err(error()));
        }
        self.settled.notify_all();
    }

    /// Deletes the caller's keys; the last caller of the pool deletes its tasks stream.
    fn leave(&self) -> Result<(), Error> {
        self.cluster.run("DEL", |connection| {
            let mut transaction = redis::pipe();
            transaction
                .atomic()
                .cmd("DEL")
                .arg(&self.results_key)
                .arg(&self.done_key)
                .arg(&self.caller_key)
                .ignore()
                .cmd("SREM")
                .arg(&self.callers_key)
                .arg(&self.caller)
                .ignore()
                .cmd("SCARD")
                .arg(&self.callers_key);
            let (callers,): (u64,) = transaction.query(connection)?;
            if callers == 0 {
                redis::cmd("DEL")
                    .arg(&self.tasks_key)
                    .query::<()>(connection)?;
            }
            Ok(())
        })
    }
}

impl mp_futures::Executor for Pool {
    type Error = Error;
    type Map<R: mp_futures::Portable> = Imap<R>;

    fn submit<F, A>(&self, function: F, args: A) -> Result<Future<F::Output, Error>, Error>
    where
        F: mp_sys::Call<A> + Copy + Send + Sync + 'static,
        A: mp_futures::Portable,
        F::Output: mp_futures::Portable,
    {
        Pool::submit(self, function, args)
    }

    fn map<F, T, I>(&self, function: F, items: I) -> Result<Imap<F::Output>, Error>
    where
        F: mp_sys::Call<(T,)> + Copy + Send + Sync + 'static,
        T: mp_futures::Portable,
        F::Output: mp_futures::Portable,
        I: IntoIterator<Item = T>,
    {
        self.imap(function, items)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        Pool::shutdown(self, wait, cancel_futures);
    }
}
