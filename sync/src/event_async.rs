//! `Event::wait_async`: waiting for an [`Event`] from async code, woken by mp-sys's
//! [`reactor`](mp_sys::reactor) instead of a parked thread.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::event::{Event, GENERATION_MASK, SET, SLEEPERS};
use mp_sys::futex::Ordering;
use mp_sys::reactor::{Reactor, Waiter};

impl Event {
    /// Waits until the flag is set, without blocking the async runtime: Python's
    /// `await asyncio.Event().wait()`, for an event that threads and other processes set.
    ///
    /// The event may be set by any thread or process (it may live in shared memory): the
    /// process-wide [`Reactor`] sleeps on its word, one thread for every awaited
    /// word, and wakes the task. As [`wait`](Event::wait), it completes even if the flag was
    /// cleared again after a `set` that happened after this call. For a timeout, wrap it
    /// (`tokio::time::timeout`). Dropping the future leaves nothing registered.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mp_sync::Event;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let ready = Arc::new(Event::new());
    /// let setter = {
    ///     let ready = Arc::clone(&ready);
    ///     std::thread::spawn(move || ready.set())
    /// };
    /// ready.wait_async().await;
    /// assert!(ready.is_set());
    /// setter.join().unwrap();
    /// # }
    /// ```
    pub fn wait_async(&self) -> EventWait<'_> {
        self.wait_async_on(Reactor::global())
    }

    /// [`wait_async`](Event::wait_async) through a reactor of the caller's own.
    ///
    /// ```
    /// use mp_sync::Event;
    /// use mp_sys::reactor::Reactor;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let reactor = Reactor::new();
    /// let event = Event::new();
    /// event.set();
    /// event.wait_async_on(&reactor).await;
    /// assert_eq!(reactor.registered(), 0);
    /// # }
    /// ```
    pub fn wait_async_on<'a>(&'a self, reactor: &'a Reactor) -> EventWait<'a> {
        EventWait {
            event: self,
            // Taken now, as `wait` takes it when called: a set-then-clear between this call
            // and the first poll still completes the wait.
            generation: self.state_word().load(Ordering::Acquire) & GENERATION_MASK,
            waiter: Waiter::new(reactor),
        }
    }
}

/// The future of [`Event::wait_async`]: completes when the event is set (or was set, then
/// cleared, since the call).
///
/// ```
/// use mp_sync::Event;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let event = Event::new();
/// let wait = event.wait_async();
/// event.set();
/// event.clear();
/// wait.await; // the set counts, though cleared since
/// # }
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    generation: u32,
    waiter: Waiter<'a>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // No field is pinned structurally: `EventWait` is `Unpin`.
        let this = self.get_mut();
        let word = this.event.state_word();
        loop {
            let current = word.load(Ordering::Acquire);
            if current & SET != 0 || current & GENERATION_MASK != this.generation {
                this.waiter.unregister();
                return Poll::Ready(());
            }
            // `set` only issues a futex wake when it sees a sleeper: say there is one, as a
            // blocking waiter does.
            if current & SLEEPERS == 0
                && word
                    .compare_exchange(
                        current,
                        current | SLEEPERS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_err()
            {
                continue;
            }
            if this
                .waiter
                .poll_word(cx, word, current | SLEEPERS)
                .is_pending()
            {
                return Poll::Pending;
            }
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("event", self.event)
            .field("waiter", &self.waiter)
            .finish()
    }
}
