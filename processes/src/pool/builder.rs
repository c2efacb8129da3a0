//! [`PoolBuilder`]: the options of a [`Pool`](crate::Pool), as the arguments of Python's
//! `Pool(...)`, and the [`Config`] they come to. The options know nothing of a running
//! pool: [`PoolBuilder::build`] is written next to `Pool::start`, in the pool's module.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::worker::{WorkerSetup, worker_main};
use crate::error::Error;
use crate::handle::ProcessHandle;
use crate::process::Process;
use crate::start_method::{StartMethod, get_start_method};
use crate::target::{Stateless, Target};

/// Starts one worker: its setup, its name, the start method.
pub(crate) type Starter =
    Arc<dyn Fn(WorkerSetup, String, StartMethod) -> Result<ProcessHandle<()>, Error> + Send + Sync>;

/// What the builder decided.
pub(crate) struct Config {
    pub(crate) processes: usize,
    pub(crate) max_tasks: Option<u64>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) method: StartMethod,
    pub(crate) starter: Starter,
}

/// The options of a [`Pool`](crate::Pool): Python's `Pool(processes, initializer, initargs,
/// maxtasksperchild, context)`, plus a per-task timeout.
///
/// ```
/// use std::time::Duration;
/// use mp_processes::{Pool, StartMethod};
///
/// let pool = Pool::builder()
///     .processes(2)
///     .maxtasksperchild(100)
///     .task_timeout(Duration::from_secs(60))
///     .start_method(StartMethod::Forkserver)
///     .build()?;
/// assert_eq!(pool.processes(), 2);
/// assert_eq!(pool.apply(|a: i32, b: i32| a * b, (6, 7))?, 42);
/// # Ok::<(), mp_processes::Error>(())
/// ```
#[must_use = "a builder does nothing until build() is called"]
pub struct PoolBuilder {
    processes: Option<usize>,
    max_tasks: Option<u64>,
    timeout: Option<Duration>,
    method: Option<StartMethod>,
    starter: Starter,
}

/// The initializer of a pool without one.
fn no_initializer() {}

/// How to start one worker that first calls `initializer(args...)`.
fn starter<I, IA>(_initializer: I, args: IA) -> Starter
where
    I: Target<IA, Output = ()>,
    IA: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    let () = Stateless::<I>::CHECK;
    Arc::new(
        move |setup: WorkerSetup, name: String, method: StartMethod| {
            Process::new(worker_main::<I, IA>, (setup, args.clone()))
                .name(name)
                .daemon(true)
                .start_method(method)
                .start()
        },
    )
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            processes: None,
            max_tasks: None,
            timeout: None,
            method: None,
            starter: starter(no_initializer, ()),
        }
    }
}

impl PoolBuilder {
    /// How many worker processes (Python's `processes`); by default
    /// [`cpu_count()`](crate::cpu_count). Zero makes [`build`](PoolBuilder::build) fail
    /// with [`Error::InvalidArgument`].
    ///
    /// ```
    /// use mp_processes::{Error, Pool};
    ///
    /// assert!(matches!(Pool::builder().processes(0).build(), Err(Error::InvalidArgument { .. })));
    /// ```
    pub fn processes(mut self, processes: usize) -> Self {
        self.processes = Some(processes);
        self
    }

    /// Python's `maxtasksperchild`: a worker ends after this many tasks and a fresh one
    /// takes its place (to release what a leaky task keeps). A task is one
    /// `apply_async`, or one chunk of a map. Zero makes `build` fail.
    ///
    /// ```
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).maxtasksperchild(1).start_method(StartMethod::Fork).build()?;
    /// let first = pool.apply(std::process::id, ())?;
    /// let second = pool.apply(std::process::id, ())?;
    /// assert_ne!(first, second);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn maxtasksperchild(mut self, tasks: u64) -> Self {
        self.max_tasks = Some(tasks);
        self
    }

    /// A limit on each call of a task's function (beyond Python). A call that runs
    /// longer fails with [`Error::TaskTimedOut`]; its worker is killed and replaced, and
    /// the other items of its chunk are run again by another worker. Zero makes `build`
    /// fail.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Error, Pool, StartMethod};
    ///
    /// let pool = Pool::builder()
    ///     .processes(1)
    ///     .task_timeout(Duration::from_millis(200))
    ///     .start_method(StartMethod::Fork)
    ///     .build()?;
    /// let stuck = pool.apply(|| std::thread::sleep(Duration::from_secs(600)), ());
    /// assert!(matches!(stuck, Err(Error::TaskTimedOut { .. })));
    /// assert_eq!(pool.apply(|| 1u8, ())?, 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How the workers start (Python's `context`); by default
    /// [`get_start_method()`](crate::get_start_method).
    ///
    /// ```
    /// use mp_processes::{Pool, StartMethod};
    ///
    /// let pool = Pool::builder().processes(1).start_method(StartMethod::Spawn).build()?;
    /// assert_eq!(pool.start_method(), StartMethod::Spawn);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Python's `initializer` and `initargs`: each worker calls `initializer(args...)`
    /// once when it starts, before any task (replacement workers too). The initializer
    /// is a function item or a closure that captures nothing, as a [`Process`] target;
    /// its arguments are serde values or handles, cloned for each worker.
    ///
    /// If it panics, the pool is broken (Python would start new workers for ever): the
    /// waiting tasks fail with [`Error::PoolBroken`], and so do new ones.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use mp_processes::{Pool, StartMethod};
    /// use mp_shared_mem::Shared;
    ///
    /// fn count_start(starts: Shared<AtomicU32>) {
    ///     starts.fetch_add(1, Ordering::SeqCst);
    /// }
    ///
    /// let starts = Shared::new(AtomicU32::new(0))?;
    /// let pool = Pool::builder()
    ///     .processes(2)
    ///     .initializer(count_start, (starts.clone(),))
    ///     .start_method(StartMethod::Spawn)
    ///     .build()?;
    /// pool.close();
    /// pool.join()?;
    /// assert_eq!(starts.load(Ordering::SeqCst), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn initializer<I, IA>(mut self, initializer: I, args: IA) -> Self
    where
        I: Target<IA, Output = ()>,
        IA: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.starter = starter(initializer, args);
        self
    }

    /// The options checked: [`Error::InvalidArgument`] for a zero one. (`build`, which
    /// starts the pool, lives with the pool.)
    pub(crate) fn into_config(self) -> Result<Config, Error> {
        let processes = self.processes.unwrap_or_else(crate::cpu::cpu_count);
        if processes == 0 {
            return Err(Error::InvalidArgument {
                argument: "processes",
                requirement: "a pool needs at least one worker",
            });
        }
        if self.max_tasks == Some(0) {
            return Err(Error::InvalidArgument {
                argument: "maxtasksperchild",
                requirement: "at least 1",
            });
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err(Error::InvalidArgument {
                argument: "timeout",
                requirement: "longer than zero",
            });
        }
        Ok(Config {
            processes,
            max_tasks: self.max_tasks,
            timeout: self.timeout,
            method: self.method.unwrap_or_else(get_start_method),
            starter: self.starter,
        })
    }
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("processes", &self.processes)
            .field("maxtasksperchild", &self.max_tasks)
            .field("task_timeout", &self.timeout)
            .field("start_method", &self.method)
            .finish_non_exhaustive()
    }
}
