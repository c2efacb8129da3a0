//! How a child's arguments and its outcome travel on its socket: in the frame itself,
//! or, from [`SEALED_FROM`] bytes on, in a sealed memfd whose descriptor the frame
//! carries (see `mp_sys::sealed`).
//!
//! Through the socket, 16 MiB are copied into the kernel and out again in pieces of
//! its buffer, each piece waiting for the other process to be scheduled, into a buffer
//! that grows as they arrive. Through a memfd, the sender writes them once and the
//! receiver decodes straight from a read-only mapping: one copy fewer, no growing
//! buffer and no ping-pong. Below the threshold the frame is cheaper than a memfd's
//! few system calls. `mp-bench --filter process-args-16mib` measures the large case.
//!
//! A frame with no bytes and at least one descriptor carries a memfd: its first
//! descriptor is the block, the others are the value's own. An encoded value that
//! holds descriptors always has bytes (their indices), and one without descriptors
//! never has any, so no frame of the other kind looks like that.

use std::ops::Deref;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use mp_sys::sealed::{SealedBytes, seal};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encoded payloads from this many bytes on travel in a sealed memfd.
pub(crate) const SEALED_FROM: usize = 1 << 20;

/// A payload as received: the frame's own bytes, or a mapped memfd.
#[derive(Debug)]
pub(crate) enum Payload {
    Inline(Vec<u8>),
    Sealed(SealedBytes),
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Payload::Inline(bytes) => bytes,
            Payload::Sealed(bytes) => bytes,
        }
    }
}

/// Sends the encoded `bytes` with their descriptors `fds`, in a memfd if they are many.
pub(crate) fn send(
    socket: &UnixStream,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<(), mp_wire::Error> {
    if bytes.len() < SEALED_FROM {
        return mp_wire::send(socket, bytes, fds);
    }
    let block = match seal(bytes) {
        Ok(block) => block,
        // The kernel may refuse the seals for a while (`EBUSY` while something holds the
        // file's pages), or the process be out of descriptors or memory: the socket
        // carries the bytes then, as it does below the threshold.
        Err(error) => {
            tracing::debug!(%error, len = bytes.len(), "no sealed memfd; sending through the socket");
            return mp_wire::send(socket, bytes, fds);
        }
    };
    let mut with_block = Vec::with_capacity(fds.len() + 1);
    with_block.push(block.as_fd());
    with_block.extend_from_slice(fds);
    mp_wire::send(socket, &[], &with_block)
}

/// Encodes `value` and [`send`]s it.
pub(crate) fn send_value<T: Serialize + ?Sized>(
    socket: &UnixStream,
    value: &T,
) -> Result<(), mp_wire::Error> {
    let (bytes, fds) = mp_wire::encode(value)?;
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    send(socket, &bytes, &borrowed)
}

/// Receives what [`send`] sent: the payload, at most `max_len` bytes whichever way it
/// came, and the value's descriptors.
pub(crate) fn recv(
    socket: &UnixStream,
    max_len: usize,
) -> Result<(Payload, Vec<OwnedFd>), mp_wire::Error> {
    let (bytes, mut fds) = mp_wire::recv(socket, max_len)?;
    if !bytes.is_empty() || fds.is_empty() {
        return Ok((Payload::Inline(bytes), fds));
    }
    let block = fds.remove(0);
    let mapped = SealedBytes::open(block, max_len).map_err(|err| match err {
        mp_sys::Error::TooLarge { len, max } => mp_wire::Error::MessageTooLarge { len, max },
        other => other.into(),
    })?;
    Ok((Payload::Sealed(mapped), fds))
}

/// [`recv`]s a payload and decodes it.
pub(crate) fn recv_value<T: DeserializeOwned>(
    socket: &UnixStream,
    max_len: usize,
) -> Result<T, mp_wire::Error> {
    let (payload, fds) = recv(socket, max_len)?;
    mp_wire::decode(&payload, fds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_go_in_the_frame_and_large_ones_in_a_memfd() {
        let (here, there) = UnixStream::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        let small = (vec![1u8; 100], mp_wire::Fd(file.as_fd()));
        let large = (vec![2u8; SEALED_FROM], mp_wire::Fd(file.as_fd()));
        for value in [&small, &large] {
            let sender = std::thread::scope(|scope| {
                let sender = scope.spawn(|| send_value(&here, value));
                let (payload, fds) = recv(&there, SEALED_FROM * 2).unwrap();
                let inline = matches!(payload, Payload::Inline(_));
                let (bytes, _file): (Vec<u8>, mp_wire::ReceivedFd) =
                    mp_wire::decode(&payload, fds).unwrap();
                assert_eq!(bytes, value.0);
                assert_eq!(inline, bytes.len() < SEALED_FROM);
                sender.join().unwrap()
            });
            sender.unwrap();
        }
    }

    #[test]
    fn a_memfd_over_the_limit_is_refused_unmapped() {
        let (here, there) = UnixStream::pair().unwrap();
        send(&here, &vec![0; SEALED_FROM], &[]).unwrap();
        assert!(matches!(
            recv(&there, 1000),
            Err(mp_wire::Error::MessageTooLarge { max: 1000, .. })
        ));
    }

    #[test]
    fn an_unsealed_descriptor_is_refused() {
        let (here, there) = UnixStream::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        mp_wire::send(&here, &[], &[file.as_fd()]).unwrap();
        assert!(recv(&there, 1000).is_err());
    }
}
