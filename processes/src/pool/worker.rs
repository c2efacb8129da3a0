//! The worker's side: the loop a pool worker process runs, and the trampolines that run
//! one task's items.

use mp_sys::panic::{catch_silently, panic_message};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::channel::Channel;
use super::frame::{ItemOutcome, MAX_FRAME_LEN, Outcomes, Reply, TaskHead};
use super::slot::Slot;
use crate::child::run::conjure;
use crate::error::{ArgumentsFault, SendFault};
use crate::target::Target;
use crate::wire;

/// What every worker is started with, besides its initializer's arguments.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerSetup {
    pub(crate) channel: Channel,
    pub(crate) slot: Slot,
    /// Python's `maxtasksperchild`: the worker ends after this many tasks (0: never).
    pub(crate) max_tasks: u64,
    /// The pool has a per-task timeout: record when each call starts.
    pub(crate) timed: bool,
}

/// Runs one task: decodes its items, calls the function on each (recording each call in
/// the slot), and encodes the reply frame.
pub(crate) type Trampoline =
    for<'a> fn(&'a TaskHead, &'a [u8], Vec<OwnedFd>, &'a Slot, bool) -> (Vec<u8>, Vec<OwnedFd>);

/// The offset of the trampoline for a function `F` of arguments `A` returning `R`.
pub(crate) fn entry_of<F, A, R>() -> i64
where
    F: Target<A, Output = R>,
    A: DeserializeOwned,
    R: Serialize,
{
    wire::offset_of(run_items::<F, A, R> as Trampoline as usize)
}

/// The body of a worker process: the initializer, then tasks until the pool closes the
/// channel or `max_tasks` are done. A function item, so it crosses into spawned workers
/// by its address like any `Process` target.
pub(crate) fn worker_main<I, IA>(setup: WorkerSetup, init_args: IA)
where
    I: Target<IA, Output = ()>,
{
    let channel = setup.channel.0;
    let initializer = conjure::<I>();
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| initializer.call(init_args))) {
        let message = panic_message(&*payload);
        tracing::debug!(%message, "pool worker: the initializer panicked");
        let _ = send_reply(&channel, &Reply::InitFailed(message));
        return;
    }
    if send_reply(&channel, &Reply::Ready).is_err() {
        return;
    }
    let mut done = 0u64;
    // The worker reads its channel for good: reading ahead makes a task one system call.
    let mut reader = mp_wire::Reader::new();
    loop {
        // End of stream: the pool is closing (or gone); either way, stop.
        let Ok((bytes, fds)) = reader.recv(channel.as_fd(), MAX_FRAME_LEN) else {
            return;
        };
        let Ok((head, items)) = postcard::take_from_bytes::<TaskHead>(&bytes) else {
            return;
        };
        let address = wire::address_at(head.entry);
        // SAFETY: the only writer of this socket is the pool in the parent process, which
        // put in `head.entry` the offset of `run_items::<F, A, R>` (a `Trampoline`) from
        // the anchor, computed by `entry_of` in the same binary: this worker was started
        // as a `Process` of that binary, whose start checks the build id. The distance
        // between two functions of one binary is the same in every process running it,
        // so `address` is that trampoline here.
        let trampoline = unsafe { std::mem::transmute::<usize, Trampoline>(address) };
        let (reply, reply_fds) = trampoline(&head, items, fds, &setup.slot, setup.timed);
        let borrowed: Vec<BorrowedFd<'_>> = reply_fds.iter().map(AsFd::as_fd).collect();
        if mp_wire::send(&channel, &reply, &borrowed).is_err() {
            return;
        }
        done += 1;
        if setup.max_tasks != 0 && done >= setup.max_tasks {
            tracing::debug!(done, "pool worker: maxtasksperchild reached");
            return;
        }
    }
}

fn send_reply(channel: &UnixStream, reply: &Reply) -> Result<(), mp_wire::Error> {
    mp_wire::send_value(channel, reply)
}

/// The trampoline, one per task function type.
fn run_items<F, A, R>(
    head: &TaskHead,
    items: &[u8],
    fds: Vec<OwnedFd>,
    slot: &Slot,
    timed: bool,
) -> (Vec<u8>, Vec<OwnedFd>)
where
    F: Target<A, Output = R>,
    A: DeserializeOwned,
    R: Serialize,
{
    // A `Deserialize` or `Serialize` of the user's types may panic: that fails the task,
    // never the worker.
    let items: Vec<A> = match catch_unwind(AssertUnwindSafe(|| mp_wire::decode(items, fds))) {
        Ok(Ok(items)) => items,
        Ok(Err(err)) => {
            return failure(Reply::BadArgs {
                id: head.id,
                fault: ArgumentsFault::Undecodable {
                    detail: err.to_string(),
                },
            });
        }
        Err(payload) => {
            return failure(Reply::BadArgs {
                id: head.id,
                fault: ArgumentsFault::Panicked {
                    message: panic_message(&*payload),
                },
            });
        }
    };
    let function = conjure::<F>();
    let mut outcomes = Outcomes::with_capacity(items.len());
    for (index, args) in items.into_iter().enumerate() {
        if head.skip.iter().any(|&skipped| skipped as usize == index) {
            outcomes.push(index, ItemOutcome::Skipped);
            continue;
        }
        slot.begin(head.id, index, timed);
        // Not printed by the worker: the caller gets it from the task's result, as
        // Python's pool keeps a task's exception for `get()`.
        let outcome = match catch_silently(|| function.call(args)) {
            Ok(value) => ItemOutcome::Returned(value),
            Err(caught) => ItemOutcome::Panicked(caught.into()),
        };
        slot.end();
        outcomes.push(index, outcome);
    }
    let encoded = catch_unwind(AssertUnwindSafe(|| {
        mp_wire::encode(&(Reply::Results { id: head.id }, &outcomes))
    }));
    match encoded {
        Ok(Ok((bytes, _))) if bytes.len() > MAX_FRAME_LEN => failure(Reply::Unsendable {
            id: head.id,
            fault: SendFault::TooLarge {
                len: bytes.len(),
                max: MAX_FRAME_LEN,
            },
        }),
        Ok(Ok(encoded)) => encoded,
        Ok(Err(err)) => failure(Reply::Unsendable {
            id: head.id,
            fault: SendFault::Unencodable {
                detail: err.to_string(),
            },
        }),
        Err(payload) => failure(Reply::Unsendable {
            id: head.id,
            fault: SendFault::SerializePanicked {
                message: panic_message(&*payload),
            },
        }),
    }
}

/// A reply without results; postcard cannot fail on it, but an empty frame (which the
/// pool reports as corrupt) is the answer if it somehow did.
fn failure(reply: Reply) -> (Vec<u8>, Vec<OwnedFd>) {
    (
        postcard::to_allocvec(&reply).unwrap_or_default(),
        Vec::new(),
    )
}
