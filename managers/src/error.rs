//! The crate's error type.

use serde::{Deserialize, Serialize};

/// Everything that can go wrong with a manager or a proxy.
///
/// ```
/// use mp_managers::Error;
///
/// let error = Error::ServerGone { address: "@mp-manager".into() };
/// assert!(error.to_string().starts_with("the manager server at @mp-manager is gone"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server closed the connection, died, or cannot be reached: every proxy call
    /// fails with this once the server is gone, promptly, never by hanging.
    #[error("the manager server at {address} is gone; start a new Manager (its values are lost)")]
    ServerGone {
        /// Where the server listened.
        address: String,
    },
    /// The server did not start listening in time.
    #[error(
        "the manager server did not start listening within the start timeout; the machine may be overloaded, try again"
    )]
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
    #[error(
        "a managed value cannot hold handles ({count} file descriptors); share handles with processes directly"
    )]
    HandlesNotAllowed {
        /// How many descriptors the value held.
        count: usize,
    },
    /// A `_timeout` call waited its whole timeout without getting what it waited for.
    #[error("the timeout elapsed")]
    TimedOut,
    /// A `try_` call found nothing available now (a lock or semaphore without a free count).
    #[error("not available now")]
    WouldBlock,
    /// A queue stayed empty for the whole wait (Python's `queue.Empty`).
    #[error("the queue is empty; wait with get() or get_timeout()")]
    Empty,
    /// A queue stayed full for the whole wait (Python's `queue.Full`).
    #[error("the queue is full; wait with put() or put_timeout()")]
    Full,
    /// The server refused the request.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The operating system gave no random bytes for the manager's key and address.
    #[error(
        "no random bytes for the manager's key (OS error {code:?}); check the system's entropy source"
    )]
    NoRandomness {
        /// The OS error code, if there was one.
        code: Option<i32>,
    },
}

/// Why the server refused a request.
///
/// ```
/// use mp_managers::Refusal;
///
/// let refusal = Refusal::IndexOutOfRange { index: 3, len: 2 };
/// assert!(refusal.to_string().starts_with("index 3 is out of range for a list of 2"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No object with this id lives on the server.
    #[error("the server has no object {id}; it was never made there or the server was restarted")]
    NoSuchObject {
        /// The id the proxy named.
        id: u64,
    },
    /// The object is of another kind than the proxy (a list proxy naming a dict).
    #[error("object {id} is not a {expected}; use the proxy type it was made with")]
    WrongKind {
        /// The id the proxy named.
        id: u64,
        /// The kind the proxy expected.
        expected: String,
    },
    /// A list index past the end.
    #[error("index {index} is out of range for a list of {len}; use an index below len()")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The list's length.
        len: u64,
    },
    /// A bounded semaphore (or a lock) released more often than acquired.
    #[error("released more often than acquired; release once per acquire")]
    ReleasedTooMany,
    /// The server has no [`Served`](crate::Served) type of this name registered.
    #[error("the server serves no type {type_name}; register it in the manager's Registry")]
    NotRegistered {
        /// The type's name.
        type_name: String,
    },
    /// A served value's [`handle`](crate::Served::handle) panicked (with this message);
    /// the value keeps what it had changed before the panic.
    #[error("the served value panicked: {message}; it keeps what it changed before the panic")]
    HandlerPanicked {
        /// The panic's message, if it had one.
        message: String,
    },
    /// The barrier is broken: aborted, reset while this caller waited, or a waiter
    /// timed out (Python's `BrokenBarrierError`).
    #[error("the barrier is broken; reset() it before waiting again")]
    BrokenBarrier,
    /// A message the protocol does not allow at this point: a bug, or a peer that is not
    /// this version's manager or proxy.
    #[error("manager protocol error: {fault}; use the same mp-managers on both sides")]
    Protocol {
        /// What came, and what was expected.
        fault: ProtocolFault,
    },
}

/// The kind of a message between a proxy and its manager (the payload left out), as a
/// [`ProtocolFault`] reports it.
///
/// ```
/// use mp_managers::MessageKind;
///
/// assert_eq!(MessageKind::Value.to_string(), "a value");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum MessageKind {
    /// A request (only a proxy sends those).
    #[error("a request")]
    Request,
    /// "Done".
    #[error("done")]
    Done,
    /// The id of a new object.
    #[error("a created object")]
    Created,
    /// A yes or no.
    #[error("a flag")]
    Flag,
    /// A value, or none.
    #[error("a value")]
    Value,
    /// A length.
    #[error("a length")]
    Len,
    /// A list of values.
    #[error("items")]
    Items,
    /// A list of key-value pairs.
    #[error("pairs")]
    Pairs,
    /// A refusal.
    #[error("a refusal")]
    Refused,
}

/// What broke the protocol between a proxy and its manager (see [`Refusal::Protocol`]).
///
/// ```
/// use mp_managers::{MessageKind, ProtocolFault, Refusal};
///
/// let refusal = Refusal::Protocol { fault: ProtocolFault::UnexpectedReply { got: MessageKind::Flag } };
/// assert!(refusal.to_string().contains("an unexpected reply: a flag"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolFault {
    /// The server answered with a kind of reply the call does not take.
    #[error("an unexpected reply: {got}")]
    UnexpectedReply {
        /// What came.
        got: MessageKind,
    },
    /// In the middle of an update, the server waited for its end (the new value) and got
    /// something else.
    #[error("the end of an update was expected, {got} came")]
    UpdateEndExpected {
        /// What came.
        got: MessageKind,
    },
    /// An update's end came without its start.
    #[error("an update's end came without its start")]
    UpdateEndWithoutStart,
    /// An object on the server holds no state (it is being replaced or was lost).
    #[error("an object without state")]
    ObjectWithoutState,
    /// A managed value has no entry on the server.
    #[error("the value has no entry")]
    ValueWithoutEntry,
    /// A request for a [`Served`](crate::Served) type did not decode on the server.
    #[error("a request for {type_name} did not decode: {detail}")]
    UndecodableRequest {
        /// The request type.
        type_name: String,
        /// The codec's message.
        detail: String,
    },
    /// A [`Served`](crate::Served) type's response could not be encoded on the server.
    #[error("a response of {type_name} could not be encoded: {detail}")]
    UnencodableResponse {
        /// The response type.
        type_name: String,
        /// The codec's message.
        detail: String,
    },
}
