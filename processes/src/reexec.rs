//! Running this binary afresh in a [`Role`]: each spawned child, and the forkserver
//! itself. Both need it, so it sits below both.
//!
//! The child comes from `posix_spawn`, which glibc implements with
//! `clone(CLONE_VM | CLONE_VFORK)`: the child borrows the parent's memory on a stack of
//! its own until its `exec`, so none of the parent's page tables are copied, and a
//! parent with a large heap starts a child as fast as a small one. A `fork` (what
//! `std::process::Command` falls back to as soon as it is given a `pre_exec` closure)
//! copies them all first. In the child, only the file actions below and the `exec` run:
//! no code of ours, so no lock or allocator state of another thread can be met there.
//!
//! What the child inherits is what the spawned run of the binary expects:
//! - descriptors: only its socket. Everything this library opens is `O_CLOEXEC`, and so
//!   is the socket in the parent, so that no other program started meanwhile by another
//!   thread inherits it; the one file action, `dup2(fd, fd)`, clears the flag in the
//!   child alone (glibc 2.29 and later, and musl, do so for equal descriptors, as POSIX
//!   2024 requires). Descriptors meant for the target cross later, over the socket.
//! - the environment of the parent plus [`BOOT_ENV`], and the parent's `argv[0]`;
//! - an empty signal mask and `SIGPIPE` at its default, as `std::process::Command` gives
//!   (the boot code ignores `SIGPIPE` again, as Rust's `main` would).
//!
//! The parent-death rule stays with the child: `PR_SET_PDEATHSIG` cannot be set across
//! `exec` by the parent, so a daemonic child (and the forkserver) sets it itself once it
//! runs, then checks that its parent is still the pid it was given (see
//! [`die_with_parent`](crate::child::setup::die_with_parent)). The signal comes when the
//! thread that created the child ends, which is why the spawn runs on the launcher
//! thread, which lives as long as the process.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

use mp_sys::pidfd;
use mp_sys::process::current_pid;

use crate::error::{Error, StartFault};
use crate::launcher;
use crate::role::{BOOT_ENV, Role, boot_value};

/// The program every fresh run executes: this very binary, even if its path has since
/// been renamed or removed.
const THIS_BINARY: &str = "/proc/self/exe";

/// Starts `/proc/self/exe` in `role`, with `child_end` as its socket, from the launcher
/// thread: its pid and a pidfd for it.
pub(crate) fn exec_self(role: Role, child_end: UnixStream) -> Result<(i32, OwnedFd), Error> {
    launcher::run(move || exec_self_here(role, child_end))?
}

fn exec_self_here(role: Role, child_end: UnixStream) -> Result<(i32, OwnedFd), Error> {
    let fd = child_end.as_raw_fd();
    let boot = boot_value(role, fd, current_pid());
    let cannot_run = |step: &'static str, errno: Errno| Error::Start {
        name: role.description().into(),
        fault: StartFault::Reexec { step, errno },
    };
    let argv = [c_string(
        std::env::args_os()
            .next()
            .unwrap_or_else(|| OsString::from(THIS_BINARY)),
    )];
    let envp = environment_with(BOOT_ENV, OsStr::new(&boot));
    let mut actions =
        PosixSpawnFileActions::init().map_err(|errno| cannot_run("file actions", errno))?;
    actions
        .add_dup2(fd, fd)
        .map_err(|errno| cannot_run("file actions", errno))?;
    let attributes = child_attributes().map_err(|errno| cannot_run("attributes", errno))?;
    let pid = posix_spawn(THIS_BINARY, &actions, &attributes, &argv, &envp)
        .map_err(|errno| cannot_run("posix_spawn", errno))?;
    drop(child_end);
    // The child is ours and not reaped, so its pid cannot be reused under us.
    match pidfd::open(pid.as_raw()) {
        Ok(pidfd) => Ok((pid.as_raw(), pidfd)),
        Err(errno) => {
            kill_and_reap(pid);
            Err(Error::os("pidfd_open", errno))
        }
    }
}

/// An empty signal mask (the launcher thread's would be inherited otherwise) and
/// `SIGPIPE` back at its default.
fn child_attributes() -> Result<PosixSpawnAttr, Errno> {
    let mut attributes = PosixSpawnAttr::init()?;
    attributes.set_sigmask(&SigSet::empty())?;
    let mut defaults = SigSet::empty();
    defaults.add(Signal::SIGPIPE);
    attributes.set_sigdefault(&defaults)?;
    attributes.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )?;
    Ok(attributes)
}

/// This process's environment as `KEY=VALUE` strings, with `key` set to `value`
/// (replacing any value it had).
fn environment_with(key: &str, value: &OsStr) -> Vec<CString> {
    let mut entries: Vec<CString> = std::env::vars_os()
        .filter(|(name, _)| name != key)
        .filter_map(|(name, value)| {
            let mut entry = name.into_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            // The kernel's environment holds no NUL inside an entry: nothing is dropped.
            CString::new(entry).ok()
        })
        .collect();
    let mut boot = key.as_bytes().to_vec();
    boot.push(b'=');
    boot.extend_from_slice(value.as_bytes());
    entries.extend(CString::new(boot).ok());
    entries
}

/// `text` as a C string; cut at a NUL, which an `argv` entry cannot hold anyway.
fn c_string(text: OsString) -> CString {
    let mut bytes = text.into_vec();
    if let Some(nul) = bytes.iter().position(|&byte| byte == 0) {
        bytes.truncate(nul);
    }
    CString::new(bytes).unwrap_or_default()
}

/// Kills and reaps a child that will not be used (SIGKILL ends it at once).
fn kill_and_reap(pid: Pid) {
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_variable_is_set_once_and_replaces_an_inherited_one() {
        let entries = environment_with("PATH", OsStr::new("/nowhere"));
        let paths: Vec<&CString> = entries
            .iter()
            .filter(|entry| entry.as_bytes().starts_with(b"PATH="))
            .collect();
        assert_eq!(paths, [&CString::new("PATH=/nowhere").unwrap()]);
    }

    #[test]
    fn an_argument_with_a_nul_is_cut_there() {
        assert_eq!(
            c_string(OsString::from("prog\0ram")),
            CString::new("prog").unwrap()
        );
    }
}
