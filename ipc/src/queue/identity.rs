//! Which process owns a consumer account, and whether it still runs: its id and its start
//! time, read from `/proc`, so that a process id the kernel gave again to another process
//! is not taken for the dead one.
//!
//! mp-sync's owner-death checks go by the id alone (a lock word holds nothing else); an
//! account has room for the start time too, and may stay owned for a long time.

use std::sync::atomic::{AtomicU64, Ordering};

use mp_sys::process::current_pid;

fn pack(high: u32, low: u32) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// A process as the accounts know it: its id and its start time (in clock ticks since
/// boot, low 32 bits), so that a process id the kernel gave again to another process is
/// not taken for the dead one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pid: u32,
    start: u32,
}

impl Identity {
    /// The process id.
    pub(crate) fn pid(self) -> u32 {
        self.pid
    }

    /// This process. The start time is read from `/proc` once per process.
    pub(crate) fn current() -> Self {
        static CACHED: AtomicU64 = AtomicU64::new(0);
        let pid = current_pid() as u32;
        let (start, cached_pid) = unpack(CACHED.load(Ordering::Relaxed));
        if cached_pid == pid {
            return Self { pid, start };
        }
        let start = read_stat(pid).map_or(0, |stat| stat.start);
        CACHED.store(pack(start, pid), Ordering::Relaxed);
        Self { pid, start }
    }

    /// The identity as one word, as an account's owner stores it (never 0).
    pub(crate) fn word(self) -> u64 {
        pack(self.start, self.pid)
    }

    /// The identity an account's owner word holds.
    pub(crate) fn from_word(word: u64) -> Self {
        let (start, pid) = unpack(word);
        Self { pid, start }
    }

    /// Whether this process still runs: it exists, is not a zombie (unless another of its
    /// threads runs), and started when it did. Without `/proc`, whether the id exists.
    pub(crate) fn is_alive(self) -> bool {
        if self.pid == 0 {
            return false;
        }
        match read_stat(self.pid) {
            Some(stat) if self.start != 0 && stat.start != self.start => false,
            Some(stat) => stat.running || any_thread_runs(self.pid),
            None if std::path::Path::new("/proc/self/stat").exists() => false,
            None => signal_zero_finds(self.pid),
        }
    }
}

struct Stat {
    running: bool,
    start: u32,
}

/// The state and start time in `/proc/PID/stat`: `pid (comm) S ...`, where `comm` may
/// hold parentheses, so the fields are counted from the last `)`; the start time is the
/// 22nd field, the 20th after the state.
fn read_stat(pid: u32) -> Option<Stat> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let start: u64 = fields.nth(18)?.parse().ok()?;
    Some(Stat {
        running: !matches!(state, "Z" | "X" | "x"),
        start: start as u32,
    })
}

/// A process whose main thread is a zombie still runs if another of its threads does.
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

fn signal_zero_finds(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 performs only the existence and permission checks.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_read_after_the_last_parenthesis() {
        let stat = b"12 (a) b) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 99 100";
        let parsed = parse_stat(stat).unwrap();
        assert!(parsed.running);
        assert_eq!(parsed.start, 4242);
        let zombie = b"12 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 7 99";
        assert!(!parse_stat(zombie).unwrap().running);
        assert!(parse_stat(b"12 (x) S 1").is_none());
    }

    #[test]
    fn this_process_is_alive_and_a_reused_id_is_not_taken_for_it() {
        let me = Identity::current();
        assert_eq!(me.pid, std::process::id());
        assert!(me.is_alive());
        let impostor = Identity {
            start: me.start.wrapping_add(1),
            ..me
        };
        assert!(!impostor.is_alive());
        assert!(!Identity::from_word(0).is_alive());
        assert_eq!(Identity::from_word(me.word()), me);
    }
}
