//! [`TaskId`]: what tells one task's future from another's.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The identity of one submitted task, unique in this process for its lifetime, whichever
/// executor runs it.
///
/// A [`Future`](crate::Future) and its clones share their task's id, and futures
/// compare, order and hash by it. Python's `{executor.submit(f, url): url for url in
/// urls}` is a map keyed by the ids (keying it by the futures works too, but clippy's
/// `mutable_key_type` lint, which cannot see that a future's hash never changes, flags
/// it).
///
/// ```
/// use std::collections::HashMap;
/// use mp_futures::Promise;
///
/// let (promise_a, a) = Promise::<u32, mp_futures::FutureError>::new();
/// let (_promise_b, b) = Promise::<u32, mp_futures::FutureError>::new();
/// assert_ne!(a.id(), b.id());
/// let urls = HashMap::from([(a.id(), "a.example"), (b.id(), "b.example")]);
/// promise_a.complete(Ok(7));
/// assert_eq!(urls[&a.id()], "a.example");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(u64);

impl TaskId {
    /// A fresh id, never given out before in this process.
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TaskId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The id as a number (submission order within this process).
    ///
    /// ```
    /// use mp_futures::Promise;
    ///
    /// let (_first_promise, first) = Promise::<u8, mp_futures::FutureError>::new();
    /// let (_second_promise, second) = Promise::<u8, mp_futures::FutureError>::new();
    /// assert!(first.id().get() < second.id().get());
    /// ```
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task-{}", self.0)
    }
}
