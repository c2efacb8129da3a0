//! [`Map`]: the in-order results of [`ThreadPool::map`](crate::ThreadPool::map).
//!
//! A map's items do not get a [`Future`](crate::Future) each: a future is a
//! lock, a condition variable and a callback list, made for one task that
//! anyone may wait on, cancel or watch, and a map needs none of that per item.
//! Each item is instead a small job holding its index; the worker that runs it
//! sends `(index, result)` down one channel shared by the whole map, and the
//! iterator puts the results back in order (results arriving ahead of their
//! turn wait in a small buffer). One flag, shared by the map's jobs, cancels
//! the items not started yet. That is the shape of the pool a user writes by
//! hand on a crossbeam channel, which mp-bench measures this one against
//! (`cargo run --release -p mp-bench -- --filter thread-pool-map`: 4 workers, a
//! trivial function). A future per item left this pool far behind that one;
//! this design narrows the gap to the pool's own bookkeeping per task
//! (its shutdown lock, the one reference count each job holds on the map).

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::error::Error;
use crate::pool::task::Job;
use crate::registry;
use mp_sys::panic::catch_silently;

/// One item's place and outcome, as a worker reports it.
type Report<R> = (usize, Result<R, Error>);

/// What every job of one map shares (one reference count per job, not three).
struct MapShared<F, R> {
    function: F,
    results: Sender<Report<R>>,
    /// Set when the map is dropped or times out: jobs not started yet report
    /// `Cancelled` instead of running.
    cancelled: Arc<AtomicBool>,
}

/// One item of a map, queued on the pool.
struct MapJob<F, I, R> {
    shared: Arc<MapShared<F, R>>,
    index: usize,
    /// `None` once run or cancelled; a job dropped still holding its item
    /// (the pool went away) reports itself cancelled, so no one waits forever.
    item: Option<I>,
}

impl<F, I, R> MapJob<F, I, R> {
    fn report(&self, outcome: Result<R, Error>) {
        // The map may be gone (dropped early): nobody wants the result then.
        let _ = self.shared.results.send((self.index, outcome));
    }
}

impl<F, I, R> Job for MapJob<F, I, R>
where
    F: Fn(I) -> R + Send + Sync + 'static,
    I: Send + 'static,
    R: Send + 'static,
{
    fn run(mut self: Box<Self>) {
        let Some(item) = self.item.take() else {
            return;
        };
        if self.shared.cancelled.load(Ordering::Acquire) {
            self.report(Err(Error::Cancelled));
            return;
        }
        let function = &self.shared.function;
        // Kept for the caller, not printed, as a pool task's panic is.
        let outcome = catch_silently(|| function(item))
            .map_err(|caught| Error::panicked(registry::current().name().to_owned(), caught));
        self.report(outcome);
    }

    fn cancel(mut self: Box<Self>) {
        if self.item.take().is_some() {
            self.report(Err(Error::Cancelled));
        }
    }
}

impl<F, I, R> Drop for MapJob<F, I, R> {
    fn drop(&mut self) {
        if self.item.take().is_some() {
            self.report(Err(Error::Cancelled));
        }
    }
}

/// The results of [`ThreadPool::map`](crate::ThreadPool::map), in the order of
/// the items, each waited for when the iteration reaches it.
///
/// Dropping it before the end cancels the tasks that have not started yet (as
/// Python's `map` generator does when closed).
///
/// ```
/// use mp_threads::ThreadPool;
///
/// let pool = ThreadPool::new(2)?;
/// let mut results = pool.map(|n: u32| n + 1, [10, 20])?;
/// assert_eq!(results.len(), 2);
/// assert_eq!(results.next().transpose()?, Some(11));
/// assert_eq!(results.next().transpose()?, Some(21));
/// assert!(results.next().is_none());
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub struct Map<R> {
    results: Receiver<Report<R>>,
    /// Results that came ahead of their turn: slot `i` is item `next + i`.
    early: VecDeque<Option<Result<R, Error>>>,
    /// The index of the next result to yield.
    next: usize,
    /// How many items there are (or, after a timeout, `next`: the end).
    len: usize,
    deadline: Option<Instant>,
    cancelled: Arc<AtomicBool>,
}

impl<R: Send + 'static> Map<R> {
    /// Submits `function(item)` for every item with `submit` (a pool's queue); on a
    /// refusal, cancels what was submitted and returns the error.
    pub(crate) fn start<I, F>(
        submit: impl Fn(Box<dyn Job>) -> Result<(), Error>,
        function: F,
        items: I,
        deadline: Option<Instant>,
    ) -> Result<Self, Error>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> R + Send + Sync + 'static,
    {
        let (sender, results) = crossbeam_channel::unbounded();
        let cancelled = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(MapShared {
            function,
            results: sender,
            cancelled: Arc::clone(&cancelled),
        });
        // Made first, so that leaving early (a refused job, or a panic in the
        // items' iterator) drops it, which cancels the jobs already queued.
        let mut map = Map {
            results,
            early: VecDeque::new(),
            next: 0,
            len: 0,
            deadline,
            cancelled,
        };
        for item in items {
            let job = MapJob {
                shared: Arc::clone(&shared),
                index: map.len,
                item: Some(item),
            };
            submit(Box::new(job))?;
            map.len += 1;
        }
        Ok(map)
    }
}

impl<R> Map<R> {
    /// How many results are still to come (at most: a timeout ends early).
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::new(1)?;
    /// let results = pool.map(|n: u8| n, 0..5)?;
    /// assert_eq!(results.len(), 5);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len - self.next
    }

    /// Whether every result has been yielded.
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::new(1)?;
    /// let results = pool.map(|n: u8| n, Vec::new())?;
    /// assert!(results.is_empty());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cancels the items not started yet and ends the iteration.
    fn cancel_rest(&mut self) {
        self.cancelled.store(true, Ordering::Release);
        self.len = self.next;
        self.early.clear();
    }

    /// Files a result that came out of turn.
    fn file(&mut self, index: usize, result: Result<R, Error>) {
        // Every index below `len` is reported exactly once, and those below
        // `next` were yielded already; anything else is ignored.
        let Some(offset) = index.checked_sub(self.next) else {
            return;
        };
        if index >= self.len {
            return;
        }
        if offset >= self.early.len() {
            self.early.resize_with(offset + 1, || None);
        }
        self.early[offset] = Some(result);
    }
}

impl<R> Iterator for Map<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.len {
            return None;
        }
        loop {
            if let Some(result) = self.early.front_mut().and_then(Option::take) {
                self.early.pop_front();
                self.next += 1;
                return Some(result);
            }
            let received = match self.deadline {
                None => self
                    .results
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(deadline) => self.results.recv_deadline(deadline),
            };
            match received {
                Ok((index, result)) if index == self.next && self.early.is_empty() => {
                    self.next += 1;
                    return Some(result);
                }
                Ok((index, result)) => self.file(index, result),
                Err(RecvTimeoutError::Timeout) => {
                    self.cancel_rest();
                    return Some(Err(Error::TimedOut));
                }
                // Every job reports before it goes, so this means the jobs
                // vanished unreported; end rather than wait forever.
                Err(RecvTimeoutError::Disconnected) => {
                    self.cancel_rest();
                    return Some(Err(Error::Cancelled));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.len();
        match self.deadline {
            None => (remaining, Some(remaining)),
            Some(_) => (remaining.min(1), Some(remaining)),
        }
    }
}

impl<R> FusedIterator for Map<R> {}

impl<R> Drop for Map<R> {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Release);
    }
}

impl<R> fmt::Debug for Map<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("remaining", &self.len())
            .field("deadline", &self.deadline)
            .finish()
    }
}
