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
    /// The peer of a connection closed it, or died, between messages: the end of the
    /// stream (Python's `EOFError`). Also returned by a send whose peer is gone.
    #[error("the peer closed the connection (end of stream)")]
    PeerClosed,
    /// The peer of a connection closed it, or died, in the middle of a message.
    #[error("the connection ended after {received} of {expected} bytes of a message")]
    Truncated {
        /// The bytes the message needed (its length prefix included).
        expected: u64,
        /// The bytes that came.
        received: u64,
    },
    /// A message is longer than the limit. A receive allocated nothing for it and (on a
    /// connection) skipped it: the connection goes on with the next message. A send
    /// wrote nothing of it.
    #[error("a message of {len} bytes is over the limit of {max}")]
    MessageTooLarge {
        /// The length announced by the sender.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A length prefix that no sender writes (negative): the stream is corrupt.
    #[error("corrupt message frame: {0}")]
    CorruptFrame(String),
    /// An earlier framing error (an oversized or corrupt length prefix) left the reading
    /// side of the connection out of step with the stream; it cannot read any more.
    #[error("the connection lost its place in the stream after an earlier framing error")]
    OutOfSync,
    /// `recv_bytes_into` was given a buffer too small for the message (Python's
    /// `BufferTooShort`); the error carries the whole message, and the stream stays in step.
    #[error("the buffer is too short for a message of {} bytes", .0.len())]
    BufferTooShort(Vec<u8>),
    /// A read on the writing end of a one-way pipe.
    #[error("the connection is write-only")]
    NotReadable,
    /// A write on the reading end of a one-way pipe.
    #[error("the connection is read-only")]
    NotWritable,
    /// The kernel dropped file descriptors that came with a message (`MSG_CTRUNC`): this
    /// process is out of descriptors. The message was read and thrown away.
    #[error("the file descriptors of a message were cut off (out of descriptors?)")]
    FdsTruncated,
    /// Another failure of the OS layer (mp-sys) than those above.
    #[error(transparent)]
    System(mp_sys::Error),
    /// A message holds handles (file descriptors), which only travel over Unix sockets.
    #[error("a message with {count} file descriptors cannot go over a TCP connection")]
    FdsNeedUnixSocket {
        /// How many descriptors the message holds.
        count: usize,
    },
    /// The authentication handshake of a [`Listener`](crate::Listener) or
    /// [`Client`](crate::Client) failed: a wrong key, a peer that does not speak the
    /// protocol, or one too slow to answer.
    #[error("authentication failed: {0}")]
    AuthenticationFailed(String),
    /// An address a [`Listener`](crate::Listener) cannot bind or a
    /// [`Client`](crate::Client) cannot connect to.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The address, as given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A queue is empty: [`try_get`](crate::Queue::try_get) found nothing, or
    /// [`get_timeout`](crate::Queue::get_timeout) waited in vain (Python's `queue.Empty`).
    #[error("the queue is empty")]
    Empty,
    /// A queue is full: [`try_put`](crate::Queue::try_put) found no room, or
    /// [`put_timeout`](crate::Queue::put_timeout) waited in vain (Python's `queue.Full`).
    #[error("the queue is full")]
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
    #[error("corrupt queue: {0}")]
    CorruptQueue(String),
    /// `task_done` was called more times than messages were put (Python's `ValueError`).
    #[error("task_done() called more times than messages were put")]
    TaskDoneTooManyTimes,
    /// A [`JoinableQueue::join`](crate::JoinableQueue::join) found every task put marked
    /// done or lost: `count` tasks (since the queue was made) were taken by processes that
    /// died before marking them done.
    #[error("{count} tasks were lost with consumer processes that died before task_done()")]
    TasksLost {
        /// The tasks lost since the queue was made.
        count: usize,
    },
    /// A `_timeout` wait (such as [`JoinableQueue::join_timeout`](crate::JoinableQueue::join_timeout))
    /// ran out.
    #[error("the timeout elapsed")]
    TimedOut,
    /// An argument out of range, such as a `maxsize` past [`MAX_MAXSIZE`](crate::MAX_MAXSIZE).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
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
            Wire::CorruptFrame(reason) => Error::CorruptFrame(reason),
            Wire::OutOfSync => Error::OutOfSync,
            Wire::FdsTruncated => Error::FdsTruncated,
            Wire::FdsNeedUnixSocket { count } => Error::FdsNeedUnixSocket { count },
            Wire::Os { operation, errno } => Error::Os { operation, errno },
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
