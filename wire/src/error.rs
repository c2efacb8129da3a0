//! The errors of the wire layer, one enum for framing, encoding and the socket, so that
//! the crates above convert them with one `From`.

use std::sync::Arc;

use nix::errno::Errno;

/// What went wrong while framing, encoding, sending or receiving a message.
///
/// A corrupt or truncated frame is always one of these, never a panic, a hang on bytes
/// that will not come, or an allocation of a length the peer made up.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_wire::Error;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// drop(a);
/// assert!(matches!(mp_wire::recv(&b, 16), Err(Error::PeerClosed)));
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value could not be serialized.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// Bytes could not be deserialized into the type asked for.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// A handle refused what it received, with its own error (see
    /// [`reject_error`](crate::reject_error)); the crate that defines the handle gets its
    /// error back with [`Error::rejection`].
    #[error(transparent)]
    Rejected(Arc<dyn std::error::Error + Send + Sync>),
    /// More descriptors than one frame may carry ([`MAX_FDS_PER_FRAME`](crate::MAX_FDS_PER_FRAME)).
    #[error("{count} file descriptors in one message, at most {max} may be sent")]
    TooManyFds {
        /// How many there were.
        count: usize,
        /// The limit (`SCM_MAX_FD`).
        max: usize,
    },
    /// Descriptors can only travel over a Unix socket, and this one is TCP.
    #[error("a message with {count} file descriptors cannot go over a TCP connection")]
    FdsNeedUnixSocket {
        /// How many descriptors the message had.
        count: usize,
    },
    /// The kernel cut off descriptors of a received frame (`MSG_CTRUNC`): this process is
    /// out of descriptors. Those that did arrive were closed.
    #[error("the file descriptors of the message were cut off (out of descriptors?)")]
    FdsTruncated,
    /// A frame announced a payload longer than the receiver accepts; nothing was
    /// allocated for it. [`Reader::read_header_or_skip`](crate::Reader::read_header_or_skip)
    /// skips the frame and stays in step; otherwise the stream is out of step.
    #[error("a message of {len} bytes is over the limit of {max}")]
    MessageTooLarge {
        /// The length the header announced.
        len: u64,
        /// The receiver's limit.
        max: usize,
    },
    /// The header is not one this framing writes (a negative length other than the
    /// long-length marker).
    #[error("corrupt message frame: {0}")]
    CorruptFrame(String),
    /// The stream ended inside a frame.
    #[error("the connection ended after {received} of {expected} bytes of a message")]
    Truncated {
        /// The bytes the frame needed, header included.
        expected: u64,
        /// The bytes that came.
        received: u64,
    },
    /// The peer closed the stream between frames (or reset it).
    #[error("the peer closed the connection (end of stream)")]
    PeerClosed,
    /// An earlier framing error left the [`Reader`](crate::Reader) out of step with the
    /// stream; it reads no more.
    #[error("the connection lost its place in the stream after an earlier framing error")]
    OutOfSync,
    /// The descriptor cannot carry frames: not a socket, or not a stream socket, or of a
    /// family other than Unix and TCP.
    #[error("unsupported socket: {0}")]
    UnsupportedSocket(&'static str),
    /// A system call failed.
    #[error("{operation} failed: {errno}")]
    Os {
        /// The system call, mostly.
        operation: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
}

impl Error {
    /// The handle's own error that [`reject_error`](crate::reject_error) recorded, if
    /// this is one and it is an `E`.
    ///
    /// ```
    /// use serde::{Deserialize, Deserializer};
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("not a valid thing")]
    /// struct Invalid;
    ///
    /// struct Thing;
    /// impl<'de> Deserialize<'de> for Thing {
    ///     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
    ///         u8::deserialize(d)?;
    ///         Err(mp_wire::reject_error(Invalid))
    ///     }
    /// }
    ///
    /// let (bytes, fds) = mp_wire::encode(&1u8)?;
    /// let err = mp_wire::decode::<Thing>(&bytes, fds).err().unwrap();
    /// assert!(err.rejection::<Invalid>().is_some());
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn rejection<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::Rejected(cause) => cause.downcast_ref::<E>(),
            _ => None,
        }
    }

    pub(crate) fn os(operation: &'static str, errno: Errno) -> Self {
        Error::Os { operation, errno }
    }
}

impl From<mp_sys::Error> for Error {
    fn from(error: mp_sys::Error) -> Self {
        match error {
            mp_sys::Error::Os { operation, errno } => Error::Os { operation, errno },
            mp_sys::Error::FdsTruncated => Error::FdsTruncated,
            other => Error::CorruptFrame(other.to_string()),
        }
    }
}
