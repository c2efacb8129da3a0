//! The forkserver: a fresh, single-threaded run of this binary that forks every child
//! of the [`Forkserver`](crate::StartMethod::Forkserver) method.
//!
//! Started lazily, once per parent process, from the launcher thread. It dies with its
//! parent (`PR_SET_PDEATHSIG`, checked against a parent already gone) and leaves when
//! the parent closes its end of the control socket.
//!
//! Per child, the parent sends a [`Request`] on the control socket: the [`Call`] and the
//! child's end of its private socket. The server forks; the child runs the call; the
//! server answers with the child's pid and a pidfd for it. The parent then sends the
//! arguments to the child directly. The child is the server's child, so only the server
//! can reap it and read its exit status: it watches each child's pidfd and, when the
//! child has ended, reaps it and writes `(Tag::Status, status)` on the child's socket,
//! after whatever the child wrote there itself. That is how `exitcode` reaches the
//! parent.
//!
//! Daemonic children set `PR_SET_PDEATHSIG` against the server, which lives exactly as
//! long as the parent: killing the parent, even by `SIGKILL`, kills the server and so
//! the daemonic children. Non-daemonic children are left running, as in Python.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use mp_shared_mem::transfer::{self, Fd, ReceivedFd};
use nix::poll::PollFlags;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::boot::Role;
use crate::sys::{self, exit_now};
use crate::wire::{Call, ExitStatus, MAX_CONTROL_LEN, Tag};

/// A start request, as the parent sends it.
#[derive(Serialize)]
struct RequestOut<'a> {
    call: &'a Call,
    channel: Fd<'a>,
}

/// A start request, as the server receives it.
#[derive(Deserialize)]
struct Request {
    call: Call,
    channel: ReceivedFd,
}

/// The server's answer.
#[derive(Serialize)]
enum ReplyOut<'a> {
    Started { pid: i32, pidfd: Fd<'a> },
    Failed(String),
}

#[derive(Deserialize)]
enum Reply {
    Started { pid: i32, pidfd: ReceivedFd },
    Failed(String),
}

/// The parent's connection to its forkserver.
pub(crate) struct ForkServer {
    control: UnixStream,
    pid: i32,
    pidfd: OwnedFd,
}

impl ForkServer {
    fn start() -> Result<Self, Error> {
        let (control, server_end) = UnixStream::pair().map_err(io_error("socketpair"))?;
        let (pid, pidfd) = crate::spawn::exec_self(Role::Forkserver, server_end)?;
        tracing::debug!(pid, "forkserver started");
        Ok(ForkServer {
            control,
            pid,
            pidfd,
        })
    }

    fn is_alive(&self) -> bool {
        !sys::is_readable(self.pidfd.as_fd()).unwrap_or(true)
    }
}

/// Asks this process's forkserver (started if there is none, or if it died) to fork a
/// child running `call` on `channel`: its pid and a pidfd.
pub(crate) fn start_child(call: &Call, channel: &UnixStream) -> Result<(i32, OwnedFd), Error> {
    let name = &call.child.name;
    let mut server = crate::state::current().forkserver.lock();
    let request = RequestOut {
        call,
        channel: Fd(channel.as_fd()),
    };
    // A server that was killed a moment ago may still look alive; if the request cannot
    // even be sent, the server never saw it, and a fresh server gets it (once).
    let mut attempts_left = 2;
    loop {
        attempts_left -= 1;
        if !server.as_ref().is_some_and(ForkServer::is_alive) {
            if let Some(dead) = server.take() {
                reap(&dead);
            }
            *server = Some(ForkServer::start()?);
        }
        let Some(connection) = server.as_ref() else {
            return Err(Error::start(name, "no forkserver"));
        };
        let failure = match transfer::send_value(&connection.control, &request) {
            Err(err) if attempts_left > 0 => {
                discard(&mut server);
                tracing::debug!(%err, "the forkserver is gone; starting another");
                continue;
            }
            Err(err) => err,
            Ok(()) => match transfer::recv_value::<Reply>(&connection.control, MAX_CONTROL_LEN) {
                Ok(Reply::Started { pid, pidfd }) => return Ok((pid, pidfd.into_inner())),
                Ok(Reply::Failed(reason)) => return Err(Error::start(name, reason)),
                Err(err) => err,
            },
        };
        // The conversation is out of step or the server is gone: never reuse it.
        discard(&mut server);
        return Err(Error::start(
            name,
            format!("the forkserver failed: {failure}"),
        ));
    }
}

/// Kills and reaps the server, which will not be used again.
fn discard(server: &mut Option<ForkServer>) {
    if let Some(broken) = server.take() {
        let _ = sys::pidfd_send_signal(broken.pidfd.as_fd(), libc::SIGKILL);
        reap(&broken);
    }
}

/// Reaps a forkserver that has ended or was killed (bounded: it dies with SIGKILL).
fn reap(server: &ForkServer) {
    let deadline = Some(Instant::now() + std::time::Duration::from_secs(5));
    let _ = sys::wait_readable(&[server.pidfd.as_fd()], deadline);
    let _ = nix::sys::wait::waitid(
        nix::sys::wait::Id::PIDFd(server.pidfd.as_fd()),
        nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOHANG,
    );
    tracing::debug!(pid = server.pid, "forkserver reaped");
}

fn io_error(operation: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |err| {
        Error::os(
            operation,
            nix::errno::Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)),
        )
    }
}

/// A child the server forked and has not reaped yet.
struct Child {
    pidfd: OwnedFd,
    channel: OwnedFd,
}

/// The server's loop. Never returns.
pub(crate) fn serve(control: UnixStream, parent_pid: i32) -> ! {
    crate::child::die_with_parent(parent_pid);
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
            match sys::wait_ready(&watched, None) {
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
            match transfer::recv_value::<Request>(&control, MAX_CONTROL_LEN) {
                Ok(request) => {
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
                    if transfer::send_value(&control, &message).is_err() {
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
    let server_pid = nix::unistd::getpid().as_raw();
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
            crate::child::run_call(request.call, channel, server_pid)
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            let pid = child.as_raw();
            match sys::pidfd_open(pid) {
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

/// Sends `(Tag::Status, status)`; the socket and status back if it would block. A
/// 20-byte frame goes whole or not at all on a Unix stream socket reported writable.
fn send_status(channel: OwnedFd, status: ExitStatus) -> Option<(OwnedFd, ExitStatus)> {
    match transfer::send_value(&channel, &(Tag::Status, status)) {
        Err(mp_shared_mem::Error::Os {
            errno: nix::errno::Errno::EAGAIN,
            ..
        }) => Some((channel, status)),
        // Sent; or the parent is gone or dropped the handle: nothing more to do.
        _ => None,
    }
}
