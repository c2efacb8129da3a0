//! What the queue and connection tests share beyond test-support: a small random
//! generator for kill instants, a raw view of a queue's shared memory for the tests that
//! damage it on purpose, bounded receives, and raw reads and writes that forge frames.
//!
//! Each test file uses part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use mp_ipc::{Connection, Error};
use mp_shared_mem::{Segment, transfer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use test_support::PATIENCE;

/// The raw descriptor of a connection, for a child's keep list.
pub fn raw<T>(connection: &Connection<T>) -> RawFd {
    connection.as_fd().as_raw_fd()
}

/// Receives a value, failing the test instead of hanging if none comes within
/// [`PATIENCE`].
pub fn recv_within<T: Serialize + DeserializeOwned>(
    connection: &Connection<T>,
) -> Result<T, Error> {
    assert!(
        connection.poll(Some(PATIENCE)).expect("poll"),
        "nothing to receive within {PATIENCE:?}"
    );
    connection.recv()
}

/// Receives bytes, failing the test instead of hanging if none come within [`PATIENCE`].
pub fn recv_bytes_within<T>(connection: &Connection<T>) -> Result<Vec<u8>, Error> {
    assert!(
        connection.poll(Some(PATIENCE)).expect("poll"),
        "nothing to receive within {PATIENCE:?}"
    );
    connection.recv_bytes()
}

/// Writes `bytes` on the connection's socket as they are, bypassing the framing: how
/// the tests forge corrupt, oversized and truncated frames.
pub fn write_raw(socket: BorrowedFd<'_>, bytes: &[u8]) {
    let duplicate = socket.try_clone_to_owned().expect("dup");
    let mut stream = std::os::unix::net::UnixStream::from(duplicate);
    stream.write_all(bytes).expect("raw write");
}

/// Reads exactly `buf.len()` bytes from the socket as they are, bypassing the framing.
pub fn read_raw(socket: BorrowedFd<'_>, buf: &mut [u8]) {
    let duplicate = socket.try_clone_to_owned().expect("dup");
    let mut stream = std::os::unix::net::UnixStream::from(duplicate);
    stream
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    std::io::Read::read_exact(&mut stream, buf).expect("raw read");
}

/// xorshift64*: enough randomness for kill instants, reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from the clock; the seed is printed so that a failure can be replayed.
    pub fn from_clock(test: &str) -> Self {
        let seed = std::env::var("MP_QUEUE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: MP_QUEUE_TEST_SEED={seed}");
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// Another mapping of the segment behind a queue handle, obtained the way another process
/// would get it (handle transfer), to write into the queue's memory behind its back.
pub fn segment_of<Q: Serialize>(queue: &Q) -> Segment {
    let (bytes, fds) = transfer::encode(queue).expect("encode the queue");
    transfer::decode::<Segment>(&bytes, fds).expect("the queue's segment")
}

/// Where `pattern` first occurs in the segment.
pub fn find(segment: &Segment, pattern: &[u8]) -> Option<usize> {
    segment
        .to_vec()
        .windows(pattern.len())
        .position(|window| window == pattern)
}
