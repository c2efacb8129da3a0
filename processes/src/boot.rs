//! The hook that turns a fresh run of this binary into a spawned child or a forkserver,
//! before `main` runs.
//!
//! The parent runs `/proc/self/exe` with `MP_PROCESSES_BOOT=<role>:<fd>:<parent pid>` in
//! the environment and the socket `<fd>` left open across `exec`. The C runtime calls
//! every function listed in `.init_array` before `main`; ours looks for the variable and,
//! if it is there, removes it (so that the child's own children do not see it), plays
//! the role and `_exit`s. It never returns into `main`, so this works in any binary that
//! links the crate, a `cargo test` harness included, and needs no code in `main`.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use mp_shared_mem::transfer;

use crate::sys::exit_now;
use crate::wire::{Call, MAX_CONTROL_LEN};

/// The environment variable that marks a fresh run as a child.
pub(crate) const BOOT_ENV: &str = "MP_PROCESSES_BOOT";

/// What the fresh run of the binary is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A spawned child: read a `Call` and the arguments from the socket.
    Spawn,
    /// A forkserver: serve start requests on the socket.
    Forkserver,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Spawn => "spawn",
            Role::Forkserver => "forkserver",
        }
    }
}

/// The value of [`BOOT_ENV`] for a child in `role` with its socket at `fd`.
pub(crate) fn boot_value(role: Role, fd: RawFd, parent_pid: i32) -> String {
    format!("{}:{fd}:{parent_pid}", role.name())
}

fn parse(value: &str) -> Option<(Role, RawFd, i32)> {
    let mut parts = value.split(':');
    let role = match parts.next()? {
        "spawn" => Role::Spawn,
        "forkserver" => Role::Forkserver,
        _ => return None,
    };
    let fd = parts.next()?.parse().ok()?;
    let parent_pid = parts.next()?.parse().ok()?;
    (fd > 2 && parts.next().is_none()).then_some((role, fd, parent_pid))
}

#[used]
#[unsafe(link_section = ".init_array")]
pub(crate) static BOOT_HOOK: extern "C" fn() = boot;

/// Referenced from the start paths, so that the linker keeps the object file holding
/// [`BOOT_HOOK`] in every binary that can start a process.
pub(crate) fn keep_hook() {
    std::hint::black_box(&BOOT_HOOK);
}

extern "C" fn boot() {
    let Some(value) = std::env::var_os(BOOT_ENV) else {
        return;
    };
    // SAFETY: this runs before `main`, from the C runtime's constructor list, when the
    // program has not started any thread yet, so nothing reads the environment at the
    // same time.
    unsafe { std::env::remove_var(BOOT_ENV) };
    let Some((role, fd, parent_pid)) = value.to_str().and_then(parse) else {
        eprintln!("mp-processes: malformed {BOOT_ENV}={value:?}; not a child");
        exit_now(1);
    };
    // Rust's `main` ignores SIGPIPE before user code runs; ours never runs, so do the
    // same, or a write to a closed pipe would kill the child instead of failing.
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // SAFETY: the parent passed this descriptor, an open socket, for this process alone;
    // the environment variable that named it is gone, so nothing else will claim it.
    let channel = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // The socket was inherited without O_CLOEXEC; put it back so that programs this child
    // runs do not get it.
    let _ = nix::fcntl::fcntl(
        &channel,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    match role {
        Role::Spawn => match transfer::recv_value::<Call>(&channel, MAX_CONTROL_LEN) {
            Ok(call) => crate::child::run_call(call, channel, parent_pid),
            // The parent went away or sent garbage: there is no one to report to.
            Err(_) => exit_now(1),
        },
        Role::Forkserver => crate::forkserver::serve(channel, parent_pid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_values_round_trip_and_garbage_is_refused() {
        assert_eq!(
            parse(&boot_value(Role::Spawn, 7, 42)),
            Some((Role::Spawn, 7, 42))
        );
        assert_eq!(
            parse(&boot_value(Role::Forkserver, 3, 1)),
            Some((Role::Forkserver, 3, 1))
        );
        assert_eq!(parse("spawn:1:5"), None, "stdio is not a socket of ours");
        assert_eq!(parse("spawn:7"), None);
        assert_eq!(parse("spawn:7:5:9"), None);
        assert_eq!(parse("exec:7:5"), None);
        assert_eq!(parse("spawn:x:5"), None);
    }
}
