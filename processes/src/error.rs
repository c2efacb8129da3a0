//! The crate's error type.

use nix::errno::Errno;

/// Everything that can go wrong in mp-processes.
///
/// What happened to a child comes back from [`join`](crate::ProcessHandle::join) as one
/// of [`Error::Panicked`] (Python: an uncaught exception, exit code 1),
/// [`Error::Signaled`] (killed by a signal, exit code `-N`), [`Error::Exited`] (the child
/// ended without returning, as with `std::process::exit`) or [`Error::Start`] (it never
/// got to run its target).
///
/// ```
/// use mp_processes::Error;
///
/// let error = Error::Signaled { name: "Process-1".into(), signal: 9, signal_name: "SIGKILL".into() };
/// assert_eq!(error.to_string(), "process Process-1 was killed by signal 9 (SIGKILL)");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The child could not be started, or could not begin running its target.
    #[error("process {name} could not start: {reason}")]
    Start {
        /// The process's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The target panicked in the child (Python: an exception; `exitcode` is 1).
    #[error("process {name} panicked: {message}")]
    Panicked {
        /// The process's name (for a pool task, its worker's).
        name: String,
        /// The panic message (`&str` and `String` payloads; others are described).
        message: String,
        /// Where the panic happened (`file:line:column`), when known.
        location: Option<String>,
        /// The backtrace, when `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`) asked the child
        /// for one.
        backtrace: Option<String>,
    },
    /// The child was killed by a signal before it returned (`exitcode` is `-signal`).
    #[error("process {name} was killed by signal {signal} ({signal_name})")]
    Signaled {
        /// The process's name.
        name: String,
        /// The signal number.
        signal: i32,
        /// Its name, such as `SIGKILL`.
        signal_name: String,
    },
    /// The child ended without handing back a value: it called `std::process::exit`, or
    /// the like, with this code.
    #[error("process {name} exited with code {code} without returning a value")]
    Exited {
        /// The process's name.
        name: String,
        /// Its exit code.
        code: i32,
    },
    /// The child's value was computed but could not be sent back (a handle in it could
    /// not be serialized, for one).
    #[error("process {name} could not send its return value: {reason}")]
    ResultNotSent {
        /// The process's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The forkserver went away before it said how the child ended, and the child had
    /// reported nothing: the exit status is not known (`exitcode()` is 255, as Python's).
    #[error("the exit status of process {name} was lost with the forkserver")]
    StatusLost {
        /// The process's name.
        name: String,
    },
    /// A timed wait ended before the child did. The handle stays joinable.
    #[error("timed out")]
    TimedOut,
    /// `join` was called again after an earlier `join` took the value.
    #[error("the value of process {name} was already taken by an earlier join")]
    AlreadyJoined {
        /// The process's name.
        name: String,
    },
    /// Only the process that started a child can join it (a handle that reached another
    /// process, through a fork, cannot): Python's "can only join a child process".
    #[error("process {name} can only be joined by the process that started it")]
    NotParent {
        /// The process's name.
        name: String,
    },
    /// A process made by [`Process::fork`](crate::Process::fork) runs a capturing
    /// closure, which only the fork start method can carry into the child.
    #[error("a capturing closure can only start with the fork start method, not {method}")]
    NeedsFork {
        /// The start method that was asked for.
        method: crate::start_method::StartMethod,
    },
    /// A daemonic process tried to start a child (refused as by Python: a daemonic
    /// process is killed when its parent ends, which would orphan its children).
    #[error("a daemonic process is not allowed to have children")]
    DaemonicParent,
    /// A [`Pool`](crate::Pool) option out of range: zero processes, a zero `chunksize` or
    /// `maxtasksperchild`.
    #[error("invalid pool argument: {0}")]
    InvalidArgument(String),
    /// A task was given to a [`Pool`](crate::Pool) after `close()` or `terminate()`
    /// (Python: `ValueError: Pool not running`).
    #[error("the pool is not running (closed or terminated): no new tasks")]
    PoolClosed,
    /// [`Pool::join`](crate::Pool::join) was called while the pool still takes tasks
    /// (Python: `ValueError`): call `close()` or `terminate()` first.
    #[error("join() needs close() or terminate() first")]
    PoolRunning,
    /// The pool was terminated (or dropped) before the task finished.
    #[error("the pool was terminated before the task finished")]
    Terminated,
    /// The task ran longer than the pool's per-task timeout; its worker was killed and
    /// replaced.
    #[error("the task ran over its timeout of {timeout:?}; its worker was killed")]
    TaskTimedOut {
        /// The pool's per-task timeout.
        timeout: std::time::Duration,
    },
    /// The pool cannot run tasks any more: its initializer failed, or no worker could be
    /// started.
    #[error("the pool is broken: {0}")]
    PoolBroken(String),
    /// The task was cancelled before a worker was sent it: by its result's `cancel()`, or
    /// by [`Pool::shutdown`](crate::Pool::shutdown) with `cancel_futures` (Python's
    /// `CancelledError`).
    #[error("the task was cancelled before it started")]
    Cancelled,
    /// The value of an [`AsyncResult`](crate::AsyncResult) was taken by an earlier `get`
    /// (of it or of a clone).
    #[error("the result was already taken by an earlier get")]
    ResultTaken,
    /// A system call failed.
    #[error("{operation} failed: {errno}")]
    Os {
        /// What was being done (the system call, mostly).
        operation: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// Arguments, a return value or a handle could not cross between the processes, or
    /// a message from the other side was corrupt or of the wrong type.
    #[error(transparent)]
    Transfer(#[from] mp_shared_mem::Error),
}

/// A wire error is a [`Error::Transfer`], in mp-shared-mem's terms (a handle's own error,
/// such as a type mismatch, as it was).
///
/// ```
/// use mp_processes::Error;
///
/// let error = Error::from(mp_wire::Error::PeerClosed);
/// assert!(matches!(error, Error::Transfer(mp_shared_mem::Error::PeerClosed)));
/// ```
impl From<mp_wire::Error> for Error {
    fn from(error: mp_wire::Error) -> Self {
        Error::Transfer(error.into())
    }
}

impl Error {
    pub(crate) fn os(operation: &'static str, errno: Errno) -> Self {
        Error::Os { operation, errno }
    }

    pub(crate) fn start(name: &str, reason: impl Into<String>) -> Self {
        Error::Start {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}

/// `SIGKILL` for 9, `SIGTERM` for 15...; `signal N` for numbers nix does not know.
pub(crate) fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|signal| signal.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {signal}"))
}
