//! The crate's error type.

use serde::{Deserialize, Serialize};

/// Everything that can go wrong with a manager or a proxy.
///
/// ```
/// use mp_managers::Error;
///
/// let error = Error::ServerGone { address: "@mp-manager".into() };
/// assert_eq!(error.to_string(), "the manager server at @mp-manager is gone");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server closed the connection, died, or cannot be reached: every proxy call
    /// fails with this once the server is gone, promptly, never by hanging.
    #[error("the manager server at {address} is gone")]
    ServerGone {
        /// Where the server listened.
        address: String,
    },
    /// The server did not start listening in time.
    #[error("the manager server did not start listening within the start timeout")]
    StartTimedOut,
    /// Starting the server process failed.
    #[error(transparent)]
    Process(#[from] mp_processes::Error),
    /// A connection to the server failed otherwise (a wrong key gives
    /// `mp_ipc::Error::AuthenticationFailed`).
    #[error(transparent)]
    Ipc(#[from] mp_ipc::Error),
    /// A key or value could not be encoded or decoded.
    #[error(transparent)]
    Wire(#[from] mp_wire::Error),
    /// Keys and values are plain data: a handle that owns a file descriptor (a
    /// `Shared<T>`, a connection) cannot be stored in a managed object.
    #[error("a managed value cannot hold handles ({count} file descriptors)")]
    HandlesNotAllowed {
        /// How many descriptors the value held.
        count: usize,
    },
    /// A queue stayed empty for the whole wait (Python's `queue.Empty`).
    #[error("the queue is empty")]
    Empty,
    /// A queue stayed full for the whole wait (Python's `queue.Full`).
    #[error("the queue is full")]
    Full,
    /// The server refused the request.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// Why the server refused a request.
///
/// ```
/// use mp_managers::Refusal;
///
/// let refusal = Refusal::IndexOutOfRange { index: 3, len: 2 };
/// assert_eq!(refusal.to_string(), "index 3 is out of range for a list of 2");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No object with this id lives on the server.
    #[error("the server has no object {id}")]
    NoSuchObject {
        /// The id the proxy named.
        id: u64,
    },
    /// The object is of another kind than the proxy (a list proxy naming a dict).
    #[error("object {id} is not a {expected}")]
    WrongKind {
        /// The id the proxy named.
        id: u64,
        /// The kind the proxy expected.
        expected: String,
    },
    /// A list index past the end.
    #[error("index {index} is out of range for a list of {len}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The list's length.
        len: u64,
    },
    /// A bounded semaphore (or a lock) released more often than acquired.
    #[error("released more often than acquired")]
    ReleasedTooMany,
    /// The server has no [`Served`](crate::Served) type of this name registered.
    #[error("the server serves no type {type_name}")]
    NotRegistered {
        /// The type's name.
        type_name: String,
    },
    /// A served value's [`handle`](crate::Served::handle) panicked (with this message);
    /// the value keeps what it had changed before the panic.
    #[error("the served value panicked: {message}")]
    HandlerPanicked {
        /// The panic's message, if it had one.
        message: String,
    },
    /// The barrier is broken: aborted, reset while this caller waited, or a waiter
    /// timed out (Python's `BrokenBarrierError`).
    #[error("the barrier is broken")]
    BrokenBarrier,
    /// A message out of order (an update's end without its start).
    #[error("unexpected message: {0}")]
    Protocol(String),
}
