//! Two-process measurements: a value in an anonymous shared mapping, and a forked
//! child that works on it.
//!
//! The child only touches the mapping (atomics, futexes, mp-sync primitives) and
//! leaves with `_exit`: it never returns into the harness, never runs destructors,
//! never flushes stdio it inherited. The parent always reaps it with a bounded
//! wait, killing it if it overstays.

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid};

use crate::error::BenchError;

/// Exit code of a child whose body panicked.
const CHILD_PANICKED: i32 = 101;

/// A `T` in an anonymous `MAP_SHARED` mapping: a forked child sees the same memory.
/// Unmapped when dropped (the child's copy of the mapping goes with the child).
pub struct SharedMapping<T: Sync> {
    ptr: NonNull<T>,
    len: NonZeroUsize,
}

impl<T: Sync> SharedMapping<T> {
    /// Maps fresh shared memory and moves `value` into it.
    pub fn new(value: T) -> Result<Self, BenchError> {
        // A zero-sized T still gets a page; mmap rejects a zero length.
        let len = NonZeroUsize::new(size_of::<T>().max(1)).unwrap_or(NonZeroUsize::MIN);
        // SAFETY: a new anonymous mapping at an address of the kernel's choosing
        // cannot alias any existing Rust object.
        let raw = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(BenchError::sys("mmap"))?;
        let ptr = raw.cast::<T>();
        // mmap returns page-aligned memory, which satisfies the alignment of any
        // T up to a page; larger alignments are refused rather than misused.
        if align_of::<T>() > 4096 {
            // SAFETY: `raw`/`len` are exactly the mapping just created, unused so far.
            let _ = unsafe { munmap(raw, len.get()) };
            return Err(BenchError::WrongOutcome(
                "type too strictly aligned for a page".into(),
            ));
        }
        // SAFETY: `ptr` points to `len >= size_of::<T>()` writable, page-aligned
        // bytes that nothing else references yet.
        unsafe { ptr.as_ptr().write(value) };
        Ok(Self { ptr, len })
    }

    /// The shared value.
    pub fn get(&self) -> &T {
        // SAFETY: the mapping holds an initialized T from `new` until `drop`, and
        // only shared references are ever handed out (T: Sync).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T: Sync> Drop for SharedMapping<T> {
    fn drop(&mut self) {
        // SAFETY: the T was initialized in `new`; `&mut self` proves no reference
        // from `get` is alive, so it can be dropped in place.
        unsafe { self.ptr.as_ptr().drop_in_place() };
        // SAFETY: `ptr`/`len` describe the mapping created in `new`, unmapped once.
        if let Err(e) = unsafe { munmap(self.ptr.cast(), self.len.get()) } {
            // Nothing to recover: the address space keeps a page until exit.
            eprintln!("mp-bench: munmap failed: {e}");
        }
    }
}

/// A forked child; killed and reaped on drop if `reap` was not called.
pub struct ForkedChild {
    pid: Option<Pid>,
}

impl ForkedChild {
    /// Forks a child that runs `body` on the shared value and `_exit`s with the
    /// code it returns.
    ///
    /// `body` must only touch the shared value (atomics, futex waits, mp-sync
    /// primitives) and must not allocate, lock std locks or print: the parent may
    /// have other threads (the test harness does), whose locks the child inherits
    /// in whatever state they were in at the fork.
    pub fn spawn<T: Sync>(
        shared: &SharedMapping<T>,
        body: impl FnOnce(&T) -> i32,
    ) -> Result<Self, BenchError> {
        let parent = getpid();
        // SAFETY: the child runs only `body`, which per this function's contract
        // only uses the shared mapping through atomics and futex system calls, then
        // `_exit`s without returning into Rust code that could touch inherited
        // locks or allocator state.
        match unsafe { fork() }.map_err(BenchError::sys("fork"))? {
            ForkResult::Child => {
                // SAFETY: prctl and getppid are async-signal-safe system calls with
                // no memory arguments.
                let orphaned = unsafe {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    libc::getppid() != parent.as_raw()
                };
                let code = if orphaned {
                    1
                } else {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(shared.get())))
                        .unwrap_or(CHILD_PANICKED)
                };
                // SAFETY: `_exit` ends the child at once, skipping the parent's
                // atexit handlers and destructors, which belong to the parent.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => Ok(Self { pid: Some(child) }),
        }
    }

    /// Waits for the child to exit (at most `timeout`, then kills it) and checks
    /// that it exited with code 0.
    pub fn reap(mut self, timeout: Duration) -> Result<(), BenchError> {
        match self.pid.take() {
            Some(pid) => match reap_bounded(pid, timeout)? {
                WaitStatus::Exited(_, 0) => Ok(()),
                WaitStatus::Exited(_, code) => Err(BenchError::Child(format!(
                    "exited with code {code}{}",
                    if code == CHILD_PANICKED {
                        " (panicked)"
                    } else {
                        ""
                    }
                ))),
                other => Err(BenchError::Child(format!("ended with {other:?}"))),
            },
            None => Ok(()),
        }
    }
}

impl Drop for ForkedChild {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // Dropped without `reap`: the measurement failed, the child is not needed.
            let _ = kill(pid, Signal::SIGKILL);
            if let Err(e) = reap_bounded(pid, Duration::from_secs(5)) {
                eprintln!("mp-bench: could not reap child {pid}: {e}");
            }
        }
    }
}

/// Polls `waitpid` until `pid` exits or `timeout` passes; then kills it and waits
/// for the kill to land (a SIGKILLed process exits promptly).
fn reap_bounded(pid: Pid, timeout: Duration) -> Result<WaitStatus, BenchError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(50);
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)).map_err(BenchError::sys("waitpid"))? {
            WaitStatus::StillAlive => {}
            status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => return Ok(status),
            // Stopped/continued reports are not an exit; keep waiting.
            _ => {}
        }
        if Instant::now() >= deadline {
            let _ = kill(pid, Signal::SIGKILL);
            waitpid(pid, None).map_err(BenchError::sys("waitpid"))?;
            return Err(BenchError::TimedOut {
                what: "child process exit",
                timeout,
            });
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;

    use super::{ForkedChild, SharedMapping};
    use crate::error::BenchError;
    use crate::futex;

    /// True once `pid` no longer exists (reaped, so not even a zombie).
    fn gone(pid: Pid) -> bool {
        kill(pid, None) == Err(Errno::ESRCH)
    }

    #[test]
    fn the_child_writes_into_the_shared_mapping() {
        let shared = SharedMapping::new(AtomicU32::new(1)).expect("mapping");
        let child = ForkedChild::spawn(&shared, |word| {
            word.store(word.load(Ordering::Acquire) + 41, Ordering::Release);
            0
        })
        .expect("fork");
        child.reap(Duration::from_secs(10)).expect("clean exit");
        assert_eq!(shared.get().load(Ordering::Acquire), 42);
    }

    #[test]
    fn a_nonzero_exit_code_is_an_error() {
        let shared = SharedMapping::new(AtomicU32::new(0)).expect("mapping");
        let child = ForkedChild::spawn(&shared, |_| 3).expect("fork");
        let err = child
            .reap(Duration::from_secs(10))
            .expect_err("exit code 3");
        assert!(
            matches!(&err, BenchError::Child(m) if m.contains("code 3")),
            "{err}"
        );
    }

    #[test]
    fn a_child_that_overstays_is_killed_and_reaped() {
        let shared = SharedMapping::new(AtomicU32::new(0)).expect("mapping");
        // Sleeps on a word nobody posts, far longer than the reap allows.
        let child = ForkedChild::spawn(&shared, |word| {
            futex::wait(word, 0, Duration::from_secs(30));
            0
        })
        .expect("fork");
        let pid = child.pid.expect("not reaped yet");
        let err = child
            .reap(Duration::from_millis(50))
            .expect_err("the child outlives the reap");
        assert!(matches!(err, BenchError::TimedOut { .. }), "{err}");
        assert!(gone(pid));
    }

    #[test]
    fn dropping_an_unreaped_child_kills_and_reaps_it() {
        let shared = SharedMapping::new(AtomicU32::new(0)).expect("mapping");
        let child = ForkedChild::spawn(&shared, |word| {
            futex::wait(word, 0, Duration::from_secs(30));
            0
        })
        .expect("fork");
        let pid = child.pid.expect("not reaped yet");
        drop(child);
        assert!(gone(pid));
    }
}
