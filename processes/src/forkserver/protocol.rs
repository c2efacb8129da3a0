//! The messages on the control socket between a parent and its forkserver.
//!
//! Each request gets two answers: [`Reply::Received`] once the server has read it and
//! before it forks, then the outcome. A server can die at any instant (killed, or its
//! parent's earlier request made it fail); the first answer is what lets the parent
//! tell "never forked" (no `Received`: the request may go to a fresh server) from
//! "may have forked" (after `Received`: asking again could run the child twice).

use mp_wire::{Fd, ReceivedFd};
use serde::{Deserialize, Serialize};

use crate::wire::Call;

/// A start request, as the parent sends it.
#[derive(Serialize)]
pub(crate) struct RequestOut<'a> {
    pub(crate) call: &'a Call,
    pub(crate) channel: Fd<'a>,
}

/// A start request, as the server receives it.
#[derive(Deserialize)]
pub(crate) struct Request {
    pub(crate) call: Call,
    pub(crate) channel: ReceivedFd,
}

/// The server's answer, as it sends it.
#[derive(Serialize)]
pub(crate) enum ReplyOut<'a> {
    Received,
    Started { pid: i32, pidfd: Fd<'a> },
    Failed(String),
}

/// The server's answer, as the parent receives it.
#[derive(Deserialize)]
pub(crate) enum Reply {
    /// The request was read and nothing was forked yet; the outcome follows.
    Received,
    /// The child was forked: its pid, and a pidfd for it.
    Started { pid: i32, pidfd: ReceivedFd },
    /// Nothing was forked, for this reason; the server goes on.
    Failed(String),
}
