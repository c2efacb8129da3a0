//! Runtime type checks that let the codec copy a `Vec<u8>` or `&[f64]` as one block.
//!
//! Serde hands a serializer a vector as an iterator of elements and a deserializer a visitor
//! that takes elements one by one; a specialization on the element type is not expressible
//! in stable Rust. So the reader and writer compare type identities (lifetimes erased, via
//! `typeid`) and, for the few plain types whose postcard encoding is their memory, treat the
//! value as the concrete type it is.

use std::mem::ManuallyDrop;

/// `value` as a `Wanted`, when `Wanted` is `Known` (`Known` has no lifetimes, so equal
/// type identities mean the very same type).
pub(crate) fn into_same<Known: 'static, Wanted>(value: Known) -> Result<Wanted, Known> {
    if typeid::of::<Known>() != typeid::of::<Wanted>() {
        return Err(value);
    }
    let value = ManuallyDrop::new(value);
    // SAFETY: `Known` and `Wanted` have the same type identity with lifetimes erased, and
    // `Known: 'static` has no lifetime parameters, so they are one type: reading the bits
    // of `value` as a `Wanted` is a move of the value, and `ManuallyDrop` keeps the original
    // from being dropped as well.
    Ok(unsafe { std::ptr::read((&*value as *const Known).cast::<Wanted>()) })
}

/// `*value` as a `&'a Target`, when `Given` is `&Target` for some lifetime.
pub(crate) fn as_same_ref<'a, Given, Target: ?Sized + 'static>(
    value: &'a Given,
) -> Option<&'a Target> {
    if typeid::of::<Given>() != typeid::of::<&'static Target>() {
        return None;
    }
    // SAFETY: `Given` is `&'b Target` for some lifetime `'b` (same type identity with
    // lifetimes erased, and `Target: 'static` has none of its own). `value` borrows that
    // reference for `'a`, so `'b` outlives `'a`: reading the reference out and using it for
    // `'a` only shortens its lifetime. References are `Copy`, so nothing is moved.
    Some(unsafe { std::ptr::read((value as *const Given).cast::<&'a Target>()) })
}
