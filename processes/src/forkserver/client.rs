//! The parent's side of the forkserver: starting it (once per process, again if it
//! died) and asking it for a child.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mp_sys::{Deadline, pidfd};
use mp_wire::Fd;
use parking_lot::Mutex;

use super::protocol::{Reply, RequestOut};
use crate::error::{Error, StartFault};
use crate::reexec::exec_self;
use crate::role::Role;
use crate::wire::{Call, MAX_CONTROL_LEN};
use mp_sys::PerProcess;

/// This process's forkserver, once started (a forked child has none: it starts its own).
static SERVER: PerProcess<Mutex<Option<ForkServer>>> = PerProcess::new(|| Mutex::new(None));

/// How long a start waits for the forkserver's answer, in milliseconds (see
/// [`set_forkserver_timeout`]).
static ANSWER_PATIENCE_MS: AtomicU64 = AtomicU64::new(30_000);

/// Sets how long a start with the forkserver method waits for the server's answer
/// (default 30 s; `Duration::MAX`: for ever). A server that does not answer in time
/// (stopped, or wedged) fails that start with [`Error::Start`] and is killed; the next
/// start gets a fresh server. Python waits for ever.
///
/// ```
/// use std::time::Duration;
///
/// mp_processes::set_forkserver_timeout(Duration::from_secs(60));
/// # mp_processes::set_forkserver_timeout(Duration::from_secs(30));
/// ```
pub fn set_forkserver_timeout(timeout: Duration) {
    let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    ANSWER_PATIENCE_MS.store(millis, Ordering::Relaxed);
}

/// The pid of this process's forkserver, if one runs (for tests that stop or kill it).
#[doc(hidden)]
pub fn forkserver_pid() -> Option<i32> {
    SERVER.get().lock().as_ref().map(|server| server.pid)
}

/// The parent's connection to its forkserver.
struct ForkServer {
    control: UnixStream,
    pid: i32,
    pidfd: OwnedFd,
}

impl ForkServer {
    fn start() -> Result<Self, Error> {
        let (control, server_end) = UnixStream::pair().map_err(io_error("socketpair"))?;
        let (pid, pidfd) = exec_self(Role::Forkserver, server_end)?;
        tracing::debug!(pid, "forkserver started");
        Ok(ForkServer {
            control,
            pid,
            pidfd,
        })
    }

    fn is_alive(&self) -> bool {
        !pidfd::has_exited(self.pidfd.as_fd()).unwrap_or(true)
    }
}

/// Asks this process's forkserver (started if there is none, or if it died) to fork a
/// child running `call` on `channel`: its pid and a pidfd.
pub(crate) fn start_child(call: &Call, channel: &UnixStream) -> Result<(i32, OwnedFd), Error> {
    let name = &call.child.name;
    let mut server = SERVER.get().lock();
    let request = RequestOut {
        call,
        channel: Fd(channel.as_fd()),
    };
    // A server killed a moment ago may still look alive, and even take the request into
    // its socket. As long as it did not acknowledge the request it forked nothing, so a
    // fresh server gets it (once); past the acknowledgement, asking again could run the
    // child twice.
    let mut retries_left = 1;
    loop {
        if !server.as_ref().is_some_and(ForkServer::is_alive) {
            if let Some(dead) = server.take() {
                reap(&dead);
            }
            *server = Some(ForkServer::start()?);
        }
        let Some(connection) = server.as_ref() else {
            return Err(Error::start(name, StartFault::NoForkserver));
        };
        let failure = match connection.ask(&request) {
            Ok(Reply::Started { pid, pidfd }) => return Ok((pid, pidfd.into_inner())),
            // The server is sound and goes on; only this child could not be forked.
            Ok(Reply::Failed(detail)) => {
                return Err(Error::start(name, StartFault::ForkserverRefused { detail }));
            }
            Ok(Reply::Received) => Unanswered::Forked("a second acknowledgement".into()),
            Err(Unanswered::NotForked(reason)) if retries_left > 0 => {
                retries_left -= 1;
                discard(&mut server);
                tracing::debug!(%reason, "the forkserver is gone before forking; starting another");
                continue;
            }
            Err(failure) => failure,
        };
        // The conversation is out of step or the server is gone: never reuse it.
        discard(&mut server);
        return Err(Error::start(name, failure.into_fault()));
    }
}

/// Why a request got no outcome from the server.
enum Unanswered {
    /// The server broke off before acknowledging the request: it forked nothing.
    NotForked(String),
    /// The server broke off after acknowledging the request: the child may run.
    Forked(String),
    /// The server did not answer within the patience (stopped, or wedged).
    Silent(Duration),
    /// Waiting for the answer failed.
    Poll(nix::errno::Errno),
}

impl Unanswered {
    fn into_fault(self) -> StartFault {
        match self {
            Unanswered::NotForked(detail) | Unanswered::Forked(detail) => {
                StartFault::ForkserverBroke { detail }
            }
            Unanswered::Silent(patience) => StartFault::ForkserverSilent { patience },
            Unanswered::Poll(errno) => StartFault::ForkserverPoll { errno },
        }
    }
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unanswered::NotForked(reason) | Unanswered::Forked(reason) => {
                write!(f, "the forkserver failed: {reason}")
            }
            Unanswered::Silent(patience) => write!(
                f,
                "the forkserver did not answer within {patience:?} (stopped?); it was killed, and the next start gets a new one"
            ),
            Unanswered::Poll(errno) => write!(f, "waiting for the forkserver failed: {errno}"),
        }
    }
}

impl ForkServer {
    /// Sends `request` and waits for the server's outcome, past its acknowledgement.
    fn ask(&self, request: &RequestOut<'_>) -> Result<Reply, Unanswered> {
        let patience = Duration::from_millis(ANSWER_PATIENCE_MS.load(Ordering::Relaxed));
        let deadline = Deadline::after(patience);
        mp_wire::send_value(&self.control, request)
            .map_err(|err| Unanswered::NotForked(err.to_string()))?;
        match self.answer(deadline, patience) {
            Ok(Reply::Received) => {}
            Ok(_) => {
                return Err(Unanswered::Forked(
                    "an outcome before the acknowledgement".into(),
                ));
            }
            Err(Unanswered::Forked(reason)) => return Err(Unanswered::NotForked(reason)),
            Err(other) => return Err(other),
        }
        self.answer(deadline, patience)
    }

    /// The server's next message, by `deadline`; a failure to read it is `Forked` (the
    /// caller knows what the server had acknowledged).
    fn answer(&self, deadline: Deadline, patience: Duration) -> Result<Reply, Unanswered> {
        let answered =
            mp_sys::poll::is_readable(self.control.as_fd(), deadline).map_err(Unanswered::Poll)?;
        if !answered {
            return Err(Unanswered::Silent(patience));
        }
        mp_wire::recv_value::<Reply>(&self.control, MAX_CONTROL_LEN)
            .map_err(|err| Unanswered::Forked(err.to_string()))
    }
}

/// Kills and reaps the server, which will not be used again.
fn discard(server: &mut Option<ForkServer>) {
    if let Some(broken) = server.take() {
        let _ = pidfd::send_signal(broken.pidfd.as_fd(), libc::SIGKILL);
        reap(&broken);
    }
}

/// Reaps a forkserver that has ended or was killed (bounded: it dies with SIGKILL).
fn reap(server: &ForkServer) {
    let deadline = Deadline::after(Duration::from_secs(5));
    let _ = pidfd::wait_exited(server.pidfd.as_fd(), deadline);
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
