//! [`SimpleQueue`]: Python's `queue.SimpleQueue`, an unbounded FIFO queue with
//! nothing but `put` and `get`.

use std::fmt;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::error::Error;

/// An unbounded first-in, first-out queue without task tracking or shutdown:
/// Python's `queue.SimpleQueue`. It is a crossbeam channel holding both ends,
/// so it is exactly as fast as one.
///
/// ```
/// use std::sync::Arc;
/// use mp_threads::{SimpleQueue, Thread};
///
/// let queue = Arc::new(SimpleQueue::new());
/// let sender = Arc::clone(&queue);
/// Thread::new(move || sender.put("ping"), ()).start()?.join()?;
/// assert_eq!(queue.get(), "ping");
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub struct SimpleQueue<T> {
    sender: Sender<T>,
    receiver: Receiver<T>,
}

impl<T> SimpleQueue<T> {
    /// An empty queue.
    ///
    /// ```
    /// let queue = mp_threads::SimpleQueue::<u8>::new();
    /// assert!(queue.empty());
    /// ```
    pub fn new() -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        SimpleQueue { sender, receiver }
    }

    /// Adds an item; never blocks.
    ///
    /// ```
    /// let queue = mp_threads::SimpleQueue::new();
    /// queue.put(1);
    /// assert_eq!(queue.qsize(), 1);
    /// ```
    pub fn put(&self, item: T) {
        // The queue owns the receiver, so the channel cannot be disconnected
        // and `send` on an unbounded channel cannot fail.
        let _ = self.sender.send(item);
    }

    /// Removes and returns an item, waiting as long as it takes.
    ///
    /// ```
    /// let queue = mp_threads::SimpleQueue::new();
    /// queue.put('x');
    /// assert_eq!(queue.get(), 'x');
    /// ```
    pub fn get(&self) -> T {
        loop {
            // `recv` fails only on a disconnected channel, and the queue owns
            // a sender; looping keeps this total without a panic path.
            if let Ok(item) = self.receiver.recv() {
                return item;
            }
        }
    }

    /// Removes and returns an item if there is one now; [`Error::Empty`]
    /// otherwise.
    ///
    /// ```
    /// use mp_threads::{Error, SimpleQueue};
    ///
    /// let queue = SimpleQueue::<u8>::new();
    /// assert!(matches!(queue.try_get(), Err(Error::Empty)));
    /// ```
    pub fn try_get(&self) -> Result<T, Error> {
        self.receiver.try_recv().map_err(|error| match error {
            TryRecvError::Empty | TryRecvError::Disconnected => Error::Empty,
        })
    }

    /// Removes and returns an item, waiting at most `timeout`;
    /// [`Error::Empty`] if none came.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::{Error, SimpleQueue};
    ///
    /// let queue = SimpleQueue::<u8>::new();
    /// assert!(matches!(queue.get_timeout(Duration::from_millis(5)), Err(Error::Empty)));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.receiver
            .recv_timeout(timeout)
            .map_err(|error| match error {
                RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected => Error::Empty,
            })
    }

    /// How many items are queued (a snapshot).
    ///
    /// ```
    /// let queue = mp_threads::SimpleQueue::new();
    /// queue.put(1);
    /// queue.put(2);
    /// assert_eq!(queue.qsize(), 2);
    /// ```
    pub fn qsize(&self) -> usize {
        self.receiver.len()
    }

    /// Whether the queue holds no item (a snapshot).
    ///
    /// ```
    /// let queue = mp_threads::SimpleQueue::new();
    /// queue.put(());
    /// assert!(!queue.empty());
    /// ```
    pub fn empty(&self) -> bool {
        self.receiver.is_empty()
    }
}

impl<T> Default for SimpleQueue<T> {
    /// An empty queue.
    fn default() -> Self {
        SimpleQueue::new()
    }
}

impl<T> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimpleQueue")
            .field("qsize", &self.qsize())
            .finish()
    }
}
