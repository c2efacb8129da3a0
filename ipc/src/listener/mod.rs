//! Named connections: Python's `multiprocessing.connection.Listener` and `Client`.
//!
//! A [`Listener`] binds an [`Address`] (a Unix socket file, a Linux abstract name, or
//! TCP) and accepts [`Connection`](crate::Connection)s; [`Client::connect`] makes one.
//! Given an authentication key, both sides prove to each other that they know it (an
//! HMAC-SHA256 challenge each way, Python 3.12's protocol, with its fallback to the
//! HMAC-MD5 of Python 3.11 and older) before the connection is
//! handed out: a peer with a wrong key gets [`Error::AuthenticationFailed`](crate::Error)
//! and never gets to send a message.

mod address;
mod client;
mod handshakes;
#[allow(clippy::module_inception)]
mod listener;

pub use address::Address;
pub use client::Client;
pub use listener::Listener;

use std::io;

use nix::errno::Errno;

use crate::Error;

/// An error of a std socket call as this crate's.
fn io_error(operation: &'static str, address: &Address, error: io::Error) -> Error {
    match error.raw_os_error() {
        Some(code) => Error::Os {
            operation,
            errno: Errno::from_raw(code),
        },
        None => Error::InvalidAddress {
            address: address.to_string(),
            fault: crate::AddressFault::Unusable,
        },
    }
}
