//! What every bounded queue kind implements, and the documented public
//! methods generated from it.

use std::time::{Duration, Instant};

use mp_sys::Deadline;

use crate::error::{Error, PutError};

/// How long a `put` or `get` may block.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    Never,
    Until(Instant),
    Forever,
}

impl Wait {
    /// A timeout too large to represent is no timeout.
    pub(crate) fn timeout(timeout: Duration) -> Wait {
        match Deadline::after(timeout).instant() {
            Some(deadline) => Wait::Until(deadline),
            None => Wait::Forever,
        }
    }

    pub(crate) fn deadline(self) -> Option<Instant> {
        match self {
            Wait::Until(deadline) => Some(deadline),
            Wait::Never | Wait::Forever => None,
        }
    }
}

/// The engine behind a queue kind (`Queue`, `LifoQueue`, `PriorityQueue`).
pub(crate) trait QueueCore<T> {
    fn put(&self, item: T, wait: Wait) -> Result<(), PutError<T>>;
    fn get(&self, wait: Wait) -> Result<T, Error>;
    fn qsize(&self) -> usize;
    fn maxsize(&self) -> usize;
    fn task_done(&self) -> Result<(), Error>;
    /// True when every task is done; false at the deadline.
    fn join(&self, deadline: Option<Instant>) -> bool;
    fn shutdown(&self, immediate: bool);
    fn is_shutdown(&self) -> bool;
}

/// The public methods of a queue kind, documented once for all three.
macro_rules! queue_methods {
    ($Queue:ident, $($bound:tt)*) => {
        impl<T: $($bound)*> $Queue<T> {
            #[doc = concat!("An unbounded `", stringify!($Queue), "` (Python's `maxsize=0`).")]
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::<u8>::new();")]
            /// assert_eq!(queue.maxsize(), 0);
            /// assert!(!queue.full());
            /// ```
            pub fn new() -> Self {
                Self::with_maxsize(0)
            }

            /// The most items the queue holds before `put` blocks; 0 means no limit.
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::<u8>::with_maxsize(3);")]
            /// assert_eq!(queue.maxsize(), 3);
            /// ```
            pub fn maxsize(&self) -> usize {
                self.core.maxsize()
            }

            /// Adds an item, waiting while the queue is full (Python's `put(item)`).
            /// Fails only with [`PutError::ShutDown`](crate::PutError::ShutDown)
            /// once the queue is shut down.
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::new();")]
            /// queue.put(5)?;
            /// assert_eq!(queue.qsize(), 1);
            /// # Ok::<(), mp_threads::PutError<i32>>(())
            /// ```
            pub fn put(&self, item: T) -> Result<(), crate::PutError<T>> {
                self.core.put(item, crate::queue::api::Wait::Forever)
            }

            /// Adds an item only if there is room now (Python's `put_nowait`).
            /// Fails with [`PutError::Full`](crate::PutError::Full) or
            /// [`PutError::ShutDown`](crate::PutError::ShutDown), handing the item back.
            ///
            /// ```
            /// use mp_threads::PutError;
            ///
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::with_maxsize(1);")]
            /// queue.try_put(1)?;
            /// assert_eq!(queue.try_put(2), Err(PutError::Full(2)));
            /// # Ok::<(), PutError<i32>>(())
            /// ```
            pub fn try_put(&self, item: T) -> Result<(), crate::PutError<T>> {
                self.core.put(item, crate::queue::api::Wait::Never)
            }

            /// Adds an item, waiting at most `timeout` for room (Python's
            /// `put(item, timeout=t)`); [`PutError::Full`](crate::PutError::Full)
            /// if there was none in time.
            ///
            /// ```
            /// use std::time::Duration;
            /// use mp_threads::PutError;
            ///
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::with_maxsize(1);")]
            /// queue.put_timeout(1, Duration::from_millis(5))?;
            /// assert_eq!(queue.put_timeout(2, Duration::from_millis(5)), Err(PutError::Full(2)));
            /// # Ok::<(), PutError<i32>>(())
            /// ```
            pub fn put_timeout(&self, item: T, timeout: std::time::Duration) -> Result<(), crate::PutError<T>> {
                self.core.put(item, crate::queue::api::Wait::timeout(timeout))
            }

            /// Removes and returns an item, waiting until there is one (Python's
            /// `get()`). After [`shutdown`](Self::shutdown) it still returns the
            /// items left, then fails with [`Error::ShutDown`](crate::Error::ShutDown).
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::new();")]
            /// queue.put("item")?;
            /// assert_eq!(queue.get()?, "item");
            /// # Ok::<(), mp_threads::Error>(())
            /// ```
            pub fn get(&self) -> Result<T, crate::Error> {
                self.core.get(crate::queue::api::Wait::Forever)
            }

            /// Removes and returns an item if there is one now (Python's
            /// `get_nowait`); [`Error::Empty`](crate::Error::Empty) otherwise.
            ///
            /// ```
            /// use mp_threads::Error;
            ///
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::<u8>::new();")]
            /// assert!(matches!(queue.try_get(), Err(Error::Empty)));
            /// ```
            pub fn try_get(&self) -> Result<T, crate::Error> {
                self.core.get(crate::queue::api::Wait::Never)
            }

            /// Removes and returns an item, waiting at most `timeout` (Python's
            /// `get(timeout=t)`); [`Error::Empty`](crate::Error::Empty) if none came.
            ///
            /// ```
            /// use std::time::Duration;
            /// use mp_threads::Error;
            ///
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::<u8>::new();")]
            /// assert!(matches!(queue.get_timeout(Duration::from_millis(5)), Err(Error::Empty)));
            /// ```
            pub fn get_timeout(&self, timeout: std::time::Duration) -> Result<T, crate::Error> {
                self.core.get(crate::queue::api::Wait::timeout(timeout))
            }

            /// How many items are queued (a snapshot: other threads may change it
            /// at once, as in Python).
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::new();")]
            /// queue.put(1)?;
            /// queue.put(2)?;
            /// assert_eq!(queue.qsize(), 2);
            /// # Ok::<(), mp_threads::PutError<i32>>(())
            /// ```
            pub fn qsize(&self) -> usize {
                self.core.qsize()
            }

            /// Whether the queue holds no item (a snapshot; use `get` to wait for
            /// one rather than polling this).
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::<u8>::new();")]
            /// assert!(queue.empty());
            /// ```
            pub fn empty(&self) -> bool {
                self.core.qsize() == 0
            }

            /// Whether a bounded queue is at its `maxsize` (a snapshot).
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::with_maxsize(1);")]
            /// queue.put(1)?;
            /// assert!(queue.full());
            /// # Ok::<(), mp_threads::PutError<i32>>(())
            /// ```
            pub fn full(&self) -> bool {
                let maxsize = self.core.maxsize();
                maxsize > 0 && self.core.qsize() >= maxsize
            }

            /// Marks one item taken by `get` as processed (Python's `task_done()`).
            /// Every `put` adds an unfinished task; [`join`](Self::join) waits until
            /// all are done. One call too many is
            /// [`Error::TaskDoneTooManyTimes`](crate::Error::TaskDoneTooManyTimes).
            ///
            /// ```
            /// use mp_threads::Error;
            ///
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::new();")]
            /// queue.put(1)?;
            /// queue.get()?;
            /// queue.task_done()?;
            /// assert!(matches!(queue.task_done(), Err(Error::TaskDoneTooManyTimes)));
            /// # Ok::<(), Error>(())
            /// ```
            pub fn task_done(&self) -> Result<(), crate::Error> {
                self.core.task_done()
            }

            /// Waits until every item put has been marked done by
            /// [`task_done`](Self::task_done) (Python's `join()`).
            ///
            /// ```
            /// use std::sync::Arc;
            /// use mp_threads::Thread;
            ///
            #[doc = concat!("let queue = Arc::new(mp_threads::", stringify!($Queue), "::new());")]
            /// for n in 0..3 {
            ///     queue.put(n)?;
            /// }
            /// let worker = Arc::clone(&queue);
            /// let handle = Thread::new(move || -> Result<(), mp_threads::Error> {
            ///     for _ in 0..3 {
            ///         worker.get()?;
            ///         worker.task_done()?;
            ///     }
            ///     Ok(())
            /// }, ()).start()?;
            /// queue.join();
            /// handle.join()??;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn join(&self) {
                self.core.join(None);
            }

            /// [`join`](Self::join) waiting at most `timeout`:
            /// [`Error::TimedOut`](crate::Error::TimedOut) if some task is still
            /// unfinished then (the shape of every `_timeout` call of the workspace).
            ///
            /// ```
            /// use std::time::Duration;
            /// use mp_threads::Error;
            ///
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::new();")]
            /// queue.put(1)?;
            /// assert!(matches!(queue.join_timeout(Duration::from_millis(5)), Err(Error::TimedOut)));
            /// queue.get()?;
            /// queue.task_done()?;
            /// queue.join_timeout(Duration::from_millis(5))?;
            /// # Ok::<(), mp_threads::Error>(())
            /// ```
            pub fn join_timeout(&self, timeout: std::time::Duration) -> Result<(), crate::Error> {
                if self.core.join(crate::queue::api::Wait::timeout(timeout).deadline()) {
                    Ok(())
                } else {
                    Err(crate::Error::TimedOut)
                }
            }

            /// Shuts the queue down, as Python 3.13's `shutdown(immediate)`: every
            /// later `put` fails with `ShutDown`, and blocked `put`s wake up and
            /// fail. `get` returns the items still queued, then fails with
            /// `ShutDown`. With `immediate`, the queued items are discarded at once
            /// (each counted as a done task, releasing [`join`](Self::join)) and
            /// every `get` fails.
            ///
            /// ```
            /// use mp_threads::{Error, PutError};
            ///
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::new();")]
            /// queue.put(1)?;
            /// queue.shutdown(false);
            /// assert_eq!(queue.put(2), Err(PutError::ShutDown(2)));
            /// assert_eq!(queue.get()?, 1);
            /// assert!(matches!(queue.get(), Err(Error::ShutDown)));
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn shutdown(&self, immediate: bool) {
                self.core.shutdown(immediate);
            }

            /// Whether [`shutdown`](Self::shutdown) was called.
            ///
            /// ```
            #[doc = concat!("let queue = mp_threads::", stringify!($Queue), "::<u8>::new();")]
            /// queue.shutdown(true);
            /// assert!(queue.is_shutdown());
            /// ```
            pub fn is_shutdown(&self) -> bool {
                self.core.is_shutdown()
            }
        }

        impl<T: $($bound)*> Default for $Queue<T> {
            /// An unbounded queue.
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: $($bound)*> std::fmt::Debug for $Queue<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($Queue))
                    .field("maxsize", &self.core.maxsize())
                    .field("qsize", &self.core.qsize())
                    .field("shut_down", &self.core.is_shutdown())
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use queue_methods;
