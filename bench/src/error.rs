//! The one error type of the harness.

use std::time::Duration;

/// Why a measurement (or the harness itself) failed.
///
/// A failed contender is reported in its line of the table; it never stops the
/// other contenders or rows.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// An mp-sync primitive reported an error (an owner died, a broken barrier...).
    #[error("mp-sync: {0}")]
    Sync(#[from] mp_sync::Error),
    /// mp-shared-mem reported an error (a segment could not be made or sent...).
    #[error("mp-shared-mem: {0}")]
    SharedMem(#[from] mp_shared_mem::Error),
    /// A std lock was poisoned: a thread of the measurement panicked.
    #[error("a std lock was poisoned by a panicking thread")]
    Poisoned,
    /// The work ran but its outcome is wrong (a lost increment, a missing message).
    #[error("wrong outcome: {0}")]
    WrongOutcome(String),
    /// A bounded wait of the measurement ran out.
    #[error("no progress within {timeout:?}: {what}")]
    TimedOut {
        /// What was awaited.
        what: &'static str,
        /// How long it was awaited.
        timeout: Duration,
    },
    /// A system call failed.
    #[error("{call} failed: {source}")]
    Sys {
        /// The call that failed.
        call: &'static str,
        /// The error number it returned.
        #[source]
        source: nix::Error,
    },
    /// A forked child or the shared mapping it works on could not be made or reaped.
    #[error("forked child: {0}")]
    Forked(#[from] test_support::Error),
    /// A forked child process did not finish cleanly.
    #[error("child process: {0}")]
    Child(String),
    /// A thread could not be started.
    #[error("could not start a thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A Python measurement could not be run or its output not understood.
    #[error("{0}")]
    Python(String),
    /// What the contender needs is not installed here (`redis-server`, a Python
    /// module): it is skipped, and the message says how to install it.
    #[error("{0}")]
    Unavailable(String),
}

impl BenchError {
    /// Wraps a failed system call, naming it.
    pub fn sys(call: &'static str) -> impl FnOnce(nix::Error) -> Self {
        move |source| Self::Sys { call, source }
    }
}
