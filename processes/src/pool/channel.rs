//! [`Channel`]: the socket between the pool and one worker, as a value that crosses into
//! the worker with its arguments.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use mp_wire::{Fd, ReceivedFd};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One end of a Unix stream socket pair. It serializes as a descriptor (handle transfer),
/// so the worker's end travels in its start arguments like any other handle.
#[derive(Debug)]
pub(crate) struct Channel(pub(crate) UnixStream);

impl Serialize for Channel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Fd(self.0.as_fd()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Channel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fd = ReceivedFd::deserialize(deserializer)?.into_inner();
        // Asked once, when the worker receives its channel; never per message.
        match mp_wire::SocketKind::of(std::os::fd::AsFd::as_fd(&fd)) {
            Ok(mp_wire::SocketKind::Unix) => Ok(Channel(UnixStream::from(fd))),
            _ => Err(mp_wire::reject(
                "a pool worker's channel must be a Unix stream socket",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Channel;

    #[test]
    fn crosses_as_a_descriptor_and_refuses_other_files() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (bytes, fds) = mp_wire::encode(&Channel(b)).unwrap();
        assert_eq!(fds.len(), 1);
        let back: Channel = mp_wire::decode(&bytes, fds).unwrap();
        mp_wire::send(&a, b"ping", &[]).unwrap();
        assert_eq!(mp_wire::recv(&back.0, 16).unwrap().0, b"ping");

        let (reader, _writer) = std::io::pipe().unwrap();
        let (bytes, fds) =
            mp_wire::encode(&mp_wire::Fd(std::os::fd::AsFd::as_fd(&reader))).unwrap();
        assert!(mp_wire::decode::<Channel>(&bytes, fds).is_err());
    }
}
