//! Descriptors as tests need them: pidfds for processes that are not our children (they
//! tell when such a process ends, which `waitpid` cannot), and the two ends of the
//! descriptor limit (raised for tests that start many children, used up for tests of
//! what happens when none is left).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// A pidfd for process `pid`: it polls readable once the process has ended. Panics if
/// the process does not exist.
///
/// ```
/// let me = test_support::descriptors::pidfd_open(std::process::id() as i32);
/// assert!(!test_support::descriptors::ended_now(&me));
/// ```
pub fn pidfd_open(pid: i32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it
    // touches no memory of this process.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    let fd = RawFd::try_from(fd).expect("a descriptor fits an int");
    // SAFETY: the kernel just created this descriptor for this call, so nothing else owns
    // it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Waits up to `bound` for the process behind `pidfd` to end; whether it did.
///
/// ```
/// use std::time::Duration;
/// use test_support::descriptors::{ended_within, pidfd_open};
///
/// let mut child = test_support::spawn_child(|| Ok(()));
/// let pidfd = pidfd_open(child.pid());
/// assert!(ended_within(&pidfd, test_support::PATIENCE));
/// assert_eq!(child.join(), 0);
/// ```
pub fn ended_within(pidfd: &OwnedFd, bound: Duration) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(bound).unwrap_or(PollTimeout::MAX);
    matches!(poll(&mut fds, timeout), Ok(1))
}

/// Whether the process behind `pidfd` has ended, without waiting.
///
/// ```
/// let me = test_support::descriptors::pidfd_open(std::process::id() as i32);
/// assert!(!test_support::descriptors::ended_now(&me));
/// ```
pub fn ended_now(pidfd: &OwnedFd) -> bool {
    ended_within(pidfd, Duration::ZERO)
}

/// Sends SIGKILL to the process behind `pidfd` (for a process that is not our child:
/// whoever its parent is reaps it).
///
/// ```
/// use test_support::descriptors::{ended_within, kill_pidfd, pidfd_open};
///
/// let mut child = test_support::spawn_child(|| {
///     std::thread::sleep(test_support::PATIENCE);
///     Ok(())
/// });
/// let pidfd = pidfd_open(child.pid());
/// kill_pidfd(&pidfd);
/// assert!(ended_within(&pidfd, test_support::PATIENCE));
/// child.reap_killed();
/// ```
pub fn kill_pidfd(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal with a valid descriptor, a signal and a null siginfo
    // reads no memory of this process.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    // A process that has ended already cannot be signalled; that is not a failure.
    let error = std::io::Error::last_os_error();
    assert!(
        sent == 0 || error.raw_os_error() == Some(libc::ESRCH),
        "pidfd_send_signal: {error}"
    );
}

/// Raises this process's soft descriptor limit to the hard one: each live child costs
/// its parent descriptors (a socket, a pidfd).
///
/// ```
/// test_support::descriptors::raise_fd_limit();
/// ```
pub fn raise_fd_limit() {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
}

/// Opens `/dev/null` until the process is out of descriptors (after lowering its limit
/// to a few above the highest descriptor open, so that this takes a few opens, not a
/// million). For forked children only: the limit is process-wide. Keep the result
/// alive. A failure is a child's exit code (90 to 93).
///
/// ```
/// use test_support::{descriptors::use_up_descriptors, ensure, spawn_child};
///
/// let mut child = spawn_child(|| {
///     let _hoard = use_up_descriptors()?;
///     ensure(std::fs::File::open("/dev/null").is_err(), 1)
/// });
/// assert_eq!(child.join(), 0);
/// ```
pub fn use_up_descriptors() -> Result<Vec<File>, u8> {
    let highest = std::fs::read_dir("/proc/self/fd")
        .map_err(|_| 90u8)?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(2);
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|_| 91u8)?;
    setrlimit(Resource::RLIMIT_NOFILE, highest + 8, hard).map_err(|_| 92u8)?;
    let mut hoard = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => hoard.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => return Ok(hoard),
            Err(_) => return Err(93),
        }
    }
}
