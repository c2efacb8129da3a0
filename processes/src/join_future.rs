//! [`JoinFuture`]: awaiting a child process, woken by mp-sys's reactor rather than a
//! thread parked per waiter.
//!
//! A child's end is signalled by its pidfd (the [`Sentinel`](crate::Sentinel)) becoming
//! readable. A pending future registers the pidfd with mp-sys's
//! [`reactor`](mp_sys::reactor), whose one epoll thread per process wakes the future's
//! task when it turns readable. The future then does the ordinary join, which no longer
//! waits: the child has ended and its report is in its socket. Nothing here depends on a
//! particular async runtime.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use mp_sys::reactor::{Reactor, Waiter};
use nix::errno::Errno;
use serde::de::DeserializeOwned;

use crate::{Error, ProcessHandle};

/// The reactor's error as this crate's.
fn reactor_error(error: mp_sys::Error) -> Error {
    match error {
        mp_sys::Error::Os { operation, errno } => Error::os(operation, errno),
        _ => Error::os("waiting for the child's pidfd", Errno::EIO),
    }
}

/// The `Future` of [`ProcessHandle::join_async`]: resolves to what
/// [`join`](ProcessHandle::join) returns, without blocking a thread while the child runs.
///
/// While the child runs, the awaiting task sleeps; mp-sys's reactor (one epoll thread per
/// process, started on first use, shared by every pending join and every other awaited
/// descriptor) wakes it when the child's pidfd turns readable. Any runtime can drive it. Dropping the future before it resolves
/// takes nothing: the handle stays joinable.
///
/// ```
/// use mp_processes::{Process, StartMethod};
///
/// let child = Process::new(|a: u32, b: u32| a + b, (2, 3))
///     .start_method(StartMethod::Spawn)
///     .start()?;
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// assert_eq!(runtime.block_on(child.join_async())?, 5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a future does nothing unless awaited"]
pub struct JoinFuture<'a, R> {
    handle: &'a ProcessHandle<R>,
    /// Dropped with the future: a cancelled join leaves nothing registered.
    waiter: Waiter<'static>,
}

impl<R> fmt::Debug for JoinFuture<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinFuture")
            .field("handle", self.handle)
            .field("registered", &self.waiter.is_registered())
            .finish()
    }
}

impl<R: DeserializeOwned> Future for JoinFuture<'_, R> {
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `JoinFuture` is `Unpin`: a reference and a waiter.
        let this = self.get_mut();
        let sentinel = this.handle.sentinel();
        loop {
            if sentinel.is_ready() {
                this.waiter.unregister();
                // The child has ended: what it sent is in its socket and it can be reaped
                // without waiting (the forkserver's report follows within microseconds).
                return Poll::Ready(this.handle.join());
            }
            // Ready: the pidfd reported readable; the check above now sees it.
            match this.waiter.poll_readable(cx, sentinel.as_fd()) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(reactor_error(error))),
            }
        }
    }
}

impl<R: DeserializeOwned> ProcessHandle<R> {
    /// [`join`](ProcessHandle::join) as a `Future`, for async code (feature `async`).
    ///
    /// No thread is parked for the wait: see [`JoinFuture`]. `&handle` can be awaited
    /// directly too (it is [`IntoFuture`]).
    ///
    /// ```
    /// use mp_processes::{Error, Process, StartMethod};
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// let crash = Process::new(|| -> u8 { panic!("no") }, ()).start_method(StartMethod::Fork).start()?;
    /// let result = runtime.block_on(async { (&crash).await });
    /// assert!(matches!(result, Err(Error::Panicked { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_async(&self) -> JoinFuture<'_, R> {
        JoinFuture {
            handle: self,
            waiter: Waiter::new(Reactor::global()),
        }
    }
}

impl<'a, R: DeserializeOwned> IntoFuture for &'a ProcessHandle<R> {
    type Output = Result<R, Error>;
    type IntoFuture = JoinFuture<'a, R>;

    fn into_future(self) -> Self::IntoFuture {
        self.join_async()
    }
}
