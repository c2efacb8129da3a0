//! Helpers shared by the test files: bounded joins, children that cannot outlive a
//! failing test, and descriptors enough for many children.
//!
//! Each test file uses part of this module.
#![allow(dead_code)]

use std::ops::Deref;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use mp_processes::{Error, ProcessHandle};
use serde::de::DeserializeOwned;

/// The bound on any wait that is expected to succeed: far longer than it ever takes on a
/// loaded machine, short enough that a bug fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A child that is killed and reaped when dropped, so that a failing assertion never
/// leaves a process behind.
pub struct Guarded<R: DeserializeOwned>(pub ProcessHandle<R>);

impl<R: DeserializeOwned> Guarded<R> {
    /// Joins with a bound: a child that overstays is killed and the test fails.
    pub fn join(&self) -> Result<R, Error> {
        match self.0.join_timeout(PATIENCE) {
            Err(Error::TimedOut) => {
                let _ = self.0.kill();
                let _ = self.0.join_timeout(PATIENCE);
                panic!("{} did not end within {PATIENCE:?}", self.0.name());
            }
            other => other,
        }
    }
}

impl<R: DeserializeOwned> Deref for Guarded<R> {
    type Target = ProcessHandle<R>;

    fn deref(&self) -> &ProcessHandle<R> {
        &self.0
    }
}

impl<R: DeserializeOwned> Drop for Guarded<R> {
    fn drop(&mut self) {
        if self.0.exitcode().is_none() {
            let _ = self.0.kill();
            let _ = self.0.join_timeout(PATIENCE);
        }
    }
}

/// Starts `process`, guarded; panics (failing the test) if it cannot start.
pub fn start<R: serde::Serialize + DeserializeOwned + 'static>(
    process: mp_processes::Process<R>,
) -> Guarded<R> {
    Guarded(process.start().expect("the child starts"))
}

/// Polls `condition` until it holds (true) or [`PATIENCE`] passes (false).
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Raises this process's soft descriptor limit to the hard one: each live child costs
/// the parent a socket and a pidfd.
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
}

/// A pidfd for a process that is not our child.
pub fn pidfd_of(pid: u32) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the kernel just made this descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Waits up to [`PATIENCE`] for the process behind `pidfd` to end; whether it did.
pub fn ended_within_patience(pidfd: &OwnedFd) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(PATIENCE).expect("timeout");
    matches!(poll(&mut fds, timeout), Ok(1))
}

/// Kills the process behind `pidfd` (not our child: init reaps it).
pub fn kill_pidfd(pidfd: &OwnedFd) {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with a valid descriptor, a signal and a null siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// Whether the process behind `pidfd` has ended, without waiting.
pub fn ended_now(pidfd: &OwnedFd) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
}
