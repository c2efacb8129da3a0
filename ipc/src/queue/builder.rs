//! `QueueBuilder`: the options of a new queue.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::control::{DEFAULT_RING_BYTES, Kind, MAX_MAXSIZE, MAX_RING_BYTES, MIN_RING_BYTES};
use super::raw::{RawQueue, message_type};
use super::{JoinableQueue, Queue, SimpleQueue};
use crate::Error;

/// The options of a new queue: `maxsize` (Python's) and the size of the ring of bytes
/// that holds the messages.
///
/// ```
/// use mp_ipc::{Queue, QueueBuilder};
///
/// let queue: Queue<String> = QueueBuilder::new().maxsize(8).ring_bytes(64 * 1024).queue()?;
/// assert_eq!(queue.maxsize(), 8);
/// assert_eq!(queue.ring_bytes(), 64 * 1024);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct QueueBuilder {
    maxsize: usize,
    ring_bytes: usize,
}

impl Default for QueueBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueBuilder {
    /// Unbounded (no `maxsize`), with a ring of [`DEFAULT_RING_BYTES`].
    ///
    /// ```
    /// let queue = mp_ipc::QueueBuilder::new().queue::<u8>()?;
    /// assert_eq!(queue.maxsize(), 0);
    /// assert_eq!(queue.ring_bytes(), mp_ipc::DEFAULT_RING_BYTES);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn new() -> Self {
        Self {
            maxsize: 0,
            ring_bytes: DEFAULT_RING_BYTES,
        }
    }

    /// At most `maxsize` messages queued at once; 0 means no limit, as in Python. At most
    /// [`MAX_MAXSIZE`].
    ///
    /// ```
    /// let queue = mp_ipc::QueueBuilder::new().maxsize(1).queue::<u8>()?;
    /// queue.put(&1)?;
    /// assert!(queue.full());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn maxsize(mut self, maxsize: usize) -> Self {
        self.maxsize = maxsize;
        self
    }

    /// The ring's size in bytes, rounded up to a power of two, from [`MIN_RING_BYTES`] to
    /// [`MAX_RING_BYTES`]. Messages that fit in it (with an 8-byte header) are committed
    /// whole; larger ones are streamed through it (see the [module docs](crate::queue)).
    ///
    /// ```
    /// let queue = mp_ipc::QueueBuilder::new().ring_bytes(5000).queue::<u8>()?;
    /// assert_eq!(queue.ring_bytes(), 8192);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn ring_bytes(mut self, ring_bytes: usize) -> Self {
        self.ring_bytes = ring_bytes;
        self
    }

    /// A [`Queue`] with these options.
    ///
    /// Fails with [`Error::InvalidArgument`] for a ring or `maxsize` past the limits, and
    /// with [`Error::SharedMem`] if the shared memory cannot be made (out of descriptors
    /// or memory).
    ///
    /// ```
    /// let too_large = mp_ipc::QueueBuilder::new().maxsize(usize::MAX).queue::<u8>();
    /// assert!(matches!(too_large, Err(mp_ipc::Error::InvalidArgument { .. })));
    /// ```
    pub fn queue<T: Serialize + DeserializeOwned>(self) -> Result<Queue<T>, Error> {
        Ok(Queue::from_raw(self.create::<T>(Kind::Queue)?))
    }

    /// A [`JoinableQueue`] with these options.
    ///
    /// ```
    /// let queue = mp_ipc::QueueBuilder::new().maxsize(4).joinable_queue::<u32>()?;
    /// assert_eq!(queue.maxsize(), 4);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(
        self,
    ) -> Result<JoinableQueue<T>, Error> {
        Ok(JoinableQueue::from_raw(self.create::<T>(Kind::Joinable)?))
    }

    /// A [`SimpleQueue`] with this ring size; a `maxsize` is refused
    /// ([`Error::InvalidArgument`]), as Python's `SimpleQueue` has none.
    ///
    /// ```
    /// let queue = mp_ipc::QueueBuilder::new().ring_bytes(4096).simple_queue::<u32>()?;
    /// queue.put(&7)?;
    /// assert_eq!(queue.get()?, 7);
    /// assert!(mp_ipc::QueueBuilder::new().maxsize(1).simple_queue::<u32>().is_err());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn simple_queue<T: Serialize + DeserializeOwned>(self) -> Result<SimpleQueue<T>, Error> {
        if self.maxsize != 0 {
            return Err(Error::InvalidArgument {
                argument: "maxsize",
                requirement: "a SimpleQueue has no maxsize: leave it at 0",
            });
        }
        Ok(SimpleQueue::from_raw(self.create::<T>(Kind::Simple)?))
    }

    fn create<T>(self, kind: Kind) -> Result<RawQueue, Error> {
        if self.maxsize > MAX_MAXSIZE {
            return Err(Error::InvalidArgument {
                argument: "maxsize",
                requirement: "at most MAX_MAXSIZE",
            });
        }
        let ring_bytes = self
            .ring_bytes
            .max(MIN_RING_BYTES)
            .checked_next_power_of_two()
            .filter(|bytes| *bytes <= MAX_RING_BYTES)
            .ok_or(Error::InvalidArgument {
                argument: "ring_bytes",
                requirement: "at most MAX_RING_BYTES",
            })?;
        RawQueue::create(kind, ring_bytes, self.maxsize, message_type::<T>())
    }
}
