//! `SimpleQueue<T>`: Python's `multiprocessing.SimpleQueue`.

use std::fmt;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::QueueBuilder;
use super::control::Kind;
use super::fifo::debug_queue;
use super::raw::{Patience, RawQueue, message_type};
use crate::{Error, Waitable};

/// The small queue: `put`, `get`, `empty`, `close`, no `maxsize`. Python's
/// `multiprocessing.SimpleQueue`.
///
/// It is the same ring as [`Queue`](crate::Queue) (Python's is a pipe under a lock, with
/// no feeder thread; here both are the shared-memory ring), with the smaller interface.
/// It crosses into other processes the same way.
///
/// ```
/// let queue = mp_ipc::SimpleQueue::<String>::new()?;
/// queue.put(&"hello".to_string())?;
/// assert!(!queue.empty());
/// assert_eq!(queue.get()?, "hello");
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub struct SimpleQueue<T> {
    raw: RawQueue,
    _message: std::marker::PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> SimpleQueue<T> {
    /// A new simple queue, with a ring of [`DEFAULT_RING_BYTES`](crate::DEFAULT_RING_BYTES).
    ///
    /// ```
    /// assert!(mp_ipc::SimpleQueue::<u8>::new()?.empty());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        QueueBuilder::new().simple_queue()
    }

    /// Puts a message, waiting for room in the ring if it is full. Errors as
    /// [`Queue::put`](crate::Queue::put).
    ///
    /// ```
    /// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
    /// queue.put(&1)?;
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn put(&self, message: &T) -> Result<(), Error> {
        self.raw.put(message, Patience::Forever)
    }

    /// Takes the oldest message, waiting for one. Errors as
    /// [`Queue::get`](crate::Queue::get).
    ///
    /// ```
    /// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
    /// queue.put(&1)?;
    /// assert_eq!(queue.get()?, 1);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.raw.get(Patience::Forever)
    }

    /// Takes the oldest message if there is one; [`Error::Empty`] otherwise.
    ///
    /// ```
    /// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
    /// assert!(matches!(queue.try_get(), Err(mp_ipc::Error::Empty)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn try_get(&self) -> Result<T, Error> {
        self.raw.get(Patience::NoWait)
    }

    /// Takes the oldest message, waiting without blocking the async runtime. Feature
    /// `async`; as [`Queue::get_async`](crate::Queue::get_async).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mp_ipc::Error> {
    /// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
    /// let producer = {
    ///     let queue = queue.clone();
    ///     std::thread::spawn(move || queue.put(&7))
    /// };
    /// assert_eq!(queue.get_async().await?, 7);
    /// producer.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "async")]
    pub fn get_async(&self) -> super::GetAsync<'_, T> {
        super::GetAsync::new(&self.raw)
    }

    /// Takes the oldest message, waiting at most `timeout`; [`Error::Empty`] then.
    ///
    /// ```
    /// use std::time::Duration;
    /// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
    /// assert!(queue.get_timeout(Duration::from_millis(5)).is_err());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.raw.get(Patience::from_timeout(timeout))
    }

    /// Whether no message is queued (a snapshot).
    ///
    /// ```
    /// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
    /// assert!(queue.empty());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.raw.qsize() == 0
    }

    /// Closes the queue for every process, as [`Queue::close`](crate::Queue::close).
    ///
    /// ```
    /// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
    /// queue.close();
    /// assert!(matches!(queue.get(), Err(mp_ipc::Error::Closed)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn close(&self) {
        self.raw.close();
    }
}

impl<T> SimpleQueue<T> {
    pub(crate) fn from_raw(raw: RawQueue) -> Self {
        Self {
            raw,
            _message: std::marker::PhantomData,
        }
    }
}

impl<T> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        Self::from_raw(self.raw.clone())
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_queue(f, "SimpleQueue", &self.raw)
    }
}

/// Ready when a message is queued or the queue is closed.
///
/// ```
/// use std::time::Duration;
/// let queue = mp_ipc::SimpleQueue::<u8>::new()?;
/// assert!(mp_ipc::wait(&[&queue], Some(Duration::from_millis(1)))?.is_empty());
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<T: Serialize + DeserializeOwned> Waitable for SimpleQueue<T> {
    fn is_ready(&self) -> bool {
        self.raw.qsize() != 0 || self.raw.is_closed()
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl<T> Serialize for SimpleQueue<T> {
    /// As for [`Queue`](crate::Queue).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.segment().serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for SimpleQueue<T> {
    /// Maps the received segment and checks that it is a `SimpleQueue<T>`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = mp_shared_mem::Segment::deserialize(deserializer)?;
        RawQueue::attach(segment, &[Kind::Simple], Kind::Simple, message_type::<T>())
            .map(Self::from_raw)
            .map_err(mp_shared_mem::transfer::reject)
    }
}
