//! The reads and writes of the authentication handshake, bounded as a whole by one
//! deadline.
//!
//! Why not the connection's own reads: those block without limit between bytes and read
//! ahead into a buffer. A handshake must neither outlast its deadline (a peer that drips
//! one byte at a time, or stops reading, included: a per-read timeout would restart with
//! every byte) nor swallow the first message that follows it. So every step waits with
//! `poll` for the time left until the handshake's one [`Deadline`], then reads or writes
//! without blocking, and reads exactly the bytes of the handshake's own frames.
//! Descriptors a peer attaches to a handshake frame are not received (the kernel closes
//! them).

use std::os::fd::BorrowedFd;

use mp_sys::Deadline;
use mp_sys::poll::wait_ready;
use mp_wire::frame::{MAX_HEADER_LEN, Prefix, SHORT_HEADER_LEN, decode_prefix, encode_header};
use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{MsgFlags, recv, send};

use crate::Error;

/// A socket during its handshake: frames in and out, each step within the deadline.
pub(crate) struct HandshakeStream<'a> {
    socket: BorrowedFd<'a>,
    deadline: Deadline,
}

impl<'a> HandshakeStream<'a> {
    /// The handshake on `socket` must be over by `deadline`
    /// ([`NEVER`](Deadline::NEVER): no limit).
    pub(crate) fn new(socket: BorrowedFd<'a>, deadline: Deadline) -> Self {
        Self { socket, deadline }
    }

    /// Sends `payload` as one frame. [`Error::TimedOut`] if the peer does not take it in
    /// time, [`Error::PeerClosed`] if it is gone.
    pub(crate) fn send_frame(&self, payload: &[u8]) -> Result<(), Error> {
        let (header, header_len) = encode_header(payload.len());
        let frame = [&header[..header_len], payload].concat();
        let mut sent = 0;
        while sent < frame.len() {
            let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
            match send(self.raw(), &frame[sent..], flags) {
                Ok(count) => sent += count,
                Err(Errno::EAGAIN) => self.wait_for(PollFlags::POLLOUT)?,
                Err(Errno::EINTR) => {}
                Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(Error::PeerClosed),
                Err(errno) => {
                    return Err(Error::Os {
                        operation: "send",
                        errno,
                    });
                }
            }
        }
        Ok(())
    }

    /// Receives one frame of at most `max` bytes, reading nothing past it. A longer one
    /// is [`Error::MessageTooLarge`] (nothing allocated, nothing more read: the
    /// handshake has failed anyway); [`Error::TimedOut`] once the deadline passed.
    pub(crate) fn recv_frame(&self, max: usize) -> Result<Vec<u8>, Error> {
        let mut prefix = [0u8; SHORT_HEADER_LEN];
        match self.recv_exact(&mut prefix)? {
            0 => return Err(Error::PeerClosed),
            SHORT_HEADER_LEN => {}
            received => return Err(truncated(SHORT_HEADER_LEN, received)),
        }
        let len = match decode_prefix(prefix)? {
            Prefix::Len(len) => len,
            Prefix::Long => {
                let mut long = [0u8; MAX_HEADER_LEN - SHORT_HEADER_LEN];
                let received = self.recv_exact(&mut long)?;
                if received < long.len() {
                    return Err(truncated(MAX_HEADER_LEN, SHORT_HEADER_LEN + received));
                }
                u64::from_be_bytes(long)
            }
        };
        let Some(len) = usize::try_from(len).ok().filter(|&len| len <= max) else {
            return Err(Error::MessageTooLarge { len, max });
        };
        let mut payload = vec![0u8; len];
        let received = self.recv_exact(&mut payload)?;
        if received < len {
            return Err(truncated(
                SHORT_HEADER_LEN + len,
                SHORT_HEADER_LEN + received,
            ));
        }
        Ok(payload)
    }

    /// Fills `buf` unless the stream ends first; how many bytes came.
    fn recv_exact(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut filled = 0;
        while filled < buf.len() {
            match recv(self.raw(), &mut buf[filled..], MsgFlags::MSG_DONTWAIT) {
                Ok(0) | Err(Errno::ECONNRESET) => break,
                Ok(count) => filled += count,
                Err(Errno::EAGAIN) => self.wait_for(PollFlags::POLLIN)?,
                Err(Errno::EINTR) => {}
                Err(errno) => {
                    return Err(Error::Os {
                        operation: "recv",
                        errno,
                    });
                }
            }
        }
        Ok(filled)
    }

    /// Waits until the socket has `events` (or is hung up), or fails with
    /// [`Error::TimedOut`] once the deadline passed.
    fn wait_for(&self, events: PollFlags) -> Result<(), Error> {
        let ready =
            wait_ready(&[(self.socket, events)], self.deadline).map_err(|errno| Error::Os {
                operation: "poll",
                errno,
            })?;
        if ready.first().copied().unwrap_or(false) {
            Ok(())
        } else {
            Err(Error::TimedOut)
        }
    }

    fn raw(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }
}

fn truncated(expected: usize, received: usize) -> Error {
    Error::Truncated {
        expected: expected as u64,
        received: received as u64,
    }
}
