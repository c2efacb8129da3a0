//! The unit of work a pool worker receives.

use crate::Target;
use crate::error::Error;
use crate::registry;
use mp_futures::Promise;
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
    /// The task's side of its future. A task dropped without running (cancelled, or
    /// left in the queue of a pool that went away) drops it unsettled, which cancels
    /// the future: no one waits forever.
    promise: Promise<T, Error>,
}

impl<F, A> Task<F, A, F::Output>
where
    F: Target<A> + Send + 'static,
    F::Output: Send + 'static,
{
    pub(crate) fn new(function: F, args: A, promise: Promise<F::Output, Error>) -> Self {
        Task {
            call: Some((function, args)),
            promise,
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
        let Some((function, args)) = self.call.take() else {
            return;
        };
        if !self.promise.set_running() {
            return;
        }
        // Kept for `result()`, not printed: `concurrent.futures` keeps a task's exception.
        let outcome = catch_silently(|| function.call(args))
            .map_err(|caught| Error::panicked(registry::current().name().to_owned(), caught));
        self.promise.complete(outcome);
    }

    fn cancel(self: Box<Self>) {
        self.promise.cancel();
    }
}
