//! Sleeping on a 32-bit word and waking its sleepers: the only place where mp crates ask
//! the kernel to sleep on memory.
//!
//! Every wait and wake here is *shared*: without `FUTEX_PRIVATE_FLAG` (`FUTEX2_PRIVATE`
//! for [`waitv`]), the kernel keys the sleepers on the page behind the word, so a word
//! inside a `MAP_SHARED` mapping wakes sleepers in every process that maps it. A waiter and
//! its waker must agree on this flag or the wake misses, so no crate issues its own futex
//! calls.
//!
//! Under `--cfg loom`, [`AtomicU32`] and [`Ordering`] are loom's, and [`wait`], [`wake`]
//! and [`requeue`] are emulated with loom's `Mutex` and `Condvar` (check-and-enqueue atomic
//! with respect to `wake`, as the kernel's hash-bucket lock makes it), so loom models check
//! the real algorithms built on them, lost wake-ups included. A wait with a deadline never
//! sleeps under loom: it reports a timeout at once, which makes the models walk every
//! timeout path. [`waitv`] has no loom stand-in.

#[cfg(not(loom))]
mod kernel;
#[cfg(loom)]
mod loom_model;
#[cfg(not(loom))]
pub mod waitv;

#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU32, Ordering};

#[cfg(not(loom))]
use kernel as imp;
#[cfg(loom)]
use loom_model as imp;

use crate::Deadline;

/// Sleeps while `*word == expected`, until woken or until `deadline`.
///
/// Returns `false` only when the deadline passed (at once if it had already);
/// `true` means "woken, or the value changed, or interrupted": callers re-check their
/// condition in every case.
///
/// ```
/// use std::time::Duration;
/// use mp_sys::Deadline;
/// use mp_sys::futex::{self, AtomicU32};
///
/// let word = AtomicU32::new(1);
/// // The word no longer holds 0: no sleep at all.
/// assert!(futex::wait(&word, 0, Deadline::NEVER));
/// // It holds 1 and nobody wakes it: the deadline ends the sleep.
/// assert!(!futex::wait(&word, 1, Deadline::after(Duration::from_millis(1))));
/// ```
#[inline]
pub fn wait(word: &AtomicU32, expected: u32, deadline: impl Into<Deadline>) -> bool {
    imp::wait(word, expected, deadline.into())
}

/// Wakes at most `count` sleepers of `word`; returns how many were woken.
///
/// ```
/// use mp_sys::futex::{self, AtomicU32};
///
/// let word = AtomicU32::new(0);
/// assert_eq!(futex::wake(&word, 1), 0); // nobody sleeps on it
/// ```
#[inline]
pub fn wake(word: &AtomicU32, count: u32) -> usize {
    imp::wake(word, count)
}

/// Wakes every sleeper of `word`; returns how many were woken.
///
/// ```
/// use mp_sys::futex::{self, AtomicU32};
///
/// assert_eq!(futex::wake_all(&AtomicU32::new(0)), 0);
/// ```
#[inline]
pub fn wake_all(word: &AtomicU32) -> usize {
    imp::wake(word, u32::MAX)
}

/// Wakes at most `wake` sleepers of `from` and moves at most `requeue` of the others to
/// sleep on `to` instead (`FUTEX_CMP_REQUEUE`), if `from` still holds `expected`.
///
/// Returns how many were woken or moved, or `None` if `from` no longer held `expected`
/// (nothing was done: re-check and retry). A condition variable uses it to wake one
/// waiter and move the rest onto the lock word, instead of waking them all to fight for
/// the lock.
///
/// ```
/// use mp_sys::futex::{self, AtomicU32};
///
/// let sequence = AtomicU32::new(7);
/// let lock = AtomicU32::new(0);
/// assert_eq!(futex::requeue(&sequence, 7, 1, &lock, u32::MAX), Some(0));
/// assert_eq!(futex::requeue(&sequence, 8, 1, &lock, u32::MAX), None);
/// ```
#[inline]
pub fn requeue(
    from: &AtomicU32,
    expected: u32,
    wake: u32,
    to: &AtomicU32,
    requeue: u32,
) -> Option<usize> {
    imp::requeue(from, expected, wake, to, requeue)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_sleeper_is_woken() {
        let word = Arc::new(AtomicU32::new(0));
        let sleeper = {
            let word = Arc::clone(&word);
            std::thread::spawn(move || {
                while word.load(Ordering::Acquire) == 0 {
                    wait(&word, 0, Deadline::after(Duration::from_secs(10)));
                }
            })
        };
        word.store(1, Ordering::Release);
        wake_all(&word);
        sleeper.join().unwrap();
    }

    #[test]
    fn a_passed_deadline_does_not_sleep() {
        let word = AtomicU32::new(3);
        assert!(!wait(&word, 3, Deadline::after(Duration::ZERO)));
    }

    #[test]
    fn requeue_moves_sleepers_to_the_other_word() {
        let from = Arc::new(AtomicU32::new(0));
        let to = Arc::new(AtomicU32::new(0));
        let done = Arc::new(AtomicU32::new(0));
        let sleepers: Vec<_> = (0..2)
            .map(|_| {
                let (from, done) = (Arc::clone(&from), Arc::clone(&done));
                std::thread::spawn(move || {
                    while done.load(Ordering::Acquire) == 0 {
                        wait(&from, 0, Deadline::after(Duration::from_millis(50)));
                    }
                })
            })
            .collect();
        done.store(1, Ordering::Release);
        // Whatever was asleep on `from` is woken or moved; moved sleepers are then woken
        // through `to`, and the slices bound the rest.
        assert!(requeue(&from, 0, 1, &to, u32::MAX).is_some());
        wake_all(&to);
        wake_all(&from);
        for sleeper in sleepers {
            sleeper.join().unwrap();
        }
    }
}
