//! What travels on a worker's channel, one frame of mp-shared-mem's
//! [`transfer`](mp_shared_mem::transfer) (postcard bytes and descriptors) at a time.
//!
//! Pool to worker: a [`TaskHead`] then, in the same bytes, the task's items: a `[A]` of
//! argument tuples (one for `apply_async`, a chunk for `map`). Worker to pool: a
//! [`Reply`], followed for [`Reply::Results`] by a `Vec<ItemOutcome<R>>`.

use serde::{Deserialize, Serialize};

/// The largest frame either side accepts (1 GiB): a corrupt length cannot make the
/// receiver allocate more, and a larger task is refused when it is submitted.
pub(crate) const MAX_FRAME_LEN: usize = 1 << 30;

/// The head of a task frame.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TaskHead {
    /// The task's id in the pool (from 1).
    pub(crate) id: u64,
    /// The trampoline that runs this task's function, as an offset from the binary's
    /// anchor (the mechanism of `Process` targets).
    pub(crate) entry: i64,
    /// Items not to run: they failed already, on a worker that died running them.
    pub(crate) skip: Vec<u32>,
}

/// The head of a frame from a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The initializer ran: the worker takes tasks from now on.
    Ready,
    /// The outcomes of task `id` follow, one per item.
    Results {
        /// The task.
        id: u64,
    },
    /// The items of task `id` could not be decoded: none of them ran.
    BadArgs {
        /// The task.
        id: u64,
        /// Why.
        reason: String,
    },
    /// The items of task `id` ran, but their results could not be sent.
    Unsendable {
        /// The task.
        id: u64,
        /// Why.
        reason: String,
    },
    /// The initializer panicked with this message; the worker ends.
    InitFailed(String),
}

/// How one call of the task's function ended in the worker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ItemOutcome<R> {
    Returned(R),
    Panicked(String),
    /// Not run: listed in [`TaskHead::skip`].
    Skipped,
}
