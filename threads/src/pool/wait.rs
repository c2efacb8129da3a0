//! [`wait`] and [`as_completed`]: Python's `concurrent.futures.wait` and
//! `as_completed`.

use std::fmt;
use std::time::Duration;

use mp_sys::Deadline;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::error::Error;
use crate::pool::future::Future;

/// When [`wait`] returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
///
/// ```
/// use mp_threads::ReturnWhen;
///
/// assert_ne!(ReturnWhen::FirstCompleted, ReturnWhen::AllCompleted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// As soon as any future finishes or is cancelled.
    FirstCompleted,
    /// As soon as any future finishes by panicking; if none does, when all
    /// are done. A cancelled future does not count as an exception.
    FirstException,
    /// When every future is done.
    AllCompleted,
}

/// The two sets [`wait`] returns: Python's `(done, not_done)` named tuple.
///
/// ```
/// use mp_threads::{ReturnWhen, ThreadPool, wait};
///
/// let pool = ThreadPool::new(2)?;
/// let futures = vec![pool.submit(|| 1, ())?, pool.submit(|| 2, ())?];
/// let waited = wait(futures, ReturnWhen::AllCompleted, None);
/// assert_eq!(waited.done.len(), 2);
/// assert!(waited.not_done.is_empty());
/// # Ok::<(), mp_threads::Error>(())
/// ```
#[derive(Debug)]
pub struct Waited<T> {
    /// The futures that finished or were cancelled, in the order given.
    pub done: Vec<Future<T>>,
    /// The others, in the order given.
    pub not_done: Vec<Future<T>>,
}

/// Waits until the futures meet `return_when`, or `timeout` passes, and splits
/// them into done and not done: Python's `concurrent.futures.wait`. A timeout
/// is not an error: the split says what finished in time.
///
/// ```
/// use std::time::Duration;
/// use mp_threads::{ReturnWhen, ThreadPool, wait};
///
/// let pool = ThreadPool::new(2)?;
/// let (release, gate) = std::sync::mpsc::channel::<()>();
/// let slow = pool.submit(move || gate.recv_timeout(Duration::from_secs(5)).is_ok(), ())?;
/// let quick = pool.submit(|| true, ())?;
/// let waited = wait(vec![slow, quick], ReturnWhen::FirstCompleted, Some(Duration::from_secs(5)));
/// assert_eq!(waited.done.len(), 1);
/// assert_eq!(waited.not_done.len(), 1);
/// release.send(()).ok();
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub fn wait<T, I>(futures: I, return_when: ReturnWhen, timeout: Option<Duration>) -> Waited<T>
where
    I: IntoIterator<Item = Future<T>>,
{
    let deadline = Deadline::from_timeout(timeout).instant();
    let futures: Vec<Future<T>> = futures.into_iter().collect();
    let (completions, watchers) = watch(&futures);

    let mut done_count = futures.iter().filter(|future| future.done()).count();
    let satisfied = |futures: &[Future<T>], done_count: usize| match return_when {
        ReturnWhen::AllCompleted => done_count == futures.len(),
        ReturnWhen::FirstCompleted => done_count > 0 || futures.is_empty(),
        ReturnWhen::FirstException => {
            done_count == futures.len() || futures.iter().any(|future| future.shared.has_failed())
        }
    };
    // Each watcher reports once, so counting reports counts completions; the
    // count taken above may already include some of them, hence the recount.
    while !satisfied(&futures, done_count) {
        let report = match deadline {
            None => completions
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
            Some(deadline) => completions.recv_deadline(deadline),
        };
        if report.is_err() {
            break;
        }
        done_count = futures.iter().filter(|future| future.done()).count();
    }

    unwatch(&futures, &watchers);
    let (done, not_done) = futures.into_iter().partition(|future| future.done());
    Waited { done, not_done }
}

/// Registers a watcher on every future that reports its index on completion.
fn watch<T>(futures: &[Future<T>]) -> (Receiver<usize>, Vec<Option<u64>>) {
    let (sender, receiver) = crossbeam_channel::unbounded();
    let watchers = futures
        .iter()
        .enumerate()
        .map(|(index, future)| {
            let sender = sender.clone();
            future.shared.add_callback(Box::new(move |_| {
                // The receiver may be gone (the waiter returned early).
                let _ = sender.send(index);
            }))
        })
        .collect();
    (receiver, watchers)
}

fn unwatch<T>(futures: &[Future<T>], watchers: &[Option<u64>]) {
    for (future, watcher) in futures.iter().zip(watchers) {
        if let Some(id) = watcher {
            future.shared.remove_callback(*id);
        }
    }
}

/// Yields the futures as they complete (finish or are cancelled), fastest
/// first: Python's `concurrent.futures.as_completed`.
///
/// Futures already done come first. Plain iteration waits as long as it takes;
/// [`AsCompleted::next_timeout`] bounds each wait, and
/// [`AsCompleted::into_pending`] gives back the futures not yet yielded.
///
/// ```
/// use mp_threads::{ThreadPool, as_completed};
///
/// let pool = ThreadPool::new(3)?;
/// let futures = (1..=3).map(|n| pool.submit(move || n * 10, ())).collect::<Result<Vec<_>, _>>()?;
/// let mut total = 0;
/// for future in as_completed(futures) {
///     total += future.result()?;
/// }
/// assert_eq!(total, 60);
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub fn as_completed<T, I>(futures: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = Future<T>>,
{
    let futures: Vec<Future<T>> = futures.into_iter().collect();
    let (completions, watchers) = watch(&futures);
    let remaining = futures.len();
    AsCompleted {
        pending: futures.into_iter().map(Some).collect(),
        watchers,
        completions,
        remaining,
    }
}

/// The iterator [`as_completed`] returns.
pub struct AsCompleted<T> {
    pending: Vec<Option<Future<T>>>,
    watchers: Vec<Option<u64>>,
    completions: Receiver<usize>,
    remaining: usize,
}

impl<T> AsCompleted<T> {
    /// The next future to complete, waiting at most `timeout`: `Ok(None)` when
    /// all have been yielded, `Err(Error::TimedOut)` if none completed in time
    /// (the iteration can go on afterwards).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::{Error, ThreadPool, as_completed};
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let (release, gate) = std::sync::mpsc::channel::<()>();
    /// let slow = pool.submit(move || gate.recv_timeout(Duration::from_secs(5)).is_ok(), ())?;
    /// let mut completed = as_completed(vec![slow]);
    /// assert!(matches!(completed.next_timeout(Duration::from_millis(10)), Err(Error::TimedOut)));
    /// release.send(()).ok();
    /// let slow = completed.next_timeout(Duration::from_secs(5))?.expect("one future");
    /// assert!(slow.result()?);
    /// assert!(completed.next_timeout(Duration::from_secs(5))?.is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Future<T>>, Error> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let deadline = Deadline::after(timeout).instant();
        loop {
            let report = match deadline {
                Some(deadline) => self.completions.recv_deadline(deadline),
                None => self
                    .completions
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            match report {
                Ok(index) => {
                    if let Some(future) = self.take(index) {
                        return Ok(Some(future));
                    }
                }
                Err(RecvTimeoutError::Timeout) => return Err(Error::TimedOut),
                // Every watcher reported or was dropped: nothing more can come.
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// How many futures have not been yielded yet.
    ///
    /// ```
    /// let pool = mp_threads::ThreadPool::new(1)?;
    /// let completed = mp_threads::as_completed(vec![pool.submit(|| (), ())?]);
    /// assert_eq!(completed.remaining(), 1);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Stops watching and gives back the futures not yielded yet, in the
    /// order given.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::{ThreadPool, as_completed};
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let (release, gate) = std::sync::mpsc::channel::<()>();
    /// let slow = pool.submit(move || gate.recv_timeout(Duration::from_secs(5)).is_ok(), ())?;
    /// let pending = as_completed(vec![slow]).into_pending();
    /// assert_eq!(pending.len(), 1);
    /// release.send(()).ok();
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn into_pending(mut self) -> Vec<Future<T>> {
        let pending = std::mem::take(&mut self.pending);
        let mut futures = Vec::with_capacity(self.remaining);
        for (future, watcher) in pending.into_iter().zip(&self.watchers) {
            if let Some(future) = future {
                if let Some(id) = watcher {
                    future.shared.remove_callback(*id);
                }
                futures.push(future);
            }
        }
        futures
    }

    fn take(&mut self, index: usize) -> Option<Future<T>> {
        let future = self.pending.get_mut(index)?.take()?;
        self.remaining -= 1;
        Some(future)
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Future<T>;

    fn next(&mut self) -> Option<Future<T>> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            let index = self.completions.recv().ok()?;
            if let Some(future) = self.take(index) {
                return Some(future);
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .finish()
    }
}
