//! [`Process`]: what to run in a child, and how to start it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use mp_shared_mem::transfer;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::boot::{self, Role};
use crate::handle::Record;
use crate::target::Target;
use crate::wire::{self, Call, Identity};
use crate::{
    Error, ProcessHandle, StartMethod, child, children, forkserver, get_start_method, launcher,
    spawn, state, sys,
};

/// What a child runs: a target with its arguments, or a closure for the fork method.
trait Job<R>: Send {
    /// The trampoline's offset, for the methods that re-execute; `None` for a closure.
    fn entry(&self) -> Option<i64>;
    /// The arguments, serialized with their descriptors.
    fn encode_args(&self) -> Result<(Vec<u8>, Vec<OwnedFd>), mp_shared_mem::Error>;
    /// Runs the job in this process (a forked child).
    fn run(self: Box<Self>) -> R;
}

struct TargetJob<F, A> {
    target: F,
    args: A,
}

impl<F, A, R> Job<R> for TargetJob<F, A>
where
    F: Target<A, Output = R>,
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    fn entry(&self) -> Option<i64> {
        Some(child::entry_offset::<F, A, R>())
    }

    fn encode_args(&self) -> Result<(Vec<u8>, Vec<OwnedFd>), mp_shared_mem::Error> {
        transfer::encode(&self.args)
    }

    fn run(self: Box<Self>) -> R {
        self.target.call(self.args)
    }
}

struct ClosureJob<C>(C);

impl<C, R> Job<R> for ClosureJob<C>
where
    C: FnOnce() -> R + Send + 'static,
{
    fn entry(&self) -> Option<i64> {
        None
    }

    fn encode_args(&self) -> Result<(Vec<u8>, Vec<OwnedFd>), mp_shared_mem::Error> {
        Ok((Vec::new(), Vec::new()))
    }

    fn run(self: Box<Self>) -> R {
        (self.0)()
    }
}

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
        const {
            assert!(
                size_of::<F>() == 0,
                "Process::new takes a function or a closure that captures nothing; \
                 run a capturing closure with Process::fork"
            )
        };
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
        boot::keep_hook();
        let state = state::current();
        let parent = state.identity.as_ref();
        if parent.is_some_and(|identity| identity.daemon) {
            return Err(Error::DaemonicParent);
        }
        let method = self.method.unwrap_or_else(get_start_method);
        let entry = self.job.entry();
        if entry.is_none() && method != StartMethod::Fork {
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
            Error::start(&name, format!("cannot make its socket (socketpair): {err}"))
        })?;
        let (pid, pidfd) = match (method, entry) {
            (StartMethod::Fork, _) => start_forked(self.job, identity, child_end)?,
            (_, Some(entry)) => {
                // Serialize first: arguments that cannot cross fail before any child exists.
                let (args, fds) = self.job.encode_args()?;
                let call = Call {
                    build_id: wire::build_id(),
                    entry,
                    child: identity,
                };
                let (pid, pidfd) = if method == StartMethod::Spawn {
                    spawn::exec_self(Role::Spawn, child_end)?
                } else {
                    let started = forkserver::start_child(&call, &child_end)?;
                    drop(child_end);
                    started
                };
                let fds: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
                let sent = if method == StartMethod::Spawn {
                    transfer::send_value(&parent_end, &call)
                } else {
                    Ok(())
                }
                .and_then(|()| transfer::send(&parent_end, &args, &fds));
                if let Err(err) = sent {
                    abandon(method, &pidfd);
                    return Err(Error::start(
                        &name,
                        format!("cannot hand the child its call: {err}"),
                    ));
                }
                (pid, pidfd)
            }
            (_, None) => return Err(Error::NeedsFork { method }),
        };
        tracing::debug!(name = %name, pid, method = %method, daemon = self.daemon, "process started");
        let record = Arc::new(Record::new(
            pid,
            name,
            self.daemon,
            method,
            pidfd,
            parent_end,
        ));
        children::remember(Arc::clone(&record));
        Ok(ProcessHandle::new(record))
    }
}

/// The fork method: forks the launcher thread, which runs the job in the child.
fn start_forked<R: Serialize + 'static>(
    job: Box<dyn Job<R>>,
    identity: Identity,
    child_end: UnixStream,
) -> Result<(i32, OwnedFd), Error> {
    let name = identity.name.clone();
    launcher::run(move || {
        let creator = nix::unistd::getpid().as_raw();
        let parent_channel = state::current()
            .parent_channel
            .load(std::sync::atomic::Ordering::Relaxed);
        // No panic of another thread may be printing across the fork (see fork_guard);
        // closed first, as a panic hook may write to standard error. Then standard output
        // and error are taken across the fork: another thread printing at that instant
        // would otherwise leave their locks held forever in the child, which prints and
        // flushes them. Held by this thread, they are re-entrant for the child's only
        // thread, the copy of this one.
        crate::fork_guard::install();
        let gate = crate::fork_guard::close();
        let out = std::io::stdout().lock();
        let err = std::io::stderr().lock();
        // SAFETY: after `fork` in a multi-threaded process the child may only rely on what
        // no other thread could have held: this is the documented risk of the fork start
        // method (see StartMethod::Fork). What our child path does first touches no lock
        // that another thread could hold: per-process state is made afresh (state.rs),
        // and glibc makes `malloc` usable in the child by taking its locks around `fork`.
        // The panic gate and standard output and error are held (above) for the same
        // reason.
        let forked = unsafe { nix::unistd::fork() };
        drop(err);
        drop(out);
        drop(gate);
        match forked {
            Err(errno) => Err(Error::start(&name, format!("fork failed: {errno}"))),
            Ok(nix::unistd::ForkResult::Child) => {
                // This process's own socket to its parent belongs to it alone.
                if parent_channel >= 0 {
                    // SAFETY: closing a descriptor number; the child never uses the
                    // parent's socket again (its state was made afresh).
                    unsafe { libc::close(parent_channel) };
                }
                child::run_forked(move || job.run(), identity, child_end, creator)
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(child_end);
                drop(job);
                match sys::pidfd_open(child.as_raw()) {
                    Ok(pidfd) => Ok((child.as_raw(), pidfd)),
                    Err(errno) => {
                        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                        let _ = nix::sys::wait::waitpid(child, None);
                        Err(Error::os("pidfd_open", errno))
                    }
                }
            }
        }
    })?
}

/// Kills a child that could not be handed its call, and reaps it if it is ours.
fn abandon(method: StartMethod, pidfd: &OwnedFd) {
    let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
    if method != StartMethod::Forkserver {
        let _ = nix::sys::wait::waitid(
            nix::sys::wait::Id::PIDFd(pidfd.as_fd()),
            nix::sys::wait::WaitPidFlag::WEXITED,
        );
    }
}
