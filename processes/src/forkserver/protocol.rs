//! The messages on the control socket between a parent and its forkserver.

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
    Started { pid: i32, pidfd: Fd<'a> },
    Failed(String),
}

/// The server's answer, as the parent receives it.
#[derive(Deserialize)]
pub(crate) enum Reply {
    Started { pid: i32, pidfd: ReceivedFd },
    Failed(String),
}
