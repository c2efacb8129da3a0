//! Whether a thread or a process still runs, and which process an id names: what a lock
//! whose holder may die, or a queue whose consumer may, asks of the kernel.
//!
//! The answers come from `/proc/ID/stat`: a task that is gone, or a zombie, is dead (a
//! zombie can never release anything, and its parent may not reap it for a long time).
//! A process is alive while any of its threads is: its main thread may have exited,
//! showing the process as a zombie, while the others run on. Where `/proc` is not
//! mounted, a signal-0 probe says whether the id exists at all.
//!
//! Ids are reused. A [`ProcessIdentity`] adds the process's start time (clock ticks
//! since boot), so a process id that the kernel gave again to another process is not
//! taken for the dead one.

/// What `/proc/ID/stat` says of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskStat {
    /// Neither a zombie nor dead.
    pub running: bool,
    /// When the task started, in clock ticks since boot.
    pub start_ticks: u64,
}

/// Parses `/proc/ID/stat`: `pid (comm) S ...`, where `comm` may itself hold
/// parentheses, so the fields are counted from the *last* `)`: the state first, the start
/// time twenty fields later. `None` for text that is not such a line.
///
/// ```
/// use mp_sys::liveness::parse_stat;
///
/// let stat = b"12 (we (ird)) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 99";
/// let parsed = parse_stat(stat).unwrap();
/// assert!(!parsed.running);
/// assert_eq!(parsed.start_ticks, 4242);
/// assert_eq!(parse_stat(b"no parenthesis"), None);
/// ```
pub fn parse_stat(stat: &[u8]) -> Option<TaskStat> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some(TaskStat {
        running: !matches!(state, "Z" | "X" | "x"),
        start_ticks,
    })
}

/// What `/proc/ID/stat` says of the task `id` (a process id or a thread id), if it
/// exists and can be read.
///
/// ```
/// let me = mp_sys::liveness::task_stat(std::process::id()).unwrap();
/// assert!(me.running);
/// ```
pub fn task_stat(id: u32) -> Option<TaskStat> {
    let stat = std::fs::read(format!("/proc/{id}/stat")).ok()?;
    parse_stat(&stat)
}

/// Whether the task `id` (a thread, or a process's main thread) still runs.
///
/// ```
/// use mp_sys::liveness::task_is_alive;
///
/// let tid = std::thread::spawn(|| mp_sys::process::current_tid()).join().unwrap();
/// assert!(!task_is_alive(tid as u32), "an exited thread is dead");
/// assert!(task_is_alive(mp_sys::process::current_tid() as u32));
/// ```
pub fn task_is_alive(id: u32) -> bool {
    match std::fs::read(format!("/proc/{id}/stat")) {
        Ok(stat) => parse_stat(&stat).is_none_or(|stat| stat.running),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            !proc_is_mounted() && signal_zero_finds(id)
        }
        // Unreadable for another reason (permissions): the signal probe decides.
        Err(_) => signal_zero_finds(id),
    }
}

/// Whether the process `pid` still runs: its main task, or, if that is a zombie, any
/// other of its threads.
///
/// ```
/// assert!(mp_sys::liveness::process_is_alive(std::process::id()));
/// ```
pub fn process_is_alive(pid: u32) -> bool {
    task_is_alive(pid) || any_thread_runs(pid)
}

fn any_thread_runs(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read(task.path().join("stat"))
            .ok()
            .and_then(|stat| parse_stat(&stat))
            .is_some_and(|stat| stat.running)
    })
}

fn proc_is_mounted() -> bool {
    std::path::Path::new("/proc/self/stat").exists()
}

fn signal_zero_finds(id: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(id) else {
        return false;
    };
    // SAFETY: signal 0 performs only the existence and permission checks.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// A process named so that a reused id is not taken for it: its id and its start time.
///
/// ```
/// use mp_sys::liveness::ProcessIdentity;
///
/// let me = ProcessIdentity::current();
/// assert_eq!(me.pid(), std::process::id());
/// assert!(me.is_alive());
/// let impostor = ProcessIdentity::new(me.pid(), me.start_ticks() + 1);
/// assert!(!impostor.is_alive(), "same id, another start: another process");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProcessIdentity {
    pid: u32,
    start_ticks: u64,
}

impl ProcessIdentity {
    /// The identity of process `pid` started at `start_ticks`; a start of 0 means
    /// unknown (then only the id is checked).
    pub fn new(pid: u32, start_ticks: u64) -> Self {
        ProcessIdentity { pid, start_ticks }
    }

    /// This process; its start time is read from `/proc` once per process (a forked
    /// child reads its own).
    pub fn current() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static CACHED: AtomicU64 = AtomicU64::new(0);
        static CACHED_PID: AtomicU64 = AtomicU64::new(0);
        let pid = crate::process::current_pid() as u32;
        if CACHED_PID.load(Ordering::Acquire) == u64::from(pid) {
            return Self::new(pid, CACHED.load(Ordering::Relaxed));
        }
        let start_ticks = task_stat(pid).map_or(0, |stat| stat.start_ticks);
        CACHED.store(start_ticks, Ordering::Relaxed);
        CACHED_PID.store(u64::from(pid), Ordering::Release);
        Self::new(pid, start_ticks)
    }

    /// The process id.
    pub fn pid(self) -> u32 {
        self.pid
    }

    /// The start time, in clock ticks since boot (0: unknown).
    pub fn start_ticks(self) -> u64 {
        self.start_ticks
    }

    /// Whether this process still runs: its id exists, it started when this identity
    /// says (unless that is unknown), and it is not a zombie with no thread left.
    pub fn is_alive(self) -> bool {
        if self.pid == 0 {
            return false;
        }
        match task_stat(self.pid) {
            Some(stat) if self.start_ticks != 0 && stat.start_ticks != self.start_ticks => false,
            Some(stat) => stat.running || any_thread_runs(self.pid),
            None if proc_is_mounted() => false,
            None => signal_zero_finds(self.pid),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_child_is_dead_and_a_zombie_too() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = child.id();
        let identity = ProcessIdentity::new(pid, task_stat(pid).map_or(0, |s| s.start_ticks));
        // Exited, not yet reaped: a zombie, which counts as dead.
        assert!(test_support::holds_within(
            || !process_is_alive(pid),
            test_support::PATIENCE
        ));
        child.wait().expect("reaped");
        assert!(!process_is_alive(pid));
        assert!(!identity.is_alive());
    }

    #[test]
    fn a_process_id_of_zero_or_past_the_limit_is_not_alive() {
        assert!(!ProcessIdentity::new(0, 0).is_alive());
        assert!(!process_is_alive(u32::MAX));
    }
}
