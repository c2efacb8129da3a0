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
    /// A value of type `type_name` could not be serialized.
    #[error("cannot encode a {type_name}: {fault}")]
    Encode {
        /// The type [`encode`](crate::encode) was given (as `std::any::type_name` says).
        type_name: &'static str,
        /// What went wrong.
        fault: EncodeFault,
    },
    /// Bytes could not be deserialized into `type_name`: they were written for another
    /// type, or damaged, or a handle in them refused its descriptor.
    #[error("cannot decode a {type_name}: {fault}")]
    Decode {
        /// The type [`decode`](crate::decode) was asked for.
        type_name: &'static str,
        /// What went wrong.
        fault: DecodeFault,
    },
    /// A handle refused what it received, with its own error (see
    /// [`reject_error`](crate::reject_error)); the crate that defines the handle gets its
    /// error back with [`Error::rejection`].
    #[error("{cause}")]
    Rejected {
        /// The type [`decode`](crate::decode) was asked for (the handle is in it).
        type_name: &'static str,
        /// The handle's own error.
        cause: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// More descriptors than one frame may carry ([`MAX_FDS_PER_FRAME`](crate::MAX_FDS_PER_FRAME)).
    #[error(
        "{count} file descriptors in one message, at most {max} may be sent; split the handles over several messages"
    )]
    TooManyFds {
        /// How many there were.
        count: usize,
        /// The limit (`SCM_MAX_FD`).
        max: usize,
    },
    /// Descriptors can only travel over a Unix socket, and this one is TCP.
    #[error(
        "a message with {count} file descriptors cannot go over a TCP connection; send handles over a Unix socket"
    )]
    FdsNeedUnixSocket {
        /// How many descriptors the message had.
        count: usize,
    },
    /// The kernel cut off descriptors of a received frame (`MSG_CTRUNC`): this process is
    /// out of descriptors. Those that did arrive were closed.
    #[error(
        "the file descriptors of the message were cut off: this process is out of descriptors; raise RLIMIT_NOFILE or close some"
    )]
    FdsTruncated,
    /// A frame announced a payload longer than the receiver accepts; nothing was
    /// allocated for it. [`Reader::read_header_or_skip`](crate::Reader::read_header_or_skip)
    /// skips the frame and stays in step; otherwise the stream is out of step.
    #[error(
        "a message of {len} bytes is over the limit of {max}; raise the receiver's limit or send less"
    )]
    MessageTooLarge {
        /// The length the header announced.
        len: u64,
        /// The receiver's limit.
        max: usize,
    },
    /// The header is not one this framing writes: the stream is corrupt (or not this
    /// protocol), and the connection cannot be read any further.
    #[error("corrupt message frame: {fault}; the stream is out of step, close the connection")]
    CorruptFrame {
        /// What is wrong with the header.
        fault: FrameFault,
    },
    /// [`Reader::payload_into`](crate::Reader::payload_into) was given a buffer of
    /// another length than the payload: a bug in the caller, which leaves the reader out
    /// of step.
    #[error(
        "a payload of {len} bytes cannot be read into a buffer of {buffer}; size the buffer from the header"
    )]
    PayloadBufferMismatch {
        /// The payload's length, from its header.
        len: usize,
        /// The buffer's length.
        buffer: usize,
    },
    /// The stream ended inside a frame.
    #[error(
        "the connection ended after {received} of {expected} bytes of a message: the peer closed it or died; reconnect"
    )]
    Truncated {
        /// The bytes the frame needed, header included.
        expected: u64,
        /// The bytes that came.
        received: u64,
    },
    /// The peer closed the stream between frames (or reset it).
    #[error("the peer closed the connection (end of stream); nothing more will come")]
    PeerClosed,
    /// An earlier framing error left the [`Reader`](crate::Reader) out of step with the
    /// stream; it reads no more.
    #[error(
        "the connection lost its place in the stream after an earlier framing error; close it and reconnect"
    )]
    OutOfSync,
    /// The descriptor cannot carry frames: not a socket, or not a stream socket, or of a
    /// family other than Unix and TCP.
    #[error("unsupported socket: {fault}; use a Unix or TCP stream socket")]
    UnsupportedSocket {
        /// What the descriptor is instead.
        fault: SocketFault,
    },
    /// A system call failed.
    #[error("{operation} failed: {errno}")]
    Os {
        /// The system call, mostly.
        operation: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// Another failure of the OS layer (mp-sys) than those above.
    #[error(transparent)]
    System(mp_sys::Error),
}

/// Why a value could not be encoded (the `fault` of [`Error::Encode`]).
///
/// ```
/// use mp_wire::{EncodeFault, Error};
///
/// struct Refuses;
/// impl serde::Serialize for Refuses {
///     fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
///         Err(serde::ser::Error::custom("not today"))
///     }
/// }
///
/// match mp_wire::encode(&Refuses) {
///     Err(Error::Encode { fault: EncodeFault::Unserializable { detail }, .. }) => {
///         assert_eq!(detail, "not today");
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeFault {
    /// The value's `Serialize` failed, with serde's message (a handle serialized by a
    /// serializer other than [`encode`](crate::encode), a map of unknown length...).
    #[error("{detail}; send a value whose Serialize succeeds")]
    Unserializable {
        /// Serde's message.
        detail: String,
    },
    /// The descriptors gathered during encoding were lost (a nested encode or decode
    /// did not finish): a bug, never bad input.
    #[error("the table of descriptors was lost during encoding; please report this bug")]
    SideTableLost,
}

/// Why bytes could not be decoded (the `fault` of [`Error::Decode`]).
///
/// ```
/// use mp_wire::{DecodeFault, Error};
///
/// let (bytes, fds) = mp_wire::encode(&(7u32, 8u32))?;
/// match mp_wire::decode::<u32>(&bytes, fds) {
///     Err(Error::Decode { fault: DecodeFault::TrailingBytes { left: 1 }, type_name }) => {
///         assert_eq!(type_name, "u32");
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeFault {
    /// The bytes do not read as the type, with serde's message.
    #[error("{detail}; were the bytes written as this type, by the same version?")]
    Malformed {
        /// Serde's (or postcard's) message.
        detail: String,
    },
    /// A handle's `Deserialize` refused what it received, with the reason it gave to
    /// [`reject`](crate::reject).
    #[error("{detail}")]
    Refused {
        /// The handle's reason.
        detail: String,
    },
    /// The value ended before the bytes did.
    #[error("{left} bytes left over after the value; the bytes were written for another type")]
    TrailingBytes {
        /// How many bytes were left.
        left: usize,
    },
    /// Descriptors came with the bytes that no handle in the value took (they were
    /// closed).
    #[error(
        "{count} file descriptors came with the message but no handle claimed them; the message was written for another type"
    )]
    UnclaimedFds {
        /// How many were left.
        count: usize,
    },
    /// The bytes name a descriptor that did not come with them.
    #[error(
        "the bytes refer to file descriptor #{index}, but {received} came with them; send handles with the descriptors they name"
    )]
    MissingFd {
        /// The index in the bytes.
        index: u32,
        /// How many descriptors came.
        received: usize,
    },
    /// Two handles in the bytes name the same descriptor.
    #[error("file descriptor #{index} is claimed twice by the bytes; the message is corrupt")]
    FdClaimedTwice {
        /// The index in the bytes.
        index: u32,
    },
    /// A handle was deserialized by another deserializer than [`decode`](crate::decode),
    /// which alone carries the descriptors beside the bytes.
    #[error(
        "a handle that owns a file descriptor can only be deserialized by mp_wire::decode (or mp_shared_mem::transfer::decode), given the descriptors that came with the bytes"
    )]
    NoSideTable,
}

/// Why a descriptor cannot carry messages (the `fault` of [`Error::UnsupportedSocket`]).
///
/// ```
/// use std::os::fd::AsFd;
/// use mp_wire::{Error, SocketFault, SocketKind};
///
/// let (reader, _writer) = std::io::pipe().unwrap();
/// assert!(matches!(
///     SocketKind::of(reader.as_fd()),
///     Err(Error::UnsupportedSocket { fault: SocketFault::NotASocket })
/// ));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SocketFault {
    /// The descriptor is not a socket.
    #[error("the descriptor is not a socket")]
    NotASocket,
    /// The socket is not a stream socket (`SOCK_STREAM`).
    #[error("messages need a stream socket (SOCK_STREAM)")]
    NotAStream,
    /// The socket is neither a Unix nor a TCP socket.
    #[error("messages go over Unix (AF_UNIX) or TCP sockets only")]
    UnsupportedFamily,
    /// The socket is not a Unix socket, and file descriptors travel only over those.
    #[error("file descriptors travel only over Unix sockets (AF_UNIX)")]
    NotUnix,
}

/// What is wrong with a frame's header (the `fault` of [`Error::CorruptFrame`]).
///
/// ```
/// use mp_wire::{Error, FrameFault, frame::decode_prefix};
///
/// assert!(matches!(
///     decode_prefix([0xff, 0xff, 0xff, 0xfe]),
///     Err(Error::CorruptFrame { fault: FrameFault::NegativeLength { prefix: -2 } })
/// ));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameFault {
    /// A negative length other than the long-length marker (`-1`).
    #[error("a negative length prefix {prefix} (bytes {:02x?})", prefix.to_be_bytes())]
    NegativeLength {
        /// The prefix, as a big-endian `i32`.
        prefix: i32,
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
            Error::Rejected { cause, .. } => cause.downcast_ref::<E>(),
            _ => None,
        }
    }

    pub(crate) fn os(operation: &'static str, errno: Errno) -> Self {
        Error::Os { operation, errno }
    }

    /// Names the type an encode or decode was working on, in the errors that say it
    /// (a handle records its failure before the top-level call knows it failed).
    pub(crate) fn for_type(self, type_name: &'static str) -> Self {
        match self {
            Error::Encode { fault, .. } => Error::Encode { type_name, fault },
            Error::Decode { fault, .. } => Error::Decode { type_name, fault },
            Error::Rejected { cause, .. } => Error::Rejected { type_name, cause },
            other => other,
        }
    }
}

impl From<mp_sys::Error> for Error {
    fn from(error: mp_sys::Error) -> Self {
        match error {
            mp_sys::Error::Os { operation, errno } => Error::Os { operation, errno },
            mp_sys::Error::FdsTruncated => Error::FdsTruncated,
            other => Error::System(other),
        }
    }
}
