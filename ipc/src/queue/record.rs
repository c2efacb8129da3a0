//! The records in the ring.
//!
//! Every record starts at a position that is a multiple of 8 with an 8-byte header: the
//! payload length (`u32`) and a tag (`u32`); the payload follows and is padded to a
//! multiple of 8. Since the ring's size is a multiple of 8 too, a header never wraps
//! around the end of the ring; a payload may, and is then copied in two parts.
//!
//! A message that fits in the ring is one [`WHOLE`] record. A larger one is streamed: a
//! [`FIRST`] record whose payload starts with the total length (`u64`), then [`MORE`]
//! records, then a [`LAST`] one; only `LAST` counts as a message in the cursors. [`ABORT`]
//! tells consumers to drop a stream whose producer gave up (its put timed out, the queue
//! was closed, or it died and the next producer found the stream open).

/// Bytes of a record header.
pub(crate) const HEADER: u32 = 8;

/// A whole message.
pub(crate) const WHOLE: u32 = 1;
/// The first chunk of a streamed message; the payload starts with the total length.
pub(crate) const FIRST: u32 = 2;
/// A middle chunk of a streamed message.
pub(crate) const MORE: u32 = 3;
/// The final chunk of a streamed message.
pub(crate) const LAST: u32 = 4;
/// The stream in progress is abandoned.
pub(crate) const ABORT: u32 = 5;

/// The bytes a record with `payload` bytes takes in the ring, or `None` past `u32`.
pub(crate) fn footprint(payload: usize) -> Option<u32> {
    let padded = payload.checked_add(7)? & !7;
    u32::try_from(padded).ok()?.checked_add(HEADER)
}

/// A record header as one word: the length in the low half, the tag in the high half.
/// Headers are 8-aligned and never wrap, so each is read and written as one atomic
/// `u64` (the same bytes on every little-endian machine this crate runs on).
pub(crate) fn pack_header(len: u32, tag: u32) -> u64 {
    u64::from(len) | (u64::from(tag) << 32)
}

/// The payload length and tag of a header word.
pub(crate) fn unpack_header(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}
