//! The futex wait/wake layer: the only place where mp-sync talks to the kernel to sleep.
//!
//! Every primitive of this crate keeps its state in `AtomicU32` words and sleeps with
//! `FUTEX_WAIT` on them *without* `FUTEX_PRIVATE_FLAG`, so that a word inside a `MAP_SHARED`
//! mapping wakes sleepers in every process that maps it.
//!
//! Under `--cfg loom` the same two functions are emulated with loom's `Mutex` and `Condvar`
//! (check-and-enqueue atomic with respect to `wake`, as the kernel's hash-bucket lock makes
//! it), so the loom models check the real algorithms of the primitives, lost wake-ups
//! included. A wait with a deadline never sleeps under loom: it reports a timeout at once,
//! which makes the models walk every timeout path.

use std::time::{Duration, Instant};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, Ordering};

/// Turns a timeout into a deadline on the monotonic clock; a timeout too large to
/// represent means "no deadline".
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Whether `deadline` has passed.
#[cfg(not(loom))]
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Under loom time does not pass between steps of a model: every deadline counts as
/// already passed, matching the emulated timed wait, which times out at once.
#[cfg(loom)]
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some()
}

/// The earlier of `deadline` (if any) and `slice_end`.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn earlier(deadline: Option<Instant>, slice_end: Instant) -> Instant {
    match deadline {
        Some(d) if d < slice_end => d,
        _ => slice_end,
    }
}

#[cfg(not(loom))]
mod imp {
    use super::{AtomicU32, Instant};

    /// Sleeps while `*word == expected`, until woken or until `deadline`.
    ///
    /// Returns `false` only when the deadline passed; `true` means "woken, or the value
    /// changed, or interrupted": callers re-check their condition in every case.
    pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
        let timeout = match deadline {
            None => None,
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                let left = deadline - now;
                Some(libc::timespec {
                    tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
                    tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
                })
            }
        };
        let timeout_ptr = timeout
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `word.as_ptr()` points to a live, aligned u32 for the whole call (we hold a
        // reference to it); FUTEX_WAIT only reads it. `timeout_ptr` is null or points to a
        // timespec that lives until the call returns. Without FUTEX_PRIVATE_FLAG the kernel
        // keys the futex on the backing page, which is what makes it work across processes.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                timeout_ptr,
                std::ptr::null::<u32>(),
                0u32,
            )
        };
        !(rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT))
    }

    /// Wakes at most `count` sleepers of `word`; returns how many were woken.
    pub(crate) fn wake(word: &AtomicU32, count: u32) -> usize {
        let count = i32::try_from(count).unwrap_or(i32::MAX);
        // SAFETY: as in `wait`; FUTEX_WAKE does not touch the word's memory at all, it only
        // uses its address as the key of the wait queue.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE,
                count,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            )
        };
        usize::try_from(rc).unwrap_or(0)
    }
}

#[cfg(loom)]
mod imp {
    use super::{AtomicU32, Instant, Ordering};
    use loom::sync::{Condvar, Mutex};

    struct Sleepers {
        /// (address of the word, ticket), in the order they went to sleep.
        queue: Vec<(usize, u64)>,
        next_ticket: u64,
    }

    loom::lazy_static! {
        static ref SLEEPERS: Mutex<Sleepers> = Mutex::new(Sleepers { queue: Vec::new(), next_ticket: 0 });
        static ref WOKEN: Condvar = Condvar::new();
    }

    pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
        let address = word as *const AtomicU32 as usize;
        let mut sleepers = SLEEPERS.lock().expect("loom futex table");
        if word.load(Ordering::SeqCst) != expected {
            return true;
        }
        if deadline.is_some() {
            return false;
        }
        let ticket = sleepers.next_ticket;
        sleepers.next_ticket += 1;
        sleepers.queue.push((address, ticket));
        while sleepers.queue.iter().any(|&(_, t)| t == ticket) {
            sleepers = WOKEN.wait(sleepers).expect("loom futex table");
        }
        true
    }

    pub(crate) fn wake(word: &AtomicU32, count: u32) -> usize {
        let address = word as *const AtomicU32 as usize;
        let mut sleepers = SLEEPERS.lock().expect("loom futex table");
        let mut woken = 0usize;
        sleepers.queue.retain(|&(a, _)| {
            if a == address && woken < count as usize {
                woken += 1;
                false
            } else {
                true
            }
        });
        WOKEN.notify_all();
        woken
    }
}

pub(crate) use imp::{wait, wake};
