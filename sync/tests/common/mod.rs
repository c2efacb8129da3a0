//! Helpers shared by the thread and the process test suites: bounded polling, and a way to
//! see that a thread has really gone to sleep in a futex wait, so tests can order events
//! without sleeping for a guessed time.

use std::time::{Duration, Instant};

/// The bound on any wait that is expected to succeed: far longer than it ever takes on a
/// loaded machine, short enough that a bug fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(10);

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

/// The calling thread's kernel id.
pub fn current_tid() -> i32 {
    nix::unistd::gettid().as_raw()
}

/// The calling process's id.
pub fn current_pid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// Whether task `tid` of process `pid` is blocked in a `futex` system call right now.
///
/// `/proc/PID/task/TID/syscall` names the system call a blocked task sits in ("running"
/// when it is not blocked). Where that file cannot be read, a task in state `S`
/// (interruptible sleep) is taken as blocked: the threads and processes of these tests
/// block in nothing but futex waits.
pub fn blocked_in_futex(pid: i32, tid: i32) -> bool {
    let task = format!("/proc/{pid}/task/{tid}");
    match std::fs::read_to_string(format!("{task}/syscall")) {
        Ok(text) => {
            let number = text.split_whitespace().next().and_then(|n| n.parse().ok());
            number == Some(libc::SYS_futex)
        }
        Err(_) => std::fs::read_to_string(format!("{task}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
        }),
    }
}
