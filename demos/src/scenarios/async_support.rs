//! What the asyncio scenarios share: asyncio's event loop (a one-thread tokio runtime), a
//! bounded `asyncio.run`, `asyncio.gather`, the span of an await, and [`AsyncQueue`],
//! the `asyncio.Queue` that tokio does not have.
//!
//! asyncio runs every coroutine on one thread; so do these scenarios: the runtime is
//! tokio's current-thread flavour, and concurrency comes from tasks taking turns at their
//! awaits, not from threads.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinHandle};

use super::support::Span;
use crate::DemoError;

/// Far above what any scenario's async part takes; only a hang gets there.
pub(super) const RUN_LIMIT: Duration = Duration::from_secs(110);

/// How long dropping the event loop may wait for its blocking helpers (DNS lookups).
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// Python's `asyncio.run(main())`, bounded: runs `main` on a new one-thread event loop
/// and shuts the loop down, every task with it, before returning.
pub(super) fn asyncio_run<F: Future>(main: F) -> Result<F::Output, DemoError> {
    run_within(RUN_LIMIT, main)
}

/// [`asyncio_run`] with a limit of the caller's choosing.
fn run_within<F: Future>(limit: Duration, main: F) -> Result<F::Output, DemoError> {
    let runtime: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DemoError::io("starting the event loop", e))?;
    let outcome = runtime.block_on(async { tokio::time::timeout(limit, main).await });
    // Tasks still pending (none, when the scenario went well) are dropped here.
    runtime.shutdown_timeout(SHUTDOWN_LIMIT);
    outcome.map_err(|_| DemoError::CheckFailed(format!("the async main finished within {limit:?}")))
}

/// A task that failed to give its value, as the scenario's error.
pub(super) fn task_error(error: JoinError) -> DemoError {
    if error.is_cancelled() {
        return DemoError::other("a task was cancelled before it finished");
    }
    match error.try_into_panic() {
        Ok(payload) => DemoError::ThreadPanicked {
            name: "async task".to_owned(),
            message: payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-string panic".to_owned()),
        },
        Err(other) => DemoError::other(other),
    }
}

/// Python's `await asyncio.gather(*tasks)`: every task's value, in the tasks' order.
///
/// Every task is awaited, even after one failed, so that none is left running; then the
/// first failure is reported.
pub(super) async fn gather<T>(tasks: Vec<JoinHandle<T>>) -> Result<Vec<T>, DemoError> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.map_err(task_error));
    }
    outcomes.into_iter().collect()
}

/// Awaits `future` and returns its value with the span the await took.
pub(super) async fn span_of<F: Future>(future: F) -> (F::Output, Span) {
    let began = Instant::now();
    let value = future.await;
    (value, Span::between(began, Instant::now()))
}

/// Python's `asyncio.Queue()` (unbounded): `put`, `await get()`, `task_done()` and
/// `await join()`, for the tasks of one event loop.
///
/// tokio's channels have no `task_done`/`join`; this is the small part of asyncio's queue
/// the scenario needs. Cancelling a task waiting in [`get`](AsyncQueue::get) takes
/// nothing out of the queue: an item is only removed by the `get` that returns it.
pub(super) struct AsyncQueue<T> {
    state: Mutex<QueueState<T>>,
    /// Signalled by each `put`, for a waiting `get`.
    item_added: Notify,
    /// Signalled when the count of unfinished items drops to zero, for `join`.
    all_done: Notify,
}

struct QueueState<T> {
    items: VecDeque<T>,
    /// Items put and not yet marked done with `task_done`.
    unfinished: usize,
}

impl<T> AsyncQueue<T> {
    /// An empty queue.
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                unfinished: 0,
            }),
            item_added: Notify::new(),
            all_done: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, QueueState<T>> {
        // Nothing panics while the lock is held: the state is whole even if poisoned.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `await queue.put(item)`: the queue is unbounded, so this never waits.
    pub(super) fn put(&self, item: T) {
        let mut state = self.state();
        state.items.push_back(item);
        state.unfinished += 1;
        drop(state);
        self.item_added.notify_one();
    }

    /// `await queue.get()`: the first item, waiting for one if the queue is empty.
    pub(super) async fn get(&self) -> T {
        loop {
            let added = self.item_added.notified();
            let mut added = std::pin::pin!(added);
            // Registered before looking, so a `put` between the look and the await counts.
            added.as_mut().enable();
            if let Some(item) = self.state().items.pop_front() {
                return item;
            }
            added.await;
        }
    }

    /// `queue.task_done()`: one item taken by `get` is processed. Python's `ValueError`
    /// when called more times than items were put.
    pub(super) fn task_done(&self) -> Result<(), DemoError> {
        let mut state = self.state();
        if state.unfinished == 0 {
            return Err(DemoError::other("task_done() called too many times"));
        }
        state.unfinished -= 1;
        let all_done = state.unfinished == 0;
        drop(state);
        if all_done {
            self.all_done.notify_waiters();
        }
        Ok(())
    }

    /// `await queue.join()`: waits until every item put has been marked done.
    pub(super) async fn join(&self) {
        loop {
            let done = self.all_done.notified();
            let mut done = std::pin::pin!(done);
            done.as_mut().enable();
            if self.state().unfinished == 0 {
                return;
            }
            done.await;
        }
    }

    /// Items put and not yet marked done.
    pub(super) fn unfinished(&self) -> usize {
        self.state().unfinished
    }

    /// `queue.qsize()`: items waiting to be taken.
    pub(super) fn qsize(&self) -> usize {
        self.state().items.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn join_waits_for_every_task_done() {
        asyncio_run(async {
            let queue = Arc::new(AsyncQueue::new());
            queue.put(1);
            queue.put(2);
            let joiner = {
                let queue = Arc::clone(&queue);
                tokio::spawn(async move { queue.join().await })
            };
            tokio::task::yield_now().await;
            assert!(!joiner.is_finished());
            assert_eq!(queue.get().await, 1);
            queue.task_done().unwrap();
            tokio::task::yield_now().await;
            assert!(!joiner.is_finished(), "one item is still unfinished");
            assert_eq!(queue.get().await, 2);
            queue.task_done().unwrap();
            joiner.await.unwrap();
            assert!(queue.task_done().is_err(), "one task_done too many");
        })
        .unwrap();
    }

    #[test]
    fn a_cancelled_get_takes_nothing() {
        asyncio_run(async {
            let queue = Arc::new(AsyncQueue::new());
            let waiting = {
                let queue = Arc::clone(&queue);
                tokio::spawn(async move { queue.get().await })
            };
            tokio::task::yield_now().await;
            waiting.abort();
            assert!(waiting.await.unwrap_err().is_cancelled());
            queue.put("item");
            assert_eq!(queue.qsize(), 1);
            assert_eq!(queue.get().await, "item");
            assert_eq!(queue.unfinished(), 1);
        })
        .unwrap();
    }

    #[test]
    fn gather_keeps_the_order_and_reports_a_panic() {
        asyncio_run(async {
            let tasks = (0..3u32)
                .map(|n| tokio::spawn(async move { n * 2 }))
                .collect();
            assert_eq!(gather(tasks).await.unwrap(), [0, 2, 4]);
            let failing = vec![tokio::spawn(async { panic!("task refuses") })];
            let err: DemoError = gather::<()>(failing).await.unwrap_err();
            assert!(err.to_string().contains("task refuses"), "{err}");
        })
        .unwrap();
    }

    #[test]
    fn a_main_that_never_ends_is_an_error_not_a_hang() {
        let outcome = run_within(Duration::from_millis(10), std::future::pending::<()>());
        assert!(matches!(outcome, Err(DemoError::CheckFailed(_))));
    }
}
