//! [`Queue`]: Python's `queue.Queue`, a FIFO queue for threads.
//!
//! The items travel through a crossbeam channel, so an uncontended `put` or
//! `get` costs what a channel operation costs and never enters the kernel. The
//! mutex and condition variables here are only for the slow paths: waiting on
//! an empty or full queue, `join`, and `shutdown`. Wake-ups are sent only when
//! someone is known to be waiting, counted in atomics; the counters and the
//! channel are read on opposite sides of SeqCst fences, so a waiter that
//! registered itself either sees the item or gets the wake-up.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering, fence};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use crossbeam_utils::Backoff;
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, PutError};
use crate::queue::api::{QueueCore, Wait, queue_methods};

const OPEN: u8 = 0;
const SHUT_DOWN: u8 = 1;
const SHUT_DOWN_IMMEDIATE: u8 = 2;

/// A first-in, first-out queue between threads: Python's `queue.Queue`.
///
/// Optionally bounded ([`with_maxsize`](Queue::with_maxsize)); blocking,
/// non-blocking (`try_`) and timed (`_timeout`) `put` and `get`;
/// [`task_done`](Queue::task_done) and [`join`](Queue::join); and Python
/// 3.13's [`shutdown`](Queue::shutdown). Share it between threads with an `Arc`.
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
        Queue {
            core: FifoCore::new(maxsize),
        }
    }
}

queue_methods!(Queue, Send);

/// The channel-backed engine of [`Queue`].
struct FifoCore<T> {
    sender: Sender<T>,
    receiver: Receiver<T>,
    /// 0 for unbounded.
    maxsize: usize,
    /// Bounded queues only: items in the channel plus `put`s that have claimed
    /// room and are about to send.
    reserved: AtomicUsize,
    /// Items put and not yet marked `task_done`.
    unfinished: AtomicUsize,
    state: AtomicU8,
    lock: Mutex<()>,
    not_empty: Condvar,
    not_full: Condvar,
    all_tasks_done: Condvar,
    getters_waiting: AtomicUsize,
    putters_waiting: AtomicUsize,
    joiners_waiting: AtomicUsize,
}

impl<T> FifoCore<T> {
    fn new(maxsize: usize) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        FifoCore {
            sender,
            receiver,
            maxsize,
            reserved: AtomicUsize::new(0),
            unfinished: AtomicUsize::new(0),
            state: AtomicU8::new(OPEN),
            lock: Mutex::new(()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_tasks_done: Condvar::new(),
            getters_waiting: AtomicUsize::new(0),
            putters_waiting: AtomicUsize::new(0),
            joiners_waiting: AtomicUsize::new(0),
        }
    }

    fn bounded(&self) -> bool {
        self.maxsize > 0
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::SeqCst)
    }

    /// Claims room for one item in a bounded queue.
    fn try_reserve(&self) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.maxsize).then_some(n + 1)
            })
            .is_ok()
    }

    fn try_take(&self) -> Option<T> {
        // Disconnection cannot happen: the queue owns a sender.
        self.receiver.try_recv().ok()
    }

    /// Wakes one waiter of `condvar` if the matching counter says there is one.
    fn wake_one(&self, waiting: &AtomicUsize, condvar: &Condvar) {
        fence(Ordering::SeqCst);
        if waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            condvar.notify_one();
        }
    }

    /// Bookkeeping after an item left the channel through `get`.
    fn after_take(&self, item: T) -> Result<T, Error> {
        if self.bounded() {
            self.reserved.fetch_sub(1, Ordering::AcqRel);
            self.wake_one(&self.putters_waiting, &self.not_full);
        }
        if self.state() == SHUT_DOWN_IMMEDIATE {
            // An immediate shutdown discards everything; this item raced it.
            self.discard(vec![item]);
            return Err(Error::ShutDown);
        }
        Ok(item)
    }

    /// Counts one task as done; true if that was the last one.
    fn finish_task(&self) -> Result<bool, Error> {
        match self
            .unfinished
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        {
            Ok(previous) => Ok(previous == 1),
            Err(_) => Err(Error::TaskDoneTooManyTimes),
        }
    }

    fn wake_joiners(&self) {
        fence(Ordering::SeqCst);
        if self.joiners_waiting.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock();
            self.all_tasks_done.notify_all();
        }
    }

    /// Drains the channel (with the lock held), fixing up the counters.
    fn drain_locked(&self, _guard: &MutexGuard<'_, ()>) -> Vec<T> {
        let mut drained = Vec::new();
        while let Some(item) = self.try_take() {
            drained.push(item);
        }
        if self.bounded() {
            self.reserved.fetch_sub(drained.len(), Ordering::AcqRel);
        }
        drained
    }

    /// Counts discarded items as done tasks, waking joiners if none remain.
    /// The items are dropped here, outside the lock.
    fn discard(&self, items: Vec<T>) {
        let mut last = false;
        for _ in 0..items.len() {
            // Python lowers the count only while it is positive.
            last |= self.finish_task().unwrap_or(false);
        }
        drop(items);
        if last {
            self.wake_joiners();
        }
    }

    /// The slow path of a bounded `put`: wait for room.
    fn wait_for_room(&self, item: T, wait: Wait) -> Result<T, PutError<T>> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            if self.state() != OPEN {
                return Err(PutError::ShutDown(item));
            }
            if self.try_reserve() {
                return Ok(item);
            }
        }
        let mut guard = self.lock.lock();
        self.putters_waiting.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let outcome = loop {
            if self.state() != OPEN {
                break Err(PutError::ShutDown(item));
            }
            if self.try_reserve() {
                break Ok(item);
            }
            match wait {
                Wait::Never => break Err(PutError::Full(item)),
                Wait::Forever => self.not_full.wait(&mut guard),
                Wait::Until(deadline) => {
                    if Instant::now() >= deadline {
                        break Err(PutError::Full(item));
                    }
                    let _ = self.not_full.wait_until(&mut guard, deadline);
                }
            }
        };
        self.putters_waiting.fetch_sub(1, Ordering::SeqCst);
        outcome
    }

    /// The slow path of `get`: spin briefly, then sleep until an item comes.
    fn wait_for_item(&self, wait: Wait) -> Result<T, Error> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            if let Some(item) = self.try_take() {
                return self.after_take(item);
            }
        }
        let mut guard = self.lock.lock();
        self.getters_waiting.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let outcome = loop {
            if let Some(item) = self.try_take() {
                break Ok(item);
            }
            if self.state() != OPEN {
                break Err(Error::ShutDown);
            }
            match wait {
                Wait::Never => break Err(Error::Empty),
                Wait::Forever => self.not_empty.wait(&mut guard),
                Wait::Until(deadline) => {
                    if Instant::now() >= deadline {
                        break Err(Error::Empty);
                    }
                    let _ = self.not_empty.wait_until(&mut guard, deadline);
                }
            }
        };
        self.getters_waiting.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        self.after_take(outcome?)
    }
}

impl<T> QueueCore<T> for FifoCore<T> {
    fn put(&self, item: T, wait: Wait) -> Result<(), PutError<T>> {
        if self.state() != OPEN {
            return Err(PutError::ShutDown(item));
        }
        let item = if self.bounded() && !self.try_reserve() {
            match wait {
                Wait::Never => return Err(PutError::Full(item)),
                Wait::Until(_) | Wait::Forever => self.wait_for_room(item, wait)?,
            }
        } else {
            item
        };
        // Counted before it can be taken, so a fast consumer's task_done never
        // finds the count at zero.
        self.unfinished.fetch_add(1, Ordering::SeqCst);
        if let Err(unsent) = self.sender.send(item) {
            // Unreachable while `self` owns the receiver; undo and report.
            if self.bounded() {
                self.reserved.fetch_sub(1, Ordering::AcqRel);
            }
            let _ = self.finish_task();
            return Err(PutError::ShutDown(unsent.into_inner()));
        }
        self.wake_one(&self.getters_waiting, &self.not_empty);
        if self.state() == SHUT_DOWN_IMMEDIATE {
            // The shutdown's drain may have run before this item arrived: the
            // put happened before the shutdown, so the item is discarded too.
            let guard = self.lock.lock();
            let drained = self.drain_locked(&guard);
            drop(guard);
            self.discard(drained);
        }
        Ok(())
    }

    fn get(&self, wait: Wait) -> Result<T, Error> {
        if let Some(item) = self.try_take() {
            return self.after_take(item);
        }
        if self.state() != OPEN {
            return Err(Error::ShutDown);
        }
        match wait {
            Wait::Never => Err(Error::Empty),
            Wait::Until(_) | Wait::Forever => self.wait_for_item(wait),
        }
    }

    fn qsize(&self) -> usize {
        self.receiver.len()
    }

    fn maxsize(&self) -> usize {
        self.maxsize
    }

    fn task_done(&self) -> Result<(), Error> {
        if self.finish_task()? {
            self.wake_joiners();
        }
        Ok(())
    }

    fn join(&self, deadline: Option<Instant>) -> bool {
        if self.unfinished.load(Ordering::SeqCst) == 0 {
            return true;
        }
        let mut guard = self.lock.lock();
        self.joiners_waiting.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let all_done = loop {
            if self.unfinished.load(Ordering::SeqCst) == 0 {
                break true;
            }
            match deadline {
                None => self.all_tasks_done.wait(&mut guard),
                Some(deadline) => {
                    if Instant::now() >= deadline {
                        break false;
                    }
                    let _ = self.all_tasks_done.wait_until(&mut guard, deadline);
                }
            }
        };
        self.joiners_waiting.fetch_sub(1, Ordering::SeqCst);
        all_done
    }

    fn shutdown(&self, immediate: bool) {
        let guard = self.lock.lock();
        let state = if immediate {
            SHUT_DOWN_IMMEDIATE
        } else {
            SHUT_DOWN
        };
        let previous = self.state.fetch_max(state, Ordering::SeqCst);
        if previous < state {
            tracing::debug!(immediate, "queue shut down");
        }
        let drained = if immediate {
            self.drain_locked(&guard)
        } else {
            Vec::new()
        };
        self.not_empty.notify_all();
        self.not_full.notify_all();
        drop(guard);
        self.discard(drained);
        if immediate {
            // Python releases join() here even if counts were already off.
            self.wake_joiners();
        }
    }

    fn is_shutdown(&self) -> bool {
        self.state() != OPEN
    }
}
