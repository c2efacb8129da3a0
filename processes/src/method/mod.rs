//! The parent's side of starting a child: one function, [`start`], that starts a child
//! by the given start method and returns its pid and pidfd, whichever way it came to be.
//!
//! Each method has its file: [`fork`] forks the launcher thread; [`spawn`] runs this
//! binary afresh and hands the child its call and arguments; [`forkserver`] asks the
//! forkserver to fork the child and hands it its arguments. None of them knows about
//! the child's record or handle: [`Process::start`](crate::Process::start) makes those
//! from what `start` returns.

mod fork;
mod forkserver;
mod spawn;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use serde::Serialize;

use crate::error::Error;
use crate::job::Job;
use crate::payload::Encoded;
use crate::start_method::StartMethod;
use crate::wire::{self, Call, Identity};

/// What a spawn or forkserver child is sent: its call, and its arguments encoded with
/// their descriptors.
struct Handover {
    call: Call,
    args: Encoded,
    fds: Vec<OwnedFd>,
}

/// Starts a child that runs `job` as `identity`, by `method`, with `child_end` as its
/// end of the socket whose other end, `parent_end`, the parent keeps: the child's pid
/// and a pidfd for it. Once it returns, the child has everything it needs to run.
pub(crate) fn start<R: Serialize + 'static>(
    method: StartMethod,
    job: Box<dyn Job<R>>,
    identity: Identity,
    parent_end: &UnixStream,
    child_end: UnixStream,
) -> Result<(i32, OwnedFd), Error> {
    match method {
        StartMethod::Fork => fork::start(job, identity, child_end),
        StartMethod::Spawn => {
            spawn::start(handover(method, &*job, identity)?, parent_end, child_end)
        }
        StartMethod::Forkserver => {
            forkserver::start(handover(method, &*job, identity)?, parent_end, child_end)
        }
    }
}

/// The call and the encoded arguments for a method that runs the binary afresh.
/// Encoding comes first: arguments that cannot cross fail before any child exists.
fn handover<R>(
    method: StartMethod,
    job: &dyn Job<R>,
    identity: Identity,
) -> Result<Handover, Error> {
    let Some(entry) = job.entry() else {
        return Err(Error::NeedsFork { method });
    };
    let (args, fds) = job.encode_args()?;
    Ok(Handover {
        call: Call {
            build_id: wire::build_id(),
            entry,
            child: identity,
        },
        args,
        fds,
    })
}
