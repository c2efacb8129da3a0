//! `JoinableQueue<T>`: Python's `multiprocessing.JoinableQueue`.

use std::fmt;
use std::ops::Deref;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::control::Kind;
use super::fifo::debug_queue;
use super::raw::{Patience, RawQueue, message_type};
use super::{Queue, QueueBuilder};
use crate::{Error, Waitable};

/// A [`Queue`] that also counts unfinished tasks: every `put` adds one, every
/// [`task_done`](JoinableQueue::task_done) takes one away, and [`join`](JoinableQueue::join)
/// waits until none is left. Python's `multiprocessing.JoinableQueue`.
///
/// Every method of [`Queue`] is available through `Deref`. The count lives in the shared
/// memory with the messages, so `task_done` may be called in any process. It is not a
/// counter of its own but the messages put minus the tasks marked done, so a producer
/// killed in the middle of a put cannot leave it wrong.
///
/// # When a consumer process dies
///
/// Python's `join` waits for ever for a task whose consumer was killed before its
/// `task_done`. Here such a task is counted *lost*, and `join` returns
/// [`Error::TasksLost`] once every task is done or lost: never a hang. Precisely:
///
/// - A task is *delivered* when `get` (or `try_get`, `get_timeout`, `get_async`) took it
///   from the queue in some process, whether or not the call returned to its caller.
///   A task that was not delivered is still queued, whoever died: it reaches the next
///   consumer (as for every [`Queue`], every completed put is delivered exactly once).
/// - A delivered task for which its process then called `task_done` is done, and is
///   never seen again.
/// - A delivered task whose process died (even by SIGKILL, even inside `get`) before its
///   `task_done` is counted lost, once a joiner finds that process gone (within about
///   100 ms of the death, while a `join` waits). It is *not* delivered again: the ring
///   gives a message's bytes back to producers when it is taken, so that a slow consumer
///   never holds producers up, which leaves nothing to deliver again. No queue can tell
///   such a task done from one half-done.
/// - `task_done` counts for the process that calls it. The queue keeps one account per
///   consumer process, for up to 119 processes alive at once; processes beyond them
///   share one account whose tasks are never counted lost (a `join` waits for them, as
///   Python's does).
/// - A message that does not decode as a `T` (the `get` fails with a decode error) is
///   counted done at once: nobody can work on it. A message larger than the ring whose
///   consumer died while receiving it is counted lost.
///
/// ```
/// use mp_ipc::JoinableQueue;
///
/// let jobs = JoinableQueue::<u32>::new()?;
/// let worker = {
///     let jobs = jobs.clone();
///     std::thread::spawn(move || {
///         while let Ok(job) = jobs.get() {
///             let _ = job * 2; // the work
///             jobs.task_done().unwrap();
///         }
///     })
/// };
/// for job in 0..10 {
///     jobs.put(&job)?;
/// }
/// jobs.join()?; // every job was taken and done
/// jobs.close(); // the worker's get now fails with Closed
/// worker.join().unwrap();
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub struct JoinableQueue<T> {
    queue: Queue<T>,
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// A new unbounded joinable queue (Python's `JoinableQueue()`).
    ///
    /// ```
    /// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
    /// assert_eq!(queue.unfinished_tasks(), 0);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        QueueBuilder::new().joinable_queue()
    }

    /// A joinable queue of at most `maxsize` messages (0: unbounded).
    ///
    /// ```
    /// let queue = mp_ipc::JoinableQueue::<u8>::with_maxsize(1)?;
    /// queue.put(&1)?;
    /// assert!(queue.full());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn with_maxsize(maxsize: usize) -> Result<Self, Error> {
        QueueBuilder::new().maxsize(maxsize).joinable_queue()
    }

    /// Marks one task done (Python's `task_done()`); [`Error::TaskDoneTooManyTimes`] if
    /// there are more calls than messages put (Python's `ValueError`).
    ///
    /// ```
    /// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
    /// queue.put(&1)?;
    /// queue.get()?;
    /// queue.task_done()?;
    /// assert!(matches!(queue.task_done(), Err(mp_ipc::Error::TaskDoneTooManyTimes)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn task_done(&self) -> Result<(), Error> {
        self.queue.raw().task_done()
    }

    /// Waits until every message put has been marked done (Python's `join()`), or counted
    /// lost with a consumer process that died before its `task_done` (see
    /// [above](JoinableQueue#when-a-consumer-process-dies)): then [`Error::TasksLost`],
    /// with the count of tasks lost since the queue was made.
    ///
    /// ```
    /// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
    /// queue.join()?; // nothing was put: returns at once
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        self.queue.raw().join(Patience::Forever)
    }

    /// As [`join`](JoinableQueue::join), for at most `timeout`; [`Error::TimedOut`] if
    /// tasks are still unfinished then.
    ///
    /// ```
    /// use std::time::Duration;
    /// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
    /// queue.put(&1)?;
    /// assert!(matches!(queue.join_timeout(Duration::from_millis(10)), Err(mp_ipc::Error::TimedOut)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.queue.raw().join(Patience::from_timeout(timeout))
    }

    /// Tasks counted lost since the queue was made: delivered to processes that died
    /// before marking them done (see [above](JoinableQueue#when-a-consumer-process-dies)).
    /// A count a joiner makes: a death is counted once a `join` or `join_timeout` has
    /// looked.
    ///
    /// ```
    /// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
    /// queue.put(&1)?;
    /// queue.get()?;
    /// queue.task_done()?;
    /// assert_eq!(queue.lost_tasks(), 0);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn lost_tasks(&self) -> usize {
        self.queue.raw().lost_tasks() as usize
    }

    /// Waits until every message put has been marked done, without blocking the async
    /// runtime: Python's `await asyncio.Queue.join()`, for tasks other threads and
    /// processes finish. Feature `async`. Returns what [`join`](JoinableQueue::join) does.
    ///
    /// Woken through mp-sys's [`Reactor`](mp_sys::reactor::Reactor) by
    /// the last `task_done`, in any process, or by the death of a process that holds
    /// unfinished tasks (watched through its pidfd); no thread is parked per waiter. A
    /// dropped future leaves nothing registered. `get_async` and `put_async` come from
    /// [`Queue`](crate::Queue) (a `JoinableQueue` dereferences to it).
    ///
    /// ```
    /// use mp_ipc::{Error, JoinableQueue};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let queue = JoinableQueue::<u32>::new()?;
    /// queue.put(&1)?;
    /// let worker = {
    ///     let queue = queue.clone();
    ///     std::thread::spawn(move || {
    ///         queue.get()?;
    ///         queue.task_done()
    ///     })
    /// };
    /// queue.join_async().await?;
    /// worker.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "async")]
    pub fn join_async(&self) -> super::JoinAsync<'_> {
        super::JoinAsync::new(self.queue.raw())
    }

    /// Messages put and not yet marked done nor counted lost (Python keeps this private,
    /// as `_unfinished_tasks`).
    ///
    /// ```
    /// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
    /// queue.put(&1)?;
    /// queue.put(&2)?;
    /// queue.get()?;
    /// queue.task_done()?;
    /// assert_eq!(queue.unfinished_tasks(), 1);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        self.queue.raw().unfinished_tasks() as usize
    }
}

impl<T> JoinableQueue<T> {
    pub(crate) fn from_raw(raw: RawQueue) -> Self {
        Self {
            queue: Queue::from_raw(raw),
        }
    }
}

impl<T> Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    /// The queue itself: `put`, `get`, `close` and the rest.
    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_queue(f, "JoinableQueue", self.queue.raw())
    }
}

/// As for [`Queue`]: ready when a message is queued or the queue is closed.
///
/// ```
/// use std::time::Duration;
/// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
/// queue.put(&1)?;
/// assert_eq!(mp_ipc::wait(&[&queue], Some(Duration::from_secs(5)))?, [0]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<T: Serialize + DeserializeOwned> Waitable for JoinableQueue<T> {
    fn is_ready(&self) -> bool {
        self.queue.is_ready()
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl<T> Serialize for JoinableQueue<T> {
    /// As for [`Queue`].
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.queue.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for JoinableQueue<T> {
    /// Maps the received segment and checks that it is a `JoinableQueue<T>`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = mp_shared_mem::Segment::deserialize(deserializer)?;
        RawQueue::attach(
            segment,
            &[Kind::Joinable],
            Kind::Joinable,
            message_type::<T>(),
        )
        .map(Self::from_raw)
        .map_err(mp_shared_mem::transfer::reject)
    }
}
