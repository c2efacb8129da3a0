//! Python's `multiprocessing.Queue` between machines: each message to exactly one
//! consumer, acknowledged and deleted as it is returned.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use mp_sys::Deadline;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::awaiting::{GetAsync, PutAsync, Settle};
use crate::lane::Lanes;
use crate::stream::{Entry, StreamQueue};

/// A named FIFO queue in Redis, shared by every process on every machine that opens the
/// same name: `put` appends, `get` takes the oldest message, each message goes to one
/// consumer.
///
/// Delivery: a message is acknowledged and deleted the moment `get` returns it
/// (Python's queue: what a consumer took is gone, at most once from then on). A consumer
/// that dies *before* `get` returns (between Redis handing out the message and the
/// acknowledgement) loses nothing: the message goes to another consumer after the
/// visibility timeout. For work that must survive the consumer dying after `get`, use
/// [`JoinableQueue`](crate::JoinableQueue), whose messages stay leased until
/// `task_done`.
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// let cluster = mp_cluster::Cluster::connect(&url)?;
/// let queue = cluster.queue::<String>("greetings")?;
/// queue.put(&"hello".to_string())?;
/// assert_eq!(queue.get()?, "hello");
/// queue.destroy()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Queue<T> {
    stream: Arc<StreamQueue>,
    /// The threads of the `_async` forms, started on first use.
    lanes: Lanes,
    _messages: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    pub(crate) fn from_stream(stream: StreamQueue) -> Self {
        let stream = Arc::new(stream);
        Queue {
            lanes: Lanes::new(Arc::clone(&stream)),
            stream,
            _messages: PhantomData,
        }
    }

    /// The queue's name.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// assert_eq!(cluster.queue::<u8>("q")?.name(), "q");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        self.stream.name()
    }

    /// Appends `message` (the queue has no bound: it never blocks for room).
    /// [`Error::MessageTooLarge`] over the limit, [`Error::Closed`] after `close`.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<Vec<u8>>("blobs")?;
    /// queue.put(&vec![1, 2, 3])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put(&self, message: &T) -> Result<(), Error> {
        self.stream.put(&encode(message)?)
    }

    /// [`put`](Self::put) for async code: the command runs on a thread of this handle,
    /// and the future is ready once the message is in Redis. Over the limit or after
    /// `close`, it is ready at once with the error. Works under any executor.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// # runtime.block_on(async {
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<u32>("put-async")?;
    /// queue.put_async(&3).await?;
    /// assert_eq!(queue.get_async().await?, 3);
    /// queue.destroy()?;
    /// # Ok::<(), mp_cluster::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_async(&self, message: &T) -> PutAsync<'_> {
        PutAsync::new(&self.stream, &self.lanes, encode(message))
    }

    /// [`get`](Self::get) for async code: the oldest message, taken by a thread of this
    /// handle and acknowledged right after the future returns it. Futures of one handle
    /// are served in the order they were made. Dropping one loses nothing: a message
    /// already taken for it goes to this handle's next `get` (see [`GetAsync`]).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// # runtime.block_on(async {
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<String>("get-async")?;
    /// let waiting = queue.get_async();
    /// cluster.queue::<String>("get-async")?.put(&"late".to_string())?;
    /// assert_eq!(waiting.await?, "late");
    /// queue.destroy()?;
    /// # Ok::<(), mp_cluster::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_async(&self) -> GetAsync<'_, T> {
        GetAsync::new(&self.stream, &self.lanes, Settle::Finish)
    }

    pub(crate) fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    /// Takes the oldest message, waiting as long as it takes.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<u32>("numbers")?;
    /// queue.put(&7)?;
    /// assert_eq!(queue.get()?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.get_until(Deadline::NEVER)
    }

    /// Takes the oldest message if there is one now; [`Error::Empty`] otherwise (one
    /// round trip to the server, no waiting there).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<u32>("maybe-empty")?;
    /// assert!(matches!(queue.try_get(), Err(mp_cluster::Error::Empty)));
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
    /// let queue = cluster.queue::<u32>("slow")?;
    /// match queue.get_timeout(Duration::from_millis(100)) {
    ///     Ok(n) => println!("got {n}"),
    ///     Err(mp_cluster::Error::Empty) => println!("nothing yet"),
    ///     Err(other) => return Err(other.into()),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.get_until(Deadline::after(timeout))
    }

    /// How many messages wait to be taken (approximate, as Python's: others put and
    /// take meanwhile). It counts messages whose consumer died before `get` returned,
    /// which will be delivered again.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<u8>("counted")?;
    /// queue.put(&1)?;
    /// assert!(queue.qsize()? >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn qsize(&self) -> Result<u64, Error> {
        self.stream.unfinished()
    }

    /// Whether [`qsize`](Self::qsize) is zero.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<u8>("fresh")?;
    /// assert!(queue.empty()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn empty(&self) -> Result<bool, Error> {
        Ok(self.qsize()? == 0)
    }

    /// Closes this handle: its `put` and `get` fail with [`Error::Closed`] from now on.
    /// Other handles, here and elsewhere, go on; the queue stays in Redis (see
    /// [`destroy`](Self::destroy)).
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// let queue = cluster.queue::<u8>("closing")?;
    /// queue.close();
    /// assert!(matches!(queue.put(&1), Err(mp_cluster::Error::Closed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.stream.close();
    }

    /// Deletes the queue from Redis, with every message in it, for every handle. A
    /// handle that goes on using it creates it again, empty.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start()?;
    /// # let url = server.url();
    /// let cluster = mp_cluster::Cluster::connect(&url)?;
    /// cluster.queue::<u8>("temporary")?.destroy()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destroy(&self) -> Result<(), Error> {
        self.stream.destroy()
    }

    pub(crate) fn stream(&self) -> &StreamQueue {
        &self.stream
    }

    fn get_until(&self, deadline: Deadline) -> Result<T, Error> {
        let entry = self.stream.take(deadline)?.ok_or(Error::Empty)?;
        let message = decode(&self.stream, &entry)?;
        self.stream.finish(&entry.id)?;
        Ok(message)
    }
}

/// The message's bytes, in the one wire format of the mp crates.
pub(crate) fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    mp_wire::encode_bytes_into(message, &mut body).map_err(Error::Encode)?;
    Ok(body)
}

/// The message of `entry`; one that does not decode as `T` goes back to the end of the
/// queue for a reader of the right type, and the error says so.
pub(crate) fn decode<T: DeserializeOwned>(stream: &StreamQueue, entry: &Entry) -> Result<T, Error> {
    decode_body(stream.name(), &entry.body).inspect_err(|_| {
        if let Err(err) = stream.give_back(entry) {
            tracing::warn!(queue = %stream.name(), %err, id = %entry.id, "undecodable message not given back; it stays leased");
        }
    })
}

/// The message in `body`, or the error naming the queue and the type expected.
pub(crate) fn decode_body<T: DeserializeOwned>(queue: &str, body: &[u8]) -> Result<T, Error> {
    mp_wire::decode_bytes(body).map_err(|err| Error::Decode {
        queue: queue.to_string(),
        type_name: std::any::type_name::<T>(),
        reason: err.to_string(),
    })
}
