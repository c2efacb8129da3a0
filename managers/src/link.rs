//! A proxy's way to its server: the address and key, serialized with the proxy, and
//! connections made on first use in each process (a forked child never shares its
//! parent's sockets: the idle connections remember the process that made them). Each
//! call takes an idle connection or opens one, so a thread blocked in a wait never
//! holds up another thread's call through a clone of the same proxy.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mp_ipc::{Client, Connection};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::protocol::{Message, Reply, Request};
use crate::{Error, MessageKind, ProtocolFault};

#[derive(Serialize, Deserialize)]
struct Target {
    address: String,
    authkey: Vec<u8>,
}

/// How many handshakes [`Link::open`] tries before believing a refusal.
const HANDSHAKE_ATTEMPTS: u32 = 3;
/// The pause between them: long enough for a killed server's sockets to close.
const HANDSHAKE_RETRY_PAUSE: Duration = Duration::from_millis(20);

/// The idle connections, and the process they belong to.
#[derive(Default)]
struct Idle {
    pid: u32,
    connections: Vec<Connection<Message>>,
}

/// The shared part of every proxy of one server.
#[derive(Clone)]
pub(crate) struct Link {
    target: Arc<Target>,
    idle: Arc<Mutex<Idle>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("address", &self.target.address)
            .finish_non_exhaustive()
    }
}

impl Serialize for Link {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.target.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Link {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let target = Target::deserialize(deserializer)?;
        Ok(Link::new(target.address, target.authkey))
    }
}

/// Encodes a key or value for the server (plain data only).
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let (bytes, fds) = mp_wire::encode(value)?;
    if fds.is_empty() {
        Ok(bytes)
    } else {
        Err(Error::HandlesNotAllowed { count: fds.len() })
    }
}

/// Decodes a key or value the server sent back.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    Ok(mp_wire::decode(bytes, Vec::new())?)
}

impl Link {
    pub(crate) fn new(address: String, authkey: Vec<u8>) -> Self {
        Link {
            target: Arc::new(Target { address, authkey }),
            idle: Arc::default(),
        }
    }

    pub(crate) fn address(&self) -> &str {
        &self.target.address
    }

    /// Connects and checks the key (refused keys fail here), leaving the connection
    /// idle for the next call.
    pub(crate) fn connect(&self) -> Result<(), Error> {
        let connection = self.take()?;
        self.put_back(connection);
        Ok(())
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        // Nothing panics with the lock held (a push or a pop): the list is sound.
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        if idle.pid != pid {
            // Inherited from the parent (fork): its sockets are the parent's. Forget
            // them without a close message; closing our copies leaves the parent's open.
            idle.connections.clear();
            idle.pid = pid;
        }
        idle
    }

    /// An idle connection of this process, or a new one.
    fn take(&self) -> Result<Connection<Message>, Error> {
        let idle = self.idle().connections.pop();
        match idle {
            Some(connection) => Ok(connection),
            None => self.open(),
        }
    }

    fn put_back(&self, connection: Connection<Message>) {
        self.idle().connections.push(connection);
    }

    /// A new authenticated connection. A server that dies with our connection in its
    /// backlog closes it before the challenge, which reads as a failed handshake; so a
    /// failed handshake is tried again, a few times: a gone server then refuses the
    /// connection itself, a wrong key fails the same way every time.
    fn open(&self) -> Result<Connection<Message>, Error> {
        let address = self.target.address.parse()?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Client::connect(&address, Some(&self.target.authkey)) {
                Ok(connection) => return Ok(connection),
                Err(mp_ipc::Error::AuthenticationFailed { .. })
                    if attempts < HANDSHAKE_ATTEMPTS =>
                {
                    std::thread::sleep(HANDSHAKE_RETRY_PAUSE);
                }
                Err(err) => return Err(self.gone_or(err)),
            }
        }
    }

    fn gone_or(&self, err: mp_ipc::Error) -> Error {
        match err {
            mp_ipc::Error::PeerClosed
            | mp_ipc::Error::Closed
            | mp_ipc::Error::Truncated { .. }
            | mp_ipc::Error::Os { .. } => Error::ServerGone {
                address: self.target.address.clone(),
            },
            other => Error::Ipc(other),
        }
    }

    fn exchange(&self, connection: &Connection<Message>, request: Request) -> Result<Reply, Error> {
        connection
            .send(&Message::Request(request))
            .map_err(|err| self.gone_or(err))?;
        match connection.recv().map_err(|err| self.gone_or(err))? {
            Message::Reply(Reply::Refused(refusal)) => Err(Error::Refused(refusal)),
            Message::Reply(reply) => Ok(reply),
            Message::Request(_) => Err(protocol(ProtocolFault::UnexpectedReply {
                got: MessageKind::Request,
            })),
        }
    }

    /// One request and its reply; a failed exchange drops its connection, so the next
    /// call starts clean.
    pub(crate) fn call(&self, request: Request) -> Result<Reply, Error> {
        let connection = self.take()?;
        let reply = self.exchange(&connection, request)?;
        self.put_back(connection);
        Ok(reply)
    }

    /// An update: the server locks the dict and sends the key's value, `change` makes the
    /// new one here, and the server stores it and unlocks. If `change` fails or panics,
    /// the connection is dropped unused, and the server, which waits for the new value,
    /// sees the end and releases the dict unchanged.
    pub(crate) fn update(
        &self,
        id: u64,
        key: Vec<u8>,
        change: impl FnOnce(Option<Vec<u8>>) -> Result<Vec<u8>, Error>,
    ) -> Result<(), Error> {
        let connection = self.take()?;
        let current = match self.exchange(&connection, Request::UpdateBegin { id, key })? {
            Reply::Value(current) => current,
            other => return Err(unexpected(&other)),
        };
        let value = change(current)?;
        match self.exchange(&connection, Request::UpdateEnd { value })? {
            Reply::Done => {
                self.put_back(connection);
                Ok(())
            }
            other => Err(unexpected(&other)),
        }
    }
}

pub(crate) fn unexpected(reply: &Reply) -> Error {
    protocol(ProtocolFault::UnexpectedReply { got: reply.kind() })
}

/// A protocol fault, as the error a proxy call returns.
pub(crate) fn protocol(fault: ProtocolFault) -> Error {
    Error::Refused(crate::Refusal::Protocol { fault })
}
