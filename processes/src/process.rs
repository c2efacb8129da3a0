//! [`Process`]: what to run in a child, with its name, daemon flag and start method;
//! `start` turns it into a [`ProcessHandle`] through [`method::start`].

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::child::boot::keep_hook;
use crate::children::{reap_ended, remember};
use crate::error::{Error, StartFault};
use crate::handle::ProcessHandle;
use crate::identity::this_process;
use crate::job::{ClosureJob, Job, TargetJob};
use crate::method;
use crate::record::Record;
use crate::start_method::{StartMethod, get_start_method};
use crate::target::{Stateless, Target};
use crate::wire::Identity;

/// A function to run in a child process, with its arguments, name, daemon flag and
/// start method: Python's `multiprocessing.Process` before `start()`.
///
/// [`start`](Process::start) starts the child and returns a [`ProcessHandle`], whose
/// [`join`](ProcessHandle::join) gives back what the function returned.
///
/// The target is a function item or a closure that captures nothing, of up to 8
/// arguments (see [`Target`]); `args` is the tuple of its arguments. Arguments and the
/// return value are serde values, and may hold handles that own file descriptors
/// (mp-shared-mem's `Value`, `Array`, `Shared<T>` with mp-sync locks in it, ...): they
/// cross through mp-shared-mem's handle transfer, so the child works on the same memory.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use mp_processes::{Process, StartMethod};
/// use mp_shared_mem::{Shared, Value};
///
/// fn work(counter: Shared<AtomicU64>, total: Value<u64>, n: u64) -> String {
///     counter.fetch_add(1, Ordering::SeqCst);
///     *total.lock().unwrap() += n;
///     format!("added {n}")
/// }
///
/// let counter = Shared::new(AtomicU64::new(0))?;
/// let total = Value::new(0u64)?;
/// let child = Process::new(work, (counter.clone(), total.clone(), 5))
///     .name("adder")
///     .start_method(StartMethod::Spawn)
///     .start()?;
/// assert_eq!(child.join()?, "added 5");
/// assert_eq!(counter.load(Ordering::SeqCst), 1);
/// assert_eq!(total.get()?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A closure that captures something cannot cross to a spawned child, and is refused
/// at compile time:
///
/// ```compile_fail
/// let greeting = String::from("hello");
/// let child = mp_processes::Process::new(move || greeting.len(), ());
/// ```
#[must_use = "a Process does nothing until it is started"]
pub struct Process<R> {
    job: Box<dyn Job<R>>,
    name: Option<String>,
    daemon: bool,
    method: Option<StartMethod>,
}

impl<R> std::fmt::Debug for Process<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name)
            .field("daemon", &self.daemon)
            .field("method", &self.method)
            .field("capturing_closure", &self.job.entry().is_none())
            .finish()
    }
}

impl<R: Serialize + DeserializeOwned + 'static> Process<R> {
    /// `target(args...)` in a child process, as Python's `Process(target=f, args=args)`.
    ///
    /// `target` must have no size (a function item, or a closure capturing nothing):
    /// anything else does not compile.
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// fn greet(name: String, times: usize) -> String {
    ///     format!("hello {name}! ").repeat(times)
    /// }
    /// let child = Process::new(greet, ("bob".to_owned(), 2))
    ///     .start_method(StartMethod::Forkserver)
    ///     .start()?;
    /// assert_eq!(child.join()?, "hello bob! hello bob! ");
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn new<F, A>(target: F, args: A) -> Self
    where
        F: Target<A, Output = R>,
        A: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        Process {
            job: Box::new(TargetJob { target, args }),
            name: None,
            daemon: false,
            method: None,
        }
    }

    /// A closure, capturing whatever it likes, run in a child made by `fork()`.
    ///
    /// Only the [`Fork`](StartMethod::Fork) method can carry captured state into a child
    /// (the child is a copy of the parent's memory); starting it with another method
    /// fails with [`Error::NeedsFork`]. Read the risks of forking a multi-threaded parent
    /// in [`StartMethod::Fork`].
    ///
    /// ```
    /// use mp_processes::Process;
    ///
    /// let words = vec!["captured", "state"];
    /// let child = Process::fork(move || words.join(" ")).start()?;
    /// assert_eq!(child.join()?, "captured state");
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn fork<C>(closure: C) -> Self
    where
        C: FnOnce() -> R + Send + 'static,
    {
        Process {
            job: Box::new(ClosureJob(closure)),
            name: None,
            daemon: false,
            method: Some(StartMethod::Fork),
        }
    }

    /// The child's name (default: `Process-N`, numbered from 1 in each parent, and
    /// `Process-N:M` for the children of `Process-N`, as Python's).
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod, current_process};
    ///
    /// let child = Process::new(|| current_process().name().to_owned(), ())
    ///     .name("worker-1")
    ///     .start_method(StartMethod::Fork)
    ///     .start()?;
    /// assert_eq!(child.join()?, "worker-1");
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Whether the child is daemonic (default `false`), as Python's `daemon=True`: a
    /// daemonic child is killed when this process ends (even by `SIGKILL`), is not waited
    /// for at exit, and may not start children of its own.
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod, current_process};
    ///
    /// let child = Process::new(|| current_process().daemon(), ())
    ///     .daemon(true)
    ///     .start_method(StartMethod::Forkserver)
    ///     .start()?;
    /// assert!(child.join()?);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// How to start this child (default: [`get_start_method()`]).
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// for method in StartMethod::all() {
    ///     let child = Process::new(|x: u8| x + 1, (1,)).start_method(method).start()?;
    ///     assert_eq!(child.join()?, 2);
    /// }
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// Starts the child, as Python's `start()`.
    ///
    /// Fails with [`Error::Start`] if the child cannot be made (out of processes or
    /// descriptors, the forkserver broken...), [`Error::Transfer`] if the arguments cannot
    /// be serialized, [`Error::NeedsFork`] for a capturing closure with another method
    /// than fork, and [`Error::DaemonicParent`] in a daemonic process.
    ///
    /// ```
    /// use mp_processes::{Error, Process, StartMethod};
    ///
    /// let refused = Process::fork(|| ()).start_method(StartMethod::Spawn).start();
    /// assert!(matches!(refused, Err(Error::NeedsFork { .. })));
    /// ```
    pub fn start(self) -> Result<ProcessHandle<R>, Error> {
        keep_hook();
        // Here, in the parent: a forked child that installed the panic hook wrapper
        // itself would take std's hook lock, which another thread of the parent may have
        // held at the fork.
        mp_sys::panic::install_hook();
        let state = this_process();
        let parent = state.identity.as_ref();
        if parent.is_some_and(|identity| identity.daemon) {
            return Err(Error::DaemonicParent);
        }
        // As Python's start(): the children that ended since are reaped first, so that
        // fire-and-forget children leave neither zombies nor descriptors behind.
        reap_ended(std::time::Duration::ZERO);
        let method = self.method.unwrap_or_else(get_start_method);
        if self.job.entry().is_none() && method != StartMethod::Fork {
            return Err(Error::NeedsFork { method });
        }
        let mut counters = parent
            .map(|identity| identity.counters.clone())
            .unwrap_or_default();
        counters.push(
            state
                .next_child
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        let name = self.name.unwrap_or_else(|| {
            let numbers: Vec<String> = counters.iter().map(u32::to_string).collect();
            format!("Process-{}", numbers.join(":"))
        });
        let identity = Identity {
            name: name.clone(),
            daemon: self.daemon,
            counters,
            parent_pid: state.pid,
            parent_name: parent.map_or_else(|| "MainProcess".to_owned(), |p| p.name.clone()),
        };
        let (parent_end, child_end) = UnixStream::pair().map_err(|err| {
            let errno = err
                .raw_os_error()
                .map_or(nix::errno::Errno::UnknownErrno, nix::errno::Errno::from_raw);
            Error::start(&name, StartFault::Socket { errno })
        })?;
        let (pid, pidfd) = method::start(method, self.job, identity, &parent_end, child_end)?;
        tracing::debug!(name = %name, pid, method = %method, daemon = self.daemon, "process started");
        let record = Arc::new(Record::new(
            pid,
            name,
            self.daemon,
            method,
            pidfd,
            parent_end,
        ));
        remember(Arc::clone(&record));
        Ok(ProcessHandle::new(record))
    }
}
