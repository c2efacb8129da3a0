//! `Queue<T>`: Python's `multiprocessing.Queue`.

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::QueueBuilder;
use super::control::Kind;
use super::raw::{Patience, RawQueue, message_type};
use crate::{Error, Waitable};

/// A first-in first-out queue of `T`s between any number of producers and consumers, in
/// threads of this process and in other processes: Python's `multiprocessing.Queue`.
///
/// Messages are serialized with postcard into a ring in shared memory; see the
/// [module docs](crate::queue) for how it works and what a crash does to it. A `Queue` is a
/// handle: `clone` it for another thread, let a forked child inherit it, or send it to
/// another process through mp-shared-mem's [`transfer`](mp_shared_mem::transfer) (it
/// serializes its segment's descriptor, and the receiver checks that it is a queue of the
/// same `T`).
///
/// ```
/// use mp_ipc::{Error, Queue};
///
/// let queue = Queue::<String>::new()?;
/// let producer = {
///     let queue = queue.clone();
///     std::thread::spawn(move || {
///         for word in ["spam", "eggs"] {
///             queue.put(&word.to_string())?;
///         }
///         queue.close();
///         Ok::<(), Error>(())
///     })
/// };
/// assert_eq!(queue.get()?, "spam");
/// assert_eq!(queue.get()?, "eggs");
/// assert!(matches!(queue.get(), Err(Error::Closed)));
/// producer.join().unwrap()?;
/// # Ok::<(), Error>(())
/// ```
pub struct Queue<T> {
    raw: RawQueue,
    _message: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A new unbounded queue (Python's `Queue()`), with a ring of
    /// [`DEFAULT_RING_BYTES`](crate::DEFAULT_RING_BYTES).
    ///
    /// Unbounded means no limit on the number of messages; a `put` still waits when the
    /// ring's bytes are all taken, until a consumer makes room (Python's feeder thread
    /// would buffer them in the producer's memory instead).
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u64>::new()?;
    /// assert!(queue.empty());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        QueueBuilder::new().queue()
    }

    /// A queue of at most `maxsize` messages (Python's `Queue(maxsize)`; 0 is unbounded).
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u64>::with_maxsize(2)?;
    /// queue.put(&1)?;
    /// queue.put(&2)?;
    /// assert!(matches!(queue.try_put(&3), Err(mp_ipc::Error::Full)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn with_maxsize(maxsize: usize) -> Result<Self, Error> {
        QueueBuilder::new().maxsize(maxsize).queue()
    }

    /// Puts a message, waiting as long as it takes for room (Python's `put(obj)`).
    ///
    /// Fails with [`Error::Closed`] once the queue is closed, with
    /// [`Error::FdsInQueueMessage`] for a message that holds handles (file descriptors),
    /// which a queue cannot carry, and with a [`SharedMem`](Error::SharedMem) encode error
    /// if `T`'s serialization fails.
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<(u32, String)>::new()?;
    /// queue.put(&(1, "one".to_string()))?;
    /// assert_eq!(queue.get()?, (1, "one".to_string()));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn put(&self, message: &T) -> Result<(), Error> {
        self.raw.put(message, Patience::Forever)
    }

    /// Puts a message if that needs no waiting (Python's `put_nowait`); [`Error::Full`]
    /// if the queue holds `maxsize` messages, its ring has no room, or another producer
    /// holds the producer side (also one that died holding it: only the waiting forms
    /// take a dead holder's side over).
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u8>::with_maxsize(1)?;
    /// queue.try_put(&1)?;
    /// assert!(matches!(queue.try_put(&2), Err(mp_ipc::Error::Full)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn try_put(&self, message: &T) -> Result<(), Error> {
        self.raw.put(message, Patience::NoWait)
    }

    /// Puts a message, waiting at most `timeout` for room (Python's `put(obj, timeout=t)`);
    /// [`Error::Full`] when the time is up.
    ///
    /// ```
    /// use std::time::Duration;
    /// let queue = mp_ipc::Queue::<u8>::with_maxsize(1)?;
    /// queue.put_timeout(&1, Duration::from_millis(10))?;
    /// assert!(matches!(queue.put_timeout(&2, Duration::from_millis(10)), Err(mp_ipc::Error::Full)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn put_timeout(&self, message: &T, timeout: Duration) -> Result<(), Error> {
        self.raw.put(message, Patience::from_timeout(timeout))
    }

    /// Takes the oldest message, waiting as long as it takes (Python's `get()`).
    ///
    /// Fails with [`Error::Closed`] once the queue is closed and drained; with a
    /// [`SharedMem`](Error::SharedMem) decode error for a message that is not a `T` (the
    /// message is dropped, the queue goes on); with [`Error::CorruptQueue`] if the ring's
    /// bookkeeping was damaged.
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<Vec<u8>>::new()?;
    /// queue.put(&vec![1, 2, 3])?;
    /// assert_eq!(queue.get()?, [1, 2, 3]);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.raw.get(Patience::Forever)
    }

    /// Takes the oldest message if there is one (Python's `get_nowait()`); [`Error::Empty`]
    /// if there is none, or another consumer holds the consumer side (also one that died
    /// holding it: only the waiting forms take a dead holder's side over, after about
    /// 100 ms).
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u8>::new()?;
    /// assert!(matches!(queue.try_get(), Err(mp_ipc::Error::Empty)));
    /// queue.put(&9)?;
    /// assert_eq!(queue.try_get()?, 9);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn try_get(&self) -> Result<T, Error> {
        self.raw.get(Patience::NoWait)
    }

    /// Takes the oldest message, waiting at most `timeout` (Python's `get(timeout=t)`);
    /// [`Error::Empty`] when the time is up. In the middle of a message larger than the
    /// ring, a get gives up only once the stream has also stood still for 200 ms, and the
    /// message is then sent again, not lost (see the [module docs](crate::queue)).
    ///
    /// ```
    /// use std::time::Duration;
    /// let queue = mp_ipc::Queue::<u8>::new()?;
    /// assert!(matches!(queue.get_timeout(Duration::from_millis(10)), Err(mp_ipc::Error::Empty)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.raw.get(Patience::from_timeout(timeout))
    }

    /// Takes the oldest message, waiting without blocking the async runtime: Python's
    /// `await` on an asyncio queue's `get()`, for a queue other threads and processes fill.
    /// Feature `async`.
    ///
    /// Errors as [`get`](Queue::get). No thread is parked per waiter: mp-sys's
    /// [`Reactor`](mp_sys::reactor::Reactor) sleeps on the queue's
    /// wake-up word and wakes the task, on any runtime. Any number of tasks may await at
    /// once; each message goes to exactly one. For a timeout, wrap it
    /// (`tokio::time::timeout`): a dropped future takes nothing from the queue. A message
    /// larger than the ring, once its first chunk is taken, is received with a blocking
    /// wait for the remaining chunks, as long as they keep coming (see the
    /// [module docs](crate::queue) on streamed messages).
    ///
    /// ```
    /// use mp_ipc::{Error, Queue};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let queue = Queue::<String>::new()?;
    /// let producer = {
    ///     let queue = queue.clone();
    ///     std::thread::spawn(move || {
    ///         queue.put(&"spam".to_string())?;
    ///         queue.close();
    ///         Ok::<(), Error>(())
    ///     })
    /// };
    /// assert_eq!(queue.get_async().await?, "spam");
    /// assert!(matches!(queue.get_async().await, Err(Error::Closed)));
    /// producer.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "async")]
    pub fn get_async(&self) -> super::GetAsync<'_, T> {
        super::GetAsync::new(&self.raw)
    }

    /// Puts a message, waiting for room without blocking the async runtime (a bounded
    /// queue at its `maxsize`, or a ring whose bytes are all taken). Feature `async`.
    ///
    /// Errors as [`put`](Queue::put), and [`Error::MessageTooLarge`] for a message larger
    /// than the ring (which [`put`](Queue::put) streams through the ring while holding the
    /// producer side, a wait an async task cannot do). Woken as
    /// [`get_async`](Queue::get_async) is; a dropped future puts nothing.
    ///
    /// ```
    /// use mp_ipc::{Error, Queue};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let queue = Queue::<u32>::with_maxsize(1)?;
    /// queue.put_async(&1).await?;
    /// let consumer = {
    ///     let queue = queue.clone();
    ///     std::thread::spawn(move || queue.get())
    /// };
    /// queue.put_async(&2).await?; // waits for the consumer to make room
    /// assert_eq!(consumer.join().unwrap()?, 1);
    /// assert_eq!(queue.get()?, 2);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "async")]
    pub fn put_async<'a>(&'a self, message: &'a T) -> super::PutAsync<'a, T> {
        super::PutAsync::new(&self.raw, message)
    }

    /// How many messages are queued (Python's `qsize()`): exact when nobody is putting or
    /// getting, a snapshot otherwise. A message larger than the ring counts once it is
    /// completely written.
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u8>::new()?;
    /// queue.put(&1)?;
    /// queue.put(&2)?;
    /// assert_eq!(queue.qsize(), 2);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn qsize(&self) -> usize {
        self.raw.qsize() as usize
    }

    /// Whether no message is queued (Python's `empty()`; a snapshot, as there).
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u8>::new()?;
    /// assert!(queue.empty());
    /// queue.put(&1)?;
    /// assert!(!queue.empty());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.raw.qsize() == 0
    }

    /// Whether `maxsize` messages are queued (Python's `full()`); never for an unbounded
    /// queue, even when its ring's bytes are all taken.
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u8>::with_maxsize(1)?;
    /// assert!(!queue.full());
    /// queue.put(&1)?;
    /// assert!(queue.full());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn full(&self) -> bool {
        let maxsize = self.raw.maxsize();
        maxsize != 0 && self.raw.qsize() >= maxsize
    }

    /// The `maxsize` the queue was made with (0: unbounded).
    ///
    /// ```
    /// assert_eq!(mp_ipc::Queue::<u8>::with_maxsize(3)?.maxsize(), 3);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn maxsize(&self) -> usize {
        self.raw.maxsize() as usize
    }

    /// The size of the ring in bytes.
    ///
    /// ```
    /// assert_eq!(mp_ipc::Queue::<u8>::new()?.ring_bytes(), mp_ipc::DEFAULT_RING_BYTES);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn ring_bytes(&self) -> usize {
        self.raw.ring_bytes() as usize
    }

    /// Closes the queue for every process: puts fail with [`Error::Closed`] from now on,
    /// waiting ones included; consumers take what is left, then get [`Error::Closed`].
    /// Returns once no put can complete any more, so nothing arrives after it: it waits
    /// for a put of a message that fits in the ring to finish (such a put does not wait
    /// for room once the queue is closed), and gives up a message larger than the ring
    /// that is being streamed (its put fails with [`Error::Closed`]; see the
    /// [module docs](crate::queue)). Closing twice does nothing more.
    ///
    /// A put held up in the middle (its process stopped by SIGSTOP, or starved) does not
    /// hold `close` for more than about a second: `close` then seals the queue so that
    /// the put, when it goes on, fails with [`Error::Closed`] instead of delivering. So
    /// nothing arrives after `close` returns, and nothing is lost: a put that failed
    /// delivered nothing, and its caller is told.
    ///
    /// Python's `close()` only says that *this* process will put no more; a closed queue
    /// here also tells consumers when to stop, with no sentinel message.
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u8>::new()?;
    /// queue.put(&1)?;
    /// queue.close();
    /// assert!(matches!(queue.put(&2), Err(mp_ipc::Error::Closed)));
    /// assert_eq!(queue.get()?, 1);
    /// assert!(matches!(queue.get(), Err(mp_ipc::Error::Closed)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Queue::close) was called, by any process.
    ///
    /// ```
    /// let queue = mp_ipc::Queue::<u8>::new()?;
    /// queue.clone().close();
    /// assert!(queue.is_closed());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}

impl<T> Queue<T> {
    pub(crate) fn from_raw(raw: RawQueue) -> Self {
        Self {
            raw,
            _message: PhantomData,
        }
    }

    pub(crate) fn raw(&self) -> &RawQueue {
        &self.raw
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
            _message: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_queue(f, "Queue", &self.raw)
    }
}

pub(crate) fn debug_queue(f: &mut fmt::Formatter<'_>, name: &str, raw: &RawQueue) -> fmt::Result {
    f.debug_struct(name)
        .field("qsize", &raw.qsize())
        .field("maxsize", &raw.maxsize())
        .field("ring_bytes", &raw.ring_bytes())
        .field("closed", &raw.is_closed())
        .finish()
}

/// Ready when a message is queued or the queue is closed. A queue has no descriptor to
/// poll: [`wait`](crate::wait) checks it again with a short backoff.
///
/// ```
/// use std::time::Duration;
/// use mp_ipc::{Queue, wait};
///
/// let idle = Queue::<u8>::new()?;
/// let busy = Queue::<u8>::new()?;
/// busy.put(&1)?;
/// assert_eq!(wait(&[&idle, &busy], Some(Duration::from_secs(5)))?, [1]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<T: Serialize + DeserializeOwned> Waitable for Queue<T> {
    fn is_ready(&self) -> bool {
        self.raw.qsize() != 0 || self.raw.is_closed()
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

impl<T> Serialize for Queue<T> {
    /// Serializes the segment's descriptor: works inside
    /// [`transfer::encode`](mp_shared_mem::transfer::encode) only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.segment().serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Queue<T> {
    /// Maps the received segment and checks that it is a `Queue<T>` (or a
    /// `JoinableQueue<T>`, which is one).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = mp_shared_mem::Segment::deserialize(deserializer)?;
        RawQueue::attach(
            segment,
            &[Kind::Queue, Kind::Joinable],
            Kind::Queue,
            message_type::<T>(),
        )
        .map(Self::from_raw)
        .map_err(mp_shared_mem::transfer::reject)
    }
}
