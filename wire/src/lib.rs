//! The one wire layer of the mp crates: every message that crosses a socket (a
//! `Connection`'s messages, a `Process`'s call, arguments and return value, `Pool` tasks
//! and results, handles on their way to another process) is one frame of this crate,
//! encoded by this crate.
//!
//! # Why a crate of its own
//!
//! The encoder needs serde and postcard. `mp-sys`, the OS layer under everything, stays
//! free of them, and `mp-sync` (which crosses no socket) should not pull them in; the
//! wire layer sits just above `mp-sys` so that `mp-shared-mem` (handles), `mp-ipc`
//! (connections) and `mp-processes` (children and pools) share it without depending on
//! each other for it.
//!
//! # The protocol
//!
//! **Frame.** Python's `multiprocessing.connection` framing, so `send_bytes`/`recv_bytes`
//! interoperate with a Python peer: a big-endian signed 32-bit payload length, then the
//! payload. A payload longer than `i32::MAX` bytes has the length `-1`, then its length
//! as a big-endian `u64` ([`frame`]). Any other negative length is
//! [`Error::CorruptFrame`].
//!
//! **Maximum frame.** The format carries up to `u64::MAX` bytes; each receiver sets its
//! own limit per call (`max_len`). A longer announced length is refused with
//! [`Error::MessageTooLarge`] before anything is allocated, and a payload buffer grows
//! only as bytes actually arrive (in chunks that double from 64 KiB), so a corrupt length
//! never allocates more than twice what the peer really sent.
//!
//! **Payload.** Raw bytes, or a value encoded by [`encode`] in the format of
//! [postcard](https://docs.rs/postcard), byte for byte (a test checks every kind of value
//! against postcard itself). The reader and writer are this crate's own, not postcard's:
//! postcard's serializer receives a `Vec<u8>` one byte at a time through serde, while
//! these copy vectors and slices of bytes and floats as one block, write and read
//! vectors of integers in one loop, and can write a large value straight into a file
//! ([`encode_to`], [`Sink`]) instead of one buffer first.
//!
//! A handle that owns a descriptor writes only an index into the bytes; the descriptor
//! itself goes to a side table ([`serialize_fd`], [`Fd`]), and [`decode`] hands it back
//! ([`deserialize_fd`], [`ReceivedFd`]). Every descriptor must be claimed exactly once,
//! and no bytes may be left over, or decoding fails with [`Error::Decode`].
//!
//! **Descriptors.** They ride on the first byte of the frame's header (`SCM_RIGHTS`, through
//! `mp_sys::fd_passing`), at most [`MAX_FDS_PER_FRAME`] (Linux's `SCM_MAX_FD`, 253) per
//! frame, over Unix sockets only ([`Error::FdsNeedUnixSocket`] over TCP). The kernel
//! hands the descriptors sent with some bytes to the read that takes those bytes and ends
//! that read right after them, so a receiver that reads one frame at a time
//! ([`recv`]) gets exactly that frame's descriptors, and one that reads ahead
//! ([`Reader`]) attributes them by stream offset. Descriptors arrive `O_CLOEXEC`. If this
//! process runs out of descriptors the kernel cuts some off: the frame is still read
//! whole (the stream stays in step), the ones that arrived are closed, and the receive
//! gives [`Error::FdsTruncated`].
//!
//! **Broken streams.** The end of the stream between frames is [`Error::PeerClosed`];
//! inside a frame, [`Error::Truncated`] with how far it got. A refused length or a
//! truncated frame leaves the stream out of step: a [`Reader`] then answers
//! [`Error::OutOfSync`] and reads no more. Nothing panics and nothing waits for bytes
//! that were announced but never sent once the peer is gone; a live peer that stalls
//! mid-frame holds the receiver until it goes on or closes (bound it with `SO_RCVTIMEO`).
//!
//! **Sockets.** Blocking Unix or TCP stream sockets. Which one, and so whether descriptors
//! may ride along, is known from the type ([`Stream`]: `UnixStream`, `TcpStream`) or
//! checked once when a [`Checked`] is made ([`SocketKind::of`]), never per message.
//!
//! ```
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//!
//! let (here, there) = UnixStream::pair().unwrap();
//! let file = std::fs::File::open("/dev/null").unwrap();
//! mp_wire::send_value(&here, &("a file", mp_wire::Fd(file.as_fd())))?;
//!
//! let (label, received): (String, mp_wire::ReceivedFd) = mp_wire::recv_value(&there, 1024)?;
//! assert_eq!(label, "a file");
//! # drop(received);
//! # Ok::<(), mp_wire::Error>(())
//! ```

mod codec;
mod error;
pub mod frame;
pub mod reader;
mod stream;

pub use codec::{
    Fd, ReceivedFd, Sink, decode, decode_bytes, deserialize_fd, encode, encode_bytes_into,
    encode_bytes_into_slice, encode_to, reject, reject_error, serialize_fd,
};
pub use error::{DecodeFault, EncodeFault, Error, FrameFault, SocketFault};
pub use reader::{FrameFds, Header, Reader};
pub use stream::{
    Checked, SocketKind, Stream, recv, recv_frame, recv_value, send, send_frame, send_value,
};

/// The most descriptors one frame may carry (Linux's `SCM_MAX_FD`).
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_wire::Error;
///
/// let (a, _b) = UnixStream::pair().unwrap();
/// let too_many = vec![a.as_fd(); mp_wire::MAX_FDS_PER_FRAME + 1];
/// assert!(matches!(mp_wire::send(&a, b"", &too_many), Err(Error::TooManyFds { .. })));
/// ```
pub const MAX_FDS_PER_FRAME: usize = mp_sys::fd_passing::MAX_FDS_PER_MESSAGE;
