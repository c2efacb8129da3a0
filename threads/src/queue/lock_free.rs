//! The lock-free engine behind [`Queue`](crate::Queue): a crossbeam ring or
//! segment list holds the items, atomics hold the rest of Python's state, and
//! threads that must wait sleep in [`Sleepers`].
//!
//! The cost that matters is the number of atomic read-modify-writes (each one
//! drains the CPU's store buffer) and of cache lines that move between cores.
//! In the common case:
//!
//! * `put` makes one read-modify-write of its own: the unfinished-task count,
//!   which shares its word with the shutdown flags, so the same instruction
//!   counts the task and tells whether the queue is still open. The rest is
//!   two plain stores to a line only this thread writes (its in-flight mark),
//!   the ring's push, and one load to see whether a getter sleeps.
//! * `get` is the ring's pop and a load of a line written only by `shutdown`.
//!
//! **Shutdown without a lock.** A put marks itself in flight (a plain store
//! to its thread's own slot), then is accepted by its add to the task word
//! finding the flags clear, pushes, and clears its mark. `shutdown` sets the
//! flags with a read-modify-write of the same word, so it reads after every
//! accepted put's add and (both being sequentially consistent
//! read-modify-writes) synchronizes with them: every mark set before an
//! accepted add is visible to it, and so to anyone who later reads the
//! flags from that word. A getter that finds the ring empty after a shutdown
//! waits for the marks to clear before it answers `ShutDown`, so no accepted
//! item is stranded; an immediate shutdown waits for them too before it
//! discards the ring's contents. Marks are per thread and per queue (a put
//! never runs code that could put to the same queue while it is in flight).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_utils::CachePadded;
use thread_local::ThreadLocal;

use crate::error::{Error, PutError};
use crate::queue::api::{QueueCore, Wait};
use crate::queue::ring::Ring;
use crate::queue::sleepers::Sleepers;
use mp_sys::{Backoff, BackoffPolicy};

/// In the task word: `shutdown` was called; puts fail, gets drain the ring
/// then fail.
const SHUT_DOWN: u64 = 1 << 63;
/// In the task word: `shutdown(true)` was called; gets fail at once.
const IMMEDIATE: u64 = 1 << 62;
/// In the task word: Python's `unfinished_tasks`, items put and not yet marked
/// done (2^62 of them would take a century at a billion puts a second).
const UNFINISHED: u64 = IMMEDIATE - 1;

/// The flags as the mirror holds them.
const MIRROR_SHUT_DOWN: u8 = 1;
const MIRROR_IMMEDIATE: u8 = 2;

pub(crate) struct LockFreeCore<T> {
    ring: Ring<T>,
    /// The unfinished-task count and the shutdown flags, changed only by
    /// read-modify-writes: `put`, `task_done`, `shutdown`.
    tasks: CachePadded<AtomicU64>,
    /// A copy of the flags, written once or twice in the queue's life, for the
    /// getters' cheap checks: `tasks` is written by every put, this is not.
    /// Set after `tasks`; a getter that sees it set reads `tasks` before
    /// relying on the marks.
    mirror: CachePadded<AtomicU8>,
    /// Each putting thread's in-flight mark.
    putting: ThreadLocal<CachePadded<AtomicBool>>,
    /// Getters waiting for an item (or a shutdown).
    not_empty: CachePadded<Sleepers>,
    /// Putters waiting for room (or a shutdown).
    not_full: CachePadded<Sleepers>,
    /// `join` callers waiting for the unfinished count to reach zero.
    all_done: CachePadded<Sleepers>,
    maxsize: usize,
}

impl<T> LockFreeCore<T> {
    /// `maxsize` 0 is unbounded; otherwise a ring of `maxsize` slots is
    /// allocated up front.
    pub(crate) fn new(maxsize: usize) -> Self {
        LockFreeCore {
            ring: Ring::new(maxsize),
            tasks: CachePadded::new(AtomicU64::new(0)),
            mirror: CachePadded::new(AtomicU8::new(0)),
            putting: ThreadLocal::new(),
            not_empty: CachePadded::new(Sleepers::new()),
            not_full: CachePadded::new(Sleepers::new()),
            all_done: CachePadded::new(Sleepers::new()),
            maxsize,
        }
    }

    /// The flags, from the mirror (cheap, and what sleepers check).
    fn mirrored(&self) -> u8 {
        self.mirror.load(Ordering::SeqCst)
    }

    /// Counts `done` tasks as finished, waking `join` when none is left.
    ///
    /// Callers finish tasks they counted themselves (a put that failed, items
    /// discarded), but a put counts its task before it knows it will fail, and
    /// a `task_done` called once too often can take that passing unit in
    /// between. So this never takes the count below zero (that would borrow
    /// from the flags): in that race the extra `task_done` goes unreported,
    /// and the count stays right.
    fn finish_tasks(&self, done: u64) {
        if done == 0 {
            return;
        }
        let finished = self
            .tasks
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |word| {
                let unfinished = word & UNFINISHED;
                (unfinished != 0).then(|| word - unfinished.min(done))
            });
        if finished.is_ok_and(|before| before & UNFINISHED <= done) {
            self.all_done.notify_all();
        }
    }

    /// Waits until no put is in flight. Only called once the flags are set
    /// and read from `tasks`, so no put can be accepted any more and every
    /// accepted one's mark is visible; those left are landing or failing.
    fn wait_for_puts_in_flight(&self) {
        let mut backoff = Backoff::new(BackoffPolicy::THREAD_HANDOFF);
        for mark in self.putting.iter() {
            while mark.load(Ordering::Acquire) {
                if !backoff.snooze() {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Pushes `item`, waiting for room as `wait` allows.
    fn push(&self, mut item: T, wait: Wait) -> Result<(), PutError<T>> {
        let mut backoff = Backoff::new(BackoffPolicy::THREAD_HANDOFF);
        loop {
            match self.ring.push(item) {
                Ok(()) => return Ok(()),
                Err(back) => item = back,
            }
            // Full. Python checks for a shutdown each time it would wait.
            if self.mirrored() != 0 {
                return Err(PutError::ShutDown(item));
            }
            let deadline = match wait {
                Wait::Never => return Err(PutError::Full(item)),
                Wait::Until(deadline) if Instant::now() >= deadline => {
                    return Err(PutError::Full(item));
                }
                Wait::Until(deadline) => Some(deadline),
                Wait::Forever => None,
            };
            // A getter usually makes room within microseconds: spin first.
            if backoff.snooze() {
                continue;
            }
            self.not_full
                .sleep_unless(|| !self.ring.is_full() || self.mirrored() != 0, deadline);
            // Woken: others may take the room first, so spin again before
            // sleeping again.
            backoff = Backoff::new(BackoffPolicy::THREAD_HANDOFF);
        }
    }

    /// What every successful pop goes through: room for a putter, and the
    /// item discarded instead if an immediate shutdown has begun (it would
    /// have been discarded a moment later).
    fn taken(&self, item: T) -> Result<T, Error> {
        if self.ring.is_bounded() {
            self.not_full.notify_one();
        }
        if self.mirror.load(Ordering::Relaxed) & MIRROR_IMMEDIATE != 0 {
            self.finish_tasks(1);
            drop(item);
            return Err(Error::ShutDown);
        }
        Ok(item)
    }

    /// A getter's answer on an empty ring once the mirror shows a shutdown.
    fn get_after_shutdown(&self) -> Result<T, Error> {
        // Reading the flags from `tasks` makes the marks of every accepted
        // put visible (see the module docs).
        let flags = self.tasks.load(Ordering::SeqCst);
        if flags & IMMEDIATE != 0 {
            return Err(Error::ShutDown);
        }
        self.wait_for_puts_in_flight();
        // Every accepted put has landed: one last look.
        match self.ring.pop() {
            Some(item) => self.taken(item),
            None => Err(Error::ShutDown),
        }
    }
}

impl<T> QueueCore<T> for LockFreeCore<T> {
    fn put(&self, item: T, wait: Wait) -> Result<(), PutError<T>> {
        let mark = self
            .putting
            .get_or(|| CachePadded::new(AtomicBool::new(false)));
        // In flight before being accepted: `shutdown` sees the mark of every
        // put its flags did not stop.
        mark.store(true, Ordering::Relaxed);
        // Accepted, and counted before the item can be taken, so that the
        // taker's `task_done` always finds it.
        let before = self.tasks.fetch_add(1, Ordering::SeqCst);
        if before & SHUT_DOWN != 0 {
            mark.store(false, Ordering::Release);
            self.finish_tasks(1);
            return Err(PutError::ShutDown(item));
        }
        let pushed = self.push(item, wait);
        mark.store(false, Ordering::Release);
        match pushed {
            Ok(()) => {
                self.not_empty.notify_one();
                Ok(())
            }
            Err(refused) => {
                self.finish_tasks(1);
                Err(refused)
            }
        }
    }

    fn get(&self, wait: Wait) -> Result<T, Error> {
        let mut backoff = Backoff::new(BackoffPolicy::THREAD_HANDOFF);
        loop {
            if let Some(item) = self.ring.pop() {
                return self.taken(item);
            }
            if self.mirrored() != 0 {
                return self.get_after_shutdown();
            }
            let deadline = match wait {
                Wait::Never => return Err(Error::Empty),
                Wait::Until(deadline) if Instant::now() >= deadline => {
                    return Err(Error::Empty);
                }
                Wait::Until(deadline) => Some(deadline),
                Wait::Forever => None,
            };
            // A putter usually comes within microseconds: spin first.
            if backoff.snooze() {
                continue;
            }
            self.not_empty
                .sleep_unless(|| !self.ring.is_empty() || self.mirrored() != 0, deadline);
            // Woken: others may take the item first, so spin again before
            // sleeping again.
            backoff = Backoff::new(BackoffPolicy::THREAD_HANDOFF);
        }
    }

    fn qsize(&self) -> usize {
        self.ring.len()
    }

    fn maxsize(&self) -> usize {
        self.maxsize
    }

    fn task_done(&self) -> Result<(), Error> {
        let before = self
            .tasks
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |word| {
                (word & UNFINISHED != 0).then(|| word - 1)
            })
            .map_err(|_| Error::TaskDoneTooManyTimes)?;
        if before & UNFINISHED == 1 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    fn join(&self, deadline: Option<Instant>) -> bool {
        let all_done = || self.tasks.load(Ordering::SeqCst) & UNFINISHED == 0;
        loop {
            if all_done() {
                return true;
            }
            if !self.all_done.sleep_unless(all_done, deadline) {
                return all_done();
            }
        }
    }

    fn shutdown(&self, immediate: bool) {
        let (flags, mirrored) = if immediate {
            (SHUT_DOWN | IMMEDIATE, MIRROR_SHUT_DOWN | MIRROR_IMMEDIATE)
        } else {
            (SHUT_DOWN, MIRROR_SHUT_DOWN)
        };
        let before = self.tasks.fetch_or(flags, Ordering::SeqCst);
        self.mirror.fetch_or(mirrored, Ordering::SeqCst);
        if before & flags != flags {
            tracing::debug!(immediate, "queue shut down");
        }
        // Sleeping putters and getters wake up to see the flags.
        self.not_full.notify_all();
        self.not_empty.notify_all();
        if !immediate {
            return;
        }
        // A put accepted before the flags were set may still be pushing: its
        // item is discarded with the rest, so wait for it to land.
        self.wait_for_puts_in_flight();
        let discarded: Vec<T> = std::iter::from_fn(|| self.ring.pop()).collect();
        self.finish_tasks(discarded.len() as u64);
        // Dropped last, in case an item's Drop uses the queue.
        drop(discarded);
    }

    fn is_shutdown(&self) -> bool {
        self.tasks.load(Ordering::SeqCst) & SHUT_DOWN != 0
    }
}
