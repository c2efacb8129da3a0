//! One error type for the crate, with the names mp-ipc uses for the same meanings, so a
//! program moving a queue from one machine to several matches on the same variants.

use std::time::Duration;

/// What went wrong with a cluster queue or its Redis server. Each message says what to
/// do about it.
///
/// ```
/// let error = mp_cluster::Error::MessageTooLarge { len: 10, max: 4 };
/// assert!(error.to_string().contains("max_message_len"));
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing to take: the queue was empty for the whole wait (`try_get`,
    /// `get_timeout`), as Python's `queue.Empty`.
    #[error("the queue is empty: try again later, or wait with get()/get_timeout()")]
    Empty,
    /// `close()` was called on this handle: it puts and takes no more.
    #[error("the queue is closed on this handle: open it again to go on using it")]
    Closed,
    /// A wait other than a take ran out (`join_timeout`).
    #[error("the timeout elapsed: tasks are still unfinished (call task_done() for each get())")]
    TimedOut,
    /// A message longer than the queue's limit, refused at `put`.
    #[error(
        "a message of {len} bytes is over the queue's limit of {max} bytes: send less, or \
         raise the limit with QueueBuilder::max_message_len"
    )]
    MessageTooLarge {
        /// The encoded message's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `task_done()` was called more often than this handle took messages.
    #[error("task_done() called more times than this handle took messages with get()")]
    TaskDoneTooManyTimes,
    /// The value could not be encoded.
    #[error("cannot encode the message: {0}")]
    Encode(#[source] mp_wire::Error),
    /// A message could not be decoded as this handle's type: the queue was opened with
    /// another type elsewhere. The message went back to the end of the queue for a reader
    /// of the right type.
    #[error(
        "a message of queue {queue:?} does not decode as {type_name} ({reason}): open the \
         queue with the type its producers put; the message went back to the end of the queue"
    )]
    Decode {
        /// The queue's name.
        queue: String,
        /// The type this handle reads.
        type_name: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// An entry of the queue's stream has no message body: something other than this
    /// crate wrote to the stream.
    #[error(
        "entry {id} of queue {queue:?} is not a message of this crate: its stream was written by another program"
    )]
    Corrupt {
        /// The queue's name.
        queue: String,
        /// The entry's id.
        id: String,
    },
    /// `MP_REDIS_URL` is not set (for [`Cluster::from_env`](crate::Cluster::from_env)).
    #[error(
        "MP_REDIS_URL is not set: set it to the server's URL, e.g. redis://user:password@host:6379/"
    )]
    NoUrl,
    /// The URL is not a Redis URL this build can use.
    #[error(
        "invalid Redis URL {url:?}: {reason} (expected redis://[user:password@]host[:port][/db], or rediss:// with the `tls` feature)"
    )]
    InvalidUrl {
        /// The URL, without its password.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server could not be reached, or the connection kept dropping, for the whole
    /// reconnect bound.
    #[error(
        "Redis at {url} is unreachable after {attempts} attempts over {waited:?} ({source}): \
         check that the server runs and the URL is right"
    )]
    Unreachable {
        /// The URL, without its password.
        url: String,
        /// How many connections or commands were tried.
        attempts: u32,
        /// How long it kept trying.
        waited: Duration,
        /// The last failure.
        #[source]
        source: redis::RedisError,
    },
    /// The server refused a command (authentication, permissions, memory, a key of
    /// another type under the queue's name...).
    #[error("Redis refused {operation}: {source}")]
    Redis {
        /// What was being done.
        operation: &'static str,
        /// The server's error.
        #[source]
        source: redis::RedisError,
    },
    /// A pool or worker name that cannot be part of a Redis key: 1 to 128 ASCII
    /// letters, digits, `.`, `_` or `-`.
    #[error("invalid pool name {name:?}: use 1 to 128 ASCII letters, digits, '.', '_' or '-'")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// The program's build id could not be read (see `mp_sys::build_id`).
    #[error("cannot tell which build this program is ({source}): /proc/self/exe must be readable")]
    BuildId {
        /// What the system said.
        #[source]
        source: mp_sys::Error,
    },
    /// A thread of the pool or worker could not be started.
    #[error("cannot start a thread: {reason}; the process is out of threads or memory")]
    Thread {
        /// What the system said.
        reason: String,
    },
    /// No worker of this program's build serves the pool, after waiting
    /// `PoolBuilder::worker_wait`.
    #[error(
        "no worker of build {build} serves pool {pool:?} (connected builds: {connected:?}): \
         start workers from this same executable, with MP_CLUSTER_WORKER={pool} and MP_REDIS_URL set"
    )]
    NoWorkers {
        /// The pool.
        pool: String,
        /// The build the pool needs: this program's.
        build: String,
        /// The builds of the workers that are connected.
        connected: Vec<String>,
    },
    /// One call of a task failed on its worker: it panicked, its process died, it ran
    /// over the worker's task timeout, or its arguments or value could not cross.
    #[error("the call failed on its worker: {0}")]
    TaskFailed(mp_processes::pool::ItemFailure),
    /// Each worker that took the task died before finishing it, as many times as the
    /// workers' `max_attempts` allow: the task is failed instead of killing another.
    #[error(
        "the task was taken by {attempts} workers and each died running it; it was not run \
         again: look for what in it kills its process (memory, a signal, an abort)"
    )]
    TaskKilledWorkers {
        /// How many workers died running it.
        attempts: u32,
    },
    /// A worker refused the task: it is not signed with the worker's key.
    #[error(
        "worker {worker} refused the task: it is not signed with the worker's key; give the pool and its workers the same authkey"
    )]
    BadSignature {
        /// The worker that refused it.
        worker: String,
    },
    /// A task was submitted after `close()` or `terminate()`.
    #[error("the pool is closed: it takes no new tasks; build a new Pool")]
    PoolClosed,
    /// `join()` while the pool still takes tasks: `close()` or `terminate()` first.
    #[error("join() needs close() or terminate() first")]
    PoolRunning,
    /// The pool was terminated (or dropped) before the task had its result.
    #[error("the pool was terminated before the task had its result")]
    Terminated,
    /// The task was cancelled before it had its result.
    #[error("the task was cancelled")]
    Cancelled,
    /// The task's value was taken already, by an earlier `result` of its future.
    #[error("the task's value was already taken by an earlier result()")]
    AlreadyTaken,
    /// A local mp-processes error: a task that could not be encoded (its arguments hold
    /// a handle, which cannot leave its machine), or a worker's local pool that failed.
    #[error(transparent)]
    Process(#[from] mp_processes::Error),
}

impl mp_futures::TaskError for Error {
    fn cancelled() -> Self {
        Error::Cancelled
    }

    fn timed_out() -> Self {
        Error::TimedOut
    }

    fn already_taken() -> Self {
        Error::AlreadyTaken
    }

    fn abandoned() -> Self {
        Error::Terminated
    }
}
