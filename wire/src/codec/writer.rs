//! The writing half of postcard's format, byte for byte, with vectors and slices of bytes
//! and floats written as one block.
//!
//! postcard's own serializer receives a `Vec<u8>` the way serde hands every sequence over:
//! one `serialize_u8` per element. This writer produces the same bytes but recognises the
//! sequences whose encoding is their memory (`u8`, `i8`, and on little-endian targets `f32`
//! and `f64`) and appends them with one copy. Integers wider than a byte are varints in
//! postcard: a vector or slice of them (or of 1-tuples of them, a pool's `map` arguments)
//! is written in one loop here instead of a serde call per element, and a varint of up to
//! eight bytes is made in a few shifts and stored as one word. The `codec-64k`,
//! `ipc-queue-1x1-16b` and `pool-map-trivial` rows of mp-bench measure the difference.

use serde::ser::{self, Serialize};

use super::FormatError;
use super::same_type::as_same_ref;

/// Where a [`PostcardWriter`] puts its bytes.
pub(crate) trait Output {
    /// Appends `bytes`, or fails if there is no room for them.
    fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError>;

    /// Appends one byte, or fails if there is no room for it.
    fn put_byte(&mut self, byte: u8) -> Result<(), FormatError>;

    /// Appends the first `len` bytes (at most eight) of `word`'s little-endian bytes.
    #[inline]
    fn put_word_prefix(&mut self, word: u64, len: usize) -> Result<(), FormatError> {
        self.put(&word.to_le_bytes()[..len])
    }
}

impl<O: Output + ?Sized> Output for &mut O {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        (**self).put(bytes)
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) -> Result<(), FormatError> {
        (**self).put_byte(byte)
    }

    #[inline]
    fn put_word_prefix(&mut self, word: u64, len: usize) -> Result<(), FormatError> {
        (**self).put_word_prefix(word, len)
    }
}

impl Output for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        mp_sys::copy::extend_bytes(self, bytes);
        Ok(())
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) -> Result<(), FormatError> {
        self.push(byte);
        Ok(())
    }

    /// The whole word is appended and the excess cut off: one store of eight bytes, where a
    /// copy of a varint's length would be a call to `memcpy`.
    #[inline]
    fn put_word_prefix(&mut self, word: u64, len: usize) -> Result<(), FormatError> {
        let end = self.len() + len;
        self.extend_from_slice(&word.to_le_bytes());
        self.truncate(end);
        Ok(())
    }
}

/// A fixed slice filled from its start; `overflowed` tells a full slice from other failures.
pub(crate) struct SliceOutput<'a> {
    pub(crate) slice: &'a mut [u8],
    pub(crate) written: usize,
    pub(crate) overflowed: bool,
}

impl SliceOutput<'_> {
    fn full(&mut self) -> FormatError {
        self.overflowed = true;
        FormatError::slice_full()
    }
}

impl Output for SliceOutput<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        let end = self.written + bytes.len();
        match self.slice.get_mut(self.written..end) {
            Some(target) => {
                mp_sys::copy::copy_bytes(target, bytes);
                self.written = end;
                Ok(())
            }
            None => Err(self.full()),
        }
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) -> Result<(), FormatError> {
        match self.slice.get_mut(self.written) {
            Some(target) => {
                *target = byte;
                self.written += 1;
                Ok(())
            }
            None => Err(self.full()),
        }
    }
}

/// Writes the postcard encoding of values to an [`Output`].
///
/// The writer holds its output by value (a `&mut` one for outputs that outlive it). A
/// `Serialize` impl that is not inlined gets the writer as its `&mut` argument, which
/// nothing else may touch while it runs: so the output's position stays in registers
/// between the bytes it writes, where behind a second reference it would be stored and
/// loaded again around each byte (a 16-byte array written into a slice: 0.5 ns against
/// 10 on the machine the project measures on).
pub(crate) struct PostcardWriter<O: Output> {
    out: O,
}

impl<O: Output> PostcardWriter<O> {
    pub(crate) fn new(out: O) -> Self {
        PostcardWriter { out }
    }

    /// The output, once the value is written.
    pub(crate) fn into_output(self) -> O {
        self.out
    }

    #[inline]
    fn varint(&mut self, value: u64) -> Result<(), FormatError> {
        if value < 0x80 {
            return self.out.put_byte(value as u8);
        }
        self.long_varint(value)
    }

    #[inline]
    fn long_varint(&mut self, value: u64) -> Result<(), FormatError> {
        if value >= 1 << 56 {
            return self.nine_or_ten_byte_varint(value);
        }
        // At most eight bytes: the groups are spread at once (see `spread_groups`), and
        // every byte but the last gets its continuation bit. `value >= 0x80`, so
        // `2 <= len <= 8`.
        let len = (70 - value.leading_zeros() as usize) / 7;
        let continuation = 0x8080_8080_8080_8080u64 & ((1u64 << (8 * (len - 1))) - 1);
        self.out
            .put_word_prefix(spread_groups(value) | continuation, len)
    }

    #[inline(never)]
    fn nine_or_ten_byte_varint(&mut self, mut value: u64) -> Result<(), FormatError> {
        let mut encoded = [0u8; 10];
        let mut len = 0;
        while value >= 0x80 {
            encoded[len] = (value as u8) | 0x80;
            value >>= 7;
            len += 1;
        }
        encoded[len] = value as u8;
        self.out.put(&encoded[..=len])
    }

    fn varint128(&mut self, mut value: u128) -> Result<(), FormatError> {
        while value >= 0x80 {
            self.out.put_byte((value as u8) | 0x80)?;
            value >>= 7;
        }
        self.out.put_byte(value as u8)
    }

    #[inline]
    fn length(&mut self, len: usize) -> Result<(), FormatError> {
        self.varint(len as u64)
    }

    /// Writes `iter` as one block if it is a reference to a vector or slice whose encoding
    /// is its memory, or in one loop if it is one of integers; `Err(iter)` gives it back
    /// otherwise.
    fn try_block<I>(&mut self, iter: I) -> Result<Result<(), FormatError>, I> {
        if let Some((count, bytes)) = block_of(&iter) {
            return Ok(self.length(count).and_then(|()| self.out.put(bytes)));
        }
        // Each integer type, alone or as a 1-tuple (the argument tuple of a one-argument
        // call: a pool's `map` items), whose encoding is the integer's.
        macro_rules! integers {
            ($($ty:ty => $widen:expr),* $(,)?) => {$(
                let values = as_same_ref::<I, Vec<$ty>>(&iter)
                    .map(Vec::as_slice)
                    .or_else(|| as_same_ref::<I, [$ty]>(&iter));
                if let Some(values) = values {
                    return Ok(self.integers(values, $widen));
                }
                let tuples = as_same_ref::<I, Vec<($ty,)>>(&iter)
                    .map(Vec::as_slice)
                    .or_else(|| as_same_ref::<I, [($ty,)]>(&iter));
                if let Some(tuples) = tuples {
                    return Ok(self.integers(tuples, |(value,): ($ty,)| $widen(value)));
                }
            )*};
        }
        integers! {
            u64 => |value: u64| value,
            u32 => u64::from,
            u16 => u64::from,
            usize => |value: usize| value as u64,
            i64 => zigzag,
            i32 => |value: i32| zigzag(value.into()),
            i16 => |value: i16| zigzag(value.into()),
            isize => |value: isize| zigzag(value as i64),
        }
        Err(iter)
    }

    /// Writes `values` as a sequence of varints, `widen` giving each one's unsigned form.
    fn integers<E: Copy>(
        &mut self,
        values: &[E],
        widen: impl Fn(E) -> u64,
    ) -> Result<(), FormatError> {
        self.length(values.len())?;
        values
            .iter()
            .try_for_each(|value| self.varint(widen(*value)))
    }
}

/// The element count and memory of `*iter`, when it is a `&Vec<E>` or `&[E]` of an element
/// type whose postcard encoding is its little-endian memory.
fn block_of<I>(iter: &I) -> Option<(usize, &[u8])> {
    fn block<E: bytemuck::Pod>(elements: &[E]) -> (usize, &[u8]) {
        (elements.len(), bytemuck::cast_slice(elements))
    }
    if let Some(v) = as_same_ref::<I, Vec<u8>>(iter) {
        return Some(block(v));
    }
    if let Some(v) = as_same_ref::<I, [u8]>(iter) {
        return Some(block(v));
    }
    if let Some(v) = as_same_ref::<I, Vec<i8>>(iter) {
        return Some(block(v));
    }
    if let Some(v) = as_same_ref::<I, [i8]>(iter) {
        return Some(block(v));
    }
    #[cfg(target_endian = "little")]
    {
        if let Some(v) = as_same_ref::<I, Vec<f32>>(iter) {
            return Some(block(v));
        }
        if let Some(v) = as_same_ref::<I, [f32]>(iter) {
            return Some(block(v));
        }
        if let Some(v) = as_same_ref::<I, Vec<f64>>(iter) {
            return Some(block(v));
        }
        if let Some(v) = as_same_ref::<I, [f64]>(iter) {
            return Some(block(v));
        }
    }
    None
}

/// The 7-bit groups of `value` (below 2^56), one in the low bits of each byte, low group
/// first: a varint without its continuation bits. Three steps of halving width, where a
/// loop would take a shift and a store per byte.
#[inline]
fn spread_groups(value: u64) -> u64 {
    let halves = (value & 0x0fff_ffff) | ((value & 0x00ff_ffff_f000_0000) << 4);
    let quarters = (halves & 0x0000_3fff_0000_3fff) | ((halves & 0x0fff_c000_0fff_c000) << 2);
    (quarters & 0x007f_007f_007f_007f) | ((quarters & 0x3f80_3f80_3f80_3f80) << 1)
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

macro_rules! compound {
    ($trait:ident, $method:ident $(, $key:ident)?) => {
        impl<O: Output> ser::$trait for &mut PostcardWriter<O> {
            type Ok = ();
            type Error = FormatError;

            #[inline]
            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($key: &'static str,)?
                value: &T,
            ) -> Result<(), FormatError> {
                $(let _ = $key;)?
                value.serialize(&mut **self)
            }

            #[inline]
            fn end(self) -> Result<(), FormatError> {
                Ok(())
            }
        }
    };
}

compound!(SerializeSeq, serialize_element);
compound!(SerializeTuple, serialize_element);
compound!(SerializeTupleStruct, serialize_field);
compound!(SerializeTupleVariant, serialize_field);
compound!(SerializeStruct, serialize_field, key);
compound!(SerializeStructVariant, serialize_field, key);

impl<O: Output> ser::SerializeMap for &mut PostcardWriter<O> {
    type Ok = ();
    type Error = FormatError;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), FormatError> {
        key.serialize(&mut **self)
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FormatError> {
        value.serialize(&mut **self)
    }

    #[inline]
    fn end(self) -> Result<(), FormatError> {
        Ok(())
    }
}

fn length_required(len: Option<usize>) -> Result<usize, FormatError> {
    len.ok_or_else(|| FormatError::new("postcard needs the length of a sequence or map up front"))
}

impl<O: Output> ser::Serializer for &mut PostcardWriter<O> {
    type Ok = ();
    type Error = FormatError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<(), FormatError> {
        self.out.put_byte(u8::from(v))
    }

    #[inline]
    fn serialize_i8(self, v: i8) -> Result<(), FormatError> {
        self.out.put_byte(v as u8)
    }

    #[inline]
    fn serialize_i16(self, v: i16) -> Result<(), FormatError> {
        self.varint(zigzag(v.into()))
    }

    #[inline]
    fn serialize_i32(self, v: i32) -> Result<(), FormatError> {
        self.varint(zigzag(v.into()))
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<(), FormatError> {
        self.varint(zigzag(v))
    }

    #[inline]
    fn serialize_i128(self, v: i128) -> Result<(), FormatError> {
        self.varint128(((v << 1) ^ (v >> 127)) as u128)
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<(), FormatError> {
        self.out.put_byte(v)
    }

    #[inline]
    fn serialize_u16(self, v: u16) -> Result<(), FormatError> {
        self.varint(v.into())
    }

    #[inline]
    fn serialize_u32(self, v: u32) -> Result<(), FormatError> {
        self.varint(v.into())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<(), FormatError> {
        self.varint(v)
    }

    #[inline]
    fn serialize_u128(self, v: u128) -> Result<(), FormatError> {
        self.varint128(v)
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result<(), FormatError> {
        self.out.put(&v.to_le_bytes())
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result<(), FormatError> {
        self.out.put(&v.to_le_bytes())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result<(), FormatError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), FormatError> {
        self.serialize_bytes(v.as_bytes())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<(), FormatError> {
        self.length(v.len())?;
        self.out.put(v)
    }

    #[inline]
    fn serialize_none(self) -> Result<(), FormatError> {
        self.out.put_byte(0)
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), FormatError> {
        self.out.put_byte(1)?;
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<(), FormatError> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), FormatError> {
        Ok(())
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
    ) -> Result<(), FormatError> {
        self.varint(variant_index.into())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), FormatError> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), FormatError> {
        self.varint(variant_index.into())?;
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, FormatError> {
        self.length(length_required(len)?)?;
        Ok(self)
    }

    #[inline]
    fn serialize_tuple(self, _len: usize) -> Result<Self, FormatError> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, FormatError> {
        Ok(self)
    }

    #[inline]
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, FormatError> {
        self.varint(variant_index.into())?;
        Ok(self)
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Self, FormatError> {
        self.length(length_required(len)?)?;
        Ok(self)
    }

    #[inline]
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, FormatError> {
        Ok(self)
    }

    #[inline]
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        variant_index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, FormatError> {
        self.varint(variant_index.into())?;
        Ok(self)
    }

    #[inline]
    fn collect_seq<I>(self, iter: I) -> Result<(), FormatError>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        let iter = match self.try_block(iter) {
            Ok(written) => return written,
            Err(iter) => iter,
        };
        let iter = iter.into_iter();
        let (lower, upper) = iter.size_hint();
        let len = (Some(lower) == upper).then_some(lower);
        let mut seq = ser::Serializer::serialize_seq(self, len)?;
        for element in iter {
            ser::SerializeSeq::serialize_element(&mut seq, &element)?;
        }
        ser::SerializeSeq::end(seq)
    }
}
