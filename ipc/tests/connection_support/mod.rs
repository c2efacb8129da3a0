//! Helpers shared by the connection, listener and wait tests: forked children that cannot
//! outlive a test and hold no descriptor of another test, bounded receives, raw writes
//! that forge frames.
//!
//! Each test file uses part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use mp_ipc::{Connection, Error};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The bound on any wait that is expected to succeed: far longer than it ever takes on a
/// loaded machine, short enough that a bug fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// What a child's body returns: `Err(code)` makes it exit with that code, so each check in
/// a child can name its own failure.
pub type ChildResult = Result<(), u8>;

/// `Ok` if `condition` holds, otherwise the exit code `code`.
pub fn ensure(condition: bool, code: u8) -> ChildResult {
    if condition { Ok(()) } else { Err(code) }
}

/// The exit code of a child whose body panicked.
pub const CHILD_PANICKED: i32 = 101;

/// A forked child. Dropping it kills and reaps it if it was not reaped already.
pub struct Child {
    pid: Pid,
    reaped: bool,
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(Signal),
}

/// Forks a child that keeps only the descriptors `keep` (and stdin, stdout, stderr),
/// runs `body` and leaves with `_exit`: 0 when `body` returns `Ok`, its code when it
/// returns `Err`, [`CHILD_PANICKED`] if it panics.
///
/// Closing every other descriptor matters: the harness runs tests in parallel threads,
/// and a child holding a copy of another test's socket would keep that test's peer from
/// seeing the end of the stream.
pub fn spawn_child(keep: &[RawFd], body: impl FnOnce() -> ChildResult) -> Child {
    // SAFETY: the parent is the multi-threaded test harness, so the child starts with a
    // copy of this thread only, and a lock another thread held at the fork stays held
    // forever in the child. The child therefore only closes descriptors and runs `body`,
    // whose code makes plain system calls, allocates (glibc's fork leaves malloc usable in
    // the child) and uses mp-ipc and mp-shared-mem; it never prints or logs. Then it
    // leaves with `_exit`: it never returns into the harness and runs no destructor of the
    // parent's state, and a panic is caught before it could unwind out of this function.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = match close_all_but(keep) {
                Err(code) => i32::from(code),
                Ok(()) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                    Ok(Ok(())) => 0,
                    Ok(Err(code)) => i32::from(code),
                    Err(_) => CHILD_PANICKED,
                },
            };
            // SAFETY: `_exit` ends the process at once, without atexit handlers or stdio
            // flushing, which is all a forked child of a multi-threaded process may do.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Child {
            pid: child,
            reaped: false,
        },
    }
}

/// Closes every descriptor above 2 that is not in `keep`.
fn close_all_but(keep: &[RawFd]) -> ChildResult {
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|_| 120u8)?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: this child owns its copies of the parent's descriptors and no code in
            // it uses the closed ones afterwards: `body` only touches those in `keep`. The
            // directory stream's own descriptor is already closed (EBADF is fine).
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

impl Child {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Waits at most `timeout` for the child to end, and reaps it.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Ended> {
        assert!(!self.reaped, "child {} already reaped", self.pid);
        let deadline = Instant::now() + timeout;
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => {
                    self.reaped = true;
                    return Some(Ended::Exited(code));
                }
                Ok(WaitStatus::Signaled(_, signal, _)) => {
                    self.reaped = true;
                    return Some(Ended::Killed(signal));
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(err) => panic!("waitpid({}) failed: {err}", self.pid),
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the child to end on its own and returns its exit code.
    pub fn join(&mut self) -> i32 {
        match self.wait_timeout(PATIENCE) {
            Some(Ended::Exited(code)) => code,
            Some(Ended::Killed(signal)) => panic!("child {} killed by {signal}", self.pid),
            None => panic!("child {} still running after {PATIENCE:?}", self.pid),
        }
    }

    /// Sends SIGKILL and reaps the child, checking that the signal is what ended it.
    pub fn kill_and_reap(&mut self) {
        kill(self.pid, Signal::SIGKILL).expect("kill the child");
        assert_eq!(
            self.wait_timeout(PATIENCE),
            Some(Ended::Killed(Signal::SIGKILL))
        );
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = kill(self.pid, Signal::SIGKILL);
            if self.wait_timeout(PATIENCE).is_none() {
                eprintln!("child {} did not die after SIGKILL", self.pid);
            }
        }
    }
}

/// The raw descriptor of a connection, for a child's keep list.
pub fn raw<T>(connection: &Connection<T>) -> RawFd {
    connection.as_fd().as_raw_fd()
}

/// Receives a value, failing the test instead of hanging if none comes within
/// [`PATIENCE`].
pub fn recv_within<T: Serialize + DeserializeOwned>(
    connection: &Connection<T>,
) -> Result<T, Error> {
    assert!(
        connection.poll(Some(PATIENCE)).expect("poll"),
        "nothing to receive within {PATIENCE:?}"
    );
    connection.recv()
}

/// Receives bytes, failing the test instead of hanging if none come within [`PATIENCE`].
pub fn recv_bytes_within<T>(connection: &Connection<T>) -> Result<Vec<u8>, Error> {
    assert!(
        connection.poll(Some(PATIENCE)).expect("poll"),
        "nothing to receive within {PATIENCE:?}"
    );
    connection.recv_bytes()
}

/// Writes `bytes` on the connection's socket as they are, bypassing the framing: how
/// the tests forge corrupt, oversized and truncated frames.
pub fn write_raw(socket: BorrowedFd<'_>, bytes: &[u8]) {
    let duplicate = socket.try_clone_to_owned().expect("dup");
    let mut stream = std::os::unix::net::UnixStream::from(duplicate);
    stream.write_all(bytes).expect("raw write");
}

/// A pidfd for `pid`: polls readable when the process has ended (what mp-processes'
/// sentinel is).
pub fn pidfd_open(pid: i32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it
    // touches no memory of this process.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: the kernel just created this descriptor for this call, so nothing else owns
    // it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// Reads exactly `buf.len()` bytes from the socket as they are, bypassing the framing.
pub fn read_raw(socket: BorrowedFd<'_>, buf: &mut [u8]) {
    let duplicate = socket.try_clone_to_owned().expect("dup");
    let mut stream = std::os::unix::net::UnixStream::from(duplicate);
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    std::io::Read::read_exact(&mut stream, buf).expect("raw read");
}

/// Opens `/dev/null` until the process is out of descriptors (after lowering its limit to
/// a few above the highest descriptor open, so that this takes a few opens, not a
/// million). For forked children only: the limit is process-wide. Keep the result alive.
pub fn use_up_descriptors() -> Result<Vec<std::fs::File>, u8> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
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
        match std::fs::File::open("/dev/null") {
            Ok(file) => hoard.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => return Ok(hoard),
            Err(_) => return Err(93),
        }
    }
}
