//! What the tests of every crate of the workspace share, written once.
//!
//! Tests that fork are the reason this crate exists. A forked child of the
//! multi-threaded test harness must not outlive its test (a failing assertion in the
//! parent still kills and reaps it; a dying test process takes it along), must never
//! hang the test (every wait has a bound, after which the child is killed and reaped)
//! and must leave no zombie. Before this crate every test suite had its own copy of that
//! machinery, and the copies drifted apart: each kept one of the safeguards the others
//! lacked. This crate keeps all of them.
//!
//! Beside the children: [`eventually`] and [`holds_within`] poll a condition under a
//! bound instead of sleeping for a guessed time, [`for_each_case`] runs a table-driven
//! test and names every case that failed, [`DevShmCheck`] fails a test that leaves a
//! file behind in `/dev/shm`, [`SharedMapping`] places a value in memory a forked child
//! shares, [`rerun`] runs one test again in a child process to watch that process exit,
//! [`commands`] waits for a program a test started and [`threads`] joins threads, both
//! under a bound, [`queue_kills`] is the kill -9 loop against a queue, [`stopping`] stops a process (SIGSTOP) and always continues it, and
//! [`descriptors`], [`files`] and [`procfs`] answer what a test asks the kernel about
//! descriptors, files and tasks.
//!
//! The crate is not published: only the workspace's tests and benchmarks use it.
//!
//! ```
//! use test_support::{PATIENCE, ensure, spawn_child};
//!
//! let mut child = spawn_child(|| ensure(1 + 1 == 2, 3));
//! assert_eq!(child.join(), 0);
//! # let _ = PATIENCE;
//! ```

mod cases;
mod child;
pub mod commands;
pub mod descriptors;
mod error;
pub mod files;
mod mapping;
mod poll;
pub mod procfs;
pub mod queue_kills;
pub mod redis;
mod redis_tls;
pub mod rerun;
mod shm;
pub mod stopping;
pub mod threads;

use std::time::Duration;

pub use cases::for_each_case;
pub use child::{
    CHILD_ORPHANED, CHILD_PANICKED, Child, ChildResult, Ended, ensure, spawn_child,
    spawn_child_keeping, try_spawn_child,
};
pub use error::Error;
pub use mapping::SharedMapping;
pub use poll::{eventually, holds_within};
pub use shm::DevShmCheck;

/// The bound on any wait that is expected to succeed: far longer than it ever takes on
/// a loaded machine, short enough that a bug fails the test instead of hanging it.
///
/// ```
/// assert!(test_support::PATIENCE.as_secs() >= 10);
/// ```
pub const PATIENCE: Duration = Duration::from_secs(30);
