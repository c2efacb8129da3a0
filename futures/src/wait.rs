//! [`wait`] and [`as_completed`]: Python's `concurrent.futures.wait` and `as_completed`,
//! over the futures of any executor.
//!
//! Both watch their futures with a done-callback each, which sends the future's place to
//! a channel: the waiter sleeps on the channel, not on each future in turn, and takes
//! its callbacks back when it is done, so a future outlives no watcher.

use std::fmt;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use mp_sys::Deadline;

use crate::error::TaskError;
use crate::future::Future;

/// When [`wait`] returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
///
/// ```
/// use mp_futures::ReturnWhen;
///
/// assert_ne!(ReturnWhen::FirstCompleted, ReturnWhen::AllCompleted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// As soon as any future finishes or is cancelled.
    FirstCompleted,
    /// As soon as any future fails; if none does, when all are done. A cancelled future
    /// does not count as failed.
    FirstException,
    /// When every future is done.
    AllCompleted,
}

/// The two sets [`wait`] returns: Python's `(done, not_done)` named tuple.
///
/// ```
/// use mp_futures::{FutureError, Promise, ReturnWhen, wait};
///
/// let (first, a) = Promise::<u8, FutureError>::new();
/// let (_second, b) = Promise::<u8, FutureError>::new();
/// first.complete(Ok(1));
/// let waited = wait(vec![a.clone(), b.clone()], ReturnWhen::FirstCompleted, None);
/// assert_eq!(waited.done, [a]);
/// assert_eq!(waited.not_done, [b]);
/// ```
#[derive(Debug)]
pub struct Waited<T, E: TaskError> {
    /// The futures that finished or were cancelled, in the order given.
    pub done: Vec<Future<T, E>>,
    /// The others, in the order given.
    pub not_done: Vec<Future<T, E>>,
}

/// Waits until the futures meet `return_when`, or `timeout` passes (`None`: no limit),
/// and splits them into done and not done: Python's `concurrent.futures.wait`. A timeout
/// is not an error: the split says what finished in time.
///
/// ```
/// use std::time::Duration;
/// use mp_futures::{FutureError, Promise, ReturnWhen, wait};
///
/// let (slow, slow_future) = Promise::<u8, FutureError>::new();
/// let (quick, quick_future) = Promise::<u8, FutureError>::new();
/// std::thread::spawn(move || quick.complete(Ok(1)));
/// let waited = wait(
///     vec![slow_future, quick_future],
///     ReturnWhen::FirstCompleted,
///     Some(Duration::from_secs(10)),
/// );
/// assert_eq!((waited.done.len(), waited.not_done.len()), (1, 1));
/// # drop(slow);
/// ```
pub fn wait<T, E, I>(futures: I, return_when: ReturnWhen, timeout: Option<Duration>) -> Waited<T, E>
where
    E: TaskError,
    I: IntoIterator<Item = Future<T, E>>,
{
    let deadline = Deadline::from_timeout(timeout).instant();
    let futures: Vec<Future<T, E>> = futures.into_iter().collect();
    let (completions, watchers) = watch(&futures);
    let satisfied = |futures: &[Future<T, E>]| {
        let done = futures.iter().filter(|future| future.done()).count();
        match return_when {
            ReturnWhen::AllCompleted => done == futures.len(),
            ReturnWhen::FirstCompleted => done > 0 || futures.is_empty(),
            ReturnWhen::FirstException => {
                done == futures.len() || futures.iter().any(|future| future.shared().has_failed())
            }
        }
    };
    // Each report is one completion; the futures themselves are asked each time, since
    // some were done before their watcher was added.
    while !satisfied(&futures) {
        let report = match deadline {
            None => completions
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
            Some(deadline) => completions.recv_deadline(deadline),
        };
        if report.is_err() {
            break;
        }
    }
    unwatch(&futures, &watchers);
    let (done, not_done) = futures.into_iter().partition(|future| future.done());
    Waited { done, not_done }
}

fn watch<T, E: TaskError>(futures: &[Future<T, E>]) -> (Receiver<usize>, Vec<Option<u64>>) {
    let (sender, receiver) = crossbeam_channel::unbounded();
    let watchers = futures
        .iter()
        .enumerate()
        .map(|(index, future)| {
            let sender = sender.clone();
            future.shared().add_callback(Box::new(move |_| {
                // The receiver may be gone (the waiter returned early).
                let _ = sender.send(index);
            }))
        })
        .collect();
    (receiver, watchers)
}

fn unwatch<T, E: TaskError>(futures: &[Future<T, E>], watchers: &[Option<u64>]) {
    for (future, watcher) in futures.iter().zip(watchers) {
        if let Some(id) = watcher {
            future.shared().remove_callback(*id);
        }
    }
}

/// The futures, each as it settles: Python's `concurrent.futures.as_completed`.
///
/// The iterator yields the futures themselves (not their values), so the caller can tell
/// which task finished: by the future (they are `Hash + Eq`) or its
/// [`id`](Future::id). [`AsCompleted::next_timeout`] gives Python's `timeout`.
///
/// ```
/// use std::collections::HashMap;
/// use mp_futures::{FutureError, Promise, as_completed};
///
/// let tasks: Vec<_> = (1..=3).map(|_| Promise::<u32, FutureError>::new()).collect();
/// let names: HashMap<_, _> = tasks.iter().zip(["a", "b", "c"]).map(|((_, f), n)| (f.id(), n)).collect();
/// let (promises, futures): (Vec<_>, Vec<_>) = tasks.into_iter().unzip();
/// for (n, promise) in promises.iter().enumerate().rev() {
///     promise.complete(Ok(n as u32));
/// }
/// let order: Vec<&str> = as_completed(futures).map(|future| names[&future.id()]).collect();
/// assert_eq!(order.len(), 3);
/// ```
pub fn as_completed<T, E, I>(futures: I) -> AsCompleted<T, E>
where
    E: TaskError,
    I: IntoIterator<Item = Future<T, E>>,
{
    let futures: Vec<Future<T, E>> = futures.into_iter().collect();
    let (completions, watchers) = watch(&futures);
    let remaining = futures.len();
    AsCompleted {
        pending: futures.into_iter().map(Some).collect(),
        watchers,
        completions,
        remaining,
    }
}

/// The iterator of [`as_completed`].
///
/// ```
/// use mp_futures::{FutureError, Promise, as_completed};
///
/// let (promise, future) = Promise::<u8, FutureError>::new();
/// let mut completed = as_completed(vec![future]);
/// assert_eq!(completed.remaining(), 1);
/// promise.complete(Ok(1));
/// assert_eq!(completed.next().map(|f| f.result()), Some(Ok(1)));
/// assert!(completed.next().is_none());
/// ```
pub struct AsCompleted<T, E: TaskError> {
    pending: Vec<Option<Future<T, E>>>,
    watchers: Vec<Option<u64>>,
    completions: Receiver<usize>,
    remaining: usize,
}

impl<T, E: TaskError> AsCompleted<T, E> {
    /// The next future to settle, waiting at most `timeout`: `Ok(None)` when all were
    /// given, the timed-out error if none settled in time (Python raises `TimeoutError`;
    /// the iterator can go on).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_futures::{FutureError, Promise, as_completed};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// let mut completed = as_completed(vec![future]);
    /// assert_eq!(completed.next_timeout(Duration::from_millis(1)).err(), Some(FutureError::TimedOut));
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Future<T, E>>, E> {
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
                Err(RecvTimeoutError::Timeout) => return Err(E::timed_out()),
                // Every watcher reported or was dropped: nothing more can come.
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    /// How many futures are still to come.
    ///
    /// ```
    /// use mp_futures::{FutureError, as_completed};
    ///
    /// let completed = as_completed(Vec::<mp_futures::Future<u8, FutureError>>::new());
    /// assert_eq!(completed.remaining(), 0);
    /// ```
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Stops watching and hands back the futures not yielded yet.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise, as_completed};
    ///
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// let pending = as_completed(vec![future.clone()]).into_pending();
    /// assert_eq!(pending, [future]);
    /// ```
    pub fn into_pending(mut self) -> Vec<Future<T, E>> {
        let pending = std::mem::take(&mut self.pending);
        let mut futures = Vec::with_capacity(self.remaining);
        for (future, watcher) in pending.into_iter().zip(&self.watchers) {
            if let Some(future) = future {
                if let Some(id) = watcher {
                    future.shared().remove_callback(*id);
                }
                futures.push(future);
            }
        }
        self.remaining = 0;
        futures
    }

    fn take(&mut self, index: usize) -> Option<Future<T, E>> {
        let future = self.pending.get_mut(index)?.take()?;
        self.remaining -= 1;
        Some(future)
    }
}

impl<T, E: TaskError> Iterator for AsCompleted<T, E> {
    type Item = Future<T, E>;

    /// The next future to settle, waiting as long as it takes.
    fn next(&mut self) -> Option<Future<T, E>> {
        self.next_timeout(Duration::MAX).ok().flatten()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T, E: TaskError> Drop for AsCompleted<T, E> {
    fn drop(&mut self) {
        for (future, watcher) in self.pending.iter().zip(&self.watchers) {
            if let (Some(future), Some(id)) = (future, watcher) {
                future.shared().remove_callback(*id);
            }
        }
    }
}

impl<T, E: TaskError> fmt::Debug for AsCompleted<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .finish()
    }
}
