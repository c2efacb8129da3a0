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
    #[error("process {name} could not start: {fault}")]
    Start {
        /// The process's name.
        name: String,
        /// Why.
        fault: StartFault,
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
    #[error(
        "process {name} exited with code {code} without returning a value; return from the target instead of exiting"
    )]
    Exited {
        /// The process's name.
        name: String,
        /// Its exit code.
        code: i32,
    },
    /// The child's value was computed but could not be sent back (a handle in it could
    /// not be serialized, for one).
    #[error("process {name} could not send its return value: {fault}")]
    ResultNotSent {
        /// The process's name (for a pool task, its worker's).
        name: String,
        /// Why.
        fault: SendFault,
    },
    /// The forkserver went away before it said how the child ended, and the child had
    /// reported nothing: the exit status is not known (`exitcode()` is 255, as Python's).
    #[error(
        "the exit status of process {name} was lost with the forkserver (killed?); its exitcode() is 255"
    )]
    StatusLost {
        /// The process's name.
        name: String,
    },
    /// A timed wait ended before the child (or the task) did. The handle stays joinable,
    /// the task goes on: wait again, or give up on it.
    #[error("timed out; the process or task goes on, wait again or give up on it")]
    TimedOut,
    /// The value was already taken: by an earlier `join` of the process handle, or an
    /// earlier `get` of an [`AsyncResult`](crate::AsyncResult) (or a clone of it). Keep
    /// the value from the first call.
    #[error("the result was already taken by an earlier join or get; keep it from the first call")]
    AlreadyTaken,
    /// Only the process that started a child can join it (a handle that reached another
    /// process, through a fork, cannot): Python's "can only join a child process".
    #[error("process {name} can only be joined by the process that started it; join it there")]
    NotParent {
        /// The process's name.
        name: String,
    },
    /// A process made by [`Process::fork`](crate::Process::fork) runs a capturing
    /// closure, which only the fork start method can carry into the child.
    #[error(
        "a capturing closure can only start with the fork start method, not {method}; use StartMethod::Fork, or pass the values as arguments"
    )]
    NeedsFork {
        /// The start method that was asked for.
        method: crate::start_method::StartMethod,
    },
    /// A daemonic process tried to start a child (refused as by Python: a daemonic
    /// process is killed when its parent ends, which would orphan its children).
    #[error("a daemonic process is not allowed to have children; make the parent non-daemonic")]
    DaemonicParent,
    /// A [`Pool`](crate::Pool) option out of range: zero processes, a zero `chunksize`,
    /// `maxtasksperchild` or task timeout.
    #[error("invalid argument {argument}: {requirement}")]
    InvalidArgument {
        /// The argument (or option) at fault.
        argument: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
    /// A task was given to a [`Pool`](crate::Pool) after `close()`, `shutdown()` or
    /// `terminate()` (Python: `ValueError: Pool not running`).
    #[error("the pool is closed: no new tasks can be submitted; create a new Pool")]
    PoolClosed,
    /// [`Pool::join`](crate::Pool::join) was called while the pool still takes tasks
    /// (Python: `ValueError`): call `close()` or `terminate()` first.
    #[error("join() of a pool that still takes tasks; call close() or terminate() first")]
    PoolRunning,
    /// The pool was terminated (or dropped) before the task finished.
    #[error(
        "the pool was terminated before the task finished; keep the pool alive until its results are in"
    )]
    Terminated,
    /// The task ran longer than the pool's per-task timeout; its worker was killed and
    /// replaced.
    #[error("the task ran over its timeout of {timeout:?}; its worker was killed and replaced")]
    TaskTimedOut {
        /// The pool's per-task timeout.
        timeout: std::time::Duration,
    },
    /// The pool cannot run tasks any more: its initializer failed, or no worker could be
    /// started.
    #[error("the pool is broken: {cause}; create a new Pool")]
    PoolBroken {
        /// Why.
        cause: BrokenCause,
    },
    /// The task was cancelled before a worker was sent it: by its result's `cancel()`, or
    /// by [`Pool::shutdown`](crate::Pool::shutdown) with `cancel_futures` (Python's
    /// `CancelledError`).
    #[error("the task was cancelled before it started; submit it again to run it")]
    Cancelled,
    /// A task's arguments reached its worker but did not decode there: none of the task's
    /// items ran.
    #[error("the task's arguments did not decode in worker {worker}: {fault}")]
    ArgumentsNotDecoded {
        /// The worker's name.
        worker: String,
        /// What went wrong.
        fault: ArgumentsFault,
    },
    /// Decoding a task's results in this process panicked (in a `Deserialize` of the
    /// result type).
    #[error(
        "decoding the task's results panicked: {message}; fix the Deserialize of the result type"
    )]
    ResultDecodePanicked {
        /// The panic message.
        message: String,
    },
    /// A child or a pool worker sent something the protocol does not allow (a bug, or a
    /// process that is not one of ours on the other end).
    #[error("protocol error with a child process: {fault}; please report this bug")]
    Protocol {
        /// What came that should not have.
        fault: ProtocolFault,
    },
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

/// Why a [`Pool`](crate::Pool) broke (see [`Error::PoolBroken`]).
///
/// ```
/// use mp_processes::{BrokenCause, Error};
///
/// let error = Error::PoolBroken {
///     cause: BrokenCause::InitializerPanicked { worker: "PoolWorker-1".into(), message: "no db".into() },
/// };
/// assert!(error.to_string().contains("the initializer panicked in PoolWorker-1: no db"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BrokenCause {
    /// The pool's initializer panicked in a worker.
    #[error("the initializer panicked in {worker}: {message}")]
    InitializerPanicked {
        /// The worker's name.
        worker: String,
        /// The panic message.
        message: String,
    },
    /// Workers kept dying before they were ready.
    #[error("{count} workers in a row died before they were ready (the last: {})", .last.as_deref().map_or_else(|| "it exited".to_owned(), ToString::to_string))]
    WorkersDiedEarly {
        /// How many, in a row.
        count: u32,
        /// How the last one ended, if it was an error.
        last: Option<Box<Error>>,
    },
    /// The thread that supervises the workers panicked (a bug).
    #[error("its supervisor panicked: {message}")]
    SupervisorPanicked {
        /// The panic message.
        message: String,
    },
}

/// Why a child could not start, or could not begin running its target (see
/// [`Error::Start`]).
///
/// ```
/// use mp_processes::StartFault;
///
/// assert!(StartFault::DifferentBuild.to_string().contains("different build"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StartFault {
    /// `fork` failed.
    #[error("fork failed: {errno}; the system is out of processes or memory")]
    Fork {
        /// What the kernel said.
        errno: Errno,
    },
    /// The socket between parent and child could not be made.
    #[error("cannot make its socket (socketpair): {errno}; this process is out of descriptors?")]
    Socket {
        /// What the kernel said.
        errno: Errno,
    },
    /// Running this program again (`/proc/self/exe`) failed.
    #[error("cannot run /proc/self/exe: {step}: {errno}")]
    Reexec {
        /// The step that failed.
        step: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// The call and its arguments could not be handed to the child (it was killed).
    #[error("cannot hand the child its call: {cause}")]
    Handover {
        /// Why.
        cause: mp_wire::Error,
    },
    /// There is no forkserver to ask.
    #[error("no forkserver")]
    NoForkserver,
    /// The forkserver could not fork the child, for this reason; it goes on.
    #[error("the forkserver could not fork it: {detail}")]
    ForkserverRefused {
        /// The forkserver's reason.
        detail: String,
    },
    /// The conversation with the forkserver broke off; the next start gets a new server.
    #[error("the forkserver failed: {detail}")]
    ForkserverBroke {
        /// What went wrong.
        detail: String,
    },
    /// The forkserver did not answer in time (stopped, or wedged): it was killed.
    #[error(
        "the forkserver did not answer within {patience:?} (stopped?); it was killed, and the next start gets a new one"
    )]
    ForkserverSilent {
        /// How long it was given (`set_forkserver_timeout`).
        patience: std::time::Duration,
    },
    /// Waiting for the forkserver's answer failed.
    #[error("waiting for the forkserver failed: {errno}")]
    ForkserverPoll {
        /// What the kernel said.
        errno: Errno,
    },
    /// The child runs another build of the program than the parent (the binary was
    /// replaced on disk since the parent started).
    #[error(
        "the child runs a different build of the program than the parent (was the binary replaced?); restart the program"
    )]
    DifferentBuild,
    /// A `Deserialize` of the arguments panicked in the child.
    #[error(
        "receiving the arguments panicked: {message}; fix the Deserialize of the argument types"
    )]
    ArgumentsPanicked {
        /// The panic message.
        message: String,
    },
    /// The arguments did not decode in the child.
    #[error("cannot receive the arguments: {detail}")]
    ArgumentsUndecodable {
        /// The decoder's message.
        detail: String,
    },
}

/// Why a child's return value, or a pool task's results, could not be sent back (see
/// [`Error::ResultNotSent`]).
///
/// ```
/// use mp_processes::SendFault;
///
/// let fault = SendFault::TooLarge { len: 10, max: 4 };
/// assert!(fault.to_string().starts_with("the results take 10 bytes, over the limit of 4"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum SendFault {
    /// The value did not encode, with the wire layer's message.
    #[error("{detail}; return a value that serializes")]
    Unencodable {
        /// The encoder's message.
        detail: String,
    },
    /// A `Serialize` of the value panicked.
    #[error("serializing it panicked: {message}; fix the Serialize of the result type")]
    SerializePanicked {
        /// The panic message.
        message: String,
    },
    /// The encoded results are longer than a pool's frame may be.
    #[error(
        "the results take {len} bytes, over the limit of {max}; return less per task or use smaller chunks"
    )]
    TooLarge {
        /// The encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why a task's arguments did not decode in its worker (see
/// [`Error::ArgumentsNotDecoded`]).
///
/// ```
/// use mp_processes::ArgumentsFault;
///
/// let fault = ArgumentsFault::Panicked { message: "bad".into() };
/// assert_eq!(fault.to_string(), "their Deserialize panicked: bad");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ArgumentsFault {
    /// The bytes did not decode, with the wire layer's message.
    #[error("{detail}")]
    Undecodable {
        /// The decoder's message.
        detail: String,
    },
    /// A `Deserialize` of the argument types panicked.
    #[error("their Deserialize panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
}

/// What a child or a pool worker sent that the protocol does not allow (see
/// [`Error::Protocol`]).
///
/// ```
/// use mp_processes::ProtocolFault;
///
/// let fault = ProtocolFault::OutcomeCount { values: 1, others: 0, items: 2 };
/// assert_eq!(fault.to_string(), "a reply of 1 values and 0 other outcomes for 2 items");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolFault {
    /// A child sent a message of a kind it should not send, or a second outcome.
    #[error("an unexpected message from the child")]
    UnexpectedMessage,
    /// A worker's reply did not decode as a reply.
    #[error("a corrupt reply from a worker: {detail}")]
    CorruptReply {
        /// The decoder's message.
        detail: String,
    },
    /// A worker's reply does not describe the items of its task.
    #[error("a reply of {values} values and {others} other outcomes for {items} items")]
    OutcomeCount {
        /// Values in the reply.
        values: usize,
        /// Other outcomes (panics, skipped items) in the reply.
        others: usize,
        /// Items in the task.
        items: usize,
    },
    /// An encoded task's outcomes skip a call without a failure that says why.
    #[error("call {index} was skipped but no failure says why")]
    SkippedWithoutFailure {
        /// The call's position in the task.
        index: usize,
    },
    /// An encoded task's outcomes have neither a reply nor a failure for a call.
    #[error("no reply and no failure for call {index}")]
    NoOutcome {
        /// The call's position in the task.
        index: usize,
    },
    /// A task's own frame could not be rebuilt to send it again.
    #[error("cannot rebuild a task's frame: {detail}")]
    TaskFrame {
        /// The codec's message.
        detail: String,
    },
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

    pub(crate) fn start(name: &str, fault: StartFault) -> Self {
        Error::Start {
            name: name.to_owned(),
            fault,
        }
    }
}

/// `SIGKILL` for 9, `SIGTERM` for 15...; `signal N` for numbers nix does not know.
pub(crate) fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|signal| signal.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {signal}"))
}
