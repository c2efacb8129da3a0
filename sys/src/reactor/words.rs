//! The futex side of the reactor: one thread sleeps on every awaited word with
//! `futex_waitv` and fires the waiters of the word that was woken.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::thread::JoinHandle;
use std::time::Instant;

use super::POLL_INTERVAL;
use super::registry::Registry;
use crate::futex;
use crate::futex::waitv::{MAX_WORDS, Waited, WaitvWord, futex_waitv};

/// The word table of one reactor in one process, and the thread that sleeps on its
/// words.
pub(super) struct Words {
    core: Arc<Core>,
    /// The thread, once started.
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Whether the thread runs: the check every wait makes without the lock.
    started: AtomicBool,
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
}

impl Words {
    pub(super) fn new(polling: bool) -> Self {
        Self {
            core: Arc::new(Core {
                registry: Mutex::new(Registry::default()),
                doorbell: AtomicU32::new(0),
                closing: AtomicBool::new(false),
                polling: AtomicBool::new(polling),
            }),
            thread: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    pub(super) fn is_polling(&self) -> bool {
        self.core.polling.load(Ordering::Relaxed)
    }

    pub(super) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.core.registry()
    }

    /// Makes sure the thread runs, before a waiter registers: starts it at the first
    /// wait. `false` if it could not be started.
    pub(super) fn prepare(&self) -> bool {
        self.started.load(Ordering::Acquire) || self.start_thread()
    }

    /// Runs `f` with this table's locks held (see `Reactor::with_tables_held`).
    pub(super) fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
        let _thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        let _registry = self.registry();
        f()
    }

    /// Rings the thread's doorbell, so that it reads the registry again (a new word).
    pub(super) fn ring(&self) {
        self.core.ring();
    }

    fn start_thread(&self) -> bool {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.is_some() {
            return true;
        }
        let core = Arc::clone(&self.core);
        match std::thread::Builder::new()
            .name("mp-futex-reactor".into())
            .spawn(move || core.run())
        {
            Ok(handle) => {
                tracing::debug!(polling = self.is_polling(), "reactor futex thread started");
                *thread = Some(handle);
                self.started.store(true, Ordering::Release);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "reactor: cannot start the futex thread; waiters poll");
                false
            }
        }
    }
}

impl Drop for Words {
    fn drop(&mut self) {
        // Only the process that made this table drops it (a forked child leaves its copy
        // alone), so the thread, if any, is here to be joined.
        self.core.closing.store(true, Ordering::Release);
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = thread {
            self.core.ring();
            if handle.join().is_err() {
                tracing::warn!("reactor futex thread panicked");
            }
            tracing::debug!("reactor futex thread stopped");
        }
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
        futex::wake(&self.doorbell, 1);
    }

    /// Fires the waiters `which` picks, and wakes them once the registry lock is released.
    fn fire(&self, which: impl FnOnce(&mut Registry) -> Vec<Waker>) {
        let wakers = which(&mut self.registry());
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The thread.
    fn run(&self) {
        // When words that are not slept on must next be checked.
        let mut next_poll: Option<Instant> = None;
        while !self.closing.load(Ordering::Acquire) {
            let bell = self.doorbell.load(Ordering::Acquire);
            if self.polling.load(Ordering::Relaxed) {
                let due = *next_poll.get_or_insert_with(|| Instant::now() + POLL_INTERVAL);
                if !futex::wait(&self.doorbell, bell, due) {
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
                    let listed: rustc_hash::FxHashSet<_> = words.into_iter().collect();
                    self.fire(|registry| registry.fire_unlisted(&listed));
                }
                Waited::Unsupported => {
                    tracing::debug!("reactor: no futex_waitv on this kernel; polling");
                    self.polling.store(true, Ordering::Relaxed);
                }
                Waited::Failed(errno) => {
                    // EFAULT: a word's memory is gone (its future was forgotten, not dropped).
                    // Every waiter checks; the stale entry is fired and no longer listed.
                    tracing::debug!(errno, "reactor: futex_waitv failed; waking all");
                    self.fire(Registry::fire_all);
                }
            }
        }
        // Futures forgotten while registered: wake them, nothing will any more.
        self.fire(Registry::fire_all);
    }
}
