//! The one OS layer under every mp crate.
//!
//! Each crate above needs the same few things from Linux: sleeping on a futex word shared
//! between processes, turning a timeout into a deadline, waiting for descriptors, passing
//! descriptors over a Unix socket, handles on processes that a recycled pid cannot fool,
//! spinning briefly before sleeping, and ids that stay right in a forked child. Written
//! once here, each is checked once and fixed once, and nothing above this crate talks to
//! the kernel for something this crate already does.
//!
//! | Module | What it does |
//! |---|---|
//! | [`futex`] | wait, wake, requeue and `futex_waitv` on shared (not private) words, with a loom stand-in |
//! | [`deadline`] | [`Deadline`]: a timeout as a point in time; overflow means "forever", zero "poll once" |
//! | [`poll`] | wait until descriptors are ready or a deadline passes |
//! | [`waitable`] | [`Waitable`] and [`wait`]: Python's `multiprocessing.connection.wait` over anything |
//! | [`fd_passing`] | `sendmsg`/`recvmsg` with `SCM_RIGHTS`, truncation detected |
//! | [`sealed`] | bytes handed to another process in a sealed memfd instead of through a socket |
//! | [`copy`](mod@copy) | copies of large byte blocks that stay fast wherever the two buffers lie |
//! | [`pidfd`] | open a pidfd, signal through it, wait for its process to end |
//! | [`build_id`] | [`BuildId`](build_id::BuildId): which build of a program runs, the same for the same executable on every machine |
//! | [`backoff`] | [`Backoff`]: spin, then yield, then tell the caller to sleep |
//! | [`process`] | cached process and thread ids, a fork generation counter |
//! | [`liveness`] | whether a thread or process still runs; [`ProcessIdentity`](liveness::ProcessIdentity): an id a reused pid is not mistaken for |
//! | [`per_process`] | [`PerProcess`]: a static made afresh in a forked child |
//! | [`at_exit`] | what a child that ends with `_exit` still does first (its non-daemon threads joined) |
//! | [`panic`](mod@panic) | the message of a panic payload; catching a panic without printing it |
//! | [`call`] | [`Call`]: a function called with a tuple of arguments |
//! | [`reactor`] | the one async wake-up layer: futures woken when a futex word changes or a descriptor turns readable |
//!
//! ```
//! use std::time::Duration;
//! use mp_sys::Deadline;
//!
//! let deadline = Deadline::after(Duration::MAX);
//! assert!(deadline.is_never());
//! ```

pub mod at_exit;
pub mod backoff;
pub mod build_id;
pub mod call;
pub mod copy;
pub mod deadline;
mod error;
pub mod fd_passing;
pub mod futex;
pub mod liveness;
pub mod panic;
pub mod per_process;
pub mod pidfd;
pub mod poll;
pub mod process;
#[cfg(not(loom))]
pub mod reactor;
pub mod sealed;
pub mod waitable;

pub use backoff::{Backoff, BackoffPolicy};
pub use call::Call;
pub use deadline::Deadline;
pub use error::Error;
pub use per_process::PerProcess;
pub use waitable::{Waitable, wait};
