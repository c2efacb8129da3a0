//! [`Job`]: what a child runs, a target with its arguments or a fork-only closure, as
//! the start methods see it: they need its trampoline's offset and its encoded
//! arguments, or to run it in a forked child, but never its types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::os::fd::OwnedFd;

use crate::child::run::entry_offset;
use crate::payload::{self, Encoded};
use crate::target::Target;

/// What a child runs: a target with its arguments, or a closure for the fork method.
pub(crate) trait Job<R>: Send {
    /// The trampoline's offset, for the methods that re-execute; `None` for a closure.
    fn entry(&self) -> Option<i64>;
    /// The arguments, serialized with their descriptors.
    fn encode_args(&self) -> Result<(Encoded, Vec<OwnedFd>), mp_shared_mem::Error>;
    /// Runs the job in this process (a forked child).
    fn run(self: Box<Self>) -> R;
}

pub(crate) struct TargetJob<F, A> {
    pub(crate) target: F,
    pub(crate) args: A,
}

impl<F, A, R> Job<R> for TargetJob<F, A>
where
    F: Target<A, Output = R>,
    A: Serialize + DeserializeOwned + Send + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    fn entry(&self) -> Option<i64> {
        Some(entry_offset::<F, A, R>())
    }

    fn encode_args(&self) -> Result<(Encoded, Vec<OwnedFd>), mp_shared_mem::Error> {
        Ok(payload::encode(&self.args)?)
    }

    fn run(self: Box<Self>) -> R {
        self.target.call(self.args)
    }
}

pub(crate) struct ClosureJob<C>(pub(crate) C);

impl<C, R> Job<R> for ClosureJob<C>
where
    C: FnOnce() -> R + Send + 'static,
{
    fn entry(&self) -> Option<i64> {
        None
    }

    fn encode_args(&self) -> Result<(Encoded, Vec<OwnedFd>), mp_shared_mem::Error> {
        Ok((Encoded::Inline(Vec::new()), Vec::new()))
    }

    fn run(self: Box<Self>) -> R {
        (self.0)()
    }
}
