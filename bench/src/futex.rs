//! Bare shared futex calls: the baseline that mp-sync's primitives are held to.
//!
//! No `FUTEX_PRIVATE_FLAG`, so the words may live in memory shared between
//! processes.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, at most `timeout`. Returns on a wake, a
/// signal, a timeout or a changed value alike: callers re-check their condition.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let timeout = libc::timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: `word` is a live, aligned u32 for the whole call and `timeout` a
    // valid timespec on the stack; FUTEX_WAIT only reads both. Errors (EAGAIN when
    // the value already changed, ETIMEDOUT, EINTR) all mean "re-check", so the
    // return value is deliberately ignored.
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

/// Wakes at most `count` sleepers in [`wait`] on `word`.
pub fn wake(word: &AtomicU32, count: i32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE does not access memory
    // beyond hashing its address. A failure can only be EFAULT/EINVAL, impossible
    // for a valid word, so the return value carries nothing to act on.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            count,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}
