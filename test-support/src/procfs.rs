//! What `/proc` tells a test about processes and tasks: whether a thread has really
//! gone to sleep in a futex wait (so a test can order events without sleeping for a
//! guessed time), and what state a process is in.

pub use mp_sys::process::{current_pid, current_tid};

/// Whether task `tid` of process `pid` is blocked in a futex wait right now: a `futex`
/// or a `futex_waitv` system call.
///
/// `/proc/PID/task/TID/syscall` names the system call a blocked task sits in ("running"
/// when it is not blocked). Where that file cannot be read, a task in state `S`
/// (interruptible sleep) is taken as blocked: use this only for tasks that block in
/// nothing but futex waits.
///
/// ```
/// use mp_sys::process::{current_pid, current_tid};
/// use test_support::procfs::blocked_in_futex;
///
/// assert!(!blocked_in_futex(current_pid(), current_tid()));
/// ```
pub fn blocked_in_futex(pid: i32, tid: i32) -> bool {
    let task = format!("/proc/{pid}/task/{tid}");
    match std::fs::read_to_string(format!("{task}/syscall")) {
        Ok(text) => {
            let number = text.split_whitespace().next().and_then(|n| n.parse().ok());
            matches!(number, Some(libc::SYS_futex | libc::SYS_futex_waitv))
        }
        Err(_) => task_state(&task) == Some('S'),
    }
}

/// The state letter of process `pid` (`R`, `S`, `Z`...) from `/proc/PID/stat`; `None`
/// once the process is gone.
///
/// ```
/// let me = std::process::id() as i32;
/// assert!(test_support::procfs::process_state(me).is_some());
/// assert_eq!(test_support::procfs::process_state(i32::MAX), None);
/// ```
pub fn process_state(pid: i32) -> Option<char> {
    task_state(&format!("/proc/{pid}"))
}

/// Whether process `pid` still exists (a zombie counts).
///
/// ```
/// assert!(test_support::procfs::process_exists(std::process::id() as i32));
/// ```
pub fn process_exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn task_state(task: &str) -> Option<char> {
    let stat = std::fs::read_to_string(format!("{task}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.trim_start().chars().next()
}
