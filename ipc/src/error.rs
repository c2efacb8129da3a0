//! The crate's error type.

use nix::errno::Errno;

/// Everything that can go wrong in mp-ipc.
///
/// ```
/// use mp_ipc::Error;
///
/// let error = Error::Closed;
/// assert!(error.to_string().starts_with("the queue or connection is closed"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The queue or connection was closed, by this end or (for a connection)
    /// by the peer, and nothing is left to read.
    #[error(
        "the queue or connection is closed; nothing more can be sent or received through this handle"
    )]
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
    /// The peer of a connection closed it, or died, between messages: the end of the
    /// stream (Python's `EOFError`). Also returned by a send whose peer is gone.
    #[error("the peer closed the connection (end of stream); nothing more will come")]
    PeerClosed,
    /// The peer of a connection closed it, or died, in the middle of a message.
    #[error(
        "the connection ended after {received} of {expected} bytes of a message: the peer closed it or died"
    )]
    Truncated {
        /// The bytes the message needed (its length prefix included).
        expected: u64,
        /// The bytes that came.
        received: u64,
    },
    /// A message is longer than the limit. A receive allocated nothing for it and (on a
    /// connection) skipped it: the connection goes on with the next message. A send
    /// wrote nothing of it.
    #[error(
        "a message of {len} bytes is over the limit of {max}; raise it with set_max_message_size or send less"
    )]
    MessageTooLarge {
        /// The length announced by the sender.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A length prefix that no sender writes (negative): the stream is corrupt, and the
    /// connection reads no more.
    #[error("corrupt message frame: {fault}; the stream is out of step, close the connection")]
    CorruptFrame {
        /// What is wrong with the prefix.
        fault: mp_wire::FrameFault,
    },
    /// An earlier framing error (an oversized or corrupt length prefix) left the reading
    /// side of the connection out of step with the stream; it cannot read any more.
    #[error(
        "the connection lost its place in the stream after an earlier framing error; close it and reconnect"
    )]
    OutOfSync,
    /// `recv_bytes_into` was given a buffer too small for the message (Python's
    /// `BufferTooShort`); the error carries the whole message, and the stream stays in step.
    #[error("the buffer is too short for a message of {} bytes; the message is in this error, use a larger buffer next time", .0.len())]
    BufferTooShort(Vec<u8>),
    /// A read on the writing end of a one-way pipe.
    #[error("the connection is write-only; read from the other end of the pipe")]
    NotReadable,
    /// A write on the reading end of a one-way pipe.
    #[error("the connection is read-only; write to the other end of the pipe")]
    NotWritable,
    /// The kernel dropped file descriptors that came with a message (`MSG_CTRUNC`): this
    /// process is out of descriptors. The message was read and thrown away.
    #[error(
        "the file descriptors of a message were cut off: this process is out of descriptors; raise RLIMIT_NOFILE or close some"
    )]
    FdsTruncated,
    /// Another failure of the OS layer (mp-sys) than those above.
    #[error(transparent)]
    System(mp_sys::Error),
    /// A message holds handles (file descriptors), which only travel over Unix sockets.
    #[error(
        "a message with {count} file descriptors cannot go over a TCP connection; send handles over a Unix socket"
    )]
    FdsNeedUnixSocket {
        /// How many descriptors the message holds.
        count: usize,
    },
    /// The authentication handshake of a [`Listener`](crate::Listener) or
    /// [`Client`](crate::Client) failed: a wrong key, a peer that does not speak the
    /// protocol, or one too slow to answer.
    #[error("authentication failed while {step}: {fault}")]
    AuthenticationFailed {
        /// Where in the handshake it failed.
        step: HandshakeStep,
        /// What went wrong there.
        fault: AuthFault,
    },
    /// An address a [`Listener`](crate::Listener) cannot bind or a
    /// [`Client`](crate::Client) cannot connect to.
    #[error(
        "invalid address {address:?}: {fault}; give a socket path, an @abstract name or host:port"
    )]
    InvalidAddress {
        /// The address, as given.
        address: String,
        /// What is wrong with it.
        fault: AddressFault,
    },
    /// A queue is empty: [`try_get`](crate::Queue::try_get) found nothing, or
    /// [`get_timeout`](crate::Queue::get_timeout) waited in vain (Python's `queue.Empty`).
    #[error("the queue is empty; wait with get() or get_timeout()")]
    Empty,
    /// A queue is full: [`try_put`](crate::Queue::try_put) found no room, or
    /// [`put_timeout`](crate::Queue::put_timeout) waited in vain (Python's `queue.Full`).
    #[error("the queue is full; wait with put() or put_timeout()")]
    Full,
    /// A message holds handles (file descriptors), which a queue cannot carry: its ring in
    /// shared memory holds bytes only. Send handles over a [`Connection`](crate::Connection).
    #[error(
        "a message with {count} file descriptors cannot go through a queue; send handles over a Connection"
    )]
    FdsInQueueMessage {
        /// How many descriptors the message holds.
        count: usize,
    },
    /// A queue's shared memory does not hold what the protocol allows (written by a buggy
    /// or hostile process, or not a queue at all). Nothing was read past its bounds.
    #[error("corrupt queue: {fault}; the queue cannot be used, make a new one")]
    CorruptQueue {
        /// What is wrong with it.
        fault: QueueFault,
    },
    /// `task_done` was called more times than messages were put (Python's `ValueError`).
    #[error("task_done() called more times than messages were put; call it once per message taken")]
    TaskDoneTooManyTimes,
    /// A [`JoinableQueue::join`](crate::JoinableQueue::join) found every task put marked
    /// done or lost: `count` tasks (since the queue was made) were taken by processes that
    /// died before marking them done.
    #[error(
        "{count} tasks were lost with consumer processes that died before task_done(); put them again if they must run"
    )]
    TasksLost {
        /// The tasks lost since the queue was made.
        count: usize,
    },
    /// A `_timeout` wait (such as [`JoinableQueue::join_timeout`](crate::JoinableQueue::join_timeout))
    /// ran out.
    #[error("the timeout elapsed; wait again or give up")]
    TimedOut,
    /// An argument out of range, such as a `maxsize` past [`MAX_MAXSIZE`](crate::MAX_MAXSIZE).
    #[error("invalid argument {argument}: {requirement}")]
    InvalidArgument {
        /// The argument (or option) at fault.
        argument: &'static str,
        /// What it must be.
        requirement: &'static str,
    },
}

/// What is wrong with an address (see [`Error::InvalidAddress`]).
///
/// ```
/// use mp_ipc::{Address, AddressFault, Error};
///
/// assert!(matches!(
///     "".parse::<Address>(),
///     Err(Error::InvalidAddress { fault: AddressFault::Empty, .. })
/// ));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressFault {
    /// The address is empty.
    #[error("an empty address")]
    Empty,
    /// The operating system cannot use it as a socket address (too long, or with a NUL
    /// byte).
    #[error("not a usable socket address (too long, or with a NUL byte)")]
    Unusable,
}

/// A step of the authentication handshake (see [`Error::AuthenticationFailed`]).
///
/// ```
/// use mp_ipc::HandshakeStep;
///
/// assert_eq!(HandshakeStep::ReadingChallenge.to_string(), "reading the challenge");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeStep {
    /// Drawing random bytes for a challenge.
    #[error("making a challenge")]
    MakingChallenge,
    /// Sending our challenge.
    #[error("sending the challenge")]
    SendingChallenge,
    /// Reading the peer's answer to our challenge.
    #[error("reading the answer to the challenge")]
    ReadingAnswer,
    /// Sending the welcome after a right answer.
    #[error("sending the welcome")]
    SendingWelcome,
    /// Reading the peer's challenge.
    #[error("reading the challenge")]
    ReadingChallenge,
    /// Answering the peer's challenge.
    #[error("sending the answer")]
    SendingAnswer,
    /// Reading the peer's verdict on our answer.
    #[error("reading the verdict")]
    ReadingVerdict,
}

/// What went wrong in an authentication handshake (see [`Error::AuthenticationFailed`]).
///
/// ```
/// use mp_ipc::{AuthFault, Error, HandshakeStep};
///
/// let error = Error::AuthenticationFailed {
///     step: HandshakeStep::ReadingAnswer,
///     fault: AuthFault::WrongAnswer,
/// };
/// assert!(error.to_string().contains("the keys differ"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFault {
    /// The peer's answer to our challenge is wrong: its key is not ours.
    #[error(
        "the answer to the challenge is wrong: the keys differ; give both ends the same authkey"
    )]
    WrongAnswer,
    /// The peer refused our answer to its challenge: its key is not ours.
    #[error("the peer refused our answer: the keys differ; give both ends the same authkey")]
    Refused,
    /// The peer's answer is neither `{sha256}` and a digest nor a legacy HMAC-MD5.
    #[error(
        "an answer of {len} bytes is neither {{sha256}} nor a legacy HMAC-MD5; is the peer an mp or Python multiprocessing client?"
    )]
    MalformedAnswer {
        /// Its length.
        len: usize,
    },
    /// The peer sent something other than a challenge.
    #[error(
        "the peer sent something other than a challenge; is it an mp or Python multiprocessing listener?"
    )]
    NotAChallenge,
    /// The challenge asks for a digest this end does not offer.
    #[error(
        "the challenge asks for the digest {digest:?}, only sha256 (and Python 3.11's legacy MD5) are offered"
    )]
    UnsupportedDigest {
        /// The digest's name, as the peer wrote it.
        digest: String,
    },
    /// A challenge that is neither `{sha256}` nor legacy.
    #[error(
        "a malformed challenge of {len} bytes (neither {{sha256}} nor legacy); is the peer an mp or Python multiprocessing listener?"
    )]
    MalformedChallenge {
        /// Its length.
        len: usize,
    },
    /// The peer sent neither the welcome nor the failure message as its verdict.
    #[error(
        "the peer sent neither welcome nor failure; is it an mp or Python multiprocessing listener?"
    )]
    NoVerdict,
    /// A handshake message longer than any the protocol sends.
    #[error(
        "a handshake message of {len} bytes (at most {max}); the peer does not speak this protocol"
    )]
    MessageTooLarge {
        /// Its length.
        len: u64,
        /// The most a handshake message may have.
        max: usize,
    },
    /// The operating system gave no random bytes for a challenge.
    #[error(
        "no random bytes for a challenge (OS error {code:?}); check the system's entropy source"
    )]
    NoRandomness {
        /// The OS error code, if there was one.
        code: Option<i32>,
    },
    /// The key cannot key an HMAC (HMAC takes keys of any length: not expected).
    #[error("the authkey cannot key an HMAC; use another authkey")]
    UnusableKey,
    /// The connection failed under the handshake.
    #[error("{0}")]
    Connection(Box<Error>),
}

/// What is wrong with a queue's shared memory (see [`Error::CorruptQueue`]).
///
/// ```
/// use mp_ipc::{Error, QueueFault};
///
/// let error = Error::CorruptQueue { fault: QueueFault::UnknownTag { tag: 9 } };
/// assert!(error.to_string().contains("unknown record tag 9"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueFault {
    /// The segment is smaller than the smallest queue.
    #[error("not a queue segment: {size} bytes is too small")]
    TooSmall {
        /// The segment's size.
        size: usize,
    },
    /// The segment does not start with a queue's magic number.
    #[error("not a queue segment: no queue magic number (found {found:#x})")]
    BadMagic {
        /// What it starts with.
        found: u64,
    },
    /// The queue was made by another version of mp-ipc.
    #[error(
        "the queue was made by version {found} of the queue layout, this is {expected}; use the same mp-ipc on both sides"
    )]
    OtherVersion {
        /// The layout's version in the segment.
        found: u32,
        /// This crate's.
        expected: u32,
    },
    /// The recorded ring size is not a power of two in range, or does not fit the segment.
    #[error("a ring of {ring_bytes} bytes does not match a segment of {segment} bytes")]
    RingSize {
        /// The recorded ring size.
        ring_bytes: u64,
        /// The segment's size.
        segment: usize,
    },
    /// The recorded `maxsize` is out of range.
    #[error("maxsize {maxsize} is out of range")]
    MaxsizeOutOfRange {
        /// The recorded value.
        maxsize: u64,
    },
    /// The recorded kind is no kind of queue.
    #[error("unknown queue kind {kind}")]
    UnknownKind {
        /// The recorded value.
        kind: u32,
    },
    /// The head and tail cursors are further apart than the ring, or not 8-aligned.
    #[error("the cursors are {used} bytes apart in a ring of {ring_bytes}")]
    CursorsApart {
        /// The distance.
        used: u32,
        /// The ring's size.
        ring_bytes: u32,
    },
    /// A record runs past the bytes written.
    #[error("a record of {len} bytes runs past the {available} bytes written")]
    RecordPastTail {
        /// The record's payload length.
        len: u32,
        /// The bytes between head and tail.
        available: u32,
    },
    /// A record's tag is none the protocol writes.
    #[error("unknown record tag {tag}")]
    UnknownTag {
        /// The tag.
        tag: u32,
    },
    /// A new message began inside a streamed one.
    #[error("a new message began inside a streamed one")]
    MessageInsideStream,
    /// The first chunk of a streamed message is too short to hold its length.
    #[error("the first chunk of a streamed message has no length ({len} bytes)")]
    StreamWithoutLength {
        /// The chunk's length.
        len: u32,
    },
    /// A streamed message announces fewer bytes than its first chunk holds.
    #[error("a streamed message announces {total} bytes but its first chunk has {chunk}")]
    StreamShorterThanChunk {
        /// The announced length.
        total: u64,
        /// The first chunk's payload.
        chunk: u32,
    },
    /// A streamed message grew past the length it announced.
    #[error("a streamed message of {total} bytes grew past it")]
    StreamOverrun {
        /// The announced length.
        total: u64,
    },
    /// A streamed message ended before the length it announced.
    #[error("a streamed message ended after {received} of its {total} bytes")]
    StreamCutShort {
        /// The bytes that came.
        received: u64,
        /// The announced length.
        total: u64,
    },
    /// No room is left for the record that gives up a stream (the ring is inconsistent).
    #[error("no room left for the abort record of a stream")]
    NoRoomForAbort,
}

/// The wire layer's errors in this crate's terms: framing errors as they were, encoding
/// errors (and a handle's own) through mp-shared-mem's.
///
/// ```
/// use mp_ipc::Error;
///
/// assert!(matches!(Error::from(mp_wire::Error::PeerClosed), Error::PeerClosed));
/// ```
impl From<mp_wire::Error> for Error {
    fn from(error: mp_wire::Error) -> Self {
        use mp_wire::Error as Wire;
        match error {
            Wire::PeerClosed => Error::PeerClosed,
            Wire::Truncated { expected, received } => Error::Truncated { expected, received },
            Wire::MessageTooLarge { len, max } => Error::MessageTooLarge { len, max },
            Wire::CorruptFrame { fault } => Error::CorruptFrame { fault },
            Wire::OutOfSync => Error::OutOfSync,
            Wire::FdsTruncated => Error::FdsTruncated,
            Wire::FdsNeedUnixSocket { count } => Error::FdsNeedUnixSocket { count },
            Wire::Os { operation, errno } => Error::Os { operation, errno },
            Wire::System(error) => error.into(),
            other => Error::SharedMem(other.into()),
        }
    }
}

/// A system call's failure keeps its meaning: `Os` stays `Os`, a cut-off of descriptors
/// stays [`Error::FdsTruncated`], so that `?` on [`wait`](crate::wait) gives the errors
/// this crate always gave.
///
/// ```
/// use nix::errno::Errno;
///
/// let error = mp_ipc::Error::from(mp_sys::Error::Os { operation: "poll", errno: Errno::EBADF });
/// assert!(matches!(error, mp_ipc::Error::Os { operation: "poll", errno: Errno::EBADF }));
/// ```
impl From<mp_sys::Error> for Error {
    fn from(error: mp_sys::Error) -> Self {
        match error {
            mp_sys::Error::Os { operation, errno } => Error::Os { operation, errno },
            mp_sys::Error::FdsTruncated => Error::FdsTruncated,
            other => Error::System(other),
        }
    }
}
