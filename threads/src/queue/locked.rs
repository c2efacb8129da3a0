//! The mutex-and-condition-variable engine behind [`Queue`](crate::Queue),
//! [`LifoQueue`](crate::LifoQueue) and [`PriorityQueue`](crate::PriorityQueue):
//! Python's `queue.Queue` code, with the storage order left to a [`Store`].
//!
//! parking_lot's mutex and condition variables stay in user space when
//! uncontended and notifying with no waiter is a single load, so an
//! uncontended `put` or `get` makes no system call.

use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, PutError};
use crate::queue::api::{QueueCore, Wait};

/// The order in which a queue kind hands items out.
pub(crate) trait Store<T>: Default {
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    fn len(&self) -> usize;
    fn drain_all(&mut self) -> Vec<T>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    Open,
    ShutDown,
    Immediate,
}

struct State<S> {
    items: S,
    unfinished: usize,
    shutdown: Shutdown,
}

pub(crate) struct LockedCore<S> {
    state: Mutex<State<S>>,
    not_empty: Condvar,
    not_full: Condvar,
    all_tasks_done: Condvar,
    maxsize: usize,
}

impl<S> LockedCore<S> {
    pub(crate) fn new<T>(maxsize: usize) -> Self
    where
        S: Store<T>,
    {
        LockedCore {
            state: Mutex::new(State {
                items: S::default(),
                unfinished: 0,
                shutdown: Shutdown::Open,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_tasks_done: Condvar::new(),
            maxsize,
        }
    }

    /// Waits on `condvar`; false once the deadline has passed.
    fn wait_on(condvar: &Condvar, guard: &mut MutexGuard<'_, State<S>>, wait: Wait) -> bool {
        match wait {
            Wait::Never => false,
            Wait::Forever => {
                condvar.wait(guard);
                true
            }
            Wait::Until(deadline) => {
                if Instant::now() >= deadline {
                    return false;
                }
                let _ = condvar.wait_until(guard, deadline);
                true
            }
        }
    }
}

impl<T, S: Store<T>> QueueCore<T> for LockedCore<S> {
    fn put(&self, item: T, wait: Wait) -> Result<(), PutError<T>> {
        let mut state = self.state.lock();
        loop {
            if state.shutdown != Shutdown::Open {
                return Err(PutError::ShutDown(item));
            }
            if self.maxsize == 0 || state.items.len() < self.maxsize {
                break;
            }
            if !Self::wait_on(&self.not_full, &mut state, wait) {
                return Err(PutError::Full(item));
            }
        }
        state.items.push(item);
        state.unfinished += 1;
        drop(state);
        self.not_empty.notify_one();
        Ok(())
    }

    fn get(&self, wait: Wait) -> Result<T, Error> {
        let mut state = self.state.lock();
        let item = loop {
            if let Some(item) = state.items.pop() {
                break item;
            }
            if state.shutdown != Shutdown::Open {
                return Err(Error::ShutDown);
            }
            if !Self::wait_on(&self.not_empty, &mut state, wait) {
                return Err(Error::Empty);
            }
        };
        drop(state);
        self.not_full.notify_one();
        Ok(item)
    }

    fn qsize(&self) -> usize {
        self.state.lock().items.len()
    }

    fn maxsize(&self) -> usize {
        self.maxsize
    }

    fn task_done(&self) -> Result<(), Error> {
        let mut state = self.state.lock();
        state.unfinished = state
            .unfinished
            .checked_sub(1)
            .ok_or(Error::TaskDoneTooManyTimes)?;
        if state.unfinished == 0 {
            self.all_tasks_done.notify_all();
        }
        Ok(())
    }

    fn join(&self, deadline: Option<Instant>) -> bool {
        let wait = deadline.map_or(Wait::Forever, Wait::Until);
        let mut state = self.state.lock();
        while state.unfinished > 0 {
            if !Self::wait_on(&self.all_tasks_done, &mut state, wait) {
                return false;
            }
        }
        true
    }

    fn shutdown(&self, immediate: bool) {
        let mut state = self.state.lock();
        if state.shutdown != Shutdown::Immediate {
            state.shutdown = if immediate {
                Shutdown::Immediate
            } else {
                Shutdown::ShutDown
            };
            tracing::debug!(immediate, "queue shut down");
        }
        let discarded = if immediate {
            let discarded = state.items.drain_all();
            state.unfinished = state.unfinished.saturating_sub(discarded.len());
            self.all_tasks_done.notify_all();
            discarded
        } else {
            Vec::new()
        };
        self.not_empty.notify_all();
        self.not_full.notify_all();
        drop(state);
        // Dropped outside the lock, in case an item's Drop uses the queue.
        drop(discarded);
    }

    fn is_shutdown(&self) -> bool {
        self.state.lock().shutdown != Shutdown::Open
    }
}
