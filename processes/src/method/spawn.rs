//! The spawn method: this binary runs afresh as the child, which reads its call and then
//! its arguments from its socket.

use mp_sys::pidfd;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::Handover;
use crate::error::{Error, StartFault};
use crate::payload;
use crate::reexec::exec_self;
use crate::role::Role;

/// Runs the binary afresh as the child and hands it `handover`.
pub(super) fn start(
    handover: Handover,
    parent_end: &UnixStream,
    child_end: UnixStream,
) -> Result<(i32, OwnedFd), Error> {
    let (pid, pidfd) = exec_self(Role::Spawn, child_end)?;
    let fds: Vec<BorrowedFd<'_>> = handover.fds.iter().map(AsFd::as_fd).collect();
    let sent = mp_wire::send_value(parent_end, &handover.call)
        .and_then(|()| payload::send_encoded(parent_end, handover.args, &fds));
    if let Err(err) = sent {
        // The child is ours: kill it and reap it.
        let _ = pidfd::send_signal(pidfd.as_fd(), libc::SIGKILL);
        let _ = nix::sys::wait::waitid(
            nix::sys::wait::Id::PIDFd(pidfd.as_fd()),
            nix::sys::wait::WaitPidFlag::WEXITED,
        );
        return Err(Error::start(
            &handover.call.child.name,
            StartFault::Handover { cause: err },
        ));
    }
    Ok((pid, pidfd))
}
