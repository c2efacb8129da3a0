//! The forkserver process: its loop, forking each child, reaping it and reporting its
//! exit status on the child's socket.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use mp_sys::{Deadline, pidfd, poll};
use mp_wire::Fd;
use nix::poll::PollFlags;

use super::protocol::{ReplyOut, Request};
use crate::child::exit::exit_now;
use crate::child::run::run_call;
use crate::child::setup::die_with_parent;
use crate::wire::{ExitStatus, MAX_CONTROL_LEN, Tag};

/// A child the server forked and has not reaped yet.
struct Child {
    pidfd: OwnedFd,
    channel: OwnedFd,
}

/// The server's loop. Never returns.
pub(crate) fn serve(control: UnixStream, parent_pid: i32) -> ! {
    die_with_parent(parent_pid);
    // Once here, so that no forked child installs the panic hook wrapper itself.
    mp_sys::panic::install_hook();
    // Each child costs the server two descriptors until it is reaped.
    if let Ok((_, hard)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        let _ =
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    }
    let mut children: Vec<Child> = Vec::new();
    // Statuses whose socket was full (the parent has not read a large return value yet).
    let mut unsent: Vec<(OwnedFd, ExitStatus)> = Vec::new();
    loop {
        let ready = {
            let mut watched: Vec<(BorrowedFd<'_>, PollFlags)> =
                vec![(control.as_fd(), PollFlags::POLLIN)];
            watched.extend(
                children
                    .iter()
                    .map(|child| (child.pidfd.as_fd(), PollFlags::POLLIN)),
            );
            watched.extend(
                unsent
                    .iter()
                    .map(|(channel, _)| (channel.as_fd(), PollFlags::POLLOUT)),
            );
            match poll::wait_ready(&watched, Deadline::NEVER) {
                Ok(ready) => ready,
                Err(_) => exit_now(1),
            }
        };
        let (control_ready, rest) = ready.split_first().unwrap_or((&false, &[]));
        let (children_ready, unsent_ready) = rest.split_at(children.len().min(rest.len()));
        // Retry statuses, then reap children, back to front so indices stay valid.
        for index in (0..unsent.len()).rev() {
            if unsent_ready.get(index).copied().unwrap_or(false) {
                let (channel, status) = unsent.swap_remove(index);
                if let Some(again) = send_status(channel, status) {
                    unsent.push(again);
                }
            }
        }
        for index in (0..children.len()).rev() {
            if children_ready.get(index).copied().unwrap_or(false) {
                let child = children.swap_remove(index);
                if let Some(again) = report_exit(child) {
                    unsent.push(again);
                }
            }
        }
        let control_ready = *control_ready;
        if control_ready {
            match mp_wire::recv_value::<Request>(&control, MAX_CONTROL_LEN) {
                Ok(request) => {
                    // Before forking: a parent that sees us die without this may ask
                    // a fresh server, knowing no child of its request runs.
                    if mp_wire::send_value(&control, &ReplyOut::Received).is_err() {
                        exit_now(1);
                    }
                    let reply = fork_child(request, &control, &children);
                    let (message, keep) = match &reply {
                        Ok(child) => (
                            ReplyOut::Started {
                                pid: child.0,
                                pidfd: Fd(child.1.pidfd.as_fd()),
                            },
                            true,
                        ),
                        Err(reason) => (ReplyOut::Failed(reason.clone()), false),
                    };
                    if mp_wire::send_value(&control, &message).is_err() {
                        exit_now(1);
                    }
                    drop(message);
                    if keep && let Ok((_, child)) = reply {
                        children.push(child);
                    }
                }
                // The parent closed the socket (it exited) or broke the protocol: leave.
                // Daemonic children die with us; the others carry on, as in Python.
                Err(_) => exit_now(0),
            }
        }
    }
}

fn fork_child(
    request: Request,
    control: &UnixStream,
    children: &[Child],
) -> Result<(i32, Child), String> {
    let channel = UnixStream::from(request.channel.into_inner());
    let server_pid = mp_sys::process::current_pid();
    // SAFETY: the server is single-threaded (it runs before `main`, in a process that
    // started no thread), so the child is a complete copy and may do anything.
    match unsafe { nix::unistd::fork() } {
        Err(errno) => Err(format!("fork failed in the forkserver: {errno}")),
        Ok(nix::unistd::ForkResult::Child) => {
            // The child keeps only its own socket: not the control socket, not its
            // siblings' sockets and pidfds.
            let _ = nix::unistd::close(control.as_raw_fd());
            for sibling in children {
                let _ = nix::unistd::close(sibling.pidfd.as_raw_fd());
                let _ = nix::unistd::close(sibling.channel.as_raw_fd());
            }
            run_call(request.call, channel, server_pid)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            let pid = child.as_raw();
            match pidfd::open(pid) {
                Ok(pidfd) => Ok((
                    pid,
                    Child {
                        pidfd,
                        channel: OwnedFd::from(channel),
                    },
                )),
                Err(errno) => {
                    // Without a pidfd the parent cannot watch the child: undo it.
                    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                    let _ = nix::sys::wait::waitpid(child, None);
                    Err(format!("pidfd_open failed in the forkserver: {errno}"))
                }
            }
        }
    }
}

/// Reaps an ended child and tells its parent how it ended; the status back if the
/// socket is full for now.
fn report_exit(child: Child) -> Option<(OwnedFd, ExitStatus)> {
    let status = nix::sys::wait::waitid(
        nix::sys::wait::Id::PIDFd(child.pidfd.as_fd()),
        nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOHANG,
    );
    let status = status.ok().and_then(ExitStatus::from_wait)?;
    // The child is gone, so no one else writes to this socket now: make it non-blocking,
    // so that a parent that has not read a large return value yet cannot stall the
    // server.
    let _ = nix::fcntl::fcntl(
        &child.channel,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    send_status(child.channel, status)
}

/// Sends `(Tag::Status, status)`; the socket and status back if it would block. A frame
/// this small goes whole or not at all on a Unix stream socket reported writable.
fn send_status(channel: OwnedFd, status: ExitStatus) -> Option<(OwnedFd, ExitStatus)> {
    let channel = UnixStream::from(channel);
    match mp_wire::send_value(&channel, &(Tag::Status, status)) {
        Err(mp_wire::Error::Os {
            errno: nix::errno::Errno::EAGAIN,
            ..
        }) => Some((OwnedFd::from(channel), status)),
        // Sent; or the parent is gone or dropped the handle: nothing more to do.
        _ => None,
    }
}
