//! Python's `multiprocessing.JoinableQueue` between machines, with at-least-once
//! delivery: a message stays leased to its consumer until `task_done`.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use mp_sys::Deadline;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::awaiting::{GetAsync, JoinAsync, PutAsync, Settle};
use crate::queue::{Queue, decode, encode};
use crate::stream::StreamQueue;

/// How often a waiting `join` asks the server at most, once it has waited a while.
const LONGEST_JOIN_PAUSE: Duration = Duration::from_millis(50);

/// A [`Queue`] whose messages are finished one by one: every `get` is followed by a
/// `task_done` when the work on the message is done, and `join` waits until every
/// message ever put is done, from any process on any machine.
///
/// Delivery is at least once: a message taken by `get` stays pending in Redis, leased to
/// this consumer, until `task_done` acknowledges and deletes it. A consumer that dies
/// between `get` and `task_done` loses nothing: once the message has been idle for the
/// visibility timeout (an option, 30 s by default) another consumer's `get` takes it
/// over. A consumer that finished a message never sees it again. A consumer still
/// working when its lease runs out may see its message done twice: set the visibility
/// timeout above the longest task.
///
/// `task_done` finishes the oldest message this handle took and did not finish yet (as
/// Python's, it takes no argument). `join` waits until the queue's stream is empty: a
/// message is deleted when it is done, so the stream's length is the number of
/// messages put and not done, kept by Redis itself.
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// let cluster = mp_cluster::Cluster::connect(&url)?;
/// let tasks = cluster.joinable_queue::<u64>("squares")?;
/// for n in 0..3 {
///     tasks.put(&n)?;
/// }
/// // ... in any process, on any machine:
/// while let Ok(n) = tasks.try_get() {
///     println!("{}", n * n);
///     tasks.task_done()?;
/// }
/// tasks.join()?; // every message put was done
/// tasks.destroy()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JoinableQueue<T> {
    queue: Queue<T>,
    /// Ids of the messages this handle took and did not finish, oldest first.
    taken: Mutex<VecDeque<String>>,
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    pub(crate) fn from_stream(stream: StreamQueue) -> Self {
        JoinableQueue {
            queue: Queue::from_stream(stream),
            taken: Mutex::new(VecDeque::new()),
        }
    }

    fn stream(&self) -> &StreamQueue {
        self.queue.stream()
    }

    /// The queue's name.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// assert_eq!(cluster.joinable_queue::<u8>("jq")?.name(), "jq");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        self.queue.name()
    }

    /// Appends `message`, one more unfinished task. [`Error::MessageTooLarge`] over the
    /// limit, [`Error::Closed`] after `close`.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// cluster.joinable_queue::<String>("jobs")?.put(&"one".into())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, message: &T) -> Result<(), Error> {
        self.stream().put(&encode(message)?)
    }

    /// [`put`](Self::put) for async code (see [`Queue::put_async`]).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// # runtime.block_on(async {
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let tasks = cluster.joinable_queue::<u32>("jobs-async")?;
    /// tasks.put_async(&1).await?;
    /// assert_eq!(tasks.qsize()?, 1);
    /// tasks.destroy()?;
    /// # Ok::<(), mp_cluster::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_async(&self, message: &T) -> PutAsync<'_> {
        PutAsync::new(self.stream(), self.queue.lanes(), encode(message))
    }

    /// [`get`](Self::get) for async code: the oldest message, leased to this handle
    /// until [`task_done`](Self::task_done), as `get`'s. Dropping the future loses
    /// nothing (see [`GetAsync`]).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// # runtime.block_on(async {
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let tasks = cluster.joinable_queue::<u32>("work-async")?;
    /// tasks.put(&9)?;
    /// assert_eq!(tasks.get_async().await?, 9);
    /// tasks.task_done()?;
    /// tasks.join_async().await?;
    /// tasks.destroy()?;
    /// # Ok::<(), mp_cluster::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_async(&self) -> GetAsync<'_, T> {
        GetAsync::new(
            self.stream(),
            self.queue.lanes(),
            Settle::Track(&self.taken),
        )
    }

    /// [`join`](Self::join) for async code: ready once every message ever put is done,
    /// from any process on any machine. The server is asked by a thread of this handle,
    /// often at first and then every 50 ms at most, as `join` does.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// # runtime.block_on(async {
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let tasks = cluster.joinable_queue::<u32>("joined-async")?;
    /// tasks.join_async().await?; // nothing put: done at once
    /// tasks.destroy()?;
    /// # Ok::<(), mp_cluster::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_async(&self) -> JoinAsync<'_> {
        JoinAsync::new(self.queue.lanes())
    }

    /// Takes the oldest message, waiting as long as it takes; it stays leased to this
    /// handle until [`task_done`](Self::task_done).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<String>("jobs")?;
    /// jobs.put(&"index the archive".into())?;
    /// let job = jobs.get()?;
    /// println!("working on {job}");
    /// jobs.task_done()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.get_until(Deadline::NEVER)
    }

    /// Takes the oldest message if there is one now; [`Error::Empty`] otherwise.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<String>("idle-jobs")?;
    /// assert!(matches!(jobs.try_get(), Err(mp_cluster::Error::Empty)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self) -> Result<T, Error> {
        self.get_until(Deadline::after(Duration::ZERO))
    }

    /// Takes the oldest message, waiting at most `timeout` ([`Error::Empty`] then;
    /// `Duration::MAX` waits forever, zero looks once).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// use std::time::Duration;
    ///
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<String>("jobs")?;
    /// if let Ok(job) = jobs.get_timeout(Duration::from_secs(1)) {
    ///     println!("{job}");
    ///     jobs.task_done()?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.get_until(Deadline::after(timeout))
    }

    /// Finishes the oldest message this handle took and did not finish yet: it is
    /// acknowledged and deleted, so no consumer sees it again.
    /// [`Error::TaskDoneTooManyTimes`] if this handle has no unfinished message.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<u8>("done-once")?;
    /// assert!(matches!(jobs.task_done(), Err(mp_cluster::Error::TaskDoneTooManyTimes)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_done(&self) -> Result<(), Error> {
        let id = self
            .taken()
            .pop_front()
            .ok_or(Error::TaskDoneTooManyTimes)?;
        match self.stream().finish(&id) {
            Ok(still_pending) => {
                if !still_pending {
                    tracing::debug!(queue = %self.name(), %id, "task finished elsewhere first (its lease had run out)");
                }
                Ok(())
            }
            Err(err) => {
                // Not finished: it stays this handle's to finish.
                self.taken().push_front(id);
                Err(err)
            }
        }
    }

    /// Waits until every message put (by anyone) was done.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<u8>("batch")?;
    /// jobs.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), Error> {
        self.join_until(Deadline::NEVER)
    }

    /// Waits at most `timeout` until every message put was done; [`Error::TimedOut`]
    /// if some are still unfinished then (`Duration::MAX` waits forever, zero looks
    /// once).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// use std::time::Duration;
    ///
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<u8>("batch")?;
    /// jobs.put(&1)?;
    /// assert!(matches!(jobs.join_timeout(Duration::ZERO), Err(mp_cluster::Error::TimedOut)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.join_until(Deadline::after(timeout))
    }

    /// How many messages wait to be taken: put, and neither taken nor done
    /// (approximate, as Python's).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<u8>("sized")?;
    /// jobs.put(&1)?;
    /// assert!(jobs.qsize()? >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn qsize(&self) -> Result<u64, Error> {
        let (unfinished, taken) = self.stream().counts()?;
        Ok(unfinished.saturating_sub(taken))
    }

    /// Whether [`qsize`](Self::qsize) is zero.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// assert!(cluster.joinable_queue::<u8>("nothing")?.empty()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn empty(&self) -> Result<bool, Error> {
        Ok(self.qsize()? == 0)
    }

    /// How many messages were put and not done yet, taken or not (what `join` waits
    /// for).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<u8>("unfinished")?;
    /// jobs.put(&1)?;
    /// assert!(jobs.unfinished_tasks()? >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unfinished_tasks(&self) -> Result<u64, Error> {
        self.stream().unfinished()
    }

    /// Closes this handle: its `put` and `get` fail with [`Error::Closed`] from now on;
    /// `task_done` and `join` still work, so the messages it took can be finished.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let jobs = cluster.joinable_queue::<u8>("closing")?;
    /// jobs.close();
    /// assert!(matches!(jobs.get(), Err(mp_cluster::Error::Closed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.queue.close();
    }

    /// Deletes the queue from Redis, with every message, taken or not, for every handle.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// cluster.joinable_queue::<u8>("temporary")?.destroy()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destroy(&self) -> Result<(), Error> {
        self.queue.destroy()
    }

    fn get_until(&self, deadline: Deadline) -> Result<T, Error> {
        let entry = self.stream().take(deadline)?.ok_or(Error::Empty)?;
        let message = decode(self.stream(), &entry)?;
        self.taken().push_back(entry.id);
        Ok(message)
    }

    fn join_until(&self, deadline: Deadline) -> Result<(), Error> {
        let mut pause = Duration::from_millis(1);
        loop {
            if self.stream().unfinished()? == 0 {
                return Ok(());
            }
            let nap = match deadline.remaining() {
                Some(left) if left.is_zero() => return Err(Error::TimedOut),
                Some(left) => left.min(pause),
                None => pause,
            };
            std::thread::sleep(nap);
            pause = (pause * 2).min(LONGEST_JOIN_PAUSE);
        }
    }

    fn taken(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // A plain list of ids: consistent whatever panicked while it was locked.
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
