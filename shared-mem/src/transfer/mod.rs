//! Handle transfer: how a value that owns file descriptors crosses into another process.
//!
//! A handle (a [`Segment`](crate::Segment), a [`Shared<T>`](crate::Shared), a socket of
//! mp-ipc...) is a descriptor plus some state. Serde can carry the state but not the
//! descriptor: a descriptor number means nothing in another process. So:
//!
//! 1. [`encode`] serializes the value with [postcard](https://docs.rs/postcard). Each
//!    handle's `Serialize` calls [`serialize_fd`], which duplicates its descriptor into a
//!    side table and writes only the table index into the bytes.
//! 2. The bytes and the descriptors travel together: [`send`] / [`recv`] put both in one
//!    message on a Unix socket (`SCM_RIGHTS`); a forked child simply inherits both (the
//!    descriptors keep their numbers); an exec'd child inherits descriptors left open
//!    across `exec`.
//! 3. [`decode`] deserializes with the received descriptors as the side table. Each
//!    handle's `Deserialize` calls [`deserialize_fd`] to take its descriptor back, and maps
//!    or wraps it again.
//!
//! Serializing a handle with any other serializer (`serde_json`, postcard called
//! directly...) fails with a serde error that says so, never a panic: outside `encode`
//! there is no side table to put the descriptor in.
//!
//! ```
//! use std::os::unix::net::UnixStream;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use mp_shared_mem::{Shared, transfer};
//!
//! let (here, there) = UnixStream::pair().unwrap();
//! let counter = Shared::new(AtomicU64::new(0))?;
//! transfer::send_value(&here, &counter)?;
//!
//! // In the other process (here: another mapping of the same memory):
//! let received: Shared<AtomicU64> = transfer::recv_value(&there, 1 << 20)?;
//! received.fetch_add(5, Ordering::SeqCst);
//! assert_eq!(counter.load(Ordering::SeqCst), 5);
//! # Ok::<(), mp_shared_mem::Error>(())
//! ```
//!
//! # Writing a handle type
//!
//! Serialize the descriptor with [`serialize_fd`] and take it back with
//! [`deserialize_fd`]; report a descriptor that does not fit with [`reject`], so that
//! [`decode`] returns your message (postcard alone would lose it):
//!
//! ```
//! use std::os::fd::{AsFd, OwnedFd};
//! use serde::{Deserialize, Deserializer, Serialize, Serializer};
//! use mp_shared_mem::transfer;
//!
//! struct Pipe {
//!     fd: OwnedFd,
//!     capacity: u32,
//! }
//!
//! impl Serialize for Pipe {
//!     fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
//!         use serde::ser::SerializeTuple;
//!         let mut tuple = serializer.serialize_tuple(2)?;
//!         tuple.serialize_element(&transfer::Fd(self.fd.as_fd()))?;
//!         tuple.serialize_element(&self.capacity)?;
//!         tuple.end()
//!     }
//! }
//!
//! impl<'de> Deserialize<'de> for Pipe {
//!     fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
//!         let (fd, capacity): (transfer::ReceivedFd, u32) = Deserialize::deserialize(deserializer)?;
//!         if capacity == 0 {
//!             return Err(transfer::reject("a pipe of capacity 0"));
//!         }
//!         Ok(Pipe { fd: fd.into_inner(), capacity })
//!     }
//! }
//!
//! let (reader, _writer) = std::io::pipe().unwrap();
//! let pipe = Pipe { fd: reader.into(), capacity: 4096 };
//! let (bytes, fds) = transfer::encode(&pipe)?;
//! assert_eq!(fds.len(), 1);
//! let back: Pipe = transfer::decode(&bytes, fds)?;
//! assert_eq!(back.capacity, 4096);
//! # Ok::<(), mp_shared_mem::Error>(())
//! ```

mod context;
mod fd;
mod socket;

pub(crate) use fd::reject_with;
pub use fd::{Fd, ReceivedFd, deserialize_fd, reject, serialize_fd};
pub use socket::{MAX_FDS_PER_MESSAGE, recv, recv_value, send, send_value};

use std::os::fd::OwnedFd;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use context::{Scope, Table};

/// Serializes `value` to bytes, moving (duplicates of) the descriptors of the handles in it
/// into the returned list, in the order the bytes refer to them.
///
/// The descriptors are `O_CLOEXEC` duplicates owned by the caller; the value keeps its own.
/// Fails with [`Error::Encode`], or with the error a handle reported (such as
/// [`Error::Os`] with `EMFILE` when the process is out of descriptors).
///
/// ```
/// let (bytes, fds) = mp_shared_mem::transfer::encode(&(1u8, "two"))?;
/// assert!(fds.is_empty());
/// let back: (u8, String) = mp_shared_mem::transfer::decode(&bytes, fds)?;
/// assert_eq!(back, (1, "two".to_string()));
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    let scope = Scope::enter(Table::Encoding(Vec::new()));
    let result = postcard::to_allocvec(value);
    let (table, failure) = scope.leave();
    match (result, table) {
        (Ok(bytes), Table::Encoding(fds)) => {
            tracing::trace!(bytes = bytes.len(), fds = fds.len(), "encoded");
            Ok((bytes, fds))
        }
        (Ok(_), Table::Decoding(_)) => Err(Error::Encode("the side table changed kind".into())),
        (Err(err), _) => Err(failure.unwrap_or_else(|| Error::Encode(err.to_string()))),
    }
}

/// Deserializes a `T` from bytes made by [`encode`], giving the handles in it the
/// descriptors in `fds` (as received, or inherited).
///
/// Every descriptor must be claimed exactly once by a handle; leftovers (a message that
/// does not match its type) are closed and reported as [`Error::Decode`]. So are trailing
/// bytes. A handle that cannot use its descriptor reports its own error (such as
/// [`Error::TypeMismatch`] for a [`Shared<T>`](crate::Shared) decoded as the wrong `T`).
///
/// ```
/// use std::sync::atomic::AtomicU32;
/// use mp_shared_mem::{Error, Shared, transfer};
///
/// let (bytes, fds) = transfer::encode(&Shared::new(AtomicU32::new(1))?)?;
/// let wrong = transfer::decode::<Shared<u64>>(&bytes, fds);
/// assert!(matches!(wrong, Err(Error::TypeMismatch { .. })));
/// # Ok::<(), Error>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, Error> {
    let scope = Scope::enter(Table::Decoding(fds.into_iter().map(Some).collect()));
    let result = postcard::take_from_bytes::<T>(bytes);
    let (table, failure) = scope.leave();
    let (value, rest) = match result {
        Ok(decoded) => decoded,
        Err(err) => return Err(failure.unwrap_or_else(|| Error::Decode(err.to_string()))),
    };
    if !rest.is_empty() {
        return Err(Error::Decode(format!(
            "{} bytes left over after the value",
            rest.len()
        )));
    }
    let unclaimed = match &table {
        Table::Decoding(fds) => fds.iter().filter(|fd| fd.is_some()).count(),
        Table::Encoding(_) => 0,
    };
    if unclaimed > 0 {
        return Err(Error::Decode(format!(
            "{unclaimed} file descriptors came with the message but no handle claimed them"
        )));
    }
    Ok(value)
}
