//! Awaiting an [`AsyncResult`] (feature `async`): the pool's supervisor thread wakes the
//! awaiting task when the result is in, so no runtime thread blocks and no thread is
//! parked per waiter. The waker is kept in the result's
//! [`WakerList`](mp_sys::reactor::WakerList), with the discipline of mp-sys's reactor: a
//! dropped future takes its waker out.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mp_sys::reactor::WakerSlot;

use super::async_result::{AsyncResult, Cell, Outcome, take};
use crate::Error;

/// `.await` an [`AsyncResult`] in async code (any executor): the pool's supervisor thread
/// wakes the awaiting task when the result is in; nothing blocks a runtime thread.
/// Dropping the future leaves the task running (its value is then dropped).
///
/// ```
/// use std::future::IntoFuture;
/// use mp_processes::{Pool, StartMethod};
///
/// let pool = Pool::builder().processes(1).start_method(StartMethod::Fork).build()?;
/// let result = pool.apply_async(|n: u32| n * 3, (14,))?;
/// let future = result.into_future(); // then `future.await?` inside an async fn
/// # struct NoopWake;
/// # impl std::task::Wake for NoopWake { fn wake(self: std::sync::Arc<Self>) {} }
/// # let waker = std::task::Waker::from(std::sync::Arc::new(NoopWake));
/// # let mut context = std::task::Context::from_waker(&waker);
/// # let mut future = std::pin::pin!(future);
/// # let value = loop {
/// #     if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) { break value; }
/// #     std::thread::sleep(std::time::Duration::from_millis(1));
/// # };
/// # assert_eq!(value?, 42);
/// # Ok::<(), mp_processes::Error>(())
/// ```
impl<R> IntoFuture for AsyncResult<R> {
    type Output = Result<R, Error>;
    type IntoFuture = ResultFuture<R>;

    fn into_future(self) -> ResultFuture<R> {
        ResultFuture {
            cell: self.cell,
            slot: WakerSlot::new(),
        }
    }
}

/// The future of an awaited [`AsyncResult`] (see its `IntoFuture`): the task's value, or
/// why there is none, as [`AsyncResult::get`].
///
/// ```
/// use std::future::IntoFuture;
///
/// let pool = mp_processes::Pool::new(1)?;
/// let future: mp_processes::pool::ResultFuture<u8> = pool.submit(|| 1u8, ())?.into_future();
/// # drop(future);
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub struct ResultFuture<R> {
    cell: Arc<Cell<R>>,
    /// Its place among the result's wakers, taken out when it is dropped.
    slot: WakerSlot,
}

impl<R> Future for ResultFuture<R> {
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        // `ResultFuture` is `Unpin`: an `Arc` and a slot.
        let this = self.get_mut();
        let mut state = this.cell.state.lock();
        if matches!(state.outcome, Outcome::Pending) {
            // Registered under the lock that `complete` takes: no wake-up is lost.
            state.wakers.register(&mut this.slot, context.waker());
            return Poll::Pending;
        }
        state.wakers.remove(&mut this.slot);
        Poll::Ready(take(&mut state.outcome))
    }
}

impl<R> Drop for ResultFuture<R> {
    fn drop(&mut self) {
        if self.slot.is_registered() {
            self.cell.state.lock().wakers.remove(&mut self.slot);
        }
    }
}

impl<R> fmt::Debug for ResultFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultFuture").finish_non_exhaustive()
    }
}
