//! What the asyncio scenarios share: asyncio's event loop (a one-thread tokio runtime), a
//! bounded `asyncio.run`, `asyncio.gather` and the span of an await. (`asyncio.Queue` is
//! mp-ipc's `JoinableQueue`, awaited with `get_async` and `join_async`.)
//!
//! asyncio runs every coroutine on one thread; so do these scenarios: the runtime is
//! tokio's current-thread flavour, and concurrency comes from tasks taking turns at their
//! awaits, not from threads.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
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

#[cfg(test)]
mod tests {

    use super::*;

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
