//! Which process owns a consumer account, and whether it still runs: its id and its start
//! time, read from `/proc`, so that a process id the kernel gave again to another process
//! is not taken for the dead one.
//!
//! mp-sync's owner-death checks go by the id alone (a lock word holds nothing else); an
//! account has room for the start time too, and may stay owned for a long time.

use mp_sys::liveness::{self, ProcessIdentity};

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
    /// The process id (what `join_async` watches through a pidfd).
    #[cfg(feature = "async")]
    pub(crate) fn pid(self) -> u32 {
        self.pid
    }

    /// This process (mp-sys reads its start time once per process).
    pub(crate) fn current() -> Self {
        let me = ProcessIdentity::current();
        Self {
            pid: me.pid(),
            start: me.start_ticks() as u32,
        }
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
    /// threads runs), and started when it did (low 32 bits of the start time, which is
    /// what an account's word has room for). Without `/proc`, whether the id exists.
    pub(crate) fn is_alive(self) -> bool {
        if self.pid == 0 {
            return false;
        }
        match liveness::task_stat(self.pid) {
            Some(stat) if self.start != 0 && stat.start_ticks as u32 != self.start => false,
            _ => liveness::process_is_alive(self.pid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
