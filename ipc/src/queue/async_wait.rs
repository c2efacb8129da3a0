//! `get_async` and `put_async`: waiting on a queue from async code, woken by mp-sys's
//! [`reactor`](mp_sys::reactor) instead of a thread parked per waiter (feature `async`).
//!
//! An async wait follows the ring's waiter protocol from outside the side lock: it tries
//! the operation without waiting; if it must wait, it counts itself in the wake-up word's
//! `async_waiters` (so that every commit of the other side bumps the word and issues the
//! futex wake, as it does for a sleeping lock holder), reads the word, tries again, and
//! only then awaits the word through the reactor. Reading the word *before* the second try
//! is what makes a commit between the two impossible to miss. The count is taken back
//! when the future completes or is dropped, so a cancelled wait leaves the queue as it
//! found it: an async wait never holds a side lock across an await.

use std::fmt;
use std::future::Future;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{Ordering, fence};
use std::task::{Context, Poll};

use mp_sys::pidfd;
use mp_sys::reactor::{Reactor, Waiter};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::control::Wake;
use super::identity::Identity;
use super::produce::encoded_len;
use super::raw::{Patience, RawQueue};
use super::record::{self, HEADER};
use crate::Error;

/// Which side an async wait is on: what it tries, and on which word it sleeps.
#[derive(Clone, Copy, Debug)]
enum Side {
    /// A get: waits for items on the tail's wake-up word.
    Get,
    /// A put: waits for room on the head's wake-up word.
    Put,
}

/// The registration part of an async wait: the reactor waiter and the queue's count of
/// async waiters, taken back on drop.
struct AsyncWait<'a> {
    raw: &'a RawQueue,
    side: Side,
    counted: bool,
    waiter: Waiter<'static>,
}

impl<'a> AsyncWait<'a> {
    fn new(raw: &'a RawQueue, side: Side) -> Self {
        Self {
            raw,
            side,
            counted: false,
            waiter: Waiter::new(Reactor::global()),
        }
    }

    fn wake(&self) -> &'a Wake {
        let control = self.raw.control();
        match self.side {
            Side::Get => &control.tail.0.items,
            Side::Put => &control.head.0.space,
        }
    }

    /// Polls `attempt` (which must not wait) until it gives something other than
    /// `would_wait`, sleeping on the side's word between tries.
    fn poll_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        would_wait: impl Fn(&Error) -> bool,
        mut attempt: impl FnMut() -> Result<R, Error>,
    ) -> Poll<Result<R, Error>> {
        loop {
            let seq = if self.counted {
                Some(self.wake().seq.load(Ordering::Acquire))
            } else {
                None
            };
            match attempt() {
                Err(error) if would_wait(&error) => {}
                done => {
                    self.finish();
                    return Poll::Ready(done);
                }
            }
            let Some(seq) = seq else {
                // First miss: count ourselves in, then try again after reading the word.
                self.wake().async_waiters.fetch_add(1, Ordering::SeqCst);
                self.counted = true;
                // Pairs with the commit and the load in `notify_after_commit`.
                fence(Ordering::SeqCst);
                continue;
            };
            if self.other_side_ready() && (self.side_is_get() || self.side_lock_busy()) {
                // Something is there to do but the attempt missed it: another thread held
                // the side lock, and its unlock wakes nobody. A getter that saw messages
                // never sleeps (the lock may have been freed since the attempt, and no
                // producer may ever bump the word again); a putter does only once the lock
                // is free, as room by count may still lack ring bytes. Let the runtime poll
                // us again soon instead of sleeping on a word nobody may bump.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self
                .waiter
                .poll_word(cx, &self.wake().seq, seq)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }

    fn side_is_get(&self) -> bool {
        matches!(self.side, Side::Get)
    }

    fn side_lock_busy(&self) -> bool {
        let control = self.raw.control();
        let lock = match self.side {
            Side::Get => &control.consumer.0.lock,
            Side::Put => &control.producer.0.lock,
        };
        // A dead holder counts as busy: the next try takes the lock over and repairs it.
        lock.try_lock().is_err()
    }

    /// Whether the side we wait for has given us something to act on (or the queue closed).
    fn other_side_ready(&self) -> bool {
        match self.side {
            Side::Get => self.raw.qsize() != 0 || self.raw.is_closed(),
            // A queue full by count: the holder waits for room as we do, and the consumer
            // that makes it bumps the word. Otherwise whether this message fits cannot be
            // told without the lock, and a busy producer lock is worth another look soon
            // (a blocking `put` waiting for ring bytes then costs this task repeated polls).
            Side::Put => {
                let maxsize = self.raw.maxsize();
                maxsize == 0 || self.raw.qsize() < maxsize || self.raw.is_closed()
            }
        }
    }

    fn finish(&mut self) {
        self.waiter.unregister();
        if self.counted {
            self.wake().async_waiters.fetch_sub(1, Ordering::SeqCst);
            self.counted = false;
        }
    }
}

impl Drop for AsyncWait<'_> {
    fn drop(&mut self) {
        if self.counted {
            tracing::debug!(side = ?self.side, "async queue wait dropped before it completed");
        }
        self.finish();
    }
}

/// The future of `get_async` on [`Queue`](crate::Queue) and
/// [`SimpleQueue`](crate::SimpleQueue): the oldest message, or the error `get` would give
/// ([`Error::Closed`] once the queue is closed and drained).
///
/// Dropping it before it completes takes nothing from the queue.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mp_ipc::Error> {
/// let queue = mp_ipc::Queue::<u8>::new()?;
/// queue.put(&9)?;
/// let get: mp_ipc::queue::GetAsync<'_, u8> = queue.get_async();
/// assert_eq!(get.await?, 9);
/// # Ok(()) }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct GetAsync<'a, T> {
    wait: AsyncWait<'a>,
    _message: std::marker::PhantomData<fn() -> T>,
}

impl<'a, T> GetAsync<'a, T> {
    pub(crate) fn new(raw: &'a RawQueue) -> Self {
        Self {
            wait: AsyncWait::new(raw, Side::Get),
            _message: std::marker::PhantomData,
        }
    }
}

impl<T: DeserializeOwned> Future for GetAsync<'_, T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // No field is pinned structurally: `GetAsync` is `Unpin`.
        let this = self.get_mut();
        let raw = this.wait.raw;
        this.wait.poll_with(
            cx,
            |error| matches!(error, Error::Empty),
            || raw.get::<T>(Patience::NoWait),
        )
    }
}

impl<T> fmt::Debug for GetAsync<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetAsync")
            .field("waiting", &self.wait.counted)
            .finish()
    }
}

/// The future of [`Queue::put_async`](crate::Queue::put_async): puts the message once
/// there is room, or gives the error `put` would give ([`Error::Closed`] once the queue
/// is closed).
///
/// Dropping it before it completes puts nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mp_ipc::Error> {
/// let queue = mp_ipc::Queue::<u8>::with_maxsize(1)?;
/// let put: mp_ipc::queue::PutAsync<'_, u8> = queue.put_async(&1);
/// put.await?;
/// assert!(queue.full());
/// # Ok(()) }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct PutAsync<'a, T> {
    wait: AsyncWait<'a>,
    message: &'a T,
    size_checked: bool,
}

impl<'a, T> PutAsync<'a, T> {
    pub(crate) fn new(raw: &'a RawQueue, message: &'a T) -> Self {
        Self {
            wait: AsyncWait::new(raw, Side::Put),
            message,
            size_checked: false,
        }
    }
}

impl<T: Serialize> Future for PutAsync<'_, T> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // No field is pinned structurally: `PutAsync` is `Unpin`.
        let this = self.get_mut();
        let raw = this.wait.raw;
        let message = this.message;
        if !this.size_checked {
            this.size_checked = true;
            // A message larger than the ring is streamed through it while the producer
            // holds its lock, which an async put cannot do without blocking the runtime.
            if let Ok(len) = encoded_len(message)
                && record::footprint(len).is_none_or(|size| size > raw.ring_bytes())
            {
                return Poll::Ready(Err(Error::MessageTooLarge {
                    len: len as u64,
                    max: (raw.ring_bytes() - HEADER) as usize,
                }));
            }
        }
        this.wait.poll_with(
            cx,
            |error| matches!(error, Error::Full),
            || raw.put(message, Patience::NoWait),
        )
    }
}

impl<T> fmt::Debug for PutAsync<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutAsync")
            .field("waiting", &self.wait.counted)
            .finish()
    }
}

/// The future of [`JoinableQueue::join_async`](crate::JoinableQueue::join_async):
/// completes once every message put has been marked done or counted lost, with what
/// [`JoinableQueue::join`](crate::JoinableQueue::join) returns.
///
/// It counts itself among the queue's joiners while it waits (so that the last
/// `task_done` issues the futex wake) and takes the count back when it completes or is
/// dropped. It also watches the pidfds of the processes that hold unfinished tasks, so
/// that one's death wakes it to count that process's tasks lost.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mp_ipc::Error> {
/// let queue = mp_ipc::JoinableQueue::<u8>::new()?;
/// let join: mp_ipc::queue::JoinAsync<'_> = queue.join_async();
/// join.await?; // nothing was put: nothing to wait for
/// # Ok(()) }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAsync<'a> {
    raw: &'a RawQueue,
    counted: bool,
    waiter: Waiter<'static>,
    /// The processes holding unfinished tasks, watched through their pidfds: no task
    /// changes the queue when one of them dies, so its death must wake us itself.
    watched: Vec<Watched>,
}

/// A process holding unfinished tasks, as an async joiner watches it.
struct Watched {
    owner: u64,
    /// Declared (so dropped) before the descriptor it is registered with.
    waiter: Waiter<'static>,
    pidfd: OwnedFd,
}

impl<'a> JoinAsync<'a> {
    pub(crate) fn new(raw: &'a RawQueue) -> Self {
        Self {
            raw,
            counted: false,
            waiter: Waiter::new(Reactor::global()),
            watched: Vec::new(),
        }
    }

    fn finish(&mut self) {
        self.waiter.unregister();
        self.watched.clear();
        if self.counted {
            self.raw
                .control()
                .shared
                .0
                .joiners
                .fetch_sub(1, Ordering::SeqCst);
            self.counted = false;
        }
    }

    /// Watches exactly the processes that hold unfinished tasks now; `Ready` if one of
    /// them has ended since (or cannot be watched), so that the caller settles again.
    fn watch_task_holders(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let holders = self.raw.task_holders();
        self.watched
            .retain(|watched| holders.iter().any(|(owner, _)| *owner == watched.owner));
        for (owner, pid) in holders {
            if self.watched.iter().any(|watched| watched.owner == owner) {
                continue;
            }
            let Ok(pidfd) = pidfd::open(pid as i32) else {
                return Poll::Ready(()); // gone already
            };
            // The id may have been given to another process since we read it: the pidfd
            // is the holder's only if the holder still runs now that it is open.
            if !Identity::from_word(owner).is_alive() {
                return Poll::Ready(());
            }
            self.watched.push(Watched {
                owner,
                waiter: Waiter::new(Reactor::global()),
                pidfd,
            });
        }
        let mut ended = false;
        for watched in &mut self.watched {
            ended |= watched
                .waiter
                .poll_readable(cx, watched.pidfd.as_fd())
                .is_ready();
        }
        if ended {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Future for JoinAsync<'_> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // No field is pinned structurally: `JoinAsync` is `Unpin`.
        let this = self.get_mut();
        let shared = &this.raw.control().shared.0;
        loop {
            if this.raw.unfinished_tasks() == 0 {
                this.finish();
                return Poll::Ready(this.raw.join_outcome());
            }
            if !this.counted {
                // As a blocking joiner: count ourselves in, then read the word and check
                // again, so that the last `task_done` either sees us or is seen by us.
                shared.joiners.fetch_add(1, Ordering::SeqCst);
                this.counted = true;
            }
            let seq = shared.tasks_seq.load(Ordering::SeqCst);
            this.raw.settle_dead_consumers();
            if this.raw.unfinished_tasks() == 0 {
                continue;
            }
            if this.watch_task_holders(cx).is_ready() {
                continue;
            }
            if this
                .waiter
                .poll_word(cx, &shared.tasks_seq, seq)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for JoinAsync<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl fmt::Debug for JoinAsync<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAsync")
            .field("unfinished_tasks", &self.raw.unfinished_tasks())
            .finish()
    }
}
