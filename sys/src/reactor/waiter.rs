//! [`Waiter`], the building block of every async wait, and the two plain futures over
//! it: [`WordWait`] and [`Readable`].

use std::fmt;
use std::future::Future;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use super::descriptors::Registration;
use super::registry::Polled;
use super::{InProcess, Reactor};
use crate::{Deadline, Error};

/// What a waiter has registered with its reactor.
enum Registered<'r> {
    Nothing,
    /// An entry of the futex side's table of `state`: this process's, or, in a forked
    /// child, the parent's (which the child never touches).
    Word {
        state: &'r InProcess,
        id: u64,
    },
    /// A duplicate descriptor in the epoll set.
    Descriptor(Registration),
}

/// One async waiter's place in a [`Reactor`]: what an async wait keeps between polls.
///
/// A future owns one and, from its `poll`, checks its own condition, then calls
/// [`poll_word`](Waiter::poll_word) with the value it saw on its futex word, or
/// [`poll_readable`](Waiter::poll_readable) with its descriptor. `Pending` means the
/// task's waker is registered; `Ready` means "look again" (the condition may have
/// changed, or not: re-check, and poll again). Dropping the waiter (with its future)
/// takes its registration out of the reactor, so a cancelled wait leaves nothing behind.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::task::{Context, Poll};
/// use mp_sys::reactor::{Reactor, Waiter};
///
/// /// Completes once `word` is odd.
/// struct Odd<'a> {
///     word: &'a AtomicU32,
///     waiter: Waiter<'a>,
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
///             if self.waiter.poll_word(cx, word, seen).is_pending() {
///                 return Poll::Pending;
///             }
///         }
///     }
/// }
///
/// let word = AtomicU32::new(3);
/// let mut odd = std::pin::pin!(Odd { word: &word, waiter: Waiter::new(Reactor::global()) });
/// let waker = std::task::Waker::noop();
/// assert_eq!(odd.as_mut().poll(&mut Context::from_waker(&waker)), Poll::Ready(3));
/// ```
pub struct Waiter<'r> {
    reactor: &'r Reactor,
    registered: Registered<'r>,
}

impl<'r> Waiter<'r> {
    /// A waiter of `reactor`, not registered yet.
    ///
    /// ```
    /// use mp_sys::reactor::{Reactor, Waiter};
    ///
    /// let waiter = Waiter::new(Reactor::global());
    /// assert!(!waiter.is_registered());
    /// ```
    pub fn new(reactor: &'r Reactor) -> Self {
        Self {
            reactor,
            registered: Registered::Nothing,
        }
    }

    /// `Ready` once `word` was woken since the last poll, or does not hold `expected`;
    /// otherwise registers `cx`'s waker to be woken when it is, and returns `Pending`.
    ///
    /// `Ready` may be spurious (the reactor polls some words, and cannot always tell which
    /// word changed): check the condition and poll again with the value seen, as after a
    /// futex wait. `word` must be woken the futex way (see the [module docs](super)):
    /// change its value, then `FUTEX_WAKE` it without the private flag
    /// ([`futex::wake_all`](crate::futex::wake_all)).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::task::{Context, Waker};
    /// use mp_sys::reactor::{Reactor, Waiter};
    ///
    /// let reactor = Reactor::new();
    /// let word = AtomicU32::new(0);
    /// let mut waiter = Waiter::new(&reactor);
    /// let waker = Waker::noop();
    /// let mut cx = Context::from_waker(&waker);
    /// assert!(waiter.poll_word(&mut cx, &word, 0).is_pending());
    /// assert_eq!(reactor.registered(), 1);
    /// word.store(1, Ordering::Release);
    /// assert!(waiter.poll_word(&mut cx, &word, 0).is_ready()); // changed: ready, unregistered
    /// assert_eq!(reactor.registered(), 0);
    /// ```
    pub fn poll_word(&mut self, cx: &mut Context<'_>, word: &AtomicU32, expected: u32) -> Poll<()> {
        if word.load(Ordering::Acquire) != expected {
            self.unregister();
            return Poll::Ready(());
        }
        let here = self.reactor.here();
        let id = match self.registered {
            Registered::Word { state, id } if std::ptr::eq(state, here) => Some(id),
            Registered::Nothing => None,
            // A descriptor, or a word registered in the process this one was forked from.
            Registered::Word { .. } | Registered::Descriptor(_) => {
                self.unregister();
                None
            }
        };
        let words = &here.words;
        let thread_running = words.prepare();
        let polled = words
            .registry()
            .poll(id, (word.as_ptr() as usize, expected), cx.waker());
        match polled {
            Polled::Fired => {
                self.registered = Registered::Nothing;
                Poll::Ready(())
            }
            Polled::Waiting { id, new_word } => {
                self.registered = Registered::Word { state: here, id };
                if !thread_running {
                    // No futex thread (the system refused one): rather than hang, have
                    // the runtime poll this future again.
                    cx.waker().wake_by_ref();
                } else if new_word {
                    words.ring();
                }
                Poll::Pending
            }
        }
    }

    /// `Ready(Ok)` once `fd` reported readable (data, end of stream, an exited pidfd)
    /// since the last poll; otherwise registers `cx`'s waker to be woken when it does, and
    /// returns `Pending`. `Ready(Err)` if the kernel refused the registration.
    ///
    /// Check the descriptor yourself first (a `poll` with a zero timeout, or the read that
    /// would not block): this only tells when to look again. A descriptor already
    /// readable at registration reports at once (the registration is level-triggered), so
    /// nothing between that check and this call is lost. The first poll registers a
    /// duplicate of `fd`; later polls with the same `fd` reuse it.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::task::{Context, Waker};
    /// use mp_sys::reactor::{Reactor, Waiter};
    ///
    /// let reactor = Reactor::new();
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut waiter = Waiter::new(&reactor);
    /// let waker = Waker::noop();
    /// let mut cx = Context::from_waker(&waker);
    /// assert!(waiter.poll_readable(&mut cx, a.as_fd()).is_pending()); // nothing sent
    /// assert_eq!(reactor.registered(), 1);
    /// drop(waiter);
    /// assert_eq!(reactor.registered(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_readable(
        &mut self,
        cx: &mut Context<'_>,
        fd: BorrowedFd<'_>,
    ) -> Poll<Result<(), Error>> {
        if let Registered::Descriptor(registration) = &mut self.registered
            && registration.serves(fd.as_raw_fd())
        {
            return match registration.poll(cx.waker()) {
                Ok(true) => Poll::Ready(Ok(())),
                Ok(false) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            };
        }
        self.unregister();
        let registered = self
            .reactor
            .here()
            .descriptors
            .core()
            .and_then(|core| Registration::new(core, fd, cx.waker()));
        match registered {
            Ok(registration) => {
                self.registered = Registered::Descriptor(registration);
                Poll::Pending
            }
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    /// Whether this waiter is registered with its reactor (between a `Pending` poll and
    /// the next `Ready` of a word, or its drop).
    ///
    /// ```
    /// let waiter = mp_sys::reactor::Waiter::new(mp_sys::reactor::Reactor::global());
    /// assert!(!waiter.is_registered());
    /// ```
    pub fn is_registered(&self) -> bool {
        !matches!(self.registered, Registered::Nothing)
    }

    /// Takes the registration out of the reactor, if there is one: for a future that
    /// completes on a check of its own, between polls. (Dropping the waiter does it too.)
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use std::task::{Context, Waker};
    /// use mp_sys::reactor::{Reactor, Waiter};
    ///
    /// let reactor = Reactor::new();
    /// let word = AtomicU32::new(0);
    /// let mut waiter = Waiter::new(&reactor);
    /// let waker = Waker::noop();
    /// assert!(waiter.poll_word(&mut Context::from_waker(&waker), &word, 0).is_pending());
    /// waiter.unregister();
    /// assert_eq!(reactor.registered(), 0);
    /// ```
    #[inline]
    pub fn unregister(&mut self) {
        // Most waits complete at their first poll, with nothing registered: keep that
        // path to one comparison, inlined into every future's `poll` and drop.
        if !matches!(self.registered, Registered::Nothing) {
            self.release_registration();
        }
    }

    fn release_registration(&mut self) {
        match std::mem::replace(&mut self.registered, Registered::Nothing) {
            Registered::Nothing => {}
            Registered::Word { state, id } => {
                // A word registered before a fork stays in the parent's table, whose lock
                // a thread that is not in this process may hold: leave it alone.
                if self.reactor.is_here(state) {
                    state.words.registry().remove(id);
                }
            }
            // Its drop takes the duplicate out of the epoll set.
            Registered::Descriptor(registration) => drop(registration),
        }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl fmt::Debug for Waiter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("registered", &self.is_registered())
            .finish()
    }
}

/// The future of [`Reactor::wait`]: completes once its word is woken or no longer
/// holds the expected value (possibly spuriously).
///
/// ```
/// use std::future::Future;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use mp_sys::reactor::Reactor;
///
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(&waker);
/// let word = AtomicU32::new(0);
/// let mut wait = std::pin::pin!(Reactor::global().wait(&word, 0));
/// assert!(wait.as_mut().poll(&mut cx).is_pending());
/// word.store(1, Ordering::Release);
/// mp_sys::futex::wake_all(&word);
/// assert!(wait.as_mut().poll(&mut cx).is_ready());
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WordWait<'a> {
    word: &'a AtomicU32,
    expected: u32,
    waiter: Waiter<'a>,
}

impl<'a> WordWait<'a> {
    pub(super) fn new(reactor: &'a Reactor, word: &'a AtomicU32, expected: u32) -> Self {
        Self {
            word,
            expected,
            waiter: Waiter::new(reactor),
        }
    }
}

impl Future for WordWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // No field is pinned structurally: `WordWait` is `Unpin`.
        let this = self.get_mut();
        this.waiter.poll_word(cx, this.word, this.expected)
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

/// The future of [`Reactor::readable`]: completes once its descriptor is readable
/// (checked with a zero-timeout `poll`, so never spuriously), or with the error of a
/// refused registration.
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_sys::reactor::Reactor;
///
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
/// #         std::thread::sleep(std::time::Duration::from_millis(1));
/// #     }
/// # }
/// let (a, mut b) = UnixStream::pair()?;
/// let writer = std::thread::spawn(move || b.write_all(b"x"));
/// block_on(Reactor::global().readable(a.as_fd()))?;
/// writer.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Readable<'a> {
    fd: BorrowedFd<'a>,
    waiter: Waiter<'a>,
}

impl<'a> Readable<'a> {
    pub(super) fn new(reactor: &'a Reactor, fd: BorrowedFd<'a>) -> Self {
        Self {
            fd,
            waiter: Waiter::new(reactor),
        }
    }
}

impl Future for Readable<'_> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // No field is pinned structurally: `Readable` is `Unpin`.
        let this = self.get_mut();
        loop {
            let readable = crate::poll::is_readable(this.fd, Deadline::after(Duration::ZERO))
                .map_err(|errno| Error::Os {
                    operation: "poll",
                    errno,
                })?;
            if readable {
                this.waiter.unregister();
                return Poll::Ready(Ok(()));
            }
            match this.waiter.poll_readable(cx, this.fd) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
    }
}

impl fmt::Debug for Readable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Readable")
            .field("fd", &self.fd)
            .field("waiter", &self.waiter)
            .finish()
    }
}
