//! Options of a queue, set once when a handle is opened.
//!
//! The options belong to the handle, not to the queue in Redis: two processes may open
//! the same queue with different limits, and each applies its own (the visibility
//! timeout to the messages it reclaims, the message limit to what it puts, the expiry to
//! the keys it refreshes).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::stream::StreamQueue;
use crate::{Cluster, Error, JoinableQueue, Queue};

/// A queue's options, before it is opened: from [`Cluster::queue_builder`].
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// use std::time::Duration;
///
/// let cluster = mp_cluster::Cluster::connect(&url)?;
/// let tasks = cluster
///     .queue_builder("thumbnails")
///     .visibility_timeout(Duration::from_secs(120))
///     .max_message_len(1 << 20)
///     .expire_after(Duration::from_secs(24 * 3600))
///     .joinable_queue::<String>()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder opens nothing until queue() or joinable_queue()"]
pub struct QueueBuilder {
    pub(crate) cluster: Cluster,
    pub(crate) name: String,
    pub(crate) options: QueueOptions,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct QueueOptions {
    pub(crate) visibility_timeout: Duration,
    pub(crate) max_message_len: usize,
    /// `None`: the keys never expire.
    pub(crate) expire_after: Option<Duration>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            visibility_timeout: Duration::from_secs(30),
            max_message_len: 64 << 20,
            expire_after: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

impl QueueBuilder {
    /// How long a message taken by a consumer stays its own before another consumer
    /// may take it again (default 30 s): the lease of at-least-once delivery. A consumer
    /// that dies holding a message gives it up after this long; one that is still
    /// working on it after this long may see it done twice. Zero is taken as 1 ms.
    ///
    /// ```
    /// # fn options(builder: mp_cluster::QueueBuilder) -> mp_cluster::QueueBuilder {
    /// builder.visibility_timeout(std::time::Duration::from_secs(300))
    /// # }
    /// ```
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.options.visibility_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The longest encoded message `put` accepts (default 64 MiB; Redis itself refuses
    /// values over 512 MiB); longer ones are [`Error::MessageTooLarge`].
    ///
    /// ```
    /// # fn options(builder: mp_cluster::QueueBuilder) -> mp_cluster::QueueBuilder {
    /// builder.max_message_len(4096)
    /// # }
    /// ```
    pub fn max_message_len(mut self, max: usize) -> Self {
        self.options.max_message_len = max;
        self
    }

    /// How long the queue's keys live after the last use of this handle (default 7
    /// days): every put, take and `task_done` pushes the expiry back, so an abandoned
    /// queue, its messages and its consumer group vanish on their own.
    /// `Duration::MAX` keeps them until [`Queue::destroy`].
    ///
    /// ```
    /// # fn options(builder: mp_cluster::QueueBuilder) -> mp_cluster::QueueBuilder {
    /// builder.expire_after(std::time::Duration::MAX)
    /// # }
    /// ```
    pub fn expire_after(mut self, expiry: Duration) -> Self {
        // Redis takes the expiry in milliseconds as a signed 64-bit number.
        self.options.expire_after = (expiry.as_millis() < i64::MAX as u128 / 2)
            .then_some(expiry.max(Duration::from_millis(1)));
        self
    }

    /// Opens the queue as a [`Queue`] (creating it in Redis if it is new).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue_builder("events").queue::<u64>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue<T: Serialize + DeserializeOwned>(self) -> Result<Queue<T>, Error> {
        Ok(Queue::from_stream(StreamQueue::open(self)?))
    }

    /// Opens the queue as a [`JoinableQueue`] (creating it in Redis if it is new).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let tasks = cluster.queue_builder("tasks").joinable_queue::<u64>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(
        self,
    ) -> Result<JoinableQueue<T>, Error> {
        Ok(JoinableQueue::from_stream(StreamQueue::open(self)?))
    }
}

impl Cluster {
    /// A builder for the queue `name`, to set its options before opening it.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue_builder("logs").max_message_len(1024).queue::<String>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_builder(&self, name: &str) -> QueueBuilder {
        QueueBuilder {
            cluster: self.clone(),
            name: name.to_string(),
            options: QueueOptions::default(),
        }
    }

    /// Opens the queue `name` with the default options: any process on any machine
    /// that opens the same name on the same server shares it.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<(u32, String)>("work")?;
    /// queue.put(&(1, "one".into()))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<Queue<T>, Error> {
        self.queue_builder(name).queue()
    }

    /// Opens the queue `name` as a [`JoinableQueue`], with the default options.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let tasks = cluster.joinable_queue::<u64>("tasks")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<JoinableQueue<T>, Error> {
        self.queue_builder(name).joinable_queue()
    }
}
