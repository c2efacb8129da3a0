//! The header at the start of every typed segment, so that a process that receives the
//! segment can tell whether it holds what it expects.
//!
//! Layout of a typed segment: this header (256 bytes), then for `Array` its lock, then the
//! data at an offset aligned for its type (and for arrays, to a cache line). The creator writes the header once before the
//! segment is shared; every receiver recomputes the layout from the type it expects and
//! compares.

use crate::mapping::MIN_PAGE_SIZE;
use crate::segment::Segment;
use crate::{Error, SegmentFault};

const MAGIC: [u8; 8] = *b"mp-shm\0\x01";
/// Bytes reserved for the header; data starts at or after this offset.
pub(crate) const HEADER_SPACE: usize = 256;
const NAME_SPACE: usize = 192;
/// Where `Array` keeps its lock, and the room given to it.
const ARRAY_LOCK_OFFSET: usize = HEADER_SPACE;
const ARRAY_LOCK_SPACE: usize = 64;
/// Data of an array starts on a cache line of its own, away from the lock word.
const CACHE_LINE: usize = 64;

/// What a typed segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Shared = 1,
    Value = 2,
    Array = 3,
    RawValue = 4,
    RawArray = 5,
}

impl Kind {
    fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Kind::Shared),
            2 => Some(Kind::Value),
            3 => Some(Kind::Array),
            4 => Some(Kind::RawValue),
            5 => Some(Kind::RawArray),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Shared => "Shared",
            Kind::Value => "Value",
            Kind::Array => "Array",
            Kind::RawValue => "RawValue",
            Kind::RawArray => "RawArray",
        }
    }
}

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Header {
    magic: [u8; 8],
    kind: u32,
    name_len: u32,
    fingerprint: u64,
    type_size: u64,
    type_align: u64,
    len: u64,
    lock_offset: u64,
    data_offset: u64,
    type_name: [u8; NAME_SPACE],
}

const _: () = assert!(size_of::<Header>() == HEADER_SPACE);

/// The layout of a typed segment, computed from the type: what the creator writes and
/// what a receiver expects.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub(crate) kind: Kind,
    type_name: &'static str,
    type_size: usize,
    type_align: usize,
    /// Number of elements (1 except for arrays).
    pub(crate) len: usize,
    /// Offset of the array's lock (0: none).
    pub(crate) lock_offset: usize,
    pub(crate) data_offset: usize,
    /// Total bytes of the segment.
    pub(crate) size: usize,
}

impl Layout {
    /// The layout of `len` values of `T` (the stored type, such as `Mutex<u32>` for a
    /// `Value<u32>`), described to other processes by `type_name` (`u32`).
    pub(crate) fn new<T>(kind: Kind, type_name: &'static str, len: usize) -> Result<Self, Error> {
        let type_size = size_of::<T>();
        let type_align = align_of::<T>();
        if type_align > MIN_PAGE_SIZE {
            return Err(Error::UnsupportedAlignment {
                type_name,
                align: type_align,
            });
        }
        let (lock_offset, data_offset) = match kind {
            Kind::Array => (
                ARRAY_LOCK_OFFSET,
                (ARRAY_LOCK_OFFSET + ARRAY_LOCK_SPACE).next_multiple_of(type_align.max(CACHE_LINE)),
            ),
            // No lock: the data starts on a cache line of its own after the header.
            Kind::RawArray => (0, HEADER_SPACE.next_multiple_of(type_align.max(CACHE_LINE))),
            Kind::Shared | Kind::Value | Kind::RawValue => {
                (0, HEADER_SPACE.next_multiple_of(type_align))
            }
        };
        let too_large = Error::TooLarge {
            size: data_offset as u128 + type_size as u128 * len as u128,
        };
        let size = type_size
            .checked_mul(len)
            .and_then(|bytes| bytes.checked_add(data_offset))
            .filter(|&size| size <= isize::MAX as usize)
            .ok_or(too_large)?;
        Ok(Self {
            kind,
            type_name,
            type_size,
            type_align,
            len,
            lock_offset,
            data_offset,
            size,
        })
    }

    /// `Kind<type name>`, for messages.
    fn describe(&self) -> String {
        format!("{}<{}>", self.kind.name(), self.type_name)
    }

    fn header(&self) -> Header {
        let mut type_name = [0u8; NAME_SPACE];
        let name = truncated_name(self.type_name);
        type_name[..name.len()].copy_from_slice(name);
        Header {
            magic: MAGIC,
            kind: self.kind as u32,
            name_len: name.len() as u32,
            fingerprint: fingerprint(self.type_name),
            type_size: self.type_size as u64,
            type_align: self.type_align as u64,
            len: self.len as u64,
            lock_offset: self.lock_offset as u64,
            data_offset: self.data_offset as u64,
            type_name,
        }
    }

    /// Writes the header into a fresh segment of at least `self.size` bytes, before it is
    /// shared with anyone.
    pub(crate) fn write_header(&self, segment: &Segment) -> Result<(), Error> {
        let header = self.header();
        segment.write_at(0, bytemuck::bytes_of(&header))
    }

    /// Reads the header of a received segment and checks it against what the receiver
    /// expects, for the element count recorded by the creator (see [`recorded_len`]).
    pub(crate) fn check(&self, segment: &Segment) -> Result<(), Error> {
        let found = read_header(segment)?;
        let found_kind = Kind::from_raw(found.kind);
        let same_type = found_kind == Some(self.kind)
            && found.fingerprint == fingerprint(self.type_name)
            && found.type_size == self.type_size as u64
            && found.type_align == self.type_align as u64;
        if !same_type {
            let name_len = (found.name_len as usize).min(NAME_SPACE);
            let name = String::from_utf8_lossy(&found.type_name[..name_len]);
            let kind = found_kind.map_or("an unknown kind", Kind::name);
            return Err(Error::TypeMismatch {
                expected: self.describe(),
                found: format!(
                    "{kind}<{name}> (size {}, align {})",
                    found.type_size, found.type_align
                ),
            });
        }
        if found.len != self.len as u64
            || found.lock_offset != self.lock_offset as u64
            || found.data_offset != self.data_offset as u64
        {
            return Err(Error::NotASegment {
                fault: SegmentFault::LayoutMismatch,
            });
        }
        if (segment.size() as u64) < self.size as u64 {
            return Err(Error::SizeMismatch {
                expected: self.size as u64,
                found: segment.size() as u64,
            });
        }
        Ok(())
    }
}

/// The element count the creator recorded, checked only for its magic: the receiver of an
/// array learns its length from the header, then checks everything with [`Layout::check`].
pub(crate) fn recorded_len(segment: &Segment) -> Result<usize, Error> {
    let header = read_header(segment)?;
    usize::try_from(header.len).map_err(|_| Error::NotASegment {
        fault: SegmentFault::LengthTooLarge,
    })
}

fn read_header(segment: &Segment) -> Result<Header, Error> {
    if segment.size() < HEADER_SPACE {
        return Err(Error::NotASegment {
            fault: SegmentFault::TooSmallForHeader,
        });
    }
    let mut header: Header = bytemuck::Zeroable::zeroed();
    segment.read_at(0, bytemuck::bytes_of_mut(&mut header))?;
    if header.magic != MAGIC {
        return Err(Error::NotASegment {
            fault: SegmentFault::BadMagic,
        });
    }
    Ok(header)
}

/// The type name cut to the room in the header, on a character boundary.
fn truncated_name(name: &str) -> &[u8] {
    let mut end = name.len().min(NAME_SPACE);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name.as_bytes()[..end]
}

/// FNV-1a of the full type name: stable across processes and builds.
fn fingerprint(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_checks() {
        let layout = Layout::new::<u64>(Kind::Shared, "u64", 1).unwrap();
        let segment = Segment::new(layout.size).unwrap();
        layout.write_header(&segment).unwrap();
        layout.check(&segment).unwrap();
        assert_eq!(recorded_len(&segment).unwrap(), 1);

        let other = Layout::new::<u32>(Kind::Shared, "u32", 1).unwrap();
        let err = other.check(&segment).unwrap_err();
        assert_eq!(
            err,
            Error::TypeMismatch {
                expected: "Shared<u32>".into(),
                found: "Shared<u64> (size 8, align 8)".into()
            }
        );
        let value = Layout::new::<u64>(Kind::Value, "u64", 1).unwrap();
        assert!(matches!(
            value.check(&segment),
            Err(Error::TypeMismatch { .. })
        ));
    }

    #[test]
    fn array_data_is_cache_line_aligned_after_the_lock() {
        let layout = Layout::new::<u8>(Kind::Array, "u8", 10).unwrap();
        assert_eq!(layout.lock_offset, 256);
        assert_eq!(layout.data_offset, 320);
        assert_eq!(layout.size, 330);
        let empty = Layout::new::<u8>(Kind::Array, "u8", 0).unwrap();
        assert_eq!(empty.size, 320);
    }

    #[test]
    fn oversized_layouts_are_refused() {
        assert!(matches!(
            Layout::new::<u64>(Kind::Array, "u64", usize::MAX / 4),
            Err(Error::TooLarge { .. })
        ));
        #[repr(align(8192))]
        struct Huge;
        assert!(matches!(
            Layout::new::<Huge>(Kind::Shared, "Huge", 1),
            Err(Error::UnsupportedAlignment { align: 8192, .. })
        ));
    }

    #[test]
    fn a_segment_without_header_is_refused() {
        let layout = Layout::new::<u8>(Kind::Shared, "u8", 1).unwrap();
        let blank = Segment::new(4096).unwrap();
        assert!(matches!(
            layout.check(&blank),
            Err(Error::NotASegment { .. })
        ));
        let tiny = Segment::new(16).unwrap();
        assert!(matches!(
            layout.check(&tiny),
            Err(Error::NotASegment { .. })
        ));
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = "é".repeat(150);
        let cut = truncated_name(&name);
        assert!(cut.len() <= NAME_SPACE);
        assert!(std::str::from_utf8(cut).is_ok());
    }
}
