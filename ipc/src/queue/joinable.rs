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
/// counter of its own but the messages put minus the `task_done` calls, so a producer
/// killed in the middle of a put cannot leave it wrong. A consumer killed between its
/// `get` and its `task_done` does leave a task unfinished for good, as in Python: use
/// [`join_timeout`](JoinableQueue::join_timeout) where that can happen.
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
/// jobs.join(); // every job was taken and done
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

    /// Waits until every message put has been marked done (Python's `join()`).
    ///
    /// ```
    /// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
    /// queue.join(); // nothing was put: returns at once
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn join(&self) {
        self.queue.raw().join(Patience::Forever);
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
        if self.queue.raw().join(Patience::from_timeout(timeout)) {
            Ok(())
        } else {
            Err(Error::TimedOut)
        }
    }

    /// Waits until every message put has been marked done, without blocking the async
    /// runtime: Python's `await asyncio.Queue.join()`, for tasks other threads and
    /// processes finish. Feature `async`.
    ///
    /// Woken through mp-sys's [`Reactor`](mp_sys::reactor::Reactor) by
    /// the last `task_done`, in any process; no thread is parked per waiter. A dropped
    /// future leaves nothing registered. `get_async` and `put_async` come from
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
    /// queue.join_async().await;
    /// worker.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "async")]
    pub fn join_async(&self) -> super::JoinAsync<'_> {
        super::JoinAsync::new(self.queue.raw())
    }

    /// Messages put and not yet marked done (Python keeps this private, as
    /// `_unfinished_tasks`).
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
