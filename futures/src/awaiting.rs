//! `.await` on a [`Future`]: [`ResultFuture`], its `IntoFuture` form.
//!
//! Whoever settles a task (a pool worker, a supervisor thread, a cancelling caller) is
//! a thread of this process, so nothing has to wait on the awaiters' behalf: the task
//! keeps their `Waker`s beside its blocked waiters (in mp-sys's
//! [`WakerList`](mp_sys::reactor::WakerList)) and wakes them all once its done-callbacks
//! ran. Any async runtime works; nothing here is tokio's.

use std::fmt;
use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mp_sys::reactor::WakerSlot;

use crate::error::TaskError;
use crate::future::Future;
use crate::shared::Shared;

/// A task's result, awaited: what `.await` on a [`Future`] turns into (Python's `await
/// asyncio.wrap_future(fut)`).
///
/// It gives what [`Future::result`] gives, without blocking the runtime's thread.
/// **Dropping it does not cancel the task** (as dropping a [`Future`] does not); its
/// waker is removed at once, so a dropped await leaves nothing registered. `.await`,
/// and APIs that take an `IntoFuture` (such as `tokio::time::timeout`), accept a
/// [`Future`] as it is; where a `std::future::Future` is required (`tokio::spawn`), pass
/// `future.into_future()`.
///
/// ```
/// use mp_futures::{FutureError, Promise};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), FutureError> {
/// let (promise, future) = Promise::<u64, FutureError>::new();
/// std::thread::spawn(move || promise.complete(Ok(144)));
/// assert_eq!(future.await?, 144);
/// # Ok(())
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ResultFuture<T, E: TaskError> {
    shared: Arc<Shared<T, E>>,
    /// Its place among the task's wakers, taken out on drop.
    slot: WakerSlot,
}

impl<T, E: TaskError> IntoFuture for Future<T, E> {
    type Output = Result<T, E>;
    type IntoFuture = ResultFuture<T, E>;

    /// Awaits the task: `future.await` gives what `future.result()` would.
    ///
    /// ```
    /// use mp_futures::{FutureError, Promise};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// future.cancel();
    /// assert_eq!(future.await, Err(FutureError::Cancelled));
    /// # }
    /// ```
    fn into_future(self) -> ResultFuture<T, E> {
        ResultFuture {
            shared: Arc::clone(self.shared()),
            slot: WakerSlot::new(),
        }
    }
}

impl<T, E: TaskError> ResultFuture<T, E> {
    /// Cancels the task if it has not started, as [`Future::cancel`].
    ///
    /// ```
    /// use std::future::IntoFuture;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (_promise, future) = Promise::<u8, FutureError>::new();
    /// let awaited = future.into_future();
    /// assert!(awaited.cancel());
    /// assert_eq!(awaited.await, Err(FutureError::Cancelled));
    /// # }
    /// ```
    pub fn cancel(&self) -> bool {
        self.shared.cancel()
    }

    /// Whether the task is settled (awaiting then completes at once).
    ///
    /// ```
    /// use std::future::IntoFuture;
    /// use mp_futures::{FutureError, Promise};
    ///
    /// let (promise, future) = Promise::<u8, FutureError>::new();
    /// promise.complete(Ok(1));
    /// assert!(future.into_future().done());
    /// ```
    pub fn done(&self) -> bool {
        self.shared.is_done()
    }
}

impl<T, E: TaskError> std::future::Future for ResultFuture<T, E> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `ResultFuture` is `Unpin`: an `Arc` and a slot number.
        let this = self.get_mut();
        this.shared.poll_take(cx, &mut this.slot)
    }
}

impl<T, E: TaskError> Drop for ResultFuture<T, E> {
    fn drop(&mut self) {
        self.shared.remove_waker(&mut self.slot);
    }
}

impl<T, E: TaskError> fmt::Debug for ResultFuture<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultFuture")
            .field("done", &self.done())
            .field("awaiting_tasks", &self.shared.registered_wakers())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::{FutureError, Promise};

    #[test]
    fn a_dropped_await_leaves_no_waker_and_a_completion_wakes_the_registered() {
        let (promise, future) = Promise::<u8, FutureError>::new();
        let mut first = std::pin::pin!(future.clone().into_future());
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(first.as_mut().poll(&mut cx).is_pending());
        {
            let mut second = std::pin::pin!(future.clone().into_future());
            assert!(second.as_mut().poll(&mut cx).is_pending());
            assert_eq!(future.shared().registered_wakers(), 2);
        }
        assert_eq!(future.shared().registered_wakers(), 1);
        promise.complete(Ok(4));
        assert_eq!(future.shared().registered_wakers(), 0);
        assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(4)));
    }
}
