//! Helpers shared by the test files: forked children that cannot outlive a test, bounded
//! polling, and checks that a segment is gone from this process (`/proc/self/fd`,
//! `/proc/self/maps`) and from `/dev/shm`.
//!
//! Each test file uses part of this module.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

/// The bound on any wait that is expected to succeed: far longer than it ever takes on a
/// loaded machine, short enough that a bug fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(20);

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
        std::thread::sleep(Duration::from_millis(1));
    }
}

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

/// Forks a child that runs `body` and leaves with `_exit`: 0 when `body` returns `Ok`, its
/// code when it returns `Err`, [`CHILD_PANICKED`] if it panics.
pub fn spawn_child(body: impl FnOnce() -> ChildResult) -> Child {
    // mp-sync caches lock-owner ids per thread and per process and installs a fork handler
    // on first use that resets them in a child. Using an id here makes sure that the
    // installation is over before this thread forks.
    drop(mp_sync::Lock::new().try_lock());
    drop(mp_sync::Mutex::new(()).try_lock());
    // SAFETY: the parent is the multi-threaded test harness, so the child starts with a copy
    // of this thread only, and a lock another thread held at the fork stays held forever in
    // the child. The child therefore only runs `body`, whose code touches shared mappings,
    // mp-sync primitives, descriptors and plain system calls, and allocates (glibc's fork
    // leaves malloc usable in the child); it never prints or logs. Then it leaves with
    // `_exit`: it never returns into the harness and runs no destructor of the parent's
    // state, and a panic is caught before it could unwind out of this function.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                Ok(Ok(())) => 0,
                Ok(Err(code)) => i32::from(code),
                Err(_) => CHILD_PANICKED,
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

/// Device and inode of an open file: what identifies a memfd among all files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

pub fn file_id(fd: impl AsFd) -> FileId {
    let stat = nix::sys::stat::fstat(fd).expect("fstat");
    FileId {
        dev: stat.st_dev,
        ino: stat.st_ino,
    }
}

/// Whether a descriptor of this process refers to `file` (other tests of this binary
/// create and close descriptors all the time, so counting them would not do).
pub fn open_in_this_process(file: FileId) -> bool {
    let entries = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    entries.flatten().any(|entry| {
        std::fs::metadata(entry.path())
            .is_ok_and(|meta| meta.dev() == file.dev && meta.ino() == file.ino)
    })
}

/// Whether this process maps `file` (`/proc/self/maps` lists the inode of every file
/// mapping).
pub fn mapped_in_this_process(file: FileId) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let inode = fields.nth(4).and_then(|inode| inode.parse::<u64>().ok());
        inode == Some(file.ino) && line.contains("memfd:")
    })
}

/// Whether any file in `/dev/shm` is `file`.
pub fn in_dev_shm(file: FileId) -> bool {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return false;
    };
    entries.flatten().any(|entry| {
        entry
            .metadata()
            .is_ok_and(|meta| meta.dev() == file.dev && meta.ino() == file.ino)
    })
}

/// Whether `/dev/shm/<name>` exists.
pub fn dev_shm_has(name: &str) -> bool {
    std::path::Path::new("/dev/shm").join(name).exists()
}

/// Whether process `pid` still exists (a zombie counts).
pub fn process_exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
