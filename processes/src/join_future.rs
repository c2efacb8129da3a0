//! [`JoinFuture`]: awaiting a child process, woken by one epoll thread per process
//! rather than a thread parked per waiter.
//!
//! A child's end is signalled by its pidfd (the [`Sentinel`](crate::Sentinel)) becoming
//! readable. Each pending future registers a duplicate of that pidfd with one epoll
//! instance, watched by a single background thread that wakes the future's task when the
//! pidfd turns readable. The future then does the ordinary join, which no longer waits:
//! the child has ended and its report is in its socket. Nothing here depends on a
//! particular async runtime.

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use crate::{Error, ProcessHandle};

/// The epoll instance of this process and the wakers of the futures registered with it.
struct Reactor {
    epoll: Epoll,
    wakers: Mutex<HashMap<u64, Waker>>,
    next_token: AtomicU64,
}

/// The reactor of this process, with the pid that started it: a forked child has no
/// copy of the parent's thread, so it starts its own.
static REACTOR: Mutex<Option<(i32, Arc<Reactor>)>> = Mutex::new(None);

impl Reactor {
    /// The reactor of the calling process, started on first use.
    fn get() -> Result<Arc<Reactor>, Error> {
        let pid = nix::unistd::getpid().as_raw();
        let mut slot = REACTOR.lock();
        if let Some((owner, reactor)) = slot.as_ref()
            && *owner == pid
        {
            return Ok(Arc::clone(reactor));
        }
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|errno| Error::os("epoll_create1", errno))?;
        let reactor = Arc::new(Reactor {
            epoll,
            wakers: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(0),
        });
        let watched = Arc::clone(&reactor);
        std::thread::Builder::new()
            .name("mp-join-reactor".into())
            .spawn(move || watched.run())
            .map_err(|err| Error::os("spawn the join reactor thread", io_errno(&err)))?;
        tracing::debug!(pid, "join reactor started");
        *slot = Some((pid, Arc::clone(&reactor)));
        Ok(reactor)
    }

    /// Waits for readable pidfds and wakes their futures, for the life of the process.
    fn run(&self) {
        let mut events = [EpollEvent::empty(); 64];
        loop {
            match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(count) => {
                    let wakers = self.wakers.lock();
                    for event in events.iter().take(count) {
                        if let Some(waker) = wakers.get(&event.data()) {
                            waker.wake_by_ref();
                        }
                    }
                }
                Err(Errno::EINTR) => {}
                Err(errno) => {
                    // Only a broken epoll descriptor gets here; the futures registered
                    // with it cannot be woken any more, so say so loudly.
                    tracing::error!(%errno, "join reactor stopped");
                    return;
                }
            }
        }
    }
}

fn io_errno(err: &std::io::Error) -> Errno {
    Errno::from_raw(err.raw_os_error().unwrap_or(libc::EAGAIN))
}

/// A registration of one pidfd duplicate with the reactor.
struct Registration {
    reactor: Arc<Reactor>,
    /// A duplicate of the child's pidfd: epoll keys on it, so two futures on one handle
    /// never collide, and the number cannot be reused while it is registered.
    pidfd: OwnedFd,
    token: u64,
}

impl Registration {
    fn new(sentinel: &crate::Sentinel, waker: &Waker) -> Result<Self, Error> {
        let reactor = Reactor::get()?;
        let pidfd = sentinel
            .as_fd()
            .try_clone_to_owned()
            .map_err(|err| Error::os("dup", io_errno(&err)))?;
        let token = reactor.next_token.fetch_add(1, Ordering::Relaxed);
        reactor.wakers.lock().insert(token, waker.clone());
        // Level-triggered: a pidfd readable already reports at once, so no end is lost
        // between the readiness check and this registration.
        let event = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, token);
        if let Err(errno) = reactor.epoll.add(&pidfd, event) {
            reactor.wakers.lock().remove(&token);
            return Err(Error::os("epoll_ctl", errno));
        }
        Ok(Registration {
            reactor,
            pidfd,
            token,
        })
    }

    /// Records the latest waker and re-arms the one-shot registration.
    fn rearm(&self, waker: &Waker) -> Result<(), Error> {
        self.reactor.wakers.lock().insert(self.token, waker.clone());
        let mut event = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, self.token);
        self.reactor
            .epoll
            .modify(&self.pidfd, &mut event)
            .map_err(|errno| Error::os("epoll_ctl", errno))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.reactor.epoll.delete(&self.pidfd);
        self.reactor.wakers.lock().remove(&self.token);
    }
}

/// The `Future` of [`ProcessHandle::join_async`]: resolves to what
/// [`join`](ProcessHandle::join) returns, without blocking a thread while the child runs.
///
/// While the child runs, the awaiting task sleeps; one background thread per process
/// (started on first use, shared by every pending join) wakes it when the child's pidfd
/// turns readable. Any runtime can drive it. Dropping the future before it resolves
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
    registration: Option<Registration>,
}

impl<R> fmt::Debug for JoinFuture<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinFuture")
            .field("handle", self.handle)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

impl<R: DeserializeOwned> Future for JoinFuture<'_, R> {
    type Output = Result<R, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let sentinel = this.handle.sentinel();
        if !sentinel.is_ready() {
            let armed = match &this.registration {
                Some(registration) => registration.rearm(cx.waker()),
                None => Registration::new(sentinel, cx.waker())
                    .map(|registration| this.registration = Some(registration)),
            };
            if let Err(err) = armed {
                return Poll::Ready(Err(err));
            }
            // The registration is level-triggered, so an end that came in the meantime
            // wakes the task at once; checking again just saves a round trip.
            if !sentinel.is_ready() {
                return Poll::Pending;
            }
        }
        this.registration = None;
        // The child has ended: what it sent is in its socket and it can be reaped
        // without waiting (the forkserver's report follows within microseconds).
        Poll::Ready(this.handle.join())
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
            registration: None,
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
