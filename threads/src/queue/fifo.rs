//! [`Queue`]: Python's `queue.Queue`, a FIFO queue for threads.

use std::collections::VecDeque;
use std::time::Instant;

use crate::error::{Error, PutError};
use crate::queue::api::{QueueCore, Wait, queue_methods};
use crate::queue::lock_free::LockFreeCore;
use crate::queue::locked::{LockedCore, Store};

/// The most memory the lock-free engine's bounded ring may take: it is
/// allocated whole up front (an item and a stamp per slot), so larger bounds
/// (a `maxsize` of a billion would ask for gigabytes at once) use the locked
/// engine, whose storage grows with the items actually queued. 1 MiB is
/// 65536 slots of a `u64`.
const RING_BYTES_LIMIT: usize = 1 << 20;

/// Whether a ring of `maxsize` slots for `T` stays within [`RING_BYTES_LIMIT`].
fn ring_fits<T>(maxsize: usize) -> bool {
    let slot = size_of::<T>() + size_of::<usize>();
    maxsize
        .checked_mul(slot)
        .is_some_and(|bytes| bytes <= RING_BYTES_LIMIT)
}

/// A first-in, first-out queue between threads: Python's `queue.Queue`.
///
/// Optionally bounded ([`with_maxsize`](Queue::with_maxsize)); blocking,
/// non-blocking (`try_`) and timed (`_timeout`) `put` and `get`;
/// [`task_done`](Queue::task_done) and [`join`](Queue::join); and Python
/// 3.13's [`shutdown`](Queue::shutdown). Share it between threads with an `Arc`.
///
/// It has no lock on its common paths: the items sit in crossbeam-queue's
/// lock-free `SegQueue` (unbounded) or `ArrayQueue` (bounded), Python's task
/// count and shutdown state in one atomic word, and only a thread that must
/// wait takes a lock, to sleep. So its throughput stays close to a crossbeam
/// channel's (see *Engine* below). A bounded queue whose ring would take more
/// than 1 MiB (65536 `u64`s, fewer of larger items) uses the locked engine of
/// the other kinds instead, as that ring is allocated whole up front.
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
///
/// # Engine
///
/// Python's `queue.Queue` is one lock and three condition variables. Built
/// that way on parking_lot it ran at about half a crossbeam channel's rate
/// between two threads: every `put` and `get` takes the same lock, and its
/// cache line crosses between the cores each time. Here:
///
/// * the items are in crossbeam-queue's lock-free `SegQueue`/`ArrayQueue`,
///   the algorithms under crossbeam-channel's `unbounded`/`bounded`;
/// * the unfinished-task count and the shutdown flags share one atomic word,
///   so a `put` counts its task and learns whether the queue is open with one
///   instruction; a `get` reads only a copy of the flags that no `put` writes;
/// * a put marks itself in flight in a slot of its own thread while it pushes,
///   so that `shutdown` and the getters that see it can wait for the items of
///   puts accepted just before it, instead of a lock making the two exclusive;
/// * a thread that finds nothing to do spins briefly, then sleeps on a
///   condition variable; the others see from a counter whether anyone sleeps,
///   so nobody pays for a wake-up that nobody needs.
///
/// mp-bench compares it with crossbeam-channel, std's mpsc and Python's
/// `queue.Queue`, one `u64` per message, 1 and 4 producers and consumers,
/// unbounded and bounded to 1024:
/// `cargo run --release -p mp-bench -- --filter thread-queue`. What separates
/// it from crossbeam-channel is mostly the one read-modify-write a `put` makes
/// to count its task: Python's `join` needs that count.
pub struct Queue<T> {
    core: FifoCore<T>,
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
        let core = if ring_fits::<T>(maxsize) {
            FifoCore::LockFree(LockFreeCore::new(maxsize))
        } else {
            FifoCore::Locked(LockedCore::new::<T>(maxsize))
        };
        Queue { core }
    }
}

queue_methods!(Queue, Send);

/// The engine of one `Queue`, chosen by its `maxsize`.
#[expect(
    clippy::large_enum_variant,
    reason = "the lock-free engine, the common one, is large because its hot fields sit on cache lines of their own; boxing it would add a pointer chase to every operation"
)]
enum FifoCore<T> {
    LockFree(LockFreeCore<T>),
    Locked(LockedCore<FifoStore<T>>),
}

impl<T> QueueCore<T> for FifoCore<T> {
    fn put(&self, item: T, wait: Wait) -> Result<(), PutError<T>> {
        match self {
            FifoCore::LockFree(core) => core.put(item, wait),
            FifoCore::Locked(core) => core.put(item, wait),
        }
    }

    fn get(&self, wait: Wait) -> Result<T, Error> {
        match self {
            FifoCore::LockFree(core) => core.get(wait),
            FifoCore::Locked(core) => core.get(wait),
        }
    }

    fn qsize(&self) -> usize {
        match self {
            FifoCore::LockFree(core) => core.qsize(),
            FifoCore::Locked(core) => QueueCore::<T>::qsize(core),
        }
    }

    fn maxsize(&self) -> usize {
        match self {
            FifoCore::LockFree(core) => core.maxsize(),
            FifoCore::Locked(core) => QueueCore::<T>::maxsize(core),
        }
    }

    fn task_done(&self) -> Result<(), Error> {
        match self {
            FifoCore::LockFree(core) => core.task_done(),
            FifoCore::Locked(core) => QueueCore::<T>::task_done(core),
        }
    }

    fn join(&self, deadline: Option<Instant>) -> bool {
        match self {
            FifoCore::LockFree(core) => core.join(deadline),
            FifoCore::Locked(core) => QueueCore::<T>::join(core, deadline),
        }
    }

    fn shutdown(&self, immediate: bool) {
        match self {
            FifoCore::LockFree(core) => core.shutdown(immediate),
            FifoCore::Locked(core) => QueueCore::<T>::shutdown(core, immediate),
        }
    }

    fn is_shutdown(&self) -> bool {
        match self {
            FifoCore::LockFree(core) => core.is_shutdown(),
            FifoCore::Locked(core) => QueueCore::<T>::is_shutdown(core),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::ring_fits;

    #[test]
    fn the_ring_limit_counts_bytes() {
        assert!(ring_fits::<u64>(0));
        assert!(ring_fits::<u64>(65_536));
        assert!(!ring_fits::<u64>(65_537));
        assert!(ring_fits::<[u8; 4096]>(200));
        assert!(!ring_fits::<[u8; 4096]>(1_000));
        assert!(!ring_fits::<u8>(usize::MAX));
    }
}
