//! [`LifoQueue`]: Python's `queue.LifoQueue`, last in, first out.

use crate::queue::api::{QueueCore, queue_methods};
use crate::queue::locked::{LockedCore, Store};

/// A last-in, first-out queue (a stack) between threads: Python's
/// `queue.LifoQueue`. Same methods as [`Queue`](crate::Queue).
///
/// ```
/// use mp_threads::LifoQueue;
///
/// let stack = LifoQueue::new();
/// for n in 1..=3 {
///     stack.put(n)?;
/// }
/// assert_eq!(stack.get()?, 3);
/// assert_eq!(stack.get()?, 2);
/// assert_eq!(stack.get()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LifoQueue<T> {
    core: LockedCore<LifoStore<T>>,
}

impl<T: Send> LifoQueue<T> {
    /// A stack holding at most `maxsize` items (`put` waits while it is full);
    /// 0 means unbounded.
    ///
    /// ```
    /// let stack = mp_threads::LifoQueue::with_maxsize(1);
    /// stack.put(1)?;
    /// assert!(stack.full());
    /// # Ok::<(), mp_threads::PutError<i32>>(())
    /// ```
    pub fn with_maxsize(maxsize: usize) -> Self {
        LifoQueue {
            core: LockedCore::new::<T>(maxsize),
        }
    }
}

queue_methods!(LifoQueue, Send);

pub(crate) struct LifoStore<T>(Vec<T>);

impl<T> Default for LifoStore<T> {
    fn default() -> Self {
        LifoStore(Vec::new())
    }
}

impl<T> Store<T> for LifoStore<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn drain_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
    }
}
