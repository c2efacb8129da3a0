//! [`Map`]: the in-order results of [`ThreadPool::map`](crate::ThreadPool::map).

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;
use std::time::Instant;

use crate::error::Error;
use crate::pool::future::Future;

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
    futures: VecDeque<Future<R>>,
    deadline: Option<Instant>,
}

impl<R> Map<R> {
    pub(crate) fn new(futures: Vec<Future<R>>, deadline: Option<Instant>) -> Self {
        Map {
            futures: futures.into(),
            deadline,
        }
    }

    /// How many results are still to come (at most: a timeout ends early).
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::new(1)?;
    /// let results = pool.map(|n: u8| n, 0..5)?;
    /// assert_eq!(results.len(), 5);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.futures.len()
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
        self.futures.is_empty()
    }

    fn cancel_rest(&mut self) {
        for future in self.futures.drain(..) {
            future.cancel();
        }
    }
}

impl<R> Iterator for Map<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut future = self.futures.pop_front()?;
        let Some(deadline) = self.deadline else {
            return Some(future.result());
        };
        let result = future.result_timeout(deadline.saturating_duration_since(Instant::now()));
        if matches!(result, Err(Error::TimedOut)) {
            future.cancel();
            self.cancel_rest();
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.futures.len();
        match self.deadline {
            None => (remaining, Some(remaining)),
            Some(_) => (remaining.min(1), Some(remaining)),
        }
    }
}

impl<R> FusedIterator for Map<R> {}

impl<R> Drop for Map<R> {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}

impl<R> fmt::Debug for Map<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("remaining", &self.futures.len())
            .field("deadline", &self.deadline)
            .finish()
    }
}
