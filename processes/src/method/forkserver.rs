//! The forkserver method: the forkserver forks the child and hands it its call; the
//! parent then sends the arguments straight to the child.

use mp_sys::pidfd;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::Handover;
use crate::error::{Error, StartFault};
use crate::forkserver::client::start_child;
use crate::payload;

/// Has the forkserver fork the child, then hands it its arguments.
pub(super) fn start(
    handover: Handover,
    parent_end: &UnixStream,
    child_end: UnixStream,
) -> Result<(i32, OwnedFd), Error> {
    let (pid, pidfd) = start_child(&handover.call, &child_end)?;
    drop(child_end);
    let fds: Vec<BorrowedFd<'_>> = handover.fds.iter().map(AsFd::as_fd).collect();
    if let Err(err) = payload::send_encoded(parent_end, handover.args, &fds) {
        // The child is the server's, which reaps it: kill it only.
        let _ = pidfd::send_signal(pidfd.as_fd(), libc::SIGKILL);
        return Err(Error::start(
            &handover.call.child.name,
            StartFault::Handover { cause: err },
        ));
    }
    Ok((pid, pidfd))
}
