//! The header of a frame: Python's `multiprocessing.connection` framing, so the bytes of
//! `send_bytes`/`recv_bytes` are the bytes Python sends and expects.
//!
//! A frame is a big-endian signed 32-bit length, then the payload. A payload longer than
//! `i32::MAX` bytes has the length `-1`, then its length as a big-endian `u64`. Any other
//! negative length is corrupt. (The crate docs hold the whole protocol.)

use crate::{Error, FrameFault};

/// The longest header: the `-1` marker and a 64-bit length.
///
/// ```
/// assert_eq!(mp_wire::frame::MAX_HEADER_LEN, 12);
/// ```
pub const MAX_HEADER_LEN: usize = 12;
/// The header of every payload up to `i32::MAX` bytes.
///
/// ```
/// assert_eq!(mp_wire::frame::encode_header(5).1, mp_wire::frame::SHORT_HEADER_LEN);
/// ```
pub const SHORT_HEADER_LEN: usize = 4;
/// The marker of a long header.
const LONG_MARKER: i32 = -1;

/// The header for a payload of `len` bytes, in a fixed buffer, and its length.
///
/// ```
/// let (header, len) = mp_wire::frame::encode_header(5);
/// assert_eq!(&header[..len], &[0, 0, 0, 5]); // Python's struct.pack("!i", 5)
/// ```
pub fn encode_header(len: usize) -> ([u8; MAX_HEADER_LEN], usize) {
    let mut header = [0u8; MAX_HEADER_LEN];
    match i32::try_from(len) {
        Ok(short) => {
            header[..SHORT_HEADER_LEN].copy_from_slice(&short.to_be_bytes());
            (header, SHORT_HEADER_LEN)
        }
        Err(_) => {
            header[..SHORT_HEADER_LEN].copy_from_slice(&LONG_MARKER.to_be_bytes());
            header[SHORT_HEADER_LEN..].copy_from_slice(&(len as u64).to_be_bytes());
            (header, MAX_HEADER_LEN)
        }
    }
}

/// What the first four bytes of a frame say.
///
/// ```
/// use mp_wire::frame::{Prefix, decode_prefix};
///
/// assert_eq!(decode_prefix([0, 0, 1, 0])?, Prefix::Len(256));
/// assert_eq!(decode_prefix([0xff; 4])?, Prefix::Long);
/// # Ok::<(), mp_wire::Error>(())
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum Prefix {
    /// The payload length.
    Len(u64),
    /// The length follows as a `u64`.
    Long,
}

/// Reads the first four bytes of a frame; a negative length other than the long marker
/// is [`Error::CorruptFrame`].
///
/// ```
/// use mp_wire::{Error, frame::decode_prefix};
///
/// assert!(matches!(decode_prefix([0x80, 0, 0, 0]), Err(Error::CorruptFrame { .. })));
/// ```
pub fn decode_prefix(prefix: [u8; SHORT_HEADER_LEN]) -> Result<Prefix, Error> {
    match i32::from_be_bytes(prefix) {
        LONG_MARKER => Ok(Prefix::Long),
        len if len >= 0 => Ok(Prefix::Len(len as u64)),
        prefix => Err(Error::CorruptFrame {
            fault: FrameFault::NegativeLength { prefix },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lengths_are_python_struct_pack_i() {
        let (header, len) = encode_header(5);
        assert_eq!(&header[..len], &[0, 0, 0, 5]);
        assert_eq!(decode_prefix([0, 0, 0, 5]).unwrap(), Prefix::Len(5));
        let (header, len) = encode_header(i32::MAX as usize);
        assert_eq!(&header[..len], &[0x7f, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn long_lengths_use_the_marker_and_a_u64() {
        let (header, len) = encode_header(1 << 31);
        assert_eq!(len, MAX_HEADER_LEN);
        assert_eq!(&header[..4], &[0xff; 4]);
        assert_eq!(&header[4..], &(1u64 << 31).to_be_bytes());
        assert_eq!(decode_prefix([0xff; 4]).unwrap(), Prefix::Long);
    }

    #[test]
    fn other_negative_lengths_are_corrupt() {
        assert!(matches!(
            decode_prefix([0xff, 0xff, 0xff, 0xfe]),
            Err(Error::CorruptFrame { .. })
        ));
        assert!(matches!(
            decode_prefix([0x80, 0, 0, 0]),
            Err(Error::CorruptFrame { .. })
        ));
    }
}
