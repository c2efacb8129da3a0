//! The crate's error type.

use nix::errno::Errno;

/// Everything that can go wrong in mp-ipc.
///
/// ```
/// use mp_ipc::Error;
///
/// let error = Error::Closed;
/// assert_eq!(error.to_string(), "the queue or connection is closed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The queue or connection was closed, by this end or (for a connection)
    /// by the peer, and nothing is left to read.
    #[error("the queue or connection is closed")]
    Closed,
    /// A system call failed.
    #[error("{operation} failed: {errno}")]
    Os {
        /// What was being done (the system call, mostly).
        operation: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// Shared memory or handle transfer failed.
    #[error(transparent)]
    SharedMem(#[from] mp_shared_mem::Error),
}
