//! Helpers shared by the queue tests: forked children that cannot outlive a test, bounded
//! waits, a small random generator, and a raw view of a queue's shared memory for the
//! tests that damage it on purpose.
//!
//! Each test file uses part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use mp_shared_mem::{Segment, transfer};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid};
use serde::Serialize;

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
/// The exit code of a child that found its parent gone.
pub const CHILD_ORPHANED: i32 = 102;

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
/// code when it returns `Err`, [`CHILD_PANICKED`] if it panics. The child is killed if the
/// test process dies (`PR_SET_PDEATHSIG`).
pub fn spawn_child(body: impl FnOnce() -> ChildResult) -> Child {
    // mp-sync caches lock-owner ids per process and installs a fork handler on first use
    // that resets them in a child. Using an id here makes sure that the installation is
    // over before this thread forks.
    drop(mp_sync::Lock::new().try_lock());
    let parent = getpid();
    // SAFETY: the parent is the multi-threaded test harness, so the child starts with a copy
    // of this thread only, and a lock another thread held at the fork stays held forever in
    // the child. The child therefore only runs `body`, whose code touches shared mappings,
    // mp-sync primitives and the queues of mp-ipc, makes plain system calls and allocates
    // (glibc's fork leaves malloc usable in the child); it never prints or logs. Then it
    // leaves with `_exit`: it never returns into the harness and runs no destructor of the
    // parent's state, and a panic is caught before it could unwind out of this function.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            // SAFETY: prctl and getppid take no pointers; asking for SIGKILL at the
            // parent's death, then checking that the parent did not die before that.
            let orphaned = unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::getppid() != parent.as_raw()
            };
            let code = if orphaned {
                CHILD_ORPHANED
            } else {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                    Ok(Ok(())) => 0,
                    Ok(Err(code)) => i32::from(code),
                    Err(_) => CHILD_PANICKED,
                }
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
            std::thread::sleep(Duration::from_micros(200));
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

    /// Sends SIGKILL and reaps the child; how it ended (it may have exited first).
    pub fn kill_and_reap(&mut self) -> Ended {
        let _ = kill(self.pid, Signal::SIGKILL);
        self.wait_timeout(PATIENCE)
            .unwrap_or_else(|| panic!("child {} did not die after SIGKILL", self.pid))
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

/// xorshift64*: enough randomness for kill instants, reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock; the seed is printed so that a failure can be replayed.
    pub fn from_clock(test: &str) -> Self {
        let seed = std::env::var("MP_QUEUE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: MP_QUEUE_TEST_SEED={seed}");
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// Another mapping of the segment behind a queue handle, obtained the way another process
/// would get it (handle transfer), to write into the queue's memory behind its back.
pub fn segment_of<Q: Serialize>(queue: &Q) -> Segment {
    let (bytes, fds) = transfer::encode(queue).expect("encode the queue");
    transfer::decode::<Segment>(&bytes, fds).expect("the queue's segment")
}

/// Where `pattern` first occurs in the segment.
pub fn find(segment: &Segment, pattern: &[u8]) -> Option<usize> {
    segment
        .to_vec()
        .windows(pattern.len())
        .position(|window| window == pattern)
}
