//! [`PriorityQueue`]: Python's `queue.PriorityQueue`, smallest item first.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::queue::api::{QueueCore, queue_methods};
use crate::queue::locked::{LockedCore, Store};

/// A queue that hands out its smallest item first (by `Ord`), as Python's
/// `queue.PriorityQueue` (a `heapq` min-heap). Same methods as
/// [`Queue`](crate::Queue).
///
/// Equal items come out in no particular order, as in Python; to keep
/// insertion order among equal priorities, put `(priority, sequence, item)`
/// tuples.
///
/// ```
/// use mp_threads::PriorityQueue;
///
/// let jobs = PriorityQueue::new();
/// jobs.put((2, "write"))?;
/// jobs.put((1, "read"))?;
/// jobs.put((3, "close"))?;
/// assert_eq!(jobs.get()?, (1, "read"));
/// assert_eq!(jobs.get()?, (2, "write"));
/// assert_eq!(jobs.get()?, (3, "close"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PriorityQueue<T> {
    core: LockedCore<PriorityStore<T>>,
}

impl<T: Ord + Send> PriorityQueue<T> {
    /// A priority queue holding at most `maxsize` items (`put` waits while it
    /// is full); 0 means unbounded.
    ///
    /// ```
    /// let jobs = mp_threads::PriorityQueue::with_maxsize(2);
    /// jobs.put(5)?;
    /// jobs.put(1)?;
    /// assert!(jobs.full());
    /// assert_eq!(jobs.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_maxsize(maxsize: usize) -> Self {
        PriorityQueue {
            core: LockedCore::new::<T>(maxsize),
        }
    }
}

queue_methods!(PriorityQueue, Ord + Send);

pub(crate) struct PriorityStore<T>(BinaryHeap<Reverse<T>>);

impl<T: Ord> Default for PriorityStore<T> {
    fn default() -> Self {
        PriorityStore(BinaryHeap::new())
    }
}

impl<T: Ord> Store<T> for PriorityStore<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn drain_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.0)
            .into_iter()
            .map(|Reverse(item)| item)
            .collect()
    }
}
