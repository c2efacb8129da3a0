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
//!    frame on a Unix socket (`SCM_RIGHTS`); a forked child simply inherits both (the
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
//! The mechanism is the one wire layer of the workspace, `mp_wire` (which documents the
//! frame, its limits and its errors); this module gives it this crate's [`Error`], so
//! that a handle's own error (such as [`Error::TypeMismatch`]) comes back as it was. The
//! socket functions here take any descriptor and check it on every call; for a socket
//! that carries many messages, call `mp_wire` with a `UnixStream` (or an
//! `mp_wire::Checked`), which checks it once.
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

pub use mp_wire::{
    DecodeFault, EncodeFault, Fd, FrameFault, ReceivedFd, SocketFault, deserialize_fd, reject,
    serialize_fd,
};

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// The most descriptors one message may carry (Linux's `SCM_MAX_FD`).
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::{Error, transfer};
///
/// let (a, _b) = UnixStream::pair().unwrap();
/// let too_many = vec![a.as_fd(); transfer::MAX_FDS_PER_MESSAGE + 1];
/// assert!(matches!(transfer::send(&a, b"", &too_many), Err(Error::TooManyFds { .. })));
/// ```
pub const MAX_FDS_PER_MESSAGE: usize = mp_wire::MAX_FDS_PER_FRAME;

/// As [`reject`], keeping this crate's precise error for [`decode`].
pub(crate) fn reject_with<E: serde::de::Error>(error: Error) -> E {
    mp_wire::reject_error(error)
}

/// Serializes `value` to bytes, moving (duplicates of) the descriptors of the handles in it
/// into the returned list, in the order the bytes refer to them (`mp_wire::encode`).
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
    Ok(mp_wire::encode(value)?)
}

/// Deserializes a `T` from bytes made by [`encode`], giving the handles in it the
/// descriptors in `fds` (as received, or inherited) (`mp_wire::decode`).
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
    Ok(mp_wire::decode(bytes, fds)?)
}

/// Sends `bytes` and `fds` as one frame on a connected Unix stream socket
/// (`mp_wire::send`, after checking the socket).
///
/// The descriptors are duplicated into the receiver by the kernel; the caller keeps its
/// own. Blocks until the whole message is written. Fails with [`Error::PeerClosed`] if the
/// peer is gone (no `SIGPIPE`), [`Error::TooManyFds`] past [`MAX_FDS_PER_MESSAGE`], and
/// [`Error::UnsupportedSocket`] for anything but a Unix stream socket. Messages from
/// several threads on one socket must not interleave: send from one thread at a time.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::transfer;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let file = std::fs::File::open("/dev/null").unwrap();
/// transfer::send(&a, b"hello", &[file.as_fd()])?;
/// let (bytes, fds) = transfer::recv(&b, 1024)?;
/// assert_eq!(bytes, b"hello");
/// assert_eq!(fds.len(), 1);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub fn send(socket: impl AsFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), Error> {
    Ok(mp_wire::send(unix_stream(socket.as_fd())?, bytes, fds)?)
}

/// Receives one frame sent by [`send`]: its bytes and its descriptors (`O_CLOEXEC`)
/// (`mp_wire::recv`, after checking the socket).
///
/// Blocks until a whole message has arrived (set `SO_RCVTIMEO` on the socket to bound the
/// wait: the timeout then comes back as [`Error::Os`] with `EAGAIN`). A message longer
/// than `max_len` is refused with [`Error::MessageTooLarge`] before anything is allocated;
/// the socket is then out of step and should be closed. Descriptors cut off by the kernel
/// (the process is out of descriptors) give [`Error::FdsTruncated`]; the ones that did
/// arrive are closed. A peer gone between messages gives [`Error::PeerClosed`], in the
/// middle of one [`Error::Truncated`].
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::{Error, transfer};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// transfer::send(&a, &[7; 100], &[])?;
/// assert!(matches!(transfer::recv(&b, 10), Err(Error::MessageTooLarge { len: 100, max: 10 })));
/// drop(a);
/// let (c, d) = UnixStream::pair().unwrap();
/// drop(c);
/// assert_eq!(transfer::recv(&d, 10).unwrap_err(), Error::PeerClosed);
/// # Ok::<(), Error>(())
/// ```
pub fn recv(socket: impl AsFd, max_len: usize) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    Ok(mp_wire::recv(unix_stream(socket.as_fd())?, max_len)?)
}

/// [`encode`]s `value` and [`send`]s it with its descriptors.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::{Segment, transfer};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let segment = Segment::new(4096)?;
/// transfer::send_value(&a, &("greeting", segment.clone()))?;
/// let (label, received): (String, Segment) = transfer::recv_value(&b, 1024)?;
/// received.write_at(0, b"hi")?;
/// assert_eq!(&segment.to_vec()[..2], b"hi");
/// # assert_eq!(label, "greeting");
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub fn send_value<T: Serialize + ?Sized>(socket: impl AsFd, value: &T) -> Result<(), Error> {
    Ok(mp_wire::send_value(unix_stream(socket.as_fd())?, value)?)
}

/// [`recv`]s one message of at most `max_len` bytes and [`decode`]s it.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::transfer;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// transfer::send_value(&a, &vec![1u16, 2, 3])?;
/// assert_eq!(transfer::recv_value::<Vec<u16>>(&b, 64)?, vec![1, 2, 3]);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub fn recv_value<T: DeserializeOwned>(socket: impl AsFd, max_len: usize) -> Result<T, Error> {
    Ok(mp_wire::recv_value(unix_stream(socket.as_fd())?, max_len)?)
}

/// `socket`, checked to be a Unix stream socket (the only kind descriptors travel over).
fn unix_stream(socket: BorrowedFd<'_>) -> Result<mp_wire::Checked<'_>, Error> {
    let checked = mp_wire::Checked::new(socket)?;
    if checked.kind() != mp_wire::SocketKind::Unix {
        return Err(Error::UnsupportedSocket {
            fault: SocketFault::NotUnix,
        });
    }
    Ok(checked)
}
