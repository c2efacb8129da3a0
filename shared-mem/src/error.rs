//! The crate's error type.

use nix::errno::Errno;

/// Everything that can go wrong in mp-shared-mem.
///
/// ```
/// use mp_shared_mem::{Error, Segment};
///
/// assert_eq!(Segment::new(0).unwrap_err(), Error::ZeroSize);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A block of zero bytes was asked for, or found: there is nothing to map.
    #[error("shared memory of zero bytes: there is nothing to map; ask for at least one byte")]
    ZeroSize,
    /// The size does not fit in a file offset or in the address space.
    #[error("a size of {size} bytes is too large for shared memory; ask for less")]
    TooLarge {
        /// The size asked for, or computed from a type and a length.
        size: u128,
    },
    /// A type whose alignment is larger than a memory page cannot be placed in a mapping.
    #[error(
        "{type_name} needs an alignment of {align} bytes, more than a memory page; use a type aligned to at most a page"
    )]
    UnsupportedAlignment {
        /// The type.
        type_name: &'static str,
        /// Its alignment.
        align: usize,
    },
    /// A system call failed.
    #[error("{operation} failed: {errno}")]
    Os {
        /// What was being done (the system call, mostly).
        operation: &'static str,
        /// What the kernel said.
        errno: Errno,
    },
    /// No named block has this name.
    #[error("no shared memory block is named {name:?}; check the name, or create it first")]
    NotFound {
        /// The name, as given.
        name: String,
    },
    /// A named block with this name exists already.
    #[error(
        "a shared memory block named {name:?} exists already; attach to it, or pick another name"
    )]
    AlreadyExists {
        /// The name, as given.
        name: String,
    },
    /// The name cannot name a POSIX shared memory object.
    #[error("{name:?} cannot name a shared memory block: {fault}; pick another name")]
    InvalidName {
        /// The name, as given.
        name: String,
        /// What is wrong with it.
        fault: NameFault,
    },
    /// The block or segment does not have the size it should.
    #[error(
        "size mismatch: expected {expected} bytes, found {found}; the block was made for another size or type"
    )]
    SizeMismatch {
        /// The size needed.
        expected: u64,
        /// The size there is.
        found: u64,
    },
    /// A segment was opened as a different type than the one it was created for.
    #[error(
        "type mismatch: the segment holds {found}, not {expected}; open it as the type it was created for"
    )]
    TypeMismatch {
        /// The type asked for, as `Kind<type name>`.
        expected: String,
        /// The type recorded by the creator, as `Kind<type name>`.
        found: String,
    },
    /// The file descriptor does not hold a segment made by this crate, or its header is
    /// damaged.
    #[error(
        "not a segment of this crate: {fault}; only descriptors of segments made by mp-shared-mem can be opened"
    )]
    NotASegment {
        /// What gave it away.
        fault: SegmentFault,
    },
    /// A byte range reaches past the end of the block.
    #[error("bytes {offset}..{offset}+{len} are outside the {size}-byte block; stay within size()")]
    OutOfBounds {
        /// Start of the range.
        offset: usize,
        /// Length of the range.
        len: usize,
        /// Size of the block.
        size: usize,
    },
    /// An element index past the end of an [`Array`](crate::Array), a
    /// [`RawArray`](crate::RawArray), a [`RawSlice`](crate::RawSlice) or a
    /// [`ShareableList`](crate::ShareableList) (Python's `IndexError`).
    #[error("index {index} is out of range for a sequence of {len}; use an index below len()")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// An array was to be cut into zero pieces, or into pieces of zero elements.
    #[error(
        "an array cannot be cut into zero pieces or pieces of zero elements; ask for at least one"
    )]
    ZeroPieces,
    /// A range of elements reaches past the end of an array or slice.
    #[error("elements {start}..{start}+{count} are outside a sequence of {len}; stay within len()")]
    RangeOutOfBounds {
        /// The first element of the range.
        start: usize,
        /// The number of elements in the range.
        count: usize,
        /// The length of the array or slice.
        len: usize,
    },
    /// A `str` or `bytes` item does not fit the room its slot of a
    /// [`ShareableList`](crate::ShareableList) was given when the list was made (Python's
    /// `ValueError: bytes/str item exceeds available storage`), or is too long for any slot.
    #[error(
        "item {index} needs {len} bytes, its slot holds {allotted}; make the list with a longer item there"
    )]
    ItemTooLarge {
        /// The item's position.
        index: usize,
        /// Its length, encoded (UTF-8 for a `str`).
        len: usize,
        /// The bytes its slot holds.
        allotted: usize,
    },
    /// The named block does not hold a [`ShareableList`](crate::ShareableList): its header
    /// (item count, offsets, formats) is missing, out of bounds or inconsistent.
    #[error("not a ShareableList: {fault}; attach by the name of a block made by ShareableList")]
    NotAShareableList {
        /// What gave it away.
        fault: ListFault,
    },
    /// An item of a [`ShareableList`](crate::ShareableList) holds what no item can: an
    /// unknown format or type code, or a `str` that is not UTF-8 (another process wrote it
    /// so).
    #[error(
        "item {index} of the ShareableList is damaged: {fault}; another process wrote it wrongly"
    )]
    CorruptItem {
        /// The item's position.
        index: usize,
        /// What is wrong with it.
        fault: ItemFault,
    },
    /// A lock failed; [`mp_sync::Error::OwnerDied`] when a previous holder died holding it.
    #[error(transparent)]
    Lock(#[from] mp_sync::Error),
    /// A value of type `type_name` could not be serialized (see
    /// [`transfer::encode`](crate::transfer::encode)).
    #[error("cannot encode a {type_name}: {fault}")]
    Encode {
        /// The type that was to be encoded.
        type_name: &'static str,
        /// What went wrong.
        fault: mp_wire::EncodeFault,
    },
    /// Bytes could not be deserialized into `type_name` (see
    /// [`transfer::decode`](crate::transfer::decode)): written for another type, damaged,
    /// or refused by a handle in them.
    #[error("cannot decode a {type_name}: {fault}")]
    Decode {
        /// The type that was asked for.
        type_name: &'static str,
        /// What went wrong.
        fault: mp_wire::DecodeFault,
    },
    /// A message's header is not one the framing writes: the stream is corrupt.
    #[error("corrupt message frame: {fault}; the stream is out of step, close the connection")]
    CorruptFrame {
        /// What is wrong with the header.
        fault: mp_wire::FrameFault,
    },
    /// An earlier framing error left the reader out of step with the stream.
    #[error("the connection lost its place in the stream after an earlier framing error; close it")]
    OutOfSync,
    /// A payload was to be read into a buffer of another length (a bug in the caller).
    #[error(
        "a payload of {len} bytes cannot be read into a buffer of {buffer}; size the buffer from the header"
    )]
    PayloadBufferMismatch {
        /// The payload's length.
        len: usize,
        /// The buffer's length.
        buffer: usize,
    },
    /// Another failure of the OS layer (mp-sys).
    #[error(transparent)]
    System(mp_sys::Error),
    /// A message is longer than the receiver accepts.
    #[error(
        "a message of {len} bytes is over the limit of {max}; raise the receiver's limit or send less"
    )]
    MessageTooLarge {
        /// The length announced by the sender.
        len: u64,
        /// The receiver's limit.
        max: usize,
    },
    /// More file descriptors than one message may carry.
    #[error(
        "{count} file descriptors in one message, at most {max} may be sent; split the handles over several messages"
    )]
    TooManyFds {
        /// How many there were.
        count: usize,
        /// The limit (`SCM_MAX_FD`).
        max: usize,
    },
    /// The kernel dropped file descriptors of a received message (`MSG_CTRUNC`): the
    /// receiving process is out of descriptors (`RLIMIT_NOFILE`), or sent too many.
    #[error(
        "the file descriptors of the message were cut off: this process is out of descriptors; raise RLIMIT_NOFILE or close some"
    )]
    FdsTruncated,
    /// The peer closed the connection between messages.
    #[error("the peer closed the connection; nothing more will come")]
    PeerClosed,
    /// The peer closed the connection in the middle of a message.
    #[error(
        "the connection closed after {received} of {expected} bytes of a message: the peer closed it or died"
    )]
    Truncated {
        /// The bytes the frame needed.
        expected: u64,
        /// The bytes that came.
        received: u64,
    },
    /// The socket cannot carry messages with file descriptors in this framing.
    #[error("unsupported socket: {fault}; use a Unix stream socket")]
    UnsupportedSocket {
        /// What the descriptor is instead.
        fault: mp_wire::SocketFault,
    },
}

/// Why a name cannot name a POSIX shared memory block (see [`Error::InvalidName`]).
///
/// ```
/// use mp_shared_mem::{Error, NameFault, SharedMemory};
///
/// assert!(matches!(
///     SharedMemory::attach("a/b"),
///     Err(Error::InvalidName { fault: NameFault::InnerSlash, .. })
/// ));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameFault {
    /// The name is empty (or only a `/`).
    #[error("it is empty")]
    Empty,
    /// A `/` other than a leading one.
    #[error("only a leading '/' is allowed")]
    InnerSlash,
    /// A NUL byte.
    #[error("it contains a NUL byte")]
    Nul,
    /// `.` or `..`.
    #[error("'.' and '..' are not names")]
    DotName,
    /// Longer than a name may be.
    #[error("it is longer than {max} bytes")]
    TooLong {
        /// The longest name allowed.
        max: usize,
    },
}

/// What shows that a descriptor or block is not a segment of this crate (see
/// [`Error::NotASegment`]).
///
/// ```
/// use std::os::fd::OwnedFd;
/// use mp_shared_mem::{Error, Segment, SegmentFault};
///
/// let file = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
/// assert!(matches!(
///     Segment::from_fd(file),
///     Err(Error::NotASegment { fault: SegmentFault::NotAMemfd })
/// ));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentFault {
    /// The descriptor is not a memfd.
    #[error("the descriptor is not a memfd")]
    NotAMemfd,
    /// The memfd is not sealed against shrinking, as every segment is.
    #[error("the memfd is not sealed against shrinking")]
    NotSealed,
    /// The memfd's size is negative or past the address space.
    #[error("the memfd has a negative or huge size")]
    BadSize,
    /// The block is too small to hold a header.
    #[error("too small to hold a header")]
    TooSmallForHeader,
    /// The block does not start with this crate's magic number.
    #[error("no header (wrong magic number)")]
    BadMagic,
    /// The header's layout (length, offsets) does not match its type.
    #[error("the header's layout does not match its type")]
    LayoutMismatch,
    /// The recorded length does not fit in this process's memory.
    #[error("the recorded length does not fit in memory")]
    LengthTooLarge,
}

/// What shows that a block does not hold a [`ShareableList`](crate::ShareableList) (see
/// [`Error::NotAShareableList`]).
///
/// ```
/// use mp_shared_mem::ListFault;
///
/// assert_eq!(ListFault::OffsetsBackwards.to_string(), "the offsets go backwards");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListFault {
    /// The block is too small for the list's header.
    #[error("the block is too small for its header")]
    TooSmallForHeader,
    /// The item count is negative.
    #[error("a negative item count")]
    NegativeCount,
    /// More items than the block can hold.
    #[error("more items than the block can hold")]
    TooManyItems,
    /// An item's offset is negative.
    #[error("a negative offset")]
    NegativeOffset,
    /// The first item does not start the data.
    #[error("the first item does not start the data")]
    FirstOffsetNotZero,
    /// The offsets go backwards.
    #[error("the offsets go backwards")]
    OffsetsBackwards,
    /// The items reach past the end of the block.
    #[error("the items reach past the end of the block")]
    PastTheEnd,
}

/// What is wrong with an item of a [`ShareableList`](crate::ShareableList) (see
/// [`Error::CorruptItem`]).
///
/// ```
/// use mp_shared_mem::ItemFault;
///
/// assert_eq!(ItemFault::UnknownCode.to_string(), "an unknown type code");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ItemFault {
    /// Its format is larger than its slot.
    #[error("its format is larger than its slot")]
    FormatLargerThanSlot,
    /// A number, bool or `None` needs 8 bytes and its slot has fewer.
    #[error("its slot is smaller than 8 bytes")]
    SlotTooSmall,
    /// Its slot is too large for a format to describe.
    #[error("its slot is too large to describe")]
    SlotTooLarge,
    /// Its format is none Python writes.
    #[error("an unknown format")]
    UnknownFormat,
    /// Its value has another size than its format.
    #[error("a value of the wrong size")]
    WrongSize,
    /// A `str` item that is not UTF-8.
    #[error("a str item that is not UTF-8")]
    NotUtf8,
    /// Its type code does not match its format.
    #[error("its type code does not match its format")]
    CodeMismatch,
    /// Its type code is none Python writes.
    #[error("an unknown type code")]
    UnknownCode,
}

impl Error {
    pub(crate) fn os(operation: &'static str, errno: Errno) -> Self {
        Error::Os { operation, errno }
    }
}

/// The wire layer's errors in this crate's terms; a handle's own error (recorded with
/// `mp_wire::reject_error`) comes back as it was.
///
/// ```
/// use mp_shared_mem::Error;
///
/// assert_eq!(Error::from(mp_wire::Error::PeerClosed), Error::PeerClosed);
/// ```
impl From<mp_wire::Error> for Error {
    fn from(error: mp_wire::Error) -> Self {
        use mp_wire::Error as Wire;
        match error {
            Wire::Encode { type_name, fault } => Error::Encode { type_name, fault },
            Wire::Decode { type_name, fault } => Error::Decode { type_name, fault },
            Wire::Rejected { type_name, .. } => match error.rejection::<Error>() {
                Some(own) => own.clone(),
                None => Error::Decode {
                    type_name,
                    fault: mp_wire::DecodeFault::Refused {
                        detail: error.to_string(),
                    },
                },
            },
            Wire::TooManyFds { count, max } => Error::TooManyFds { count, max },
            Wire::FdsNeedUnixSocket { .. } => Error::UnsupportedSocket {
                fault: mp_wire::SocketFault::NotUnix,
            },
            Wire::FdsTruncated => Error::FdsTruncated,
            Wire::MessageTooLarge { len, max } => Error::MessageTooLarge { len, max },
            Wire::Truncated { expected, received } => Error::Truncated { expected, received },
            Wire::PeerClosed => Error::PeerClosed,
            Wire::UnsupportedSocket { fault } => Error::UnsupportedSocket { fault },
            Wire::Os { operation, errno } => Error::Os { operation, errno },
            Wire::CorruptFrame { fault } => Error::CorruptFrame { fault },
            Wire::OutOfSync => Error::OutOfSync,
            Wire::PayloadBufferMismatch { len, buffer } => {
                Error::PayloadBufferMismatch { len, buffer }
            }
            Wire::System(error) => Error::System(error),
            // mp-wire is released with this crate: a variant it adds is mapped here in the
            // same release; until then it reads as a refusal, with its text.
            other => Error::Decode {
                type_name: "a message",
                fault: mp_wire::DecodeFault::Refused {
                    detail: other.to_string(),
                },
            },
        }
    }
}

impl<G> From<mp_sync::OwnerDied<G>> for Error {
    fn from(_: mp_sync::OwnerDied<G>) -> Self {
        Error::Lock(mp_sync::Error::OwnerDied)
    }
}

impl<G> From<mp_sync::TryLockError<G>> for Error {
    fn from(err: mp_sync::TryLockError<G>) -> Self {
        Error::Lock(err.into())
    }
}
