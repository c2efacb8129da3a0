//! What a loop may leave behind, counted the same way before and after it: this
//! process's descriptors, its zombie children, its resident memory, and the entries of
//! `/dev/shm`.
//!
//! The counts are of the whole process, so loops that compare them hold [`exclusive`]:
//! a test running beside them in the same binary would otherwise move the figures.

use std::sync::{Mutex, MutexGuard};

/// The resources of this process at one instant.
///
/// ```
/// let now = mp_faults::Resources::now();
/// assert!(now.descriptors >= 3);
/// assert!(now.resident_kib > 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// Open descriptors (`/proc/self/fd`).
    pub descriptors: u64,
    /// Children of this process that ended and were not reaped.
    pub zombies: u64,
    /// Resident memory in KiB (`VmRSS` of `/proc/self/status`).
    pub resident_kib: u64,
    /// Entries in `/dev/shm`.
    pub dev_shm: u64,
}

impl Resources {
    /// Counts them now.
    ///
    /// ```
    /// assert_eq!(mp_faults::Resources::now().zombies, 0);
    /// ```
    pub fn now() -> Self {
        Self {
            descriptors: entries("/proc/self/fd"),
            zombies: zombie_children(),
            resident_kib: resident_kib(),
            dev_shm: entries("/dev/shm"),
        }
    }

    /// How many descriptors, zombies and `/dev/shm` entries `later` has beyond `self`,
    /// plus one if resident memory grew by more than `memory_slack_kib`.
    ///
    /// ```
    /// let before = mp_faults::Resources::now();
    /// assert_eq!(before.leaked_by(&before, 0), 0);
    /// ```
    pub fn leaked_by(&self, later: &Self, memory_slack_kib: u64) -> u64 {
        let grown_memory = later.resident_kib > self.resident_kib.saturating_add(memory_slack_kib);
        later.descriptors.saturating_sub(self.descriptors)
            + later.zombies.saturating_sub(self.zombies)
            + later.dev_shm.saturating_sub(self.dev_shm)
            + u64::from(grown_memory)
    }
}

/// Serializes the loops of one test binary that count resources or start many
/// processes. A loop that panicked does not poison the next.
///
/// ```
/// let _only_me = mp_faults::exclusive();
/// ```
pub fn exclusive() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn entries(dir: &str) -> u64 {
    std::fs::read_dir(dir).map_or(0, |listing| listing.count() as u64)
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn zombie_children() -> u64 {
    let me = std::process::id().to_string();
    let Ok(listing) = std::fs::read_dir("/proc") else {
        return 0;
    };
    listing
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            // After the command's closing parenthesis: state, then the parent's pid.
            let mut fields = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest)
                .unwrap_or("")
                .split_whitespace();
            fields.next() == Some("Z") && fields.next() == Some(me.as_str())
        })
        .count() as u64
}
