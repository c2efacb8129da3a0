//! One item's bytes as CPython's `ShareableList` lays them out: its `struct` format (8
//! bytes, NUL-padded), its back-transform code (one signed byte), and its value, packed
//! with the native byte order.

use super::Item;
use crate::ItemFault;

/// Bytes per format string, per fixed-size value, and the alignment of every slot.
pub(super) const WORD: usize = 8;
/// The longest slot a `<n>s` format of at most 8 characters can describe.
pub(super) const MAX_ALLOTMENT: usize = 9_999_999;

const INT: &[u8] = b"q";
const FLOAT: &[u8] = b"d";
const BOOL: &[u8] = b"xxxxxxx?";
const NONE: &[u8] = b"xxxxxx?x";

/// Back-transform codes (CPython's `_back_transforms_mapping`).
const CODE_PLAIN: i8 = 0;
const CODE_STR: i8 = 1;
const CODE_BYTES: i8 = 2;
const CODE_NONE: i8 = 3;

/// An item's packing format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Int,
    Float,
    Bool,
    None,
    /// `<n>s`: `n` bytes, a `str` or `bytes` (told apart by the code).
    Text(usize),
}

impl Format {
    /// Parses the 8 bytes of a format string; `None` for any format Python's
    /// `ShareableList` does not write.
    pub(super) fn parse(raw: &[u8; WORD]) -> Option<Self> {
        let end = raw.iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
        let text = &raw[..end];
        match text {
            INT => Some(Format::Int),
            FLOAT => Some(Format::Float),
            BOOL => Some(Format::Bool),
            NONE => Some(Format::None),
            [digits @ .., b's'] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
                std::str::from_utf8(digits)
                    .ok()?
                    .parse()
                    .ok()
                    .map(Format::Text)
            }
            _ => None,
        }
    }

    /// The 8 bytes of the format string, NUL-padded; `None` if it does not fit.
    pub(super) fn encode(self) -> Option<[u8; WORD]> {
        let text = match self {
            Format::Int => INT.to_vec(),
            Format::Float => FLOAT.to_vec(),
            Format::Bool => BOOL.to_vec(),
            Format::None => NONE.to_vec(),
            Format::Text(n) => format!("{n}s").into_bytes(),
        };
        let mut raw = [0u8; WORD];
        raw.get_mut(..text.len())?.copy_from_slice(&text);
        Some(raw)
    }

    /// The bytes the value takes.
    pub(super) fn size(self) -> usize {
        match self {
            Format::Text(n) => n,
            _ => WORD,
        }
    }
}

/// How an item is stored: a `str` or `bytes` as its encoded bytes in a `<n>s` slot, any
/// other item as a fixed format and 8 value bytes.
pub(super) enum Packing<'a> {
    Text {
        bytes: &'a [u8],
        code: i8,
    },
    Fixed {
        format: Format,
        code: i8,
        value: [u8; WORD],
    },
}

/// The format, code and bytes Python's `ShareableList` gives `item` (`struct.pack` writes
/// pad bytes as 0).
pub(super) fn packing(item: &Item) -> Packing<'_> {
    let fixed = |format, code, value| Packing::Fixed {
        format,
        code,
        value,
    };
    match item {
        Item::Int(value) => fixed(Format::Int, CODE_PLAIN, value.to_ne_bytes()),
        Item::Float(value) => fixed(Format::Float, CODE_PLAIN, value.to_ne_bytes()),
        Item::Bool(value) => fixed(
            Format::Bool,
            CODE_PLAIN,
            [0, 0, 0, 0, 0, 0, 0, u8::from(*value)],
        ),
        Item::None => fixed(Format::None, CODE_NONE, [0; WORD]),
        Item::Str(text) => Packing::Text {
            bytes: text.as_bytes(),
            code: CODE_STR,
        },
        Item::Bytes(bytes) => Packing::Text {
            bytes,
            code: CODE_BYTES,
        },
    }
}

/// The slot Python's `ShareableList(sequence)` gives a `str` or `bytes` item of `len`
/// encoded bytes: the next multiple of 8 above it (so at least one NUL follows).
pub(super) fn allotment(len: usize) -> usize {
    WORD * (len / WORD + 1)
}

/// The item from its format, code and value bytes (`format.size()` of them); `Err` with a
/// reason when the combination is not one Python's `ShareableList` writes.
pub(super) fn unpack(format: Format, code: i8, value: &[u8]) -> Result<Item, ItemFault> {
    let word = || <[u8; WORD]>::try_from(value).map_err(|_| ItemFault::WrongSize);
    match (format, code) {
        (Format::Int, CODE_PLAIN) => Ok(Item::Int(i64::from_ne_bytes(word()?))),
        (Format::Float, CODE_PLAIN) => Ok(Item::Float(f64::from_ne_bytes(word()?))),
        (Format::Bool, CODE_PLAIN) => Ok(Item::Bool(word()?[7] != 0)),
        (Format::None, CODE_NONE) => Ok(Item::None),
        (Format::Text(_), CODE_STR) => String::from_utf8(trim_nuls(value).to_vec())
            .map(Item::Str)
            .map_err(|_| ItemFault::NotUtf8),
        (Format::Text(_), CODE_BYTES) => Ok(Item::Bytes(trim_nuls(value).to_vec())),
        (_, CODE_PLAIN..=CODE_NONE) => Err(ItemFault::CodeMismatch),
        _ => Err(ItemFault::UnknownCode),
    }
}

/// Python's `value.rstrip(b'\x00')`.
fn trim_nuls(value: &[u8]) -> &[u8] {
    let end = value
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1);
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_as_python_writes_them() {
        let raw = |text: &[u8]| {
            let mut raw = [0u8; WORD];
            raw[..text.len()].copy_from_slice(text);
            raw
        };
        assert_eq!(Format::parse(&raw(b"q")), Some(Format::Int));
        assert_eq!(Format::parse(&raw(b"d")), Some(Format::Float));
        assert_eq!(Format::parse(b"xxxxxxx?"), Some(Format::Bool));
        assert_eq!(Format::parse(b"xxxxxx?x"), Some(Format::None));
        assert_eq!(Format::parse(&raw(b"16s")), Some(Format::Text(16)));
        assert_eq!(Format::parse(b"9999999s"), Some(Format::Text(9_999_999)));
        for bad in [&b""[..], b"s", b"x", b"i", b"-8s", b"8 s", b"\xff"] {
            assert_eq!(Format::parse(&raw(bad)), None, "{bad:?}");
        }
        assert_eq!(Format::Text(24).encode(), Some(raw(b"24s")));
        assert_eq!(Format::Text(MAX_ALLOTMENT).encode(), Some(*b"9999999s"));
        assert_eq!(Format::Text(MAX_ALLOTMENT + 1).encode(), None);
        assert_eq!(Format::Bool.encode(), Some(*b"xxxxxxx?"));
    }

    #[test]
    fn allotments_leave_room_for_a_nul() {
        assert_eq!(allotment(0), 8);
        assert_eq!(allotment(7), 8);
        assert_eq!(allotment(8), 16);
    }

    #[test]
    fn unpack_refuses_what_python_never_writes() {
        assert_eq!(
            unpack(Format::Int, 0, &5i64.to_ne_bytes()),
            Ok(Item::Int(5))
        );
        assert_eq!(
            unpack(Format::Text(8), 1, b"ab\0\0\0\0\0\0"),
            Ok(Item::Str("ab".into()))
        );
        assert_eq!(
            unpack(Format::Text(4), 2, b"\0a\0\0"),
            Ok(Item::Bytes(b"\0a".to_vec()))
        );
        assert!(unpack(Format::Int, 1, &[0; 8]).is_err());
        assert!(unpack(Format::None, 0, &[0; 8]).is_err());
        assert!(unpack(Format::Int, 9, &[0; 8]).is_err());
        assert!(unpack(Format::Text(2), 1, b"\xff\xfe").is_err());
    }
}
