//! The `futex_waitv` system call (Linux 5.16+): one sleep on up to 128 futex words.
//!
//! It is what lets one thread stand in for every async waiter of a process: the thread
//! sleeps on all the words awaited at once, and learns which one was woken.

use std::time::{Duration, Instant};

/// The most words one call may wait on (the kernel's `FUTEX_WAITV_MAX`).
pub(crate) const MAX_WORDS: usize = 128;

/// `FUTEX2_SIZE_U32`: the words are 32-bit, as every mp-sync word is.
const SIZE_U32: u32 = 0x02;

/// One word to wait on, as the kernel reads it (`struct futex_waitv`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitvWord {
    /// The value the word must still hold for the call to sleep.
    val: u64,
    /// The word's address.
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

impl WaitvWord {
    /// A word that may be woken from any process that maps it: without `FUTEX2_PRIVATE`,
    /// as every wait and wake of this crate (the two must agree, or a wake misses).
    pub(crate) fn shared(address: usize, expected: u32) -> Self {
        Self {
            val: u64::from(expected),
            uaddr: address as u64,
            flags: SIZE_U32,
            reserved: 0,
        }
    }

    /// The address waited on.
    pub(crate) fn address(&self) -> usize {
        // The addresses were `usize` to begin with.
        self.uaddr as usize
    }
}

/// How a `futex_waitv` call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waited {
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
/// at worst the call sleeps on memory nobody wakes, and the doorbell ends that sleep.
pub(crate) fn futex_waitv(words: &[WaitvWord], deadline: Option<Instant>) -> Waited {
    if words.is_empty() || words.len() > MAX_WORDS {
        return Waited::Failed(libc::EINVAL);
    }
    let timeout = match deadline {
        None => None,
        Some(deadline) => match monotonic_timespec(deadline) {
            Some(timespec) => Some(timespec),
            None => return Waited::TimedOut,
        },
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

/// `deadline` as an absolute `CLOCK_MONOTONIC` time (what `futex_waitv` takes); `None`
/// if it has passed.
fn monotonic_timespec(deadline: Instant) -> Option<libc::timespec> {
    let left = deadline.checked_duration_since(Instant::now())?;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return None;
    }
    let now = Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    );
    let at = now.checked_add(left)?;
    Some(libc::timespec {
        tv_sec: libc::time_t::try_from(at.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below one billion: fits every `c_long`.
        tv_nsec: at.subsec_nanos() as libc::c_long,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn a_changed_word_ends_the_wait_at_once() {
        let word = AtomicU32::new(5);
        let list = [WaitvWord::shared(word.as_ptr() as usize, 4)];
        let waited = futex_waitv(&list, Some(Instant::now() + Duration::from_secs(5)));
        assert!(
            matches!(waited, Waited::Changed | Waited::Unsupported),
            "{waited:?}"
        );
    }

    #[test]
    fn an_unchanged_word_times_out() {
        let word = AtomicU32::new(5);
        let list = [WaitvWord::shared(word.as_ptr() as usize, 5)];
        let waited = futex_waitv(&list, Some(Instant::now() + Duration::from_millis(5)));
        assert!(
            matches!(waited, Waited::TimedOut | Waited::Unsupported),
            "{waited:?}"
        );
    }

    #[test]
    fn empty_and_oversized_lists_are_refused() {
        assert_eq!(futex_waitv(&[], None), Waited::Failed(libc::EINVAL));
        let word = AtomicU32::new(0);
        let list = vec![WaitvWord::shared(word.as_ptr() as usize, 0); MAX_WORDS + 1];
        assert_eq!(futex_waitv(&list, None), Waited::Failed(libc::EINVAL));
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
}
