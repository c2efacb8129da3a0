//! Sleeping on a word of the control block, and waking its sleepers, with `FUTEX_WAIT` and
//! `FUTEX_WAKE` *without* `FUTEX_PRIVATE_FLAG`: the word lives in a `MAP_SHARED` mapping
//! and its sleepers may be in any process that maps it.

use std::sync::atomic::AtomicU32;
use std::time::Instant;

/// Sleeps while `*word == expected`, until woken or until `deadline`. Returns at once if
/// the deadline has passed. Callers re-check their condition whatever happened (a wake-up,
/// a change of the word, a signal, the deadline).
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Instant) {
    let now = Instant::now();
    if now >= deadline {
        return;
    }
    let left = deadline - now;
    let timeout = libc::timespec {
        tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
    };
    // SAFETY: `word.as_ptr()` is a live, aligned `u32` for the whole call (we borrow it),
    // which FUTEX_WAIT only reads; `timeout` lives on this stack frame until the call
    // returns. The result needs no handling: every outcome sends the caller back to its
    // check.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &timeout as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every sleeper of `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE uses the word's address only as the key of a wait queue and does
    // not access its memory; the pointer is valid anyway, as we borrow the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}
