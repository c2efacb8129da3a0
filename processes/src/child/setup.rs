//! Becoming a child: this process's identity installed before the target runs, and,
//! for a daemonic child (and the forkserver), its life tied to its creator's.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use super::exit::exit_now;
use crate::identity::install_child;
use crate::wire::Identity;

/// Marks this process as the child `identity` whose parent is `parent_pid`; for a
/// daemonic child, arranges to be killed when the parent dies.
pub(crate) fn become_child(identity: Identity, channel: &UnixStream, creator_pid: i32) {
    if identity.daemon {
        die_with_parent(creator_pid);
    }
    install_child(identity, channel.as_raw_fd());
}

/// `PR_SET_PDEATHSIG(SIGKILL)`, then a check that the creator is still our parent: if it
/// died before the `prctl`, no signal will ever come, so the child ends itself now.
pub(crate) fn die_with_parent(creator_pid: i32) {
    use nix::sys::signal::Signal;
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err()
        || nix::unistd::getppid().as_raw() != creator_pid
    {
        let _ = nix::sys::signal::raise(Signal::SIGKILL);
        exit_now(1);
    }
}
