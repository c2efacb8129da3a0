//! Connections: Python's `multiprocessing.Pipe` and `multiprocessing.connection.Connection`.
//!
//! A [`Connection<T>`] is one end of a stream socket that carries whole messages: values
//! of `T` (serde, encoded with postcard, handles included) or raw bytes. [`pipe`] makes
//! two connected ends; a [`Listener`](crate::Listener) and a [`Client`](crate::Client)
//! make them over named Unix sockets or TCP.
//!
//! Each message is one frame of mp-wire, the workspace's one wire layer, which is
//! Python's framing: a big-endian 32-bit length then the payload, so
//! `send_bytes`/`recv_bytes` interoperate with a Python peer. The descriptors of handles
//! in a value ride on the frame's first byte (`SCM_RIGHTS`). A frame goes out in one
//! system call; the receiver reads ahead into a 64 KiB buffer, so a small message usually
//! costs one `recvmsg` (often less: several come in one read), and reads larger ones
//! straight into their destination.

#[cfg(feature = "async")]
mod async_recv;
mod auth;
#[allow(clippy::module_inception)]
mod connection;
mod handshake_stream;
mod pipe;

pub(crate) use auth::{HANDSHAKE_TIMEOUT, authenticate_client, authenticate_server};
pub use connection::{Connection, DEFAULT_MAX_MESSAGE_SIZE};
pub use pipe::pipe;
