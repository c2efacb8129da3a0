//! Descriptors as tests need them: pidfds for processes that are not our children (they
//! tell when such a process ends, which `waitpid` cannot), and the two ends of the
//! descriptor limit (raised for tests that start many children, used up for tests of
//! what happens when none is left).

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use mp_sys::Deadline;
use nix::errno::Errno;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// A pidfd for process `pid`: it polls readable once the process has ended. Panics if
/// the process does not exist.
///
/// ```
/// let me = test_support::descriptors::pidfd_open(std::process::id() as i32);
/// assert!(!test_support::descriptors::ended_now(&me));
/// ```
pub fn pidfd_open(pid: i32) -> OwnedFd {
    mp_sys::pidfd::open(pid).unwrap_or_else(|errno| panic!("pidfd_open({pid}): {errno}"))
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
    mp_sys::pidfd::wait_exited(pidfd.as_fd(), Deadline::after(bound))
        .unwrap_or_else(|errno| panic!("poll a pidfd: {errno}"))
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
    match mp_sys::pidfd::send_signal(pidfd.as_fd(), libc::SIGKILL) {
        // A process that has ended already cannot be signalled; that is not a failure.
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(errno) => panic!("pidfd_send_signal: {errno}"),
    }
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
