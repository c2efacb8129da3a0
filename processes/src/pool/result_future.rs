//! Awaiting an [`AsyncResult`] (feature `async`): the pool's supervisor thread wakes the
//! awaiting task when the result is in, so no runtime thread blocks and no thread is
//! parked per waiter.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

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
        ResultFuture { cell: self.cell }
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
}

impl<R> Future for ResultFuture<R> {
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.cell.state.lock();
        if matches!(state.outcome, Outcome::Pending) {
            // Registered under the lock that `complete` takes: no wake-up is lost.
            match &mut state.waker {
                Some(waker) if waker.will_wake(context.waker()) => {}
                slot => *slot = Some(context.waker().clone()),
            }
            return Poll::Pending;
        }
        Poll::Ready(take(&mut state.outcome))
    }
}

impl<R> fmt::Debug for ResultFuture<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultFuture").finish_non_exhaustive()
    }
}
