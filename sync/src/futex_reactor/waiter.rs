//! [`FutexWaiter`], the building block of every async wait on a futex word, and
//! [`WordWait`], the plain future over it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use super::FutexReactor;
use super::registry::Polled;

/// One async waiter's place in a [`FutexReactor`]: what an async wait keeps between polls.
///
/// A future that waits on a futex word owns one and calls
/// [`poll_wait`](FutexWaiter::poll_wait) from its `poll`, with the value it saw on the word.
/// Dropping the waiter (with its future) takes its registration out of the reactor, so a
/// cancelled wait leaves nothing behind.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::task::{Context, Poll};
/// use mp_sync::futex_reactor::{FutexReactor, FutexWaiter};
///
/// /// Completes once `word` is odd.
/// struct Odd<'a> {
///     word: &'a AtomicU32,
///     waiter: FutexWaiter<'a>,
/// }
///
/// impl Future for Odd<'_> {
///     type Output = u32;
///     fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
///         loop {
///             let seen = self.word.load(Ordering::Acquire);
///             if seen % 2 == 1 {
///                 return Poll::Ready(seen);
///             }
///             let word = self.word;
///             if self.waiter.poll_wait(cx, word, seen).is_pending() {
///                 return Poll::Pending;
///             }
///         }
///     }
/// }
///
/// let word = AtomicU32::new(3);
/// let mut odd = std::pin::pin!(Odd { word: &word, waiter: FutexWaiter::new(FutexReactor::global()) });
/// let waker = std::task::Waker::noop();
/// assert_eq!(odd.as_mut().poll(&mut Context::from_waker(&waker)), Poll::Ready(3));
/// ```
pub struct FutexWaiter<'r> {
    reactor: &'r FutexReactor,
    /// The registration, while there is one.
    id: Option<u64>,
}

impl<'r> FutexWaiter<'r> {
    /// A waiter of `reactor`, not registered yet.
    ///
    /// ```
    /// use mp_sync::futex_reactor::{FutexReactor, FutexWaiter};
    ///
    /// let waiter = FutexWaiter::new(FutexReactor::global());
    /// assert!(!waiter.is_registered());
    /// ```
    pub fn new(reactor: &'r FutexReactor) -> Self {
        Self { reactor, id: None }
    }

    /// `Ready` once `word` was woken since the last poll, or does not hold `expected`;
    /// otherwise registers `cx`'s waker to be woken when it is, and returns `Pending`.
    ///
    /// `Ready` may be spurious (the reactor polls some words, and cannot always tell which
    /// word changed): check the condition and poll again with the value seen, as after a
    /// futex wait. `word` must be woken the futex way (see the [module docs](super)):
    /// change its value, then `FUTEX_WAKE` it.
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use std::task::{Context, Poll, Waker};
    /// use mp_sync::futex_reactor::{FutexReactor, FutexWaiter};
    ///
    /// let reactor = FutexReactor::new();
    /// let word = AtomicU32::new(0);
    /// let mut waiter = FutexWaiter::new(&reactor);
    /// let waker = Waker::noop();
    /// let mut cx = Context::from_waker(&waker);
    /// assert!(waiter.poll_wait(&mut cx, &word, 0).is_pending());
    /// assert_eq!(reactor.registered(), 1);
    /// word.store(1, std::sync::atomic::Ordering::Release);
    /// assert!(waiter.poll_wait(&mut cx, &word, 0).is_ready()); // changed: ready, unregistered
    /// assert_eq!(reactor.registered(), 0);
    /// ```
    pub fn poll_wait(&mut self, cx: &mut Context<'_>, word: &AtomicU32, expected: u32) -> Poll<()> {
        if word.load(Ordering::Acquire) != expected {
            self.unregister();
            return Poll::Ready(());
        }
        let thread_running = self.reactor.prepare();
        let polled =
            self.reactor
                .registry()
                .poll(self.id, (word.as_ptr() as usize, expected), cx.waker());
        match polled {
            Polled::Fired => {
                self.id = None;
                Poll::Ready(())
            }
            Polled::Waiting { id, new_word } => {
                self.id = Some(id);
                if !thread_running {
                    // No reactor thread (the system refused one): rather than hang, have
                    // the runtime poll this future again.
                    cx.waker().wake_by_ref();
                } else if new_word {
                    self.reactor.ring();
                }
                Poll::Pending
            }
        }
    }

    /// Whether this waiter is registered with its reactor (between a `Pending` poll and
    /// the next `Ready` or its drop).
    ///
    /// ```
    /// let waiter = mp_sync::futex_reactor::FutexWaiter::new(mp_sync::futex_reactor::FutexReactor::global());
    /// assert!(!waiter.is_registered());
    /// ```
    pub fn is_registered(&self) -> bool {
        self.id.is_some()
    }

    /// Takes the registration out of the reactor, if there is one: for a future that
    /// completes on a check of its own, between polls. (Dropping the waiter does it too.)
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use std::task::{Context, Waker};
    /// use mp_sync::futex_reactor::{FutexReactor, FutexWaiter};
    ///
    /// let reactor = FutexReactor::new();
    /// let word = AtomicU32::new(0);
    /// let mut waiter = FutexWaiter::new(&reactor);
    /// let waker = Waker::noop();
    /// assert!(waiter.poll_wait(&mut Context::from_waker(&waker), &word, 0).is_pending());
    /// waiter.unregister();
    /// assert_eq!(reactor.registered(), 0);
    /// ```
    pub fn unregister(&mut self) {
        if let Some(id) = self.id.take() {
            self.reactor.registry().remove(id);
        }
    }
}

impl Drop for FutexWaiter<'_> {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl fmt::Debug for FutexWaiter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FutexWaiter")
            .field("registered", &self.is_registered())
            .finish()
    }
}

/// The future of [`FutexReactor::wait`]: completes once its word is woken or no longer
/// holds the expected value (possibly spuriously).
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use mp_sync::futex_reactor::FutexReactor;
///
/// # let waker = std::task::Waker::noop();
/// # let mut cx = std::task::Context::from_waker(&waker);
/// let word = AtomicU32::new(0);
/// let mut wait = std::pin::pin!(FutexReactor::global().wait(&word, 0));
/// # use std::future::Future;
/// assert!(wait.as_mut().poll(&mut cx).is_pending());
/// word.store(1, Ordering::Release);
/// mp_sync::futex_reactor::wake_all(&word);
/// // The reactor thread wakes the task; polled again, the wait completes.
/// # assert!(wait.as_mut().poll(&mut cx).is_ready());
/// ```
pub struct WordWait<'a> {
    word: &'a AtomicU32,
    expected: u32,
    waiter: FutexWaiter<'a>,
}

impl<'a> WordWait<'a> {
    pub(super) fn new(reactor: &'a FutexReactor, word: &'a AtomicU32, expected: u32) -> Self {
        Self {
            word,
            expected,
            waiter: FutexWaiter::new(reactor),
        }
    }
}

impl Future for WordWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // No field is pinned structurally: `WordWait` is `Unpin`.
        let this = self.get_mut();
        this.waiter.poll_wait(cx, this.word, this.expected)
    }
}

impl fmt::Debug for WordWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WordWait")
            .field("expected", &self.expected)
            .field("waiter", &self.waiter)
            .finish()
    }
}
