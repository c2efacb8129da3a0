//! Why a fork, a wait or a mapping failed, for callers that report instead of panicking
//! (the benchmarks do).

use std::time::Duration;

/// What went wrong with a child or a mapping.
///
/// ```
/// use std::time::Duration;
///
/// let error = test_support::Error::Overstayed { pid: 42, bound: Duration::from_secs(1) };
/// assert!(error.to_string().contains("42"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `fork` failed: no child was made.
    #[error("fork failed: {0}")]
    Fork(#[source] nix::Error),
    /// `waitpid` on a child failed.
    #[error("waitpid({pid}) failed: {source}")]
    Wait {
        /// The child waited on.
        pid: i32,
        /// The error number `waitpid` returned.
        #[source]
        source: nix::Error,
    },
    /// The child did not end within the bound; it was killed and reaped.
    #[error("child {pid} did not end within {bound:?}; it was killed")]
    Overstayed {
        /// The child.
        pid: i32,
        /// How long it was given.
        bound: Duration,
    },
    /// The child survived SIGKILL for the whole bound (it is still unreaped).
    #[error("child {pid} did not die within {bound:?} of SIGKILL")]
    Unkillable {
        /// The child.
        pid: i32,
        /// How long its death was awaited.
        bound: Duration,
    },
    /// A shared mapping could not be made.
    #[error("mmap failed: {0}")]
    Map(#[source] nix::Error),
    /// The value does not fit a page-aligned mapping's alignment.
    #[error("a mapping is only page-aligned, the value needs {align} bytes")]
    Alignment {
        /// The alignment the value needs.
        align: usize,
    },
}
