//! [`Queue`]: Python's `queue.Queue`, a FIFO queue for threads.

use std::collections::VecDeque;

use crate::queue::api::{QueueCore, queue_methods};
use crate::queue::locked::{LockedCore, Store};

/// A first-in, first-out queue between threads: Python's `queue.Queue`.
///
/// Optionally bounded ([`with_maxsize`](Queue::with_maxsize)); blocking,
/// non-blocking (`try_`) and timed (`_timeout`) `put` and `get`;
/// [`task_done`](Queue::task_done) and [`join`](Queue::join); and Python
/// 3.13's [`shutdown`](Queue::shutdown). Share it between threads with an `Arc`.
///
/// It is Python's design (one lock, condition variables for "not empty", "not
/// full" and "all tasks done") on parking_lot, whose uncontended lock and
/// notify-without-waiters never enter the kernel, which keeps its throughput
/// close to a crossbeam channel's (mp-bench compares the two).
///
/// ```
/// use std::sync::Arc;
/// use mp_threads::{Error, Queue, Thread};
///
/// let queue = Arc::new(Queue::new());
/// let producer = {
///     let queue = Arc::clone(&queue);
///     Thread::new(move || {
///         for n in 0..5 {
///             queue.put(n).expect("the queue is open");
///         }
///         queue.shutdown(false); // no more items: consumers stop after the last
///     }, ()).start()?
/// };
/// let mut consumed = Vec::new();
/// loop {
///     match queue.get() {
///         Ok(n) => consumed.push(n),
///         Err(Error::ShutDown) => break,
///         Err(other) => return Err(other),
///     }
/// }
/// producer.join()?;
/// assert_eq!(consumed, [0, 1, 2, 3, 4]);
/// # Ok::<(), Error>(())
/// ```
pub struct Queue<T> {
    core: LockedCore<FifoStore<T>>,
}

impl<T: Send> Queue<T> {
    /// A queue holding at most `maxsize` items (`put` waits while it is full);
    /// 0 means unbounded, as Python's `Queue(maxsize=0)`.
    ///
    /// ```
    /// use mp_threads::{PutError, Queue};
    ///
    /// let queue = Queue::with_maxsize(2);
    /// queue.put('a')?;
    /// queue.put('b')?;
    /// assert!(queue.full());
    /// assert_eq!(queue.try_put('c'), Err(PutError::Full('c')));
    /// # Ok::<(), PutError<char>>(())
    /// ```
    pub fn with_maxsize(maxsize: usize) -> Self {
        Queue {
            core: LockedCore::new::<T>(maxsize),
        }
    }
}

queue_methods!(Queue, Send);

pub(crate) struct FifoStore<T>(VecDeque<T>);

impl<T> Default for FifoStore<T> {
    fn default() -> Self {
        FifoStore(VecDeque::new())
    }
}

impl<T> Store<T> for FifoStore<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn drain_all(&mut self) -> Vec<T> {
        self.0.drain(..).collect()
    }
}
