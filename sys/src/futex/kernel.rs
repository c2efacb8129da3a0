//! The futex system calls themselves.

use super::AtomicU32;
use crate::Deadline;

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) -> bool {
    let timeout = match deadline.instant() {
        None => None,
        Some(_) => {
            if deadline.has_passed() {
                return false;
            }
            deadline.to_relative_timespec()
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

pub(super) fn wake(word: &AtomicU32, count: u32) -> usize {
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    // SAFETY: FUTEX_WAKE does not touch the word's memory at all, it only uses its address
    // as the key of the wait queue; the pointer is valid anyway, as we borrow the word.
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

pub(super) fn requeue(
    from: &AtomicU32,
    expected: u32,
    wake: u32,
    to: &AtomicU32,
    requeue: u32,
) -> Option<usize> {
    let wake = i32::try_from(wake).unwrap_or(i32::MAX);
    let requeue = i32::try_from(requeue).unwrap_or(i32::MAX);
    // SAFETY: both words are live, aligned u32s we borrow for the whole call;
    // FUTEX_CMP_REQUEUE reads `from` (to compare it with `expected`) and uses both
    // addresses as wait-queue keys. The fourth argument is the requeue count passed in the
    // timeout slot, as the call defines; no memory is written.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            from.as_ptr(),
            libc::FUTEX_CMP_REQUEUE,
            wake,
            requeue as libc::c_long,
            to.as_ptr(),
            expected,
        )
    };
    if rc >= 0 {
        return Some(usize::try_from(rc).unwrap_or(0));
    }
    // EAGAIN: `from` no longer held `expected`; any other error (none is possible for two
    // valid words) is reported the same way, so that the caller re-checks.
    None
}
