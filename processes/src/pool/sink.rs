//! [`Sink`]: where the outcomes of a task's items go (an `AsyncResult`, or the slots of a
//! map), behind one object-safe interface the untyped pool state can hold.

use serde::de::DeserializeOwned;
use std::os::fd::OwnedFd;

use super::frame::{ItemOutcome, Outcomes};
use crate::Error;

/// Receives the outcomes of one task's items.
///
/// The pool calls these outside its own lock (a sink may run user callbacks), at most
/// once per item: an item that failed on its own (its worker died or overstayed) is
/// skipped by the rerun of its task, and its outcome comes back as `Skipped`.
pub(crate) trait Sink: Send + Sync {
    /// Called once, before the task is first sent to a worker: `false` if the task was
    /// cancelled, and it must not be sent.
    fn claim(&self) -> bool {
        true
    }

    /// The task's reply frame arrived: `outcomes` is a postcard [`Outcomes<R>`]
    /// (with its descriptors), from the worker named `worker`.
    fn deliver(&self, outcomes: &[u8], fds: Vec<OwnedFd>, worker: &str);

    /// Item `index` of the task failed.
    fn fail_item(&self, index: usize, error: Error);

    /// Every item of the task not in `skip` failed with `error`.
    fn fail_rest(&self, error: Error, skip: &[u32]);
}

/// Decodes a reply's outcomes for `len` items as `R`s: per item `Ok`, `Err(Panicked)` or
/// `None` for a skipped item; or one error for all if the reply does not decode or does
/// not describe `len` items.
pub(crate) fn decode_outcomes<R: DeserializeOwned>(
    outcomes: &[u8],
    fds: Vec<OwnedFd>,
    worker: &str,
    len: usize,
) -> Result<Vec<Option<Result<R, Error>>>, Error> {
    let decoded: Outcomes<R> = mp_wire::decode(outcomes, fds)?;
    decoded
        .check(len)
        .map_err(|fault| Error::Protocol { fault })?;
    Ok(decoded
        .into_items()
        .map(|outcome| match outcome {
            ItemOutcome::Returned(value) => Some(Ok(value)),
            ItemOutcome::Panicked(report) => Some(Err(report.into_error(worker.to_owned()))),
            ItemOutcome::Skipped => None,
        })
        .collect())
}
