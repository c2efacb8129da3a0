//! Reaping named blocks whose creator died without unlinking them, without a tracker
//! process.
//!
//! Python starts a resource-tracker process that unlinks a dead program's blocks. Here
//! the kernel keeps the bookkeeping instead: next to each block whose drop will unlink it,
//! an empty record named `mp_creator.<pid>.<start ticks>.<block name>` lives in
//! `/dev/shm` too. The record is made after the block and removed before it, so a record
//! never outlives its block: a process killed between the two steps leaves its block
//! unrecorded (as before this scheme) rather than a record that could name a later block
//! of the same name. A sweep
//! lists the records, and for each one whose process no longer runs (the start time tells
//! a reused process id apart) unlinks the block, unless it is still in use, then the
//! record.
//!
//! "In use" is decided by the kernel's own count first: every handle holds a shared
//! `flock` on a descriptor of its own, and the sweep unlinks a block only while it holds
//! the exclusive lock (`LOCK_EX | LOCK_NB`), which it cannot get while any handle lives.
//! The lock belongs to the open file description, so it goes with the handle's last
//! descriptor, whatever ends the process (even `kill -9`); a forked child shares its
//! parent's description and keeps it held while it keeps the descriptor, so such a child
//! is a user as long as it lives, as it maps the block. A handle that attaches while the
//! sweep holds the lock waits for it, then finds the name gone ([`Error::NotFound`]).
//! Blocks that other programs (Python) map hold no lock: for them the sweep also reads
//! `/proc/*/maps` once, when it finds a dead creator, and leaves any block mapped there.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd};

use mp_sys::liveness::ProcessIdentity;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;

use crate::Error;

/// The start of every record's name.
const RECORD_PREFIX: &str = "mp_creator.";
/// Where `shm_open` keeps its names on Linux.
const DEV_SHM: &str = "/dev/shm";
/// Longest name `shm_open` takes, less the leading slash.
const MAX_NAME_LEN: usize = 254;

/// The record naming `creator` as the process that unlinks `block`.
pub(super) fn record_name(block: &str, creator: ProcessIdentity) -> String {
    format!(
        "{RECORD_PREFIX}{}.{}.{block}",
        creator.pid(),
        creator.start_ticks()
    )
}

/// Records this process as the one that unlinks `block`; the record's name, or `None` if
/// it could not be made (a block name too long to fit in a record's, or no descriptor
/// left): such a block is simply never reaped.
pub(super) fn register(block: &str) -> Option<String> {
    let record = record_name(block, ProcessIdentity::current());
    if record.len() > MAX_NAME_LEN {
        tracing::debug!(
            name = block,
            "name too long to record its creator: never reaped"
        );
        return None;
    }
    let created: Result<OwnedFd, Errno> = shm_open(
        format!("/{record}").as_str(),
        OFlag::O_CREAT | OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::S_IRUSR | Mode::S_IWUSR,
    );
    match created {
        Ok(_closed_at_once) => Some(record),
        Err(errno) => {
            tracing::debug!(name = block, %errno, "cannot record the creator: never reaped");
            None
        }
    }
}

/// Marks a handle's descriptor of a block as in use: a shared `flock` that lasts as long
/// as the descriptor's open file description. Waits while a sweep holds the exclusive
/// lock (a moment: the sweep only unlinks meanwhile).
pub(super) fn hold_in_use(fd: &OwnedFd) -> Result<(), Error> {
    // Not `nix::fcntl::Flock`: it unlocks on drop, and the handle's copy in a forked child
    // would then release the lock of the description it shares with its parent; the lock
    // here ends when the description's last descriptor closes.
    #[allow(deprecated)]
    loop {
        match nix::fcntl::flock(fd.as_raw_fd(), FlockArg::LockShared) {
            Ok(()) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Error::os("flock", errno)),
        }
    }
}

/// Removes a record made by [`register`]; one already gone is no error.
pub(super) fn unregister(record: &str) {
    match shm_unlink(format!("/{record}").as_str()) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(errno) => tracing::debug!(record, %errno, "cannot remove the creator record"),
    }
}

/// Unlinks every block whose recorded creator no longer runs and which no live process
/// maps, with its record (and the record alone if the block is gone); the names of the
/// blocks unlinked.
pub(super) fn reap() -> Result<Vec<String>, Error> {
    let orphans: Vec<(String, String, ProcessIdentity)> = records()?
        .into_iter()
        .filter_map(|record| {
            let (creator, block) = parse_record(&record)?;
            let block = block.to_string();
            (!creator.is_alive()).then_some((record, block, creator))
        })
        .collect();
    if orphans.is_empty() {
        return Ok(Vec::new());
    }
    let mapped = mapped_by_live_processes();
    let mut reaped = Vec::new();
    for (record, block, creator) in orphans {
        let path = format!("/{block}");
        let Some(_unused) = lock_unused(&path)? else {
            // Still in use: a later sweep reaps it once its last user is gone.
            continue;
        };
        if mapped.contains(&block) {
            continue;
        }
        unregister(&record);
        match shm_unlink(path.as_str()) {
            Ok(()) => {
                tracing::warn!(
                    name = block,
                    creator = creator.pid(),
                    "unlinked a named shared memory block left behind by a process that died"
                );
                reaped.push(block);
            }
            Err(Errno::ENOENT) => {}
            Err(errno) => return Err(Error::os("shm_unlink", errno)),
        }
    }
    Ok(reaped)
}

/// The block's exclusive lock, held until the returned value drops, when no handle has the
/// block; `None` while one has. `Some(None)` for a block already gone.
fn lock_unused(path: &str) -> Result<Option<Option<Flock<OwnedFd>>>, Error> {
    let fd = match shm_open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(Some(None)),
        Err(errno) => return Err(Error::os("shm_open", errno)),
    };
    match Flock::lock(fd, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(Some(lock))),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(Error::os("flock", errno)),
    }
}

/// The names of the records in `/dev/shm`.
fn records() -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(DEV_SHM) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_error("read /dev/shm", &err)),
    };
    Ok(entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(RECORD_PREFIX))
        .collect())
}

/// The creator and the block a record names; `None` for a name that is not a record.
fn parse_record(record: &str) -> Option<(ProcessIdentity, &str)> {
    let rest = record.strip_prefix(RECORD_PREFIX)?;
    let mut fields = rest.splitn(3, '.');
    let pid = fields.next()?.parse().ok()?;
    let start_ticks = fields.next()?.parse().ok()?;
    let block = fields.next().filter(|block| !block.is_empty())?;
    Some((ProcessIdentity::new(pid, start_ticks), block))
}

/// The `/dev/shm` names that some process maps now, from every `/proc/PID/maps` this
/// process may read (those of its own user: a block's mode lets no one else map it).
fn mapped_by_live_processes() -> HashSet<String> {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return HashSet::new();
    };
    processes
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            name.to_str()?.parse::<u32>().ok()?;
            std::fs::read_to_string(format!("/proc/{}/maps", name.to_str()?)).ok()
        })
        .flat_map(|maps| {
            maps.lines()
                .filter_map(mapped_shm_name)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The `/dev/shm` name a line of `/proc/PID/maps` maps, unless it was unlinked.
fn mapped_shm_name(line: &str) -> Option<&str> {
    let (_, path) = line.split_once(" /dev/shm/")?;
    (!path.ends_with(" (deleted)")).then_some(path)
}

fn io_error(operation: &'static str, err: &std::io::Error) -> Error {
    Error::os(
        operation,
        Errno::from_raw(err.raw_os_error().unwrap_or(Errno::EIO as i32)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_name_their_creator_and_block() {
        let creator = ProcessIdentity::new(42, 7);
        let record = record_name("mp_abc.def", creator);
        assert_eq!(record, "mp_creator.42.7.mp_abc.def");
        assert_eq!(parse_record(&record), Some((creator, "mp_abc.def")));
        for not_a_record in [
            "mp_abc",
            "mp_creator.",
            "mp_creator.x.7.b",
            "mp_creator.42.y.b",
            "mp_creator.42.7.",
            "mp_creator.42.7",
        ] {
            assert_eq!(parse_record(not_a_record), None, "{not_a_record}");
        }
    }

    #[test]
    fn maps_lines_give_live_shm_names() {
        let live = "7f00-7f01 rw-s 00000000 00:1a 123 /dev/shm/mp_a b";
        let gone = "7f00-7f01 rw-s 00000000 00:1a 123 /dev/shm/mp_c (deleted)";
        let other = "7f00-7f01 r-xp 00000000 08:01 9 /usr/lib/libc.so.6";
        assert_eq!(mapped_shm_name(live), Some("mp_a b"));
        assert_eq!(mapped_shm_name(gone), None);
        assert_eq!(mapped_shm_name(other), None);
    }
}
