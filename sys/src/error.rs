//! The errors of this crate, one enum for every module, so that crates above convert
//! them with one `From`.

use nix::errno::Errno;

/// What went wrong in a call of this crate.
///
/// ```
/// use nix::errno::Errno;
/// use mp_sys::Error;
///
/// let error = Error::Os { operation: "poll", errno: Errno::EBADF };
/// assert_eq!(error.to_string(), "poll failed: EBADF: Bad file number");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{operation} failed: {errno}")]
    Os {
        /// The system call, mostly.
        operation: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// The kernel cut off descriptors that were sent with a message (`MSG_CTRUNC`): this
    /// process is out of descriptors, or the control buffer was too small. The ones that
    /// did arrive have been closed or handed to the caller, never leaked.
    #[error("descriptors sent with the message were cut off (out of descriptors?)")]
    FdsTruncated,
    /// The kernel cut off bytes of a datagram that did not fit the buffer (`MSG_TRUNC`).
    #[error("the message was longer than the buffer and was cut off")]
    DataTruncated,
    /// A descriptor given as a sealed block of bytes is no memfd, or lacks the seals
    /// (`F_SEAL_WRITE`, `F_SEAL_SHRINK`) that keep its bytes from changing under the
    /// reader (see [`sealed`](crate::sealed)).
    #[error("the descriptor is not a memfd sealed against writing and shrinking")]
    NotSealed,
    /// A sealed block of bytes is longer than the reader accepts; nothing was mapped.
    #[error("a sealed block of {len} bytes is over the limit of {max}")]
    TooLarge {
        /// The block's length.
        len: u64,
        /// The reader's limit.
        max: usize,
    },
}
