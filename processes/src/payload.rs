//! How a child's arguments and its outcome travel on its socket: in the frame itself,
//! or, from [`SEALED_FROM`] bytes on, in a sealed memfd whose descriptor the frame
//! carries (see `mp_sys::sealed`).
//!
//! Through the socket, 16 MiB are copied into the kernel and out again in pieces of
//! its buffer, each piece waiting for the other process to be scheduled, into a buffer
//! that grows as they arrive. Through a memfd, the sender writes them once and the
//! receiver decodes straight from a read-only mapping: one copy fewer, no growing
//! buffer and no ping-pong. The sender's one write is the encoder's own: a value of
//! [`SEALED_FROM`] bytes or more is encoded into the memfd as it is produced (its byte
//! and float vectors with one `write` each), not gathered in a buffer first. Below the threshold the frame is cheaper than a memfd's
//! few system calls. `mp-bench --filter process-args-16mib` measures the large case.
//!
//! A frame with no bytes and at least one descriptor carries a memfd: its first
//! descriptor is the block, the others are the value's own. An encoded value that
//! holds descriptors always has bytes (their indices), and one without descriptors
//! never has any, so no frame of the other kind looks like that.

use std::ops::Deref;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use mp_sys::sealed::{SealedBytes, UnsealedFile};
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

/// A value encoded for [`send_encoded`]: below [`SEALED_FROM`] bytes in memory, from
/// there on in a memfd the encoder wrote into directly (so the bytes of a large value are
/// copied once on this side, into the file, and never gathered in a buffer of their own).
#[derive(Debug)]
pub(crate) enum Encoded {
    Inline(Vec<u8>),
    InFile(UnsealedFile),
}

/// The [`mp_wire::Sink`] behind [`encode`]: bytes gathered in memory until they reach
/// [`SEALED_FROM`], then moved to a memfd; small pieces for the file are gathered in
/// `pending` up to [`FILE_WRITE_LEN`], large ones written straight from the value.
struct SpillingSink {
    pending: Vec<u8>,
    file: Option<UnsealedFile>,
}

/// The size of the writes to a payload's memfd made of small pieces.
const FILE_WRITE_LEN: usize = 64 << 10;

impl SpillingSink {
    fn spill(&mut self) -> Result<&mut UnsealedFile, mp_wire::Error> {
        let file = match self.file.take() {
            Some(file) => file,
            None => {
                let mut file = UnsealedFile::new()?;
                file.append(&self.pending)?;
                self.pending = Vec::with_capacity(FILE_WRITE_LEN);
                file
            }
        };
        Ok(self.file.insert(file))
    }

    fn flush(&mut self) -> Result<(), mp_wire::Error> {
        if let Some(file) = &mut self.file {
            file.append(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Encoded, mp_wire::Error> {
        self.flush()?;
        Ok(match self.file {
            Some(file) => Encoded::InFile(file),
            None => Encoded::Inline(self.pending),
        })
    }
}

impl mp_wire::Sink for SpillingSink {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), mp_wire::Error> {
        let limit = match self.file {
            None => SEALED_FROM,
            Some(_) => FILE_WRITE_LEN,
        };
        if self.pending.len() + bytes.len() < limit {
            mp_sys::copy::extend_bytes(&mut self.pending, bytes);
            return Ok(());
        }
        self.spill()?;
        self.flush()?;
        if bytes.len() < FILE_WRITE_LEN {
            mp_sys::copy::extend_bytes(&mut self.pending, bytes);
            return Ok(());
        }
        self.spill()?.append(bytes)?;
        Ok(())
    }
}

/// Encodes `value` for [`send_encoded`], with the descriptors of its handles.
pub(crate) fn encode<T: Serialize + ?Sized>(
    value: &T,
) -> Result<(Encoded, Vec<OwnedFd>), mp_wire::Error> {
    let mut sink = SpillingSink {
        pending: Vec::new(),
        file: None,
    };
    let fds = mp_wire::encode_to(value, &mut sink)?;
    Ok((sink.finish()?, fds))
}

/// Sends what [`encode`] made, with the descriptors `fds`: in the frame, or as the sealed
/// memfd.
pub(crate) fn send_encoded(
    socket: &UnixStream,
    encoded: Encoded,
    fds: &[BorrowedFd<'_>],
) -> Result<(), mp_wire::Error> {
    match encoded {
        Encoded::Inline(bytes) => mp_wire::send(socket, &bytes, fds),
        Encoded::InFile(file) => match file.try_seal() {
            Ok(block) => send_block(socket, &block, fds),
            // The kernel may refuse the seals for a while (`EBUSY` while something holds
            // the file's pages), or the process be out of descriptors or memory: the
            // socket carries the bytes then, as it does below the threshold.
            Err((file, error)) => {
                tracing::debug!(%error, len = file.len(), "no sealed memfd; sending through the socket");
                mp_wire::send(socket, &file.read_back()?, fds)
            }
        },
    }
}

/// Sends the sealed memfd `block` as a frame with no bytes, ahead of `fds`.
fn send_block(
    socket: &UnixStream,
    block: &OwnedFd,
    fds: &[BorrowedFd<'_>],
) -> Result<(), mp_wire::Error> {
    let mut with_block = Vec::with_capacity(fds.len() + 1);
    with_block.push(block.as_fd());
    with_block.extend_from_slice(fds);
    mp_wire::send(socket, &[], &with_block)
}

/// Encodes `value` and sends it (see [`encode`]).
pub(crate) fn send_value<T: Serialize + ?Sized>(
    socket: &UnixStream,
    value: &T,
) -> Result<(), mp_wire::Error> {
    let (encoded, fds) = encode(value)?;
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    send_encoded(socket, encoded, &borrowed)
}

/// Receives what [`send_encoded`] sent: the payload, at most `max_len` bytes whichever way it
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
    fn values_spilled_to_the_file_in_small_and_large_pieces_round_trip() {
        let (here, there) = UnixStream::pair().unwrap();
        // Element by element up to and past the threshold, then one large block, then
        // small pieces again.
        let value = (
            (0..SEALED_FROM as u32 / 2).collect::<Vec<u32>>(),
            vec![3u8; SEALED_FROM * 2],
            String::from("tail"),
            vec![0.5f64; 10],
        );
        let (encoded, fds) = encode(&value).unwrap();
        assert!(matches!(encoded, Encoded::InFile(_)));
        assert!(fds.is_empty());
        std::thread::scope(|scope| {
            let sender = scope.spawn(|| send_encoded(&here, encoded, &[]));
            let (payload, fds) = recv(&there, SEALED_FROM * 8).unwrap();
            assert!(matches!(payload, Payload::Sealed(_)));
            assert_eq!(*payload, *mp_wire::encode(&value).unwrap().0);
            let back: (Vec<u32>, Vec<u8>, String, Vec<f64>) =
                mp_wire::decode(&payload, fds).unwrap();
            assert!(back == value);
            sender.join().unwrap().unwrap();
        });
    }

    #[test]
    fn a_memfd_over_the_limit_is_refused_unmapped() {
        let (here, there) = UnixStream::pair().unwrap();
        send_value(&here, &vec![0u8; SEALED_FROM]).unwrap();
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
