//! What a proxy and the server say to each other: one [`Message`] per frame over an
//! mp-ipc connection (postcard, through mp-wire). Keys and values travel as their own
//! postcard bytes, so the server stores them without knowing their types, and equal
//! keys of one type are equal bytes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Refusal;

/// The kinds of object a server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    Dict,
    List,
    /// A lock is a semaphore of one, bounded by one.
    Semaphore {
        initial: u64,
        bound: Option<u64>,
    },
    Event,
    Queue {
        maxsize: Option<u64>,
    },
    Barrier {
        parties: u64,
    },
    Condition,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Dict => "dict",
            Kind::List => "list",
            Kind::Semaphore { .. } => "semaphore",
            Kind::Event => "event",
            Kind::Queue { .. } => "queue",
            Kind::Barrier { .. } => "barrier",
            Kind::Condition => "condition",
        }
    }
}

/// A proxy's request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// A new object, or with a name the object of that name (made on first use).
    Create {
        kind: Kind,
        name: Option<String>,
    },
    DictGet {
        id: u64,
        key: Vec<u8>,
    },
    DictSet {
        id: u64,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    DictRemove {
        id: u64,
        key: Vec<u8>,
    },
    DictLen {
        id: u64,
    },
    DictItems {
        id: u64,
    },
    /// Locks the dict for this connection and answers the key's value; the next
    /// message must be [`Request::UpdateEnd`], which stores and unlocks.
    UpdateBegin {
        id: u64,
        key: Vec<u8>,
    },
    UpdateEnd {
        value: Vec<u8>,
    },
    ListPush {
        id: u64,
        value: Vec<u8>,
    },
    ListPop {
        id: u64,
    },
    ListGet {
        id: u64,
        index: u64,
    },
    ListSet {
        id: u64,
        index: u64,
        value: Vec<u8>,
    },
    ListLen {
        id: u64,
    },
    ListItems {
        id: u64,
    },
    /// Waits at most `timeout` (`None`: forever, zero: not at all); answers a flag.
    Acquire {
        id: u64,
        timeout: Option<Duration>,
    },
    Release {
        id: u64,
    },
    EventSet {
        id: u64,
        set: bool,
    },
    EventIsSet {
        id: u64,
    },
    EventWait {
        id: u64,
        timeout: Option<Duration>,
    },
    /// Answers a flag: false if the queue stayed full.
    QueuePut {
        id: u64,
        value: Vec<u8>,
        timeout: Option<Duration>,
    },
    /// Answers a value, none if the queue stayed empty.
    QueueGet {
        id: u64,
        timeout: Option<Duration>,
    },
    QueueLen {
        id: u64,
    },
    /// Answers the caller's arrival index as a length, or refuses: broken barrier.
    BarrierWait {
        id: u64,
        timeout: Option<Duration>,
    },
    /// Breaks the barrier (`broken: true`, Python's `abort`) or mends it (`reset`).
    BarrierBreak {
        id: u64,
        broken: bool,
    },
    /// Releases the lock `lock`, waits for a notification of condition `id` (at most
    /// `timeout`), reacquires the lock; answers whether it was notified.
    ConditionWait {
        id: u64,
        lock: u64,
        timeout: Option<Duration>,
    },
    /// Wakes `count` waiters of condition `id` (all: `u64::MAX`).
    ConditionNotify {
        id: u64,
        count: u64,
    },
    /// A new value of a registered type (by its type name), or the one of that name.
    CreateServed {
        type_name: String,
        name: Option<String>,
    },
    /// A request for a served value; answers its response as a value.
    Call {
        id: u64,
        request: Vec<u8>,
    },
}

/// The server's answer to one request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    Done,
    Created(u64),
    Flag(bool),
    Value(Option<Vec<u8>>),
    Len(u64),
    Items(Vec<Vec<u8>>),
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    Refused(Refusal),
}

impl Reply {
    /// Its kind, for a protocol fault.
    pub(crate) fn kind(&self) -> crate::MessageKind {
        use crate::MessageKind;
        match self {
            Reply::Done => MessageKind::Done,
            Reply::Created(_) => MessageKind::Created,
            Reply::Flag(_) => MessageKind::Flag,
            Reply::Value(_) => MessageKind::Value,
            Reply::Len(_) => MessageKind::Len,
            Reply::Items(_) => MessageKind::Items,
            Reply::Pairs(_) => MessageKind::Pairs,
            Reply::Refused(_) => MessageKind::Refused,
        }
    }
}

/// One frame on a proxy's connection (one type for both directions, as
/// `mp_ipc::Connection<T>` has).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Message {
    Request(Request),
    Reply(Reply),
}
