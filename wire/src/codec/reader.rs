//! The reading half of postcard's format, with vectors of bytes and floats read as one
//! block.
//!
//! postcard's own deserializer hands a `Vec<u8>` to serde's visitor one element at a time.
//! This reader accepts the same bytes, but when the value asked for is a `Vec<u8>`,
//! `Vec<i8>`, or (on little-endian targets) `Vec<f32>` or `Vec<f64>`, it checks the length
//! against the bytes left and copies the block at once. A length that does not fit the
//! message is an error before anything is allocated. A vector of integers (`u16` to `u64`,
//! `i16` to `i64`, `usize`, `isize`), or of 1-tuples of them, is read in one loop, its
//! position kept in registers, instead of through a visitor call per element. The
//! `codec-64k` and `pool-map-trivial` rows of mp-bench measure the difference.
//!
//! The hot paths are inlined and every error is built out of line (`malformed` is cold),
//! so that serde's visitors, which call the reader once per field or element, compile to
//! straight-line code.
//!
//! Whether a type's `Deserialize` is inlined into its caller is the compiler's choice, and
//! it changes with how the caller's crate is split into codegen units. The elements of a
//! tuple or array are therefore read through a copy of the position (see [`Counted`]),
//! which stays in registers even when the visitor is a function of its own: a 16-byte
//! array decodes in 7 ns instead of 19 on the machine the project measures on.
//!
//! The block path is chosen by the type the visitor produces: a hand-written `Deserialize`
//! that builds a `Vec<u8>` from a sequence of some other element type through
//! `deserialize_seq` would not fit it (the derived and standard impls all do).

use std::borrow::BorrowMut;

use serde::de::{self, DeserializeSeed, Visitor};

use super::FormatError;
use super::same_type::into_same;

/// Reads values in postcard's format from the front of a byte slice.
pub(crate) struct PostcardReader<'de> {
    input: &'de [u8],
}

/// Kept out of line so that the error paths do not weigh on the inlining of the hot ones.
#[cold]
#[inline(never)]
fn malformed(what: &str) -> FormatError {
    FormatError::new(format!("malformed message: {what}"))
}

impl<'de> PostcardReader<'de> {
    pub(crate) fn new(input: &'de [u8]) -> Self {
        PostcardReader { input }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'de [u8] {
        self.input
    }

    /// Runs `visit` on the next `left` elements of a tuple or array, through a copy of the
    /// position (see [`Counted`]), and moves past them if it succeeds.
    #[inline(always)]
    fn visit_counted<T>(
        &mut self,
        left: usize,
        visit: impl FnOnce(&mut Counted<PostcardReader<'de>>) -> Result<T, FormatError>,
    ) -> Result<T, FormatError> {
        let mut elements = Counted {
            reader: PostcardReader { input: self.input },
            left,
        };
        let value = visit(&mut elements)?;
        self.input = elements.reader.input;
        Ok(value)
    }

    #[inline]
    fn take(&mut self, len: usize) -> Result<&'de [u8], FormatError> {
        if len > self.input.len() {
            return Err(malformed("the message ends inside a value"));
        }
        let (taken, rest) = self.input.split_at(len);
        self.input = rest;
        Ok(taken)
    }

    #[inline]
    fn byte(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }

    /// A varint of at most `bits` bits (at most 64; see [`Self::varint128`]).
    #[inline]
    fn varint(&mut self, bits: u32) -> Result<u64, FormatError> {
        // Most varints are one byte: counts, tags, small numbers.
        if let Some((&byte, rest)) = self.input.split_first()
            && byte < 0x80
        {
            self.input = rest;
            return Ok(byte.into());
        }
        self.long_varint(bits)
    }

    /// A varint of more than one byte (or a malformed one).
    ///
    /// Inlined, with its error paths out of line (`malformed` is cold), so that a loop
    /// over a sequence of integers keeps the reader's position in registers.
    #[inline]
    fn long_varint(&mut self, bits: u32) -> Result<u64, FormatError> {
        let max_bytes = bits.div_ceil(7);
        let mut value: u64 = 0;
        for index in 0..max_bytes {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                // The tenth byte of a 64-bit varint holds its last bit only.
                if (index == 9 && byte > 0x01) || (bits < 64 && value >> bits != 0) {
                    return Err(malformed("a varint too large for its type"));
                }
                return Ok(value);
            }
        }
        Err(malformed("a varint longer than its type allows"))
    }

    /// A varint of up to 128 bits.
    fn varint128(&mut self) -> Result<u128, FormatError> {
        let mut value: u128 = 0;
        for index in 0..19 {
            let byte = self.byte()?;
            value |= u128::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                if index == 18 && byte > 0x03 {
                    return Err(malformed("a varint too large for its type"));
                }
                return Ok(value);
            }
        }
        Err(malformed("a varint longer than its type allows"))
    }

    #[inline]
    fn unsigned<T: TryFrom<u64>>(&mut self, bits: u32) -> Result<T, FormatError> {
        T::try_from(self.varint(bits)?).map_err(|_| malformed("a varint too large for its type"))
    }

    #[inline]
    fn signed(&mut self, bits: u32) -> Result<i64, FormatError> {
        let zigzagged = self.varint(bits)?;
        Ok(((zigzagged >> 1) as i64) ^ -((zigzagged & 1) as i64))
    }

    #[inline]
    fn signed_as<T: TryFrom<i64>>(&mut self, bits: u32) -> Result<T, FormatError> {
        T::try_from(self.signed(bits)?).map_err(|_| malformed("a varint too large for its type"))
    }

    #[inline]
    fn length(&mut self) -> Result<usize, FormatError> {
        self.unsigned(usize::BITS)
    }

    #[inline]
    fn str(&mut self) -> Result<&'de str, FormatError> {
        let len = self.length()?;
        std::str::from_utf8(self.take(len)?).map_err(|_| malformed("a string that is not UTF-8"))
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    /// A vector of `count` elements of `E` copied from the next `count * size_of::<E>()`
    /// bytes.
    fn block<E: bytemuck::Pod>(&mut self) -> Result<Vec<E>, FormatError> {
        let count = self.length()?;
        let len = count
            .checked_mul(size_of::<E>())
            .filter(|len| *len <= self.input.len())
            .ok_or_else(|| malformed("a vector longer than the message"))?;
        let bytes = self.take(len)?;
        let mut elements = vec![E::zeroed(); count];
        mp_sys::copy::copy_bytes(bytemuck::cast_slice_mut(&mut elements), bytes);
        Ok(elements)
    }

    /// A vector of `count` integers, each a varint, read in one loop here rather than
    /// through a visitor call per element.
    fn integers<E>(
        &mut self,
        read: impl Fn(&mut Self) -> Result<E, FormatError>,
    ) -> Result<Vec<E>, FormatError> {
        let count = self.length()?;
        // Every varint takes at least one byte: a corrupt count must not size an allocation.
        if count > self.input.len() {
            return Err(malformed("a vector longer than the message"));
        }
        // A local reader, so that its position can live in registers across the pushes
        // (which could otherwise write through `self` as far as the compiler knows).
        let mut local = PostcardReader::new(self.input);
        let mut elements = Vec::with_capacity(count);
        for _ in 0..count {
            elements.push(read(&mut local)?);
        }
        self.input = local.input;
        Ok(elements)
    }

    /// Reads a `T` as one block if `T` is a vector whose elements' encoding is their memory,
    /// or in one loop if it is a vector of integers; `Ok(None)` (nothing read) otherwise.
    fn try_block<T>(&mut self) -> Result<Option<T>, FormatError> {
        let id = typeid::of::<T>();
        // Each integer type, alone or as a 1-tuple, as the writer's `try_block`.
        macro_rules! integers {
            ($($ty:ty => $read:expr),* $(,)?) => {$(
                if id == typeid::of::<Vec<$ty>>() {
                    return Ok(into_same::<Vec<$ty>, T>(self.integers($read)?).ok());
                }
                if id == typeid::of::<Vec<($ty,)>>() {
                    let tuples =
                        self.integers(|reader: &mut Self| $read(reader).map(|value| (value,)))?;
                    return Ok(into_same::<Vec<($ty,)>, T>(tuples).ok());
                }
            )*};
        }
        if id == typeid::of::<Vec<u8>>() {
            let bytes = mp_sys::copy::to_vec(self.length().and_then(|len| self.take(len))?);
            return Ok(into_same::<Vec<u8>, T>(bytes).ok());
        }
        if id == typeid::of::<Vec<i8>>() {
            return Ok(into_same::<Vec<i8>, T>(self.block()?).ok());
        }
        #[cfg(target_endian = "little")]
        {
            if id == typeid::of::<Vec<f32>>() {
                return Ok(into_same::<Vec<f32>, T>(self.block()?).ok());
            }
            if id == typeid::of::<Vec<f64>>() {
                return Ok(into_same::<Vec<f64>, T>(self.block()?).ok());
            }
        }
        integers! {
            u64 => |reader: &mut Self| reader.unsigned::<u64>(u64::BITS),
            u32 => |reader: &mut Self| reader.unsigned::<u32>(u32::BITS),
            u16 => |reader: &mut Self| reader.unsigned::<u16>(u16::BITS),
            usize => |reader: &mut Self| reader.unsigned::<usize>(u64::BITS),
            i64 => |reader: &mut Self| reader.signed_as::<i64>(i64::BITS),
            i32 => |reader: &mut Self| reader.signed_as::<i32>(i32::BITS),
            i16 => |reader: &mut Self| reader.signed_as::<i16>(i16::BITS),
            isize => |reader: &mut Self| reader.signed_as::<isize>(i64::BITS),
        }
        Ok(None)
    }
}

/// The elements of a sequence, tuple, or map of a known count, read through `R`.
///
/// Tuples and arrays (`R = PostcardReader`) read through a copy of the position, taken
/// back once the visitor succeeds ([`PostcardReader::visit_counted`]): their visitors read
/// a fixed run of elements, and through the caller's `&mut PostcardReader` a visitor the
/// compiler did not inline stores the position to memory after every element. Structs,
/// sequences and maps (`R = &mut PostcardReader`) read through the caller's reader: their
/// visitors call out for their fields, and a copy there made a small record's decode
/// slower (mp-bench's `codec-small`: 232 ns against 212).
struct Counted<R> {
    reader: R,
    left: usize,
}

impl<'de, R: BorrowMut<PostcardReader<'de>>> de::SeqAccess<'de> for Counted<R> {
    type Error = FormatError;

    // Always inlined, here and in `next_element_seed`: serde's visitors call this once per
    // element, and a call keeps the reader's position in memory between elements.
    #[inline(always)]
    fn next_element<T: de::Deserialize<'de>>(&mut self) -> Result<Option<T>, FormatError> {
        self.next_element_seed(std::marker::PhantomData)
    }

    #[inline(always)]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FormatError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.reader.borrow_mut()).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // Never more than the bytes left: a corrupt count must not size an allocation.
        Some(self.left.min(self.reader.borrow().input.len()))
    }
}

impl<'de, R: BorrowMut<PostcardReader<'de>>> de::MapAccess<'de> for Counted<R> {
    type Error = FormatError;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FormatError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.reader.borrow_mut()).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, FormatError> {
        seed.deserialize(self.reader.borrow_mut())
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left.min(self.reader.borrow().input.len()))
    }
}

macro_rules! unsigned {
    ($method:ident, $visit:ident, $ty:ty) => {
        #[inline(always)]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
            visitor.$visit(self.unsigned::<$ty>(<$ty>::BITS)?)
        }
    };
}

macro_rules! signed {
    ($method:ident, $visit:ident, $ty:ty) => {
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
            visitor.$visit(self.signed_as::<$ty>(<$ty>::BITS)?)
        }
    };
}

impl<'de> de::Deserializer<'de> for &mut PostcardReader<'de> {
    type Error = FormatError;

    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, FormatError> {
        Err(FormatError::new(
            "postcard does not describe its own types (deserialize_any)",
        ))
    }

    #[inline]
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        self.deserialize_any(visitor)
    }

    #[inline]
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        match self.byte()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            _ => Err(malformed("a bool that is neither 0 nor 1")),
        }
    }

    #[inline]
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_i8(self.byte()? as i8)
    }

    signed!(deserialize_i16, visit_i16, i16);
    signed!(deserialize_i32, visit_i32, i32);
    signed!(deserialize_i64, visit_i64, i64);

    #[inline]
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        let zigzagged = self.varint128()?;
        visitor.visit_i128(((zigzagged >> 1) as i128) ^ -((zigzagged & 1) as i128))
    }

    #[inline]
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_u8(self.byte()?)
    }

    unsigned!(deserialize_u16, visit_u16, u16);
    unsigned!(deserialize_u32, visit_u32, u32);
    unsigned!(deserialize_u64, visit_u64, u64);

    #[inline]
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_u128(self.varint128()?)
    }

    #[inline]
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_f32(f32::from_le_bytes(self.array()?))
    }

    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_f64(f64::from_le_bytes(self.array()?))
    }

    #[inline]
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        let mut chars = self.str()?.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(malformed("a char that is not exactly one character")),
        }
    }

    #[inline]
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_borrowed_str(self.str()?)
    }

    #[inline]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        self.deserialize_str(visitor)
    }

    #[inline]
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        let len = self.length()?;
        visitor.visit_borrowed_bytes(self.take(len)?)
    }

    #[inline]
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        self.deserialize_bytes(visitor)
    }

    #[inline]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        match self.byte()? {
            0 => visitor.visit_none(),
            1 => visitor.visit_some(self),
            _ => Err(malformed("an option tag that is neither 0 nor 1")),
        }
    }

    #[inline]
    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_unit()
    }

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        visitor.visit_unit()
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        visitor.visit_newtype_struct(self)
    }

    #[inline]
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        if let Some(block) = self.try_block::<V::Value>()? {
            return Ok(block);
        }
        let left = self.length()?;
        visitor.visit_seq(Counted { reader: self, left })
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        self.visit_counted(len, |elements| visitor.visit_seq(elements))
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        self.deserialize_tuple(len, visitor)
    }

    #[inline]
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        let left = self.length()?;
        visitor.visit_map(Counted { reader: self, left })
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        visitor.visit_seq(Counted {
            reader: self,
            left: fields.len(),
        })
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        visitor.visit_enum(self)
    }

    #[inline]
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FormatError> {
        visitor.visit_u32(self.unsigned::<u32>(u32::BITS)?)
    }
}

impl<'de> de::EnumAccess<'de> for &mut PostcardReader<'de> {
    type Error = FormatError;
    type Variant = Self;

    #[inline]
    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), FormatError> {
        let index = self.unsigned::<u32>(u32::BITS)?;
        let value = seed.deserialize(de::value::U32Deserializer::<FormatError>::new(index))?;
        Ok((value, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut PostcardReader<'de> {
    type Error = FormatError;

    #[inline]
    fn unit_variant(self) -> Result<(), FormatError> {
        Ok(())
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, FormatError> {
        seed.deserialize(self)
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FormatError> {
        visitor.visit_seq(Counted {
            reader: self,
            left: fields.len(),
        })
    }
}
