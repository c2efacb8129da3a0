//! [`Pool`]: worker processes that run tasks, Python's `multiprocessing.Pool` and
//! `concurrent.futures.ProcessPoolExecutor`.
//!
//! This file is the pool's public face: every public method, and starting the pool.
//! The rules of what happens to tasks and workers live in the state module, what the
//! handle and the supervisor thread share in the shared module, and the encoding of
//! calls into tasks in the submit module, so that each can be read on its own.

use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mp_sys::Deadline;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::async_result::AsyncResult;
use super::builder::{Config, PoolBuilder};
use super::chunked::Chunked;
use super::results::{Imap, ImapUnordered};
use super::shared::{Inner, os_error};
use super::sink::Sink;
use super::state::{Phase, deliver};
use super::submit::{encode, map_all, one_tuples, submit_tasks};
use super::supervisor::supervise;
use crate::error::Error;
use crate::start_method::StartMethod;
use crate::target::{Stateless, Target};
use mp_futures::Promise;

/// A pool of worker processes: Python's `multiprocessing.Pool` and
/// `concurrent.futures.ProcessPoolExecutor` in one type.
///
/// Tasks are functions with arguments, as for [`Process::new`](crate::Process::new): a
/// function item or a closure that captures nothing, of up to 8 arguments; arguments
/// and results are serde values or handles (mp-shared-mem's `Value`, `Array`,
/// `Shared<T>`...). See the [module docs](crate::pool) for the methods against Python's,
/// and for what happens when a worker crashes.
///
/// A worker that dies running a task (a segfault, `abort()`, `SIGKILL`, the OOM killer)
/// fails only that task, with an error naming the signal; the pool starts a replacement
/// and every other task completes. Dropping the pool terminates it (as leaving Python's
/// `with Pool() as p:` block): the workers are killed and the results still to come
/// fail with [`Error::Terminated`]. Call [`close`](Pool::close) and
/// [`join`](Pool::join) first to let the tasks finish.
///
/// ```
/// use mp_processes::Pool;
///
/// fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// let pool = Pool::new(4)?;
/// assert_eq!(pool.map(square, 1..=5)?, [1, 4, 9, 16, 25]);
/// let later = pool.apply_async(square, (12,))?;
/// assert_eq!(later.get()?, 144);
/// pool.close();
/// pool.join()?;
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub struct Pool {
    pub(super) inner: Arc<Inner>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl Pool {
    /// A pool of `processes` workers started with the default start method (Python's
    /// `Pool(processes)`); [`Pool::builder`] has the other options.
    ///
    /// Fails with [`Error::InvalidArgument`] for zero, or the error of a worker that
    /// cannot start.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// assert_eq!(pool.processes(), 2);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn new(processes: usize) -> Result<Pool, Error> {
        PoolBuilder::default().processes(processes).build()
    }

    /// The options of a pool: processes, initializer, maxtasksperchild, start method,
    /// per-task timeout.
    ///
    /// ```
    /// let pool = mp_processes::Pool::builder().processes(1).build()?;
    /// assert_eq!(pool.apply(|| 3u8, ())?, 3);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    pub(crate) fn start(config: Config) -> Result<Pool, Error> {
        let processes = config.processes;
        let inner = Arc::new(Inner::new(config)?);
        let pool = Pool {
            inner: Arc::clone(&inner),
            supervisor: Mutex::new(None),
        };
        for _ in 0..processes {
            // On failure, dropping `pool` kills and reaps the workers started so far.
            let link = inner.start_worker()?;
            inner.state.lock().add_worker(link);
        }
        let supervisor = std::thread::Builder::new()
            .name("mp-pool-supervisor".into())
            .spawn(move || supervise(inner))
            .map_err(|err| os_error("spawning the supervisor thread", &err))?;
        *pool.supervisor.lock() = Some(supervisor);
        tracing::debug!(processes, method = %pool.inner.config.method, "pool started");
        Ok(pool)
    }

    /// How many workers the pool keeps running.
    ///
    /// ```
    /// assert_eq!(mp_processes::Pool::new(3)?.processes(), 3);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn processes(&self) -> usize {
        self.inner.config.processes
    }

    /// The start method of the workers.
    ///
    /// ```
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// assert_eq!(pool.start_method(), StartMethod::Fork);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.inner.config.method
    }

    /// The process ids of the current workers (replacements change them).
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// let pids = pool.worker_pids();
    /// assert_eq!(pids.len(), 2);
    /// assert!(!pids.contains(&std::process::id()));
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        self.inner.state.lock().pids()
    }

    /// Runs `function(args...)` in a worker; returns at once with an [`AsyncResult`]
    /// (Python's `apply_async`). Attach Python's `callback` and `error_callback` with
    /// [`AsyncResult::on_success`] and [`AsyncResult::on_error`].
    ///
    /// Fails with [`Error::PoolClosed`] after `close` or `terminate`,
    /// [`Error::PoolBroken`], or [`Error::Transfer`] if the arguments cannot be
    /// serialized (or take more than 1 GiB).
    ///
    /// ```
    /// use mp_processes::Pool;
    ///
    /// fn add(a: i64, b: i64) -> i64 {
    ///     a + b
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let results: Vec<_> = (0..4).map(|i| pool.apply_async(add, (i, 10))).collect::<Result<_, _>>()?;
    /// let sums: Vec<i64> = results.into_iter().map(|r| r.get()).collect::<Result<_, _>>()?;
    /// assert_eq!(sums, [10, 11, 12, 13]);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn apply_async<F, A>(&self, function: F, args: A) -> Result<AsyncResult<F::Output>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        let _ = function;
        let (promise, result) = Promise::<F::Output, Error>::new();
        let sink: Arc<dyn Sink> = Arc::new(promise);
        let task = encode::<F, A, F::Output>(&self.inner, std::slice::from_ref(&args), sink)?;
        submit_tasks(&self.inner, vec![task])?;
        Ok(result)
    }

    /// [`apply_async`](Pool::apply_async) under the name of `ProcessPoolExecutor.submit`.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(1)?;
    /// let future = pool.submit(|s: String| s.len(), ("four".to_owned(),))?;
    /// assert_eq!(future.get()?, 4);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn submit<F, A>(&self, function: F, args: A) -> Result<AsyncResult<F::Output>, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(function, args)
    }

    /// Runs `function(args...)` in a worker and waits for its value (Python's `apply`).
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(1)?;
    /// assert_eq!(pool.apply(|a: u8, b: u8| a.max(b), (3, 9))?, 9);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn apply<F, A>(&self, function: F, args: A) -> Result<F::Output, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(function, args)?.get()
    }

    /// `function(item)` for every item, the values in the items' order (Python's `map`):
    /// the first error, in that order, if any item failed. Items go to the workers in
    /// chunks of Python's default size (a quarter of an even share per worker); for
    /// another size, [`chunked(n).map`](Pool::chunked), and [`imap`](Pool::imap) for
    /// every item's own result.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// assert_eq!(pool.map(|word: String| word.len(), ["a", "bb"].map(String::from))?, [1, 2]);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn map<F, T, I>(&self, function: F, items: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<(T,)>,
        I: IntoIterator<Item = T>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        let items = one_tuples(items);
        let chunksize = self.default_chunksize(items.len());
        map_all(&self.inner, function, items, chunksize)
    }

    /// `function(a, b, ...)` for every argument tuple, the values in order (Python's
    /// `starmap`); the first error if any item failed. Chunked as [`map`](Pool::map).
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// assert_eq!(pool.starmap(|a: i32, b: i32| a - b, [(5, 1), (7, 2)])?, [4, 5]);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn starmap<F, A, I>(&self, function: F, items: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<A>,
        I: IntoIterator<Item = A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        let items: Vec<A> = items.into_iter().collect();
        let chunksize = self.default_chunksize(items.len());
        map_all(&self.inner, function, items, chunksize)
    }

    /// Every item's result, in the items' order, as they come (Python's `imap`, one item
    /// per chunk as its default): an [`ExactSizeIterator`] of `Result`s, so a progress
    /// bar can wrap it and a failed item does not hide the others. Every item is
    /// submitted now (the items are collected first).
    ///
    /// ```
    /// use mp_processes::{Error, Pool};
    ///
    /// fn checked_div(n: i32) -> i32 {
    ///     100 / n
    /// }
    ///
    /// let pool = Pool::new(2)?;
    /// let results: Vec<Result<i32, Error>> = pool.imap(checked_div, [10, 0, 50])?.collect();
    /// assert_eq!(results[0].as_ref().ok(), Some(&10));
    /// assert!(matches!(results[1], Err(Error::Panicked { .. })));
    /// assert_eq!(results[2].as_ref().ok(), Some(&2));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn imap<F, T, I>(&self, function: F, items: I) -> Result<Imap<F::Output>, Error>
    where
        F: Target<(T,)>,
        I: IntoIterator<Item = T>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.chunked(1).imap(function, items)
    }

    /// Every item's result in the order they finish (Python's `imap_unordered`, one item
    /// per chunk as its default), as an [`ExactSizeIterator`].
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// let mut lengths: Vec<usize> = pool
    ///     .imap_unordered(|s: String| s.len(), ["xyz", "a"].map(String::from))?
    ///     .collect::<Result<_, _>>()?;
    /// lengths.sort();
    /// assert_eq!(lengths, [1, 3]);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn imap_unordered<F, T, I>(
        &self,
        function: F,
        items: I,
    ) -> Result<ImapUnordered<F::Output>, Error>
    where
        F: Target<(T,)>,
        I: IntoIterator<Item = T>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        self.chunked(1).imap_unordered(function, items)
    }

    /// The map family (`map`, `starmap`, `imap`, `imap_unordered`) with Python's
    /// `chunksize`: `pool.chunked(64).map(f, items)` is Python's `pool.map(f, items,
    /// chunksize=64)`. Zero fails each call with [`Error::InvalidArgument`].
    ///
    /// ```
    /// use mp_processes::{Error, Pool};
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.chunked(3).map(|n: u32| n * n, 1..=4)?, [1, 4, 9, 16]);
    /// assert!(matches!(pool.chunked(0).map(|n: u32| n, 0..1), Err(Error::InvalidArgument { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn chunked(&self, chunksize: usize) -> Chunked<'_> {
        Chunked::new(self, chunksize)
    }

    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// No new tasks from now on (Python's `close()`); the tasks already given still run,
    /// and the workers end when they are done. Then [`join`](Pool::join) waits for them.
    ///
    /// ```
    /// use mp_processes::{Error, Pool};
    ///
    /// let pool = Pool::new(1)?;
    /// let pending = pool.apply_async(|| 7u8, ())?;
    /// pool.close();
    /// assert!(matches!(pool.apply_async(|| 8u8, ()), Err(Error::PoolClosed)));
    /// pool.join()?;
    /// assert_eq!(pending.get()?, 7);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn close(&self) {
        let mut state = self.inner.state.lock();
        if matches!(state.phase, Phase::Running) {
            tracing::debug!("pool: closed");
            state.phase = Phase::Closed;
        }
        drop(state);
        self.inner.wake();
    }

    /// Kills the workers now (Python's `terminate()`, with `SIGKILL`, which no task can
    /// ignore); the results still to come fail with [`Error::Terminated`]. Then
    /// [`join`](Pool::join) waits until they are reaped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Error, Pool};
    ///
    /// let pool = Pool::new(1)?;
    /// let stuck = pool.apply_async(|| std::thread::sleep(Duration::from_secs(600)), ())?;
    /// pool.terminate();
    /// assert!(matches!(stuck.get(), Err(Error::Terminated)));
    /// pool.join()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn terminate(&self) {
        let mut deliveries = Vec::new();
        {
            let mut state = self.inner.state.lock();
            if !matches!(state.phase, Phase::Terminated) {
                tracing::debug!("pool: terminated");
                if !matches!(state.phase, Phase::Broken(_)) {
                    state.phase = Phase::Terminated;
                }
                state.shut_down(Error::Terminated, &mut deliveries);
            }
        }
        self.inner.wake();
        deliver(deliveries);
    }

    /// Waits for the workers to end, after [`close`](Pool::close) (every task done) or
    /// [`terminate`](Pool::terminate) (Python's `join()`). Fails with
    /// [`Error::PoolRunning`] if neither was called.
    ///
    /// ```
    /// use mp_processes::{Error, Pool, active_children};
    ///
    /// let pool = Pool::new(2)?;
    /// assert!(matches!(pool.join(), Err(Error::PoolRunning)));
    /// let pids = pool.worker_pids();
    /// pool.close();
    /// pool.join()?;
    /// assert!(active_children().iter().all(|child| !pids.contains(&child.pid())));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        self.join_until(Deadline::NEVER)
    }

    /// [`join`](Pool::join), waiting at most `timeout`: [`Error::TimedOut`] if the workers
    /// have not all ended by then (the pool can be joined again later).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Error, Pool};
    ///
    /// let pool = Pool::new(1)?;
    /// pool.apply_async(|| std::thread::sleep(Duration::from_millis(300)), ())?;
    /// pool.close();
    /// assert!(matches!(pool.join_timeout(Duration::from_millis(1)), Err(Error::TimedOut)));
    /// pool.join_timeout(Duration::from_secs(30))?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.join_until(Deadline::after(timeout))
    }

    fn join_until(&self, deadline: Deadline) -> Result<(), Error> {
        if matches!(self.inner.state.lock().phase, Phase::Running) {
            return Err(Error::PoolRunning);
        }
        let on_supervisor = self
            .supervisor
            .lock()
            .as_ref()
            .is_some_and(|supervisor| supervisor.thread().id() == std::thread::current().id());
        if on_supervisor {
            // Called from a callback on the supervisor itself: it ends on its own.
            return Ok(());
        }
        let supervising = self.supervisor.lock().is_some();
        if supervising && !self.inner.wait_ended(deadline) {
            return Err(Error::TimedOut);
        }
        if let Some(supervisor) = self.supervisor.lock().take() {
            // It has ended (or is returning): this does not wait.
            let _ = supervisor.join();
        }
        Ok(())
    }

    /// `ProcessPoolExecutor.shutdown(wait, cancel_futures)`, as mp-threads'
    /// `ThreadPool::shutdown`: [`close`](Pool::close); with `cancel_futures`, the tasks
    /// no worker has started yet fail with [`Error::Cancelled`]; with `wait`,
    /// [`join`](Pool::join). Calling it again is harmless.
    ///
    /// ```
    /// use mp_processes::{Error, Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
    /// let future = pool.submit(|| 2u8, ())?;
    /// pool.shutdown(true, false);
    /// assert_eq!(future.result()?, 2);
    /// assert!(matches!(pool.submit(|| 3u8, ()), Err(Error::PoolClosed)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.close();
        if cancel_futures {
            let mut deliveries = Vec::new();
            self.inner
                .state
                .lock()
                .cancel_backlog(Error::Cancelled, &mut deliveries);
            self.inner.wake();
            deliver(deliveries);
        }
        if wait && let Err(err) = self.join() {
            tracing::debug!(%err, "pool: join in shutdown failed");
        }
    }

    fn default_chunksize(&self, len: usize) -> usize {
        // Python's: a quarter of an even share per worker, rounded up.
        len.div_ceil(self.inner.config.processes * 4).max(1)
    }
}

impl PoolBuilder {
    /// Starts the workers and returns the pool (Python's `Pool(...)`).
    ///
    /// Fails with [`Error::InvalidArgument`] for a zero option, or with the error of the
    /// first worker that cannot start (no worker is left behind then).
    ///
    /// ```
    /// let pool = mp_processes::Pool::builder().processes(3).build()?;
    /// assert_eq!(pool.worker_pids().len(), 3);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn build(self) -> Result<Pool, Error> {
        Pool::start(self.into_config()?)
    }
}

/// Terminates the pool (Python's `with Pool() as p:` exit): the workers are killed and
/// reaped, the results still to come fail with [`Error::Terminated`].
/// How long dropping a pool waits for its supervisor thread, which ends within
/// milliseconds of a terminate unless a result callback running on it blocks.
const DROP_PATIENCE: Duration = Duration::from_secs(5);

/// Dropping a pool terminates it (its workers are killed, its unfinished tasks fail with
/// [`Error::Terminated`]) and reaps the workers. It never hangs: it waits at most
/// [`DROP_PATIENCE`] for the supervisor thread; a supervisor still busy then (a result
/// callback that blocks) is left to end on its own, and the drop kills and reaps the
/// workers itself.
impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
        if let Err(err) = self.join_timeout(DROP_PATIENCE) {
            tracing::warn!(%err, "pool: its supervisor did not end in time; dropped without it");
        }
        // Workers that never got to the supervisor (start failed part way) are reaped here.
        for link in self.inner.state.lock().links() {
            link.kill();
            let _ = link.handle.join_timeout(Duration::from_secs(5));
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("Pool")
            .field("processes", &self.inner.config.processes)
            .field("start_method", &self.inner.config.method)
            .field("phase", &state.phase)
            .field("worker_pids", &state.pids())
            .finish()
    }
}
