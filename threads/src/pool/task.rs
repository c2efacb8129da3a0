//! The unit of work a pool worker receives.

use std::sync::Arc;

use crate::Target;
use crate::error::Error;
use crate::pool::future::FutureShared;
use crate::registry;
use mp_sys::panic::catch_silently;

/// A queued task, type-erased for the pool's channel.
pub(crate) trait Job: Send {
    /// Runs the task on the calling worker, unless it was cancelled.
    fn run(self: Box<Self>);
    /// Cancels the task without running it (shutdown with `cancel_futures`).
    fn cancel(self: Box<Self>);
}

pub(crate) struct Task<F, A, T> {
    /// The function and its arguments, taken when the task runs.
    call: Option<(F, A)>,
    /// `None` once the task ran or was cancelled; a task dropped while still
    /// holding it was abandoned, and its future is cancelled so no one waits forever.
    future: Option<Arc<FutureShared<T>>>,
}

impl<F, A> Task<F, A, F::Output>
where
    F: Target<A> + Send + 'static,
    F::Output: Send + 'static,
{
    pub(crate) fn new(function: F, args: A, future: Arc<FutureShared<F::Output>>) -> Self {
        Task {
            call: Some((function, args)),
            future: Some(future),
        }
    }
}

impl<F, A> Job for Task<F, A, F::Output>
where
    F: Target<A> + Send + 'static,
    F::Output: Send + 'static,
    A: Send + 'static,
{
    fn run(mut self: Box<Self>) {
        let (Some(future), Some((function, args))) = (self.future.take(), self.call.take()) else {
            return;
        };
        if !future.set_running() {
            return;
        }
        // Kept for `result()`, not printed: `concurrent.futures` keeps a task's exception.
        let outcome = catch_silently(|| function.call(args))
            .map_err(|caught| Error::panicked(registry::current().name().to_owned(), caught));
        future.finish(outcome);
    }

    fn cancel(mut self: Box<Self>) {
        if let Some(future) = self.future.take() {
            future.cancel();
        }
    }
}

impl<F, A, T> Drop for Task<F, A, T> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            future.cancel();
        }
    }
}
