//! The futex reactor: async waits on futex words, without a thread parked per waiter.
//!
//! Every primitive of this crate sleeps on a futex word, which may live in memory shared
//! with other processes and be woken by them. An async waiter cannot hand its `Waker` to
//! a setter in another process, so something in *this* process must sleep on the word and
//! wake the waiter. Parking one thread per waiting future would cost a thread per await;
//! instead one background thread per reactor sleeps on every awaited word at once with
//! `futex_waitv` (Linux 5.16+), learns which word was woken, and wakes that word's futures.
//!
//! - A word awaited by many futures (500 tasks awaiting one `Event`) is one entry of the
//!   thread's list; the thread is only disturbed when a new word comes.
//! - The thread is started at the first wait (named `mp-futex-reactor`). The
//!   [`global`](FutexReactor::global) reactor's thread then lives as long as the process; a
//!   reactor made with [`new`](FutexReactor::new) stops and joins its thread when dropped.
//!   After a `fork`, the child's first wait starts a thread of its own, and the waits
//!   registered in the parent are dropped in the child (their tasks are not there). As
//!   with any lock, a fork while another thread of the parent holds the reactor's table
//!   leaves it held in the child: a child forked from a multi-threaded async program should
//!   start a reactor of its own ([`FutexReactor::new`]) rather than use the global one.
//! - One `futex_waitv` call takes 128 words, one of which is the reactor's doorbell: past
//!   127 distinct words, the others are polled (their futures woken to check their word)
//!   every [`POLL_INTERVAL`].
//! - Where `futex_waitv` is missing (`ENOSYS`: a kernel before 5.16, or a sandbox that
//!   filters it), the reactor switches to that polling for every word, and says so in a
//!   debug event. [`FutexReactor::polling`] asks for that mode from the start.
//!
//! Any futex-based wait can be made async on it. The protocol the word must follow is the
//! futex one, which every primitive here keeps: whoever changes the condition changes the
//! word's value, then issues `FUTEX_WAKE` on it (a shared wake, without
//! `FUTEX_PRIVATE_FLAG`, if other processes may wait). A waiter [`poll`](FutexWaiter::poll_wait)s
//! with the value it saw; it is woken when the word is woken or no longer holds that value,
//! and sometimes spuriously, so it re-checks its condition every time, as a futex waiter does.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use mp_sync::futex_reactor::FutexReactor;
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
//!         mp_sync::futex_reactor::wake_all(&word);
//!     })
//! };
//! block_on(async {
//!     while word.load(Ordering::Acquire) == 0 {
//!         FutexReactor::global().wait(&word, 0).await;
//!     }
//! });
//! setter.join().unwrap();
//! ```

mod registry;
mod waiter;

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mp_sys::futex::waitv::{MAX_WORDS, Waited, WaitvWord, futex_waitv};
use registry::Registry;

pub use waiter::{FutexWaiter, WordWait};

/// How often words that the reactor thread cannot sleep on are checked: those past the 127
/// a `futex_waitv` call takes, and every word where `futex_waitv` is missing.
///
/// ```
/// assert_eq!(mp_sync::futex_reactor::POLL_INTERVAL, std::time::Duration::from_millis(2));
/// ```
pub const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// Wakes every waiter of `word`, in this process and others, sync or async: `FUTEX_WAKE`
/// without the private flag. Returns how many sleeping threads the kernel woke (a reactor
/// thread counts once for all its futures).
///
/// Change the word's value first: a reactor thread that was not asleep at the moment of
/// the wake sees the change instead.
///
/// ```
/// use std::sync::atomic::AtomicU32;
///
/// let word = AtomicU32::new(0);
/// assert_eq!(mp_sync::futex_reactor::wake_all(&word), 0); // nobody sleeps on it
/// ```
pub fn wake_all(word: &AtomicU32) -> usize {
    mp_sys::futex::wake(word, u32::MAX)
}

/// Waits on futex words for async code: one background thread sleeps on every awaited
/// word with `futex_waitv` and wakes the futures whose word was woken.
///
/// Most code uses the process-wide [`FutexReactor::global`], through the async waits of
/// the primitives (such as `Event::wait_async`). A reactor of its own (from
/// [`new`](FutexReactor::new) or [`polling`](FutexReactor::polling)) keeps its waiters
/// apart, and its thread ends when it is dropped. See the [module docs](self).
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use mp_sync::futex_reactor::FutexReactor;
///
/// let reactor = FutexReactor::new();
/// let word = AtomicU32::new(7);
/// // Already changed from 6: ready at once, nothing registered.
/// # let waker = std::task::Waker::noop();
/// # let mut cx = std::task::Context::from_waker(&waker);
/// let mut wait = std::pin::pin!(reactor.wait(&word, 6));
/// assert!(wait.as_mut().poll(&mut cx).is_ready());
/// assert_eq!(reactor.registered(), 0);
/// # use std::future::Future;
/// ```
pub struct FutexReactor {
    core: Arc<Core>,
    /// The running thread and the process that started it (a forked child has none).
    thread: Mutex<Option<ReactorThread>>,
}

struct ReactorThread {
    pid: u32,
    handle: JoinHandle<()>,
}

/// What the reactor and its thread share.
struct Core {
    registry: Mutex<Registry>,
    /// The doorbell: bumped and woken to make the thread read the registry again (a new
    /// word to sleep on, or the reactor closing).
    doorbell: AtomicU32,
    closing: AtomicBool,
    /// Poll every word instead of sleeping on it: asked for, or `futex_waitv` is missing.
    polling: AtomicBool,
    /// The process whose reactor thread is running (0: none yet); a forked child sees its
    /// parent's here, and starts its own.
    thread_pid: AtomicU32,
}

impl FutexReactor {
    /// A reactor that sleeps on its words with `futex_waitv` (polling them if this kernel
    /// lacks it). Its thread starts at the first wait that needs it and is joined on drop.
    ///
    /// ```
    /// let reactor = mp_sync::futex_reactor::FutexReactor::new();
    /// assert!(!reactor.is_polling());
    /// assert_eq!(reactor.registered(), 0);
    /// ```
    pub fn new() -> Self {
        Self::with_mode(false)
    }

    /// A reactor that never sleeps on the words: it wakes every waiter each
    /// [`POLL_INTERVAL`] to check its own word. What [`new`](FutexReactor::new) falls back
    /// to without `futex_waitv`; useful to compare, or to test that fallback.
    ///
    /// ```
    /// let reactor = mp_sync::futex_reactor::FutexReactor::polling();
    /// assert!(reactor.is_polling());
    /// ```
    pub fn polling() -> Self {
        Self::with_mode(true)
    }

    fn with_mode(polling: bool) -> Self {
        Self {
            core: Arc::new(Core {
                registry: Mutex::new(Registry::default()),
                doorbell: AtomicU32::new(0),
                closing: AtomicBool::new(false),
                polling: AtomicBool::new(polling),
                thread_pid: AtomicU32::new(0),
            }),
            thread: Mutex::new(None),
        }
    }

    /// The process-wide reactor, which the async waits of this crate use.
    ///
    /// ```
    /// use mp_sync::futex_reactor::FutexReactor;
    ///
    /// assert!(std::ptr::eq(FutexReactor::global(), FutexReactor::global()));
    /// ```
    pub fn global() -> &'static FutexReactor {
        static GLOBAL: OnceLock<FutexReactor> = OnceLock::new();
        GLOBAL.get_or_init(FutexReactor::new)
    }

    /// A future that completes once `word` is woken or no longer holds `expected`
    /// (possibly spuriously: check the condition again, as after a futex wait).
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use mp_sync::futex_reactor::FutexReactor;
    ///
    /// let word = AtomicU32::new(1);
    /// let wait = FutexReactor::global().wait(&word, 0); // completes at once when awaited
    /// # drop(wait);
    /// ```
    pub fn wait<'a>(&'a self, word: &'a AtomicU32, expected: u32) -> WordWait<'a> {
        WordWait::new(self, word, expected)
    }

    /// How many futures are registered right now: waiting, or woken and not yet polled.
    /// Zero once every wait completed or was dropped.
    ///
    /// ```
    /// assert_eq!(mp_sync::futex_reactor::FutexReactor::new().registered(), 0);
    /// ```
    pub fn registered(&self) -> usize {
        self.core.registry().len()
    }

    /// Whether this reactor polls its words instead of sleeping on them (asked for with
    /// [`polling`](FutexReactor::polling), or `futex_waitv` turned out to be missing).
    ///
    /// ```
    /// assert!(!mp_sync::futex_reactor::FutexReactor::new().is_polling());
    /// ```
    pub fn is_polling(&self) -> bool {
        self.core.polling.load(Ordering::Relaxed)
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.core.registry()
    }

    /// Makes sure this process has the reactor thread, before a waiter registers: starts
    /// it at the first wait, or, in a forked child, starts one of the child's own and drops
    /// the registrations copied from the parent (their futures and wakers belong to threads
    /// the child does not have). `false` if the thread could not be started.
    pub(crate) fn prepare(&self) -> bool {
        let pid = std::process::id();
        self.core.thread_pid.load(Ordering::Acquire) == pid || self.start_thread(pid)
    }

    /// Rings the thread's doorbell, so that it reads the registry again (a new word).
    pub(crate) fn ring(&self) {
        self.core.ring();
    }

    fn start_thread(&self, pid: u32) -> bool {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.as_ref().is_some_and(|running| running.pid == pid) {
            return true;
        }
        if thread.is_some() {
            // Forked: the parent's thread is not in this process, and neither are the
            // futures its entries belonged to.
            tracing::debug!("futex reactor: forked child starts a thread of its own");
            *self.core.registry() = Registry::default();
        }
        let core = Arc::clone(&self.core);
        match std::thread::Builder::new()
            .name("mp-futex-reactor".into())
            .spawn(move || core.run())
        {
            Ok(handle) => {
                tracing::debug!(polling = self.is_polling(), "futex reactor thread started");
                *thread = Some(ReactorThread { pid, handle });
                self.core.thread_pid.store(pid, Ordering::Release);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "futex reactor: cannot start its thread; waiters poll");
                *thread = None;
                false
            }
        }
    }
}

impl Default for FutexReactor {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FutexReactor {
    fn drop(&mut self) {
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.core.closing.store(true, Ordering::Release);
        if let Some(thread) = thread
            && thread.pid == std::process::id()
        {
            self.core.ring();
            if thread.handle.join().is_err() {
                tracing::warn!("futex reactor thread panicked");
            }
            tracing::debug!("futex reactor thread stopped");
        }
    }
}

impl fmt::Debug for FutexReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FutexReactor")
            .field("registered", &self.registered())
            .field("polling", &self.is_polling())
            .finish()
    }
}

impl Core {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        // No code that runs under this lock can panic halfway through an update; a poisoned
        // lock only means a waker's clone panicked, and the table is whole.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ring(&self) {
        self.doorbell.fetch_add(1, Ordering::Release);
        mp_sys::futex::wake(&self.doorbell, 1);
    }

    /// Fires the waiters `which` picks, and wakes them once the registry lock is released.
    fn fire(&self, which: impl FnOnce(&mut Registry) -> Vec<Waker>) {
        let wakers = which(&mut self.registry());
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The reactor thread.
    fn run(&self) {
        // When words that are not slept on must next be checked.
        let mut next_poll: Option<Instant> = None;
        while !self.closing.load(Ordering::Acquire) {
            let bell = self.doorbell.load(Ordering::Acquire);
            if self.polling.load(Ordering::Relaxed) {
                let due = *next_poll.get_or_insert_with(|| Instant::now() + POLL_INTERVAL);
                if !mp_sys::futex::wait(&self.doorbell, bell, Some(due)) {
                    next_poll = None;
                    self.fire(Registry::fire_all);
                }
                continue;
            }
            let (words, left_out) = self.registry().words(MAX_WORDS - 1);
            if !left_out {
                next_poll = None;
            }
            let mut list = Vec::with_capacity(words.len() + 1);
            list.push(WaitvWord::shared(self.doorbell.as_ptr() as usize, bell));
            list.extend(
                words
                    .iter()
                    .map(|&(address, value)| WaitvWord::shared(address, value)),
            );
            let deadline =
                left_out.then(|| *next_poll.get_or_insert_with(|| Instant::now() + POLL_INTERVAL));
            match futex_waitv(&list, deadline) {
                Waited::Woken(0) | Waited::Interrupted => {}
                Waited::Woken(index) => match list.get(index) {
                    Some(word) => self.fire(|registry| registry.fire_address(word.address())),
                    None => self.fire(Registry::fire_all),
                },
                Waited::Changed => {
                    // Either the doorbell rang (read the registry again), or some word changed
                    // before the call: the kernel does not say which, so every waiter checks.
                    if self.doorbell.load(Ordering::Acquire) == bell {
                        self.fire(Registry::fire_all);
                    }
                }
                Waited::TimedOut => {
                    next_poll = None;
                    let listed: HashSet<_> = words.into_iter().collect();
                    self.fire(|registry| registry.fire_unlisted(&listed));
                }
                Waited::Unsupported => {
                    tracing::debug!("futex reactor: no futex_waitv on this kernel; polling");
                    self.polling.store(true, Ordering::Relaxed);
                }
                Waited::Failed(errno) => {
                    // EFAULT: a word's memory is gone (its future was forgotten, not dropped).
                    // Every waiter checks; the stale entry is fired and no longer listed.
                    tracing::debug!(errno, "futex reactor: futex_waitv failed; waking all");
                    self.fire(Registry::fire_all);
                }
            }
        }
        // Futures forgotten while registered: wake them, nothing will any more.
        self.fire(Registry::fire_all);
    }
}
