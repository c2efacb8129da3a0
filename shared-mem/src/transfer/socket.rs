//! Bytes and descriptors together over a Unix stream socket (`SCM_RIGHTS`).
//!
//! Frame: a 16-byte header (magic `mpT1`, payload length as u64, descriptor count as u32,
//! little-endian) then the payload. The descriptors ride on the header's first byte, so the
//! receiver gets them with the header. The kernel never merges bytes that carry
//! descriptors with bytes before them in one read, and the receiver never reads past a
//! frame, so each frame's descriptors arrive with that frame's header.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockType, SockaddrLike,
    SockaddrStorage, getsockname, getsockopt, recv as recv_bytes, recvmsg, send as send_bytes,
    sendmsg, sockopt,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// The most descriptors one message may carry (Linux's `SCM_MAX_FD`).
pub const MAX_FDS_PER_MESSAGE: usize = 253;

const MAGIC: [u8; 4] = *b"mpT1";
const HEADER_LEN: usize = 16;

/// Sends `bytes` and `fds` as one message on a connected Unix stream socket.
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
    let socket = socket.as_fd();
    check_socket(socket)?;
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(Error::TooManyFds {
            count: fds.len(),
            max: MAX_FDS_PER_MESSAGE,
        });
    }
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4..12].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    header[12..16].copy_from_slice(&(fds.len() as u32).to_le_bytes());

    let raw_fds: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let rights = [ControlMessage::ScmRights(&raw_fds)];
    let control: &[ControlMessage<'_>] = if raw_fds.is_empty() { &[] } else { &rights };
    let iov = [IoSlice::new(&header), IoSlice::new(bytes)];
    let sent = loop {
        match sendmsg::<()>(
            socket.as_raw_fd(),
            &iov,
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(sent) => break sent,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(send_error(errno)),
        }
    };
    // A stream socket may take part of a large message; the rest goes without descriptors.
    if sent < HEADER_LEN {
        send_all(socket, &header[sent..])?;
        send_all(socket, bytes)
    } else {
        send_all(socket, &bytes[sent - HEADER_LEN..])
    }
}

/// Receives one message sent by [`send`]: its bytes and its descriptors (`O_CLOEXEC`).
///
/// Blocks until a whole message has arrived (set `SO_RCVTIMEO` on the socket to bound the
/// wait: the timeout then comes back as [`Error::Os`] with `EAGAIN`). A message longer
/// than `max_len` is refused with [`Error::MessageTooLarge`] before anything is allocated;
/// the socket is then out of step and should be closed. Descriptors cut off by the kernel
/// (the process is out of descriptors) give [`Error::FdsTruncated`], fewer or more than
/// announced [`Error::MissingFds`]; the ones that did arrive are closed. A peer gone
/// between messages gives [`Error::PeerClosed`], in the middle of one
/// [`Error::ShortMessage`].
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
    let socket = socket.as_fd();
    check_socket(socket)?;
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    let mut fds = Vec::new();
    let mut truncated = false;
    let mut control = nix::cmsg_space!([RawFd; MAX_FDS_PER_MESSAGE]);
    while filled < HEADER_LEN {
        let mut iov = [IoSliceMut::new(&mut header[filled..])];
        let message = match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(message) => message,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Error::os("recvmsg", errno)),
        };
        truncated |= message.flags.contains(MsgFlags::MSG_CTRUNC);
        let received = message.bytes;
        for cmsg in message
            .cmsgs()
            .map_err(|errno| Error::os("recvmsg (control data)", errno))?
        {
            if let ControlMessageOwned::ScmRights(raw) = cmsg {
                // SAFETY: the kernel has just installed these descriptors in this process
                // for this message; nothing else knows their numbers, so each is owned
                // exactly once, here.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        if received == 0 {
            return Err(if filled == 0 {
                Error::PeerClosed
            } else {
                Error::ShortMessage {
                    expected: HEADER_LEN as u64,
                    received: filled as u64,
                }
            });
        }
        filled += received;
    }
    if header[..4] != MAGIC {
        return Err(Error::Decode(
            "the stream is not at the start of a message (bad frame magic)".into(),
        ));
    }
    let len = u64::from_le_bytes(header[4..12].try_into().unwrap_or([0xff; 8]));
    let expected_fds = u32::from_le_bytes(header[12..16].try_into().unwrap_or([0xff; 4]));
    if truncated {
        return Err(Error::FdsTruncated);
    }
    if fds.len() as u64 != u64::from(expected_fds) {
        return Err(Error::MissingFds {
            expected: expected_fds as usize,
            received: fds.len(),
        });
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= max_len)
        .ok_or(Error::MessageTooLarge { len, max: max_len })?;
    let mut bytes = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match recv_bytes(socket.as_raw_fd(), &mut bytes[filled..], MsgFlags::empty()) {
            Ok(0) => {
                return Err(Error::ShortMessage {
                    expected: (HEADER_LEN + len) as u64,
                    received: (HEADER_LEN + filled) as u64,
                });
            }
            Ok(received) => filled += received,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Error::os("recv", errno)),
        }
    }
    Ok((bytes, fds))
}

/// [`encode`](super::encode)s `value` and [`send`]s it with its descriptors.
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
    let (bytes, fds) = super::encode(value)?;
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    send(socket, &bytes, &borrowed)
}

/// [`recv`]s one message of at most `max_len` bytes and [`decode`](super::decode)s it.
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
    let (bytes, fds) = recv(socket, max_len)?;
    super::decode(&bytes, fds)
}

fn check_socket(socket: BorrowedFd<'_>) -> Result<(), Error> {
    let kind = getsockopt(&socket, sockopt::SockType).map_err(|errno| match errno {
        Errno::ENOTSOCK => Error::UnsupportedSocket("the descriptor is not a socket"),
        errno => Error::os("getsockopt(SO_TYPE)", errno),
    })?;
    if kind != SockType::Stream {
        return Err(Error::UnsupportedSocket(
            "messages need a stream socket (SOCK_STREAM)",
        ));
    }
    let address = getsockname::<SockaddrStorage>(socket.as_raw_fd())
        .map_err(|errno| Error::os("getsockname", errno))?;
    if address.family() != Some(AddressFamily::Unix) {
        return Err(Error::UnsupportedSocket(
            "file descriptors travel only over Unix sockets (AF_UNIX)",
        ));
    }
    Ok(())
}

fn send_all(socket: BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), Error> {
    while !bytes.is_empty() {
        match send_bytes(socket.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(sent) => bytes = &bytes[sent..],
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(send_error(errno)),
        }
    }
    Ok(())
}

fn send_error(errno: Errno) -> Error {
    match errno {
        Errno::EPIPE | Errno::ECONNRESET => Error::PeerClosed,
        errno => Error::os("sendmsg", errno),
    }
}
