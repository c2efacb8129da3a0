//! [`ThreadPool`]: Python's `concurrent.futures.ThreadPoolExecutor`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mp_sys::Deadline;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Mutex, RwLock};

use crate::Target;
use crate::error::Error;
use crate::pool::future::Future;
use crate::pool::map::Map;
use crate::pool::task::{Job, Task};
use crate::registry;
use crate::thread::{JoinHandle, Thread};
use mp_futures::Promise;

static NEXT_POOL_NUMBER: AtomicU64 = AtomicU64::new(0);

/// Python's `ThreadPoolExecutor(max_workers=None)` default: `min(32, cpus + 4)`.
fn default_max_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus + 4).min(32)
}

/// What the pool's workers and its handle share.
struct PoolShared {
    /// `None` once shut down: taking it closes the channel, so the workers
    /// finish the queued tasks and exit.
    sender: RwLock<Option<Sender<Box<dyn Job>>>>,
    receiver: Receiver<Box<dyn Job>>,
    max_workers: usize,
    /// Workers that are idle or on their way to wait for a task, minus the
    /// queued tasks no such worker is bound to take yet (kept only while the
    /// pool may grow). A worker adds one before each wait, a submit takes one
    /// away, and a submit that leaves it negative starts a worker: one
    /// counter, so a worker that has taken a task from the channel but not
    /// yet said so can never make a new task look taken care of.
    spare_workers: AtomicIsize,
    /// How many workers exist; never decreases, so once at `max_workers` the
    /// spare-worker count is skipped entirely.
    spawned: AtomicUsize,
    workers: Mutex<Vec<JoinHandle<()>>>,
    name_prefix: String,
    stack_size: Option<usize>,
}

/// A pool of worker threads that run submitted tasks: Python's
/// `concurrent.futures.ThreadPoolExecutor`.
///
/// * Workers start lazily, as in Python: a `submit` starts a new worker only
///   when no worker is idle to take the task, and fewer than `max_workers`
///   exist. They are daemon threads named `ThreadPool-P_W` (or `PREFIX_W`, see
///   [`ThreadPoolBuilder::thread_name_prefix`]).
/// * [`submit`](ThreadPool::submit) returns a [`Future`]; a task that panics
///   fails only its own future. Tasks may capture anything `Send + 'static`.
/// * [`map`](ThreadPool::map) submits every item at once and yields the
///   results in order, lazily.
/// * [`shutdown`](ThreadPool::shutdown) stops new submissions; dropping the
///   pool is `shutdown(true, false)`: it waits for every queued task, as
///   leaving Python's `with ThreadPoolExecutor() as pool:` block does.
///
/// Share a pool between threads with an `Arc`.
///
/// ```
/// use mp_threads::ThreadPool;
///
/// fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// let pool = ThreadPool::new(4)?;
/// let squares: Vec<u64> = pool.map(square, 1..=5)?.collect::<Result<_, _>>()?;
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub struct ThreadPool {
    shared: Arc<PoolShared>,
}

/// Options for a [`ThreadPool`], as the keyword arguments of Python's
/// `ThreadPoolExecutor`.
///
/// ```
/// use mp_threads::{ThreadPool, current_thread};
///
/// let pool = ThreadPool::builder().max_workers(2).thread_name_prefix("fetcher").build()?;
/// let name = pool.submit(|| current_thread().name().to_owned(), ())?.result()?;
/// assert!(name.starts_with("fetcher_"));
/// # Ok::<(), mp_threads::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ThreadPoolBuilder {
    max_workers: Option<usize>,
    thread_name_prefix: Option<String>,
    stack_size: Option<usize>,
}

impl ThreadPoolBuilder {
    /// The most workers the pool runs at once; by default `min(32, cpus + 4)`,
    /// as Python. Zero makes [`build`](ThreadPoolBuilder::build) fail.
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::builder().max_workers(3).build()?;
    /// assert_eq!(pool.max_workers(), 3);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn max_workers(mut self, max_workers: usize) -> Self {
        self.max_workers = Some(max_workers);
        self
    }

    /// Names the workers `PREFIX_0`, `PREFIX_1`, ... (Python's
    /// `thread_name_prefix`).
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::builder().thread_name_prefix("io").build()?;
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name_prefix = Some(prefix.into());
        self
    }

    /// The stack size of each worker, in bytes.
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::builder().stack_size(512 * 1024).build()?;
    /// assert_eq!(pool.submit(|| 3, ())?.result()?, 3);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Makes the pool; no worker starts until the first task is submitted.
    /// Fails with [`Error::InvalidArgument`] for `max_workers(0)`.
    ///
    /// ```
    /// use mp_threads::{Error, ThreadPool};
    ///
    /// assert!(matches!(ThreadPool::builder().max_workers(0).build(), Err(Error::InvalidArgument { .. })));
    /// ```
    pub fn build(self) -> Result<ThreadPool, Error> {
        let max_workers = self.max_workers.unwrap_or_else(default_max_workers);
        if max_workers == 0 {
            return Err(Error::InvalidArgument {
                argument: "max_workers",
                requirement: "a pool needs at least one worker",
            });
        }
        let name_prefix = self.thread_name_prefix.unwrap_or_else(|| {
            format!(
                "ThreadPool-{}",
                NEXT_POOL_NUMBER.fetch_add(1, Ordering::Relaxed)
            )
        });
        let (sender, receiver) = crossbeam_channel::unbounded();
        tracing::debug!(max_workers, prefix = %name_prefix, "thread pool created");
        Ok(ThreadPool {
            shared: Arc::new(PoolShared {
                sender: RwLock::new(Some(sender)),
                receiver,
                max_workers,
                spare_workers: AtomicIsize::new(0),
                spawned: AtomicUsize::new(0),
                workers: Mutex::new(Vec::new()),
                name_prefix,
                stack_size: self.stack_size,
            }),
        })
    }
}

impl ThreadPool {
    /// A pool of at most `max_workers` threads (Python's
    /// `ThreadPoolExecutor(max_workers=n)`). Zero is [`Error::InvalidArgument`].
    ///
    /// ```
    /// use mp_threads::{Error, ThreadPool};
    ///
    /// let pool = ThreadPool::new(4)?;
    /// assert_eq!(pool.max_workers(), 4);
    /// assert!(matches!(ThreadPool::new(0), Err(Error::InvalidArgument { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(max_workers: usize) -> Result<ThreadPool, Error> {
        ThreadPool::builder().max_workers(max_workers).build()
    }

    /// Options beyond the worker count.
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::builder().build()?; // min(32, cpus + 4) workers
    /// assert!(pool.max_workers() >= 5);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::default()
    }

    /// The most workers this pool runs at once.
    ///
    /// ```
    /// assert_eq!(mp_threads::ThreadPool::new(2)?.max_workers(), 2);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn max_workers(&self) -> usize {
        self.shared.max_workers
    }

    /// How many worker threads have been started so far (they start lazily).
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::new(8)?;
    /// assert_eq!(pool.worker_count(), 0);
    /// pool.submit(|| (), ())?.result()?;
    /// assert_eq!(pool.worker_count(), 1);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn worker_count(&self) -> usize {
        self.shared.spawned.load(Ordering::Acquire)
    }

    /// Schedules `function(args...)` and returns its [`Future`] (Python's
    /// `submit(fn, *args)`). Fails with [`Error::PoolClosed`] after
    /// [`shutdown`](ThreadPool::shutdown), or [`Error::Spawn`] if the pool has
    /// no worker yet and the OS refuses to start one.
    ///
    /// ```
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let owned = String::from("captured");
    /// let future = pool.submit(move |suffix: &str| owned + suffix, ("!",))?;
    /// assert_eq!(future.result()?, "captured!");
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn submit<F, A>(&self, function: F, args: A) -> Result<Future<F::Output>, Error>
    where
        F: Target<A> + Send + 'static,
        F::Output: Send + 'static,
        A: Send + 'static,
    {
        let (promise, future) = Promise::new();
        self.send(Box::new(Task::new(function, args, promise)))?;
        Ok(future)
    }

    /// Submits and waits: `submit(function, args)?.result()` (the name the
    /// process `Pool` uses for the same thing).
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::new(1)?;
    /// assert_eq!(pool.apply(|x: i32| -x, (5,))?, -5);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn apply<F, A>(&self, function: F, args: A) -> Result<F::Output, Error>
    where
        F: Target<A> + Send + 'static,
        F::Output: Send + 'static,
        A: Send + 'static,
    {
        self.submit(function, args)?.result()
    }

    /// Python's `map(fn, iterable)`: submits `function(item)` for every item
    /// now (so `items` must be finite), and returns an iterator over the
    /// results in the items' order, each waited for when reached. A panicking item yields
    /// `Err(Error::Panicked)` in its place; `collect::<Result<Vec<_>, _>>()`
    /// stops at the first. Dropping the iterator early cancels the tasks not
    /// started yet.
    ///
    /// ```
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(4)?;
    /// let lengths: Vec<usize> = pool
    ///     .map(|word: &str| word.len(), ["a", "bb", "ccc"])?
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(lengths, [1, 2, 3]);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn map<I, F, R>(&self, function: F, items: I) -> Result<Map<R>, Error>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        self.map_with_deadline(function, items, None)
    }

    /// [`map`](ThreadPool::map) with Python's `timeout`: the whole map must
    /// finish within `timeout` of this call. The first result not ready by
    /// then is `Err(Error::TimedOut)`, the tasks not started are cancelled,
    /// and the iteration ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let doubled: Vec<i32> = pool
    ///     .map_timeout(|n: i32| n * 2, vec![1, 2, 3], Duration::from_secs(10))?
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(doubled, [2, 4, 6]);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn map_timeout<I, F, R>(
        &self,
        function: F,
        items: I,
        timeout: Duration,
    ) -> Result<Map<R>, Error>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        // An unrepresentable deadline is as good as none.
        let deadline = Deadline::after(timeout).instant();
        self.map_with_deadline(function, items, deadline)
    }

    fn map_with_deadline<I, F, R>(
        &self,
        function: F,
        items: I,
        deadline: Option<Instant>,
    ) -> Result<Map<R>, Error>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        Map::start(|job| self.send(job), function, items, deadline)
    }

    /// Stops accepting tasks (later submits fail with [`Error::PoolClosed`]);
    /// Python's `shutdown(wait, cancel_futures)`.
    ///
    /// With `cancel_futures`, queued tasks that no worker has started are
    /// cancelled; otherwise they all still run. With `wait`, returns once every
    /// worker has finished and exited (a worker calling this does not wait for
    /// itself). Calling it again is harmless.
    ///
    /// ```
    /// use mp_threads::{Error, ThreadPool};
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let future = pool.submit(|| 10, ())?;
    /// pool.shutdown(true, false);
    /// assert_eq!(future.result()?, 10);
    /// assert!(matches!(pool.submit(|| 11, ()), Err(Error::PoolClosed)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        let sender = self.shared.sender.write().take();
        if sender.is_some() {
            tracing::debug!(prefix = %self.shared.name_prefix, wait, cancel_futures, "thread pool shutting down");
        }
        // Dropping the last sender lets idle workers see the channel close.
        drop(sender);
        if cancel_futures {
            while let Ok(job) = self.shared.receiver.try_recv() {
                job.cancel();
            }
        }
        if wait {
            let me = registry::current_ident();
            let workers = std::mem::take(&mut *self.shared.workers.lock());
            for worker in workers {
                if worker.ident() == me {
                    continue;
                }
                // Workers run tasks under catch_unwind, so they end normally.
                let _ = worker.join();
            }
        }
    }

    /// Whether [`shutdown`](ThreadPool::shutdown) was called.
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::new(1)?;
    /// assert!(!pool.is_shutdown());
    /// pool.shutdown(false, false);
    /// assert!(pool.is_shutdown());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.shared.sender.read().is_none()
    }

    /// Queues a job, starting a worker if it needs one.
    pub(crate) fn send(&self, job: Box<dyn Job>) -> Result<(), Error> {
        // The read lock keeps shutdown from closing the channel between the
        // check and the send, so no task is ever stranded in a closed pool.
        let sender = self.shared.sender.read();
        let Some(channel) = sender.as_ref() else {
            return Err(Error::PoolClosed);
        };
        // The first worker starts before the task is queued, so a pool that
        // cannot start any thread refuses the task instead of stranding it.
        if self.shared.spawned.load(Ordering::Acquire) == 0 {
            self.start_worker_if(|shared| shared.spawned.load(Ordering::Acquire) == 0)?;
        }
        channel.send(job).map_err(|_| Error::PoolClosed)?;
        self.adjust_worker_count();
        Ok(())
    }

    /// Python's `_adjust_thread_count`: the new task claims a spare worker,
    /// or starts one when none is spare, up to `max_workers`.
    fn adjust_worker_count(&self) {
        let shared = &self.shared;
        if shared.spawned.load(Ordering::Acquire) >= shared.max_workers {
            return;
        }
        let spare_before = shared.spare_workers.fetch_sub(1, Ordering::AcqRel);
        if spare_before > 0 {
            return;
        }
        // Checked again under the worker list's lock: a worker that finished
        // a task meanwhile takes this one, and of two submits short of a
        // worker each starts its own.
        let outnumbered = |shared: &PoolShared| shared.spare_workers.load(Ordering::Acquire) < 0;
        // With a worker already running, the task still gets done.
        if let Err(error) = self.start_worker_if(outnumbered) {
            tracing::debug!(%error, "could not start another pool worker");
        }
    }

    /// Starts a worker if `still_needed` holds once the worker list is locked
    /// and there is room for one.
    fn start_worker_if(&self, still_needed: impl Fn(&PoolShared) -> bool) -> Result<(), Error> {
        let shared = &self.shared;
        let mut workers = shared.workers.lock();
        if workers.len() >= shared.max_workers || !still_needed(shared) {
            return Ok(());
        }
        let name = format!("{}_{}", shared.name_prefix, workers.len());
        let worker_shared = Arc::clone(shared);
        let mut thread = Thread::new(move || worker_loop(&worker_shared), ())
            .name(name)
            .daemon(true);
        if let Some(bytes) = shared.stack_size {
            thread = thread.stack_size(bytes);
        }
        // Spare from the start: it is on its way to wait for a task.
        shared.spare_workers.fetch_add(1, Ordering::AcqRel);
        let worker = thread.start().inspect_err(|_| {
            shared.spare_workers.fetch_sub(1, Ordering::AcqRel);
        })?;
        workers.push(worker);
        shared.spawned.store(workers.len(), Ordering::Release);
        Ok(())
    }
}

fn worker_loop(shared: &PoolShared) {
    // The submitter that started this worker already counted it as spare;
    // the task that claims it does not give it back, its end does.
    loop {
        match shared.receiver.recv() {
            Ok(job) => job.run(),
            // Closed by shutdown and drained.
            Err(_) => break,
        }
        // Spare workers are only counted while the pool may still grow.
        if shared.spawned.load(Ordering::Acquire) < shared.max_workers {
            shared.spare_workers.fetch_add(1, Ordering::AcqRel);
        }
    }
    tracing::debug!("pool worker exiting");
}

impl Drop for ThreadPool {
    /// Python's `with` block exit: `shutdown(wait=True)`.
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("max_workers", &self.shared.max_workers)
            .field("workers", &self.worker_count())
            .field("queued", &self.shared.receiver.len())
            .field("shut_down", &self.is_shutdown())
            .finish()
    }
}
