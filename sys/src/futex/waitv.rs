//! The `futex_waitv` system call (Linux 5.16+): one sleep on up to 128 futex words.
//!
//! It is what lets one thread stand in for every async waiter of a process: the thread
//! sleeps on all the words awaited at once, and learns which one was woken.

use crate::Deadline;

/// The most words one call may wait on (the kernel's `FUTEX_WAITV_MAX`).
///
/// ```
/// assert_eq!(mp_sys::futex::waitv::MAX_WORDS, 128);
/// ```
pub const MAX_WORDS: usize = 128;

/// `FUTEX2_SIZE_U32`: the words are 32-bit, as every futex word of the mp crates is.
const SIZE_U32: u32 = 0x02;

/// One word to wait on, as the kernel reads it (`struct futex_waitv`).
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use mp_sys::futex::waitv::WaitvWord;
///
/// let word = AtomicU32::new(0);
/// let entry = WaitvWord::shared(word.as_ptr() as usize, 0);
/// assert_eq!(entry.address(), word.as_ptr() as usize);
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WaitvWord {
    /// The value the word must still hold for the call to sleep.
    val: u64,
    /// The word's address.
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

impl WaitvWord {
    /// A word that may be woken from any process that maps it: without `FUTEX2_PRIVATE`,
    /// as every wait and wake of [`futex`](crate::futex) (the two must agree, or a wake
    /// misses).
    ///
    /// ```
    /// use mp_sys::futex::waitv::WaitvWord;
    ///
    /// assert_eq!(WaitvWord::shared(0x1000, 3).address(), 0x1000);
    /// ```
    pub fn shared(address: usize, expected: u32) -> Self {
        Self {
            val: u64::from(expected),
            uaddr: address as u64,
            flags: SIZE_U32,
            reserved: 0,
        }
    }

    /// The address waited on.
    ///
    /// ```
    /// use mp_sys::futex::waitv::WaitvWord;
    ///
    /// assert_eq!(WaitvWord::shared(64, 0).address(), 64);
    /// ```
    pub fn address(&self) -> usize {
        // The addresses were `usize` to begin with.
        self.uaddr as usize
    }
}

/// How a `futex_waitv` call ended.
///
/// ```
/// use mp_sys::futex::waitv::{Waited, futex_waitv};
///
/// assert_eq!(futex_waitv(&[], mp_sys::Deadline::NEVER), Waited::Failed(libc::EINVAL));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waited {
    /// The word at this index of the list was woken.
    Woken(usize),
    /// Some word no longer held its expected value when the call began (`EAGAIN`). The
    /// kernel does not say which.
    Changed,
    /// The deadline passed.
    TimedOut,
    /// A signal interrupted the call.
    Interrupted,
    /// This kernel has no `futex_waitv` (before 5.16, or filtered out by a sandbox).
    Unsupported,
    /// Any other failure, such as `EFAULT` for a word no longer mapped. The errno.
    Failed(i32),
}

/// Sleeps until one of `words` is woken, one no longer holds its expected value, or
/// `deadline` passes.
///
/// The kernel only reads the words (a fault is reported as `EFAULT`, never a crash), so a
/// word whose memory was freed or unmapped since it was listed cannot harm this process:
/// at worst the call sleeps on memory nobody wakes.
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use std::time::Duration;
/// use mp_sys::Deadline;
/// use mp_sys::futex::waitv::{Waited, WaitvWord, futex_waitv};
///
/// let word = AtomicU32::new(5);
/// let list = [WaitvWord::shared(word.as_ptr() as usize, 4)];
/// let waited = futex_waitv(&list, Deadline::after(Duration::from_secs(5)));
/// assert!(matches!(waited, Waited::Changed | Waited::Unsupported));
/// ```
pub fn futex_waitv(words: &[WaitvWord], deadline: impl Into<Deadline>) -> Waited {
    if words.is_empty() || words.len() > MAX_WORDS {
        return Waited::Failed(libc::EINVAL);
    }
    let deadline = deadline.into();
    let timeout = if deadline.is_never() {
        None
    } else if deadline.has_passed() {
        return Waited::TimedOut;
    } else {
        match deadline.to_monotonic_timespec() {
            Some(timespec) => Some(timespec),
            None => return Waited::TimedOut,
        }
    };
    let timeout_ptr = timeout
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // `words.len()` is at most MAX_WORDS, checked above.
    let count = words.len() as libc::c_uint;
    // SAFETY: `words` is a live slice of `struct futex_waitv` (same layout, `repr(C)`) of
    // `count` elements, which the kernel only reads during the call; each `uaddr` is read
    // by the kernel with fault handling (a bad one gives EFAULT), never by us. `timeout_ptr`
    // is null or points to a timespec that outlives the call; the flags argument must be 0.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            words.as_ptr(),
            count,
            0 as libc::c_uint,
            timeout_ptr,
            libc::CLOCK_MONOTONIC,
        )
    };
    if rc >= 0 {
        return Waited::Woken(usize::try_from(rc).unwrap_or(0));
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => Waited::Changed,
        Some(libc::ETIMEDOUT) => Waited::TimedOut,
        Some(libc::EINTR) => Waited::Interrupted,
        Some(libc::ENOSYS) => Waited::Unsupported,
        Some(errno) => Waited::Failed(errno),
        None => Waited::Failed(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::time::{Duration, Instant};

    #[test]
    fn an_unchanged_word_times_out() {
        let word = AtomicU32::new(5);
        let list = [WaitvWord::shared(word.as_ptr() as usize, 5)];
        let waited = futex_waitv(&list, Deadline::after(Duration::from_millis(5)));
        assert!(
            matches!(waited, Waited::TimedOut | Waited::Unsupported),
            "{waited:?}"
        );
    }

    #[test]
    fn oversized_lists_are_refused() {
        let word = AtomicU32::new(0);
        let list = vec![WaitvWord::shared(word.as_ptr() as usize, 0); MAX_WORDS + 1];
        assert_eq!(
            futex_waitv(&list, Deadline::NEVER),
            Waited::Failed(libc::EINVAL)
        );
    }

    #[test]
    fn a_past_deadline_is_a_timeout() {
        let word = AtomicU32::new(0);
        let list = [WaitvWord::shared(word.as_ptr() as usize, 0)];
        let past = Instant::now()
            .checked_sub(Duration::from_millis(1))
            .unwrap_or(Instant::now());
        assert_eq!(futex_waitv(&list, Some(past)), Waited::TimedOut);
    }

    #[test]
    fn a_woken_word_is_named_by_its_index() {
        let words = std::sync::Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
        let (pid, sleeper) = (crate::process::current_pid(), crate::process::current_tid());
        let waker = {
            let words = std::sync::Arc::clone(&words);
            std::thread::spawn(move || {
                // Wake only once the test thread sleeps in the call, so that the wake (not
                // a value changed before the call) is what ends it.
                let asleep = test_support::holds_within(
                    || test_support::procfs::blocked_in_futex(pid, sleeper),
                    Duration::from_secs(10),
                );
                words[1].store(1, std::sync::atomic::Ordering::Release);
                crate::futex::wake_all(&words[1]);
                asleep
            })
        };
        let list = [
            WaitvWord::shared(words[0].as_ptr() as usize, 0),
            WaitvWord::shared(words[1].as_ptr() as usize, 0),
        ];
        let waited = futex_waitv(&list, Deadline::after(Duration::from_secs(10)));
        let asleep = waker.join().unwrap();
        assert!(
            matches!(waited, Waited::Woken(1) | Waited::Unsupported),
            "{waited:?} (the call was seen asleep: {asleep})"
        );
    }
}
