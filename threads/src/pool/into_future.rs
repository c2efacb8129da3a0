//! `.await` on a pool [`Future`]: [`ResultFuture`], its `IntoFuture` form.
//!
//! The pool's workers live in this process, so no thread has to wait for an async
//! awaiter: the task's `Future` keeps the awaiting tasks' `Waker`s beside its blocking
//! waiters (in mp-sys's [`WakerList`](mp_sys::reactor::WakerList), with the reactor's
//! waker discipline), and the worker that finishes the task (or the call that cancels it) wakes them
//! all, after the done-callbacks ran. Any async runtime works; nothing here is tokio's.

use std::fmt;
use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mp_sys::reactor::WakerSlot;

use crate::error::Error;
use crate::pool::future::{Future, FutureShared};

/// The result of a [`ThreadPool`](crate::ThreadPool) task, awaited: what `.await` on a
/// [`Future`] turns into (Python's `await asyncio.wrap_future(fut)`, or awaiting
/// `loop.run_in_executor(pool, f)`).
///
/// It gives what [`Future::result`] gives, without blocking the runtime's thread: the
/// value, or [`Error::Panicked`] / [`Error::Cancelled`].
///
/// **Dropping it does not cancel the task** (as dropping a [`Future`] does not): the
/// task runs to its end and its value is dropped with the task's state. Its waker is
/// removed at once, so a dropped await leaves nothing registered. To stop a task that has
/// not started, call [`Future::cancel`] (or [`ResultFuture::cancel`]) before dropping.
///
/// `.await`, and APIs that take an `IntoFuture` (such as `tokio::time::timeout`), accept a
/// pool [`Future`] as it is; where a `std::future::Future` is required (`tokio::spawn`),
/// pass `future.into_future()`.
///
/// ```
/// use mp_threads::ThreadPool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mp_threads::Error> {
/// let pool = ThreadPool::new(2)?;
/// let square = pool.submit(|n: u64| n * n, (12,))?;
/// assert_eq!(square.await?, 144);
/// # Ok(())
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ResultFuture<T> {
    shared: Arc<FutureShared<T>>,
    /// Its place among the task's wakers (mp-sys's `WakerList`), taken out on drop.
    slot: WakerSlot,
}

impl<T> IntoFuture for Future<T> {
    type Output = Result<T, Error>;
    type IntoFuture = ResultFuture<T>;

    /// Awaits the task: `future.await` gives what `future.result()` would.
    ///
    /// ```
    /// use mp_threads::{Error, ThreadPool};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let pool = ThreadPool::new(1)?;
    /// let failing = pool.submit(|| -> u8 { panic!("bad task") }, ())?;
    /// assert!(matches!(failing.await, Err(Error::Panicked { .. })));
    /// # Ok(())
    /// # }
    /// ```
    fn into_future(self) -> ResultFuture<T> {
        ResultFuture {
            shared: self.shared,
            slot: WakerSlot::new(),
        }
    }
}

impl<T> ResultFuture<T> {
    /// Cancels the task if no worker has started it (then this future gives
    /// [`Error::Cancelled`]); `true` if it is cancelled. As [`Future::cancel`].
    ///
    /// ```
    /// use std::future::IntoFuture;
    /// use std::time::Duration;
    /// use mp_threads::{Error, ThreadPool};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let pool = ThreadPool::new(1)?;
    /// let (release, gate) = std::sync::mpsc::channel::<()>();
    /// let busy = pool.submit(move || gate.recv_timeout(Duration::from_secs(5)).is_ok(), ())?;
    /// let queued = pool.submit(|| 2, ())?.into_future();
    /// assert!(queued.cancel());
    /// assert!(matches!(queued.await, Err(Error::Cancelled)));
    /// release.send(()).expect("the busy task waits");
    /// assert!(busy.await?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn cancel(&self) -> bool {
        self.shared.cancel()
    }

    /// Whether the task finished or was cancelled (awaiting then completes at once).
    ///
    /// ```
    /// use std::future::IntoFuture;
    /// use mp_threads::ThreadPool;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mp_threads::Error> {
    /// let pool = ThreadPool::new(1)?;
    /// let future = pool.submit(|| 1, ())?;
    /// future.exception_timeout(std::time::Duration::from_secs(5))?;
    /// let awaited = future.into_future();
    /// assert!(awaited.done());
    /// assert_eq!(awaited.await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn done(&self) -> bool {
        self.shared.is_done()
    }
}

impl<T> std::future::Future for ResultFuture<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `ResultFuture` is `Unpin`: an `Arc` and an id.
        let this = self.get_mut();
        this.shared.poll_take_result(cx, &mut this.slot)
    }
}

impl<T> Drop for ResultFuture<T> {
    fn drop(&mut self) {
        self.shared.remove_waker(&mut self.slot);
    }
}

impl<T> fmt::Debug for ResultFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultFuture")
            .field("done", &self.done())
            .field("awaiting_tasks", &self.shared.registered_wakers())
            .finish()
    }
}
