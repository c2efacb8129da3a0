//! The hook that turns a fresh run of this binary into a spawned child or a forkserver,
//! before `main` runs.
//!
//! The C runtime calls every function listed in `.init_array` before `main`; ours looks
//! for [`BOOT_ENV`] and, if it is there, removes it (so that the child's own children do
//! not see it), plays the role and `_exit`s. It never returns into `main`, so this works
//! in any binary that links the crate, a `cargo test` harness included, and needs no
//! code in `main`.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::exit::exit_now;
use super::run::run_call;
use crate::forkserver::server::serve;
use crate::role::{BOOT_ENV, Role, parse_boot_value};
use crate::wire::{Call, MAX_CONTROL_LEN};

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
    let Some((role, fd, parent_pid)) = value.to_str().and_then(parse_boot_value) else {
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
        Role::Spawn => match mp_wire::recv_value::<Call>(&channel, MAX_CONTROL_LEN) {
            Ok(call) => run_call(call, channel, parent_pid),
            // The parent went away or sent garbage: there is no one to report to.
            Err(_) => exit_now(1),
        },
        Role::Forkserver => serve(channel, parent_pid),
    }
}
