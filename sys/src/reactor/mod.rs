//! The one async wake-up layer: how every `_async` method of the mp crates sleeps
//! without a thread parked per waiter and without a particular executor.
//!
//! # What an async wait waits for
//!
//! Every async wait of the mp crates ends in one of three things:
//! - **a futex word changes**: an `Event`, a queue's wake-up word, a joinable queue's
//!   count. The word may live in memory shared with other processes and be woken by
//!   them, so nobody can hand the awaiting task's `Waker` to the setter;
//! - **a descriptor turns readable**: a `Connection`'s socket, a child's pidfd;
//! - **a thread of this process completes something**: a thread-pool task, a
//!   process-pool result that the pool's supervisor thread receives.
//!
//! # The shape
//!
//! One [`Reactor`] per process ([`Reactor::global`]) serves the first two; a
//! [`WakerList`] serves the third. Every async wait is a future that owns a [`Waiter`]
//! (or a [`WakerSlot`]) and polls the same way:
//!
//! 1. check its own condition (try the operation without waiting); done: `Ready`;
//! 2. otherwise note what it saw (the word's value) and call
//!    [`Waiter::poll_word`] or [`Waiter::poll_readable`]: `Pending` means the task's waker
//!    is registered; `Ready` means "something changed": go back to 1.
//!
//! Wake-ups may be spurious, so step 1 is always the truth, as after a futex wait. The
//! waker discipline is the same everywhere: the waker is registered under the same lock
//! (or against the same word value) that the waking side checks, so no wake-up is lost;
//! wakers are woken after that lock is released; each poll refreshes the waker (a task
//! that moved between threads is woken where it is now); and a future dropped before it
//! completes takes its registration out at once (the `Drop` of [`Waiter`], or
//! [`WakerList::remove`]): a cancelled wait leaves no waker registered.
//!
//! # Two kernel waits, one thread each
//!
//! The kernel forces two sleeps: `futex_waitv` cannot wait on a descriptor, and `epoll`
//! cannot wait on a futex word. So a reactor has at most two background threads, each
//! started at the first wait that needs it and shared by every waiter of the process:
//! - `mp-futex-reactor` sleeps on every awaited word at once with `futex_waitv`
//!   (Linux 5.16+), learns which word was woken, and wakes that word's futures. A word
//!   awaited by many futures (500 tasks awaiting one `Event`) is one entry of its list;
//!   the thread is only disturbed when a new word comes. One call takes 128 words, one of
//!   which is the thread's doorbell: past 127 distinct words, the others are polled (their
//!   futures woken to check their word) every [`POLL_INTERVAL`]. Where `futex_waitv` is
//!   missing (`ENOSYS`: an older kernel, or a sandbox that filters it), the thread polls
//!   every word that way instead, and says so in a debug event; [`Reactor::polling`] asks
//!   for that mode from the start.
//! - `mp-fd-reactor` waits in `epoll_wait` on a duplicate of every awaited descriptor
//!   (one-shot and level-triggered: see below) and wakes the future whose descriptor
//!   reported.
//!
//! In-process completions need no thread: the completing thread wakes the [`WakerList`].
//!
//! The futex protocol a word must follow is the one every mp primitive keeps: whoever
//! changes the condition changes the word's value, then issues `FUTEX_WAKE` on it without
//! the private flag ([`futex::wake_all`](crate::futex::wake_all)), since other processes
//! may wait. A descriptor is registered level-triggered, so one already readable when it
//! is armed reports at once, and one-shot, so a readable descriptor reports once per poll
//! instead of spinning the thread.
//!
//! # Lifetimes and fork
//!
//! The [`global`](Reactor::global) reactor's threads live as long as the process; a
//! reactor made with [`new`](Reactor::new) stops and joins its threads when dropped.
//!
//! A reactor keeps everything that belongs to one process (its tables, their locks, its
//! threads, its epoll set) in one value per process, stamped with the
//! [fork generation](crate::process::fork_generation) that made it (the mechanism of
//! [`PerProcess`](crate::PerProcess)). A child may be forked at any instant, while
//! another thread of the parent holds a table's lock that no thread of the child will
//! ever release, and while the parent's threads are not in the child at all. So the
//! child's first use of the reactor finds a foreign stamp and makes a value of its own
//! without taking any lock of the inherited one, which stays untouched and leaked: its
//! wakers belong to tasks that are not here, its epoll set is the parent's. Waiters the
//! child inherited register anew when polled there, and dropping them leaves the
//! parent's tables alone. The global reactor is a plain static, not initialised lazily,
//! so not even its creation can be caught halfway by a fork.
//!
//! # Cost
//!
//! An await costs one registration (a hash-table insert, plus an `epoll_ctl` for a
//! descriptor), and a wake-up one hop through the reactor's thread. mp-bench's
//! `event-async-wake` and `process-join-async` rows compare it with tokio's own wake-ups
//! and with a thread parked per waiter (`cargo run --release -p mp-bench -- --filter async`).
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use mp_sys::reactor::Reactor;
//!
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let waker = std::task::Waker::noop();
//! #     let mut cx = std::task::Context::from_waker(&waker);
//! #     let mut f = std::pin::pin!(f);
//! #     loop {
//! #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
//! #         std::thread::sleep(std::time::Duration::from_millis(1));
//! #     }
//! # }
//! let word = Arc::new(AtomicU32::new(0));
//! let setter = {
//!     let word = Arc::clone(&word);
//!     std::thread::spawn(move || {
//!         word.store(1, Ordering::Release);
//!         mp_sys::futex::wake_all(&word);
//!     })
//! };
//! block_on(async {
//!     while word.load(Ordering::Acquire) == 0 {
//!         Reactor::global().wait(&word, 0).await;
//!     }
//! });
//! setter.join().unwrap();
//! ```

mod descriptors;
mod registry;
mod waiter;
mod waker_list;
mod words;

use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use crate::per_process::Slot;

pub use waiter::{Readable, Waiter, WordWait};
pub use waker_list::{WakerList, WakerSlot};

/// How often words that the futex thread cannot sleep on are checked: those past the 127
/// a `futex_waitv` call takes, and every word where `futex_waitv` is missing.
///
/// ```
/// assert_eq!(mp_sys::reactor::POLL_INTERVAL, std::time::Duration::from_millis(2));
/// ```
pub const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// Wakes async waits on futex words and on descriptors: one thread sleeps on every
/// awaited word with `futex_waitv`, one on every awaited descriptor with `epoll`, each
/// started at the first wait that needs it. See the [module docs](self).
///
/// Most code uses the process-wide [`Reactor::global`], through the `_async` methods of
/// the mp crates. A reactor of its own (from [`new`](Reactor::new) or
/// [`polling`](Reactor::polling)) keeps its waiters apart, and its threads end when it
/// is dropped.
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use std::future::Future;
/// use mp_sys::reactor::Reactor;
///
/// let reactor = Reactor::new();
/// let word = AtomicU32::new(7);
/// // Already changed from 6: ready at once, nothing registered.
/// let waker = std::task::Waker::noop();
/// let mut cx = std::task::Context::from_waker(&waker);
/// let mut wait = std::pin::pin!(reactor.wait(&word, 6));
/// assert!(wait.as_mut().poll(&mut cx).is_ready());
/// assert_eq!(reactor.registered(), 0);
/// ```
pub struct Reactor {
    /// Asked for at construction: poll the words instead of sleeping on them.
    polling: bool,
    /// What belongs to the calling process: made at its first wait, made afresh in a
    /// forked child (see the [module docs](self)).
    here: Slot<InProcess>,
}

/// A reactor's tables and threads in one process.
struct InProcess {
    words: words::Words,
    descriptors: descriptors::Descriptors,
}

impl Reactor {
    /// A reactor that sleeps on its words with `futex_waitv` (polling them if this kernel
    /// lacks it). Its threads start at the first wait that needs them and are joined on
    /// drop.
    ///
    /// ```
    /// let reactor = mp_sys::reactor::Reactor::new();
    /// assert!(!reactor.is_polling());
    /// assert_eq!(reactor.registered(), 0);
    /// ```
    pub fn new() -> Self {
        Self::with_mode(false)
    }

    /// A reactor that never sleeps on the words: it wakes every word's waiter each
    /// [`POLL_INTERVAL`] to check its own word. What [`new`](Reactor::new) falls back
    /// to without `futex_waitv`; useful to compare, or to test that fallback. Descriptors
    /// are waited on with epoll as ever.
    ///
    /// ```
    /// let reactor = mp_sys::reactor::Reactor::polling();
    /// assert!(reactor.is_polling());
    /// ```
    pub fn polling() -> Self {
        Self::with_mode(true)
    }

    const fn with_mode(polling: bool) -> Self {
        Self {
            polling,
            here: Slot::new(),
        }
    }

    /// This process's tables and threads, made at its first wait.
    fn here(&self) -> &InProcess {
        self.here.get_or(|| InProcess {
            words: words::Words::new(self.polling),
            descriptors: descriptors::Descriptors::new(),
        })
    }

    /// Whether `state` is this process's (not inherited from a parent).
    fn is_here(&self, state: &InProcess) -> bool {
        self.here
            .current()
            .is_some_and(|here| std::ptr::eq(here, state))
    }

    /// The process-wide reactor, which the `_async` methods of the mp crates use.
    ///
    /// ```
    /// use mp_sys::reactor::Reactor;
    ///
    /// assert!(std::ptr::eq(Reactor::global(), Reactor::global()));
    /// ```
    pub fn global() -> &'static Reactor {
        static GLOBAL: Reactor = Reactor::with_mode(false);
        &GLOBAL
    }

    /// A future that completes once `word` is woken or no longer holds `expected`
    /// (possibly spuriously: check the condition again, as after a futex wait).
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use mp_sys::reactor::Reactor;
    ///
    /// let word = AtomicU32::new(1);
    /// let wait = Reactor::global().wait(&word, 0); // completes at once when awaited
    /// # drop(wait);
    /// ```
    pub fn wait<'a>(&'a self, word: &'a AtomicU32, expected: u32) -> WordWait<'a> {
        WordWait::new(self, word, expected)
    }

    /// A future that completes once `fd` is readable (data, end of stream, an exited
    /// pidfd), or with the error of a refused registration.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use mp_sys::reactor::Reactor;
    ///
    /// let (reader, writer) = std::io::pipe()?;
    /// drop(writer); // end of stream: readable
    /// let waker = std::task::Waker::noop();
    /// let mut cx = std::task::Context::from_waker(&waker);
    /// let mut wait = std::pin::pin!(Reactor::global().readable(reader.as_fd()));
    /// assert!(std::future::Future::poll(wait.as_mut(), &mut cx).is_ready());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn readable<'a>(&'a self, fd: BorrowedFd<'a>) -> Readable<'a> {
        Readable::new(self, fd)
    }

    /// How many waiters are registered right now, on words and descriptors: waiting, or
    /// woken and not yet polled. Zero once every wait completed or was dropped.
    ///
    /// ```
    /// assert_eq!(mp_sys::reactor::Reactor::new().registered(), 0);
    /// ```
    pub fn registered(&self) -> usize {
        self.here.current().map_or(0, |here| {
            here.words.registry().len() + here.descriptors.registered()
        })
    }

    /// Whether this reactor polls its words instead of sleeping on them (asked for with
    /// [`polling`](Reactor::polling), or `futex_waitv` turned out to be missing).
    ///
    /// ```
    /// assert!(!mp_sys::reactor::Reactor::new().is_polling());
    /// ```
    pub fn is_polling(&self) -> bool {
        self.here
            .current()
            .map_or(self.polling, |here| here.words.is_polling())
    }

    /// Runs `f` while the calling thread holds every lock of this reactor's tables in
    /// this process: for tests that fork while another thread is inside the reactor.
    /// Nothing in the reactor may be used from `f` on this thread (it would deadlock).
    ///
    /// ```
    /// let reactor = mp_sys::reactor::Reactor::new();
    /// assert_eq!(reactor.with_tables_held(|| 7), 7);
    /// ```
    #[doc(hidden)]
    pub fn with_tables_held<R>(&self, f: impl FnOnce() -> R) -> R {
        let here = self.here();
        here.words.hold(|| here.descriptors.hold(f))
    }
}

impl Default for Reactor {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor")
            .field("registered", &self.registered())
            .field("polling", &self.is_polling())
            .finish()
    }
}
