//! Plain data read and written while other processes read and write it too.
//!
//! A [`RawValue`](crate::RawValue) or [`RawArray`](crate::RawArray) has no lock: another
//! process may store an element while this one loads it. Plain loads and stores would be a
//! data race, undefined behaviour even though every bit pattern of a `Pod` type is valid
//! (the compiler may assume the memory does not change under it). So every access of the
//! raw types goes through atomics, with one width per element type: the type's alignment,
//! at most 8 bytes. Accesses to one location then always have the same size (racing
//! atomic accesses of different sizes are not allowed either), and an element of up to
//! 8 aligned bytes (`u64`, `f64`, `i32`, ...) is read and written whole, never torn.
//!
//! The ordering is `Relaxed`: these accesses order nothing. What orders them is the
//! user's synchronisation (a lock, an event, joining the process that wrote), as for
//! Python's `RawArray`.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};

use bytemuck::Pod;

// The unit widths below rely on each atomic being aligned as its size.
const _: () = assert!(align_of::<AtomicU64>() == 8 && align_of::<AtomicU32>() == 4);
const _: () = assert!(align_of::<AtomicU16>() == 2 && align_of::<AtomicU8>() == 1);

/// The width of the atomic accesses for elements of `T`: its alignment, capped at 8.
/// `size_of::<T>()` is a multiple of its alignment, so elements are whole units.
const fn unit<T>() -> usize {
    let align = align_of::<T>();
    if align > 8 { 8 } else { align }
}

macro_rules! unit_copies {
    ($load:ident, $store:ident, $atomic:ty, $uint:ty) => {
        /// Copies `out.len()` bytes from `src` with atomic loads of this width.
        ///
        /// # Safety
        ///
        /// As [`load_into`], with `src` aligned to the width.
        unsafe fn $load(src: NonNull<u8>, out: &mut [u8]) {
            let units = out.len() / size_of::<$uint>();
            let src = src.as_ptr().cast::<$atomic>();
            let out = out.as_mut_ptr().cast::<$uint>();
            for i in 0..units {
                // SAFETY: the caller promises `out.len()` bytes at `src`, inside a live
                // mapping, aligned to the width (the atomic's alignment), a whole number of
                // units long, and reached only through atomics of this width while shared;
                // `out` holds as many bytes, written unaligned.
                unsafe {
                    out.add(i)
                        .write_unaligned((*src.add(i)).load(Ordering::Relaxed))
                };
            }
        }

        /// Copies `data` to `dst` with atomic stores of this width.
        ///
        /// # Safety
        ///
        /// As [`store_from`], with `dst` aligned to the width.
        unsafe fn $store(dst: NonNull<u8>, data: &[u8]) {
            let units = data.len() / size_of::<$uint>();
            let dst = dst.as_ptr().cast::<$atomic>();
            let data = data.as_ptr().cast::<$uint>();
            for i in 0..units {
                // SAFETY: as in the load above, for `data.len()` bytes at `dst`; `data`
                // holds as many bytes, read unaligned.
                unsafe { (*dst.add(i)).store(data.add(i).read_unaligned(), Ordering::Relaxed) };
            }
        }
    };
}

unit_copies!(load_u8, store_u8, AtomicU8, u8);
unit_copies!(load_u16, store_u16, AtomicU16, u16);
unit_copies!(load_u32, store_u32, AtomicU32, u32);
unit_copies!(load_u64, store_u64, AtomicU64, u64);

/// Copies `out.len()` elements starting at `src` into `out`.
///
/// # Safety
///
/// `src` points at `out.len()` elements of `T`, aligned for `T`, inside a mapping that
/// stays alive for the call; while other threads or processes may use them, they are
/// reached only through this module.
pub(crate) unsafe fn load_into<T: Pod>(src: NonNull<T>, out: &mut [T]) {
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(out);
    let src = src.cast::<u8>();
    // SAFETY: the caller's promise; `unit::<T>()` divides `T`'s alignment, so `src` is
    // aligned to the width chosen.
    unsafe {
        match unit::<T>() {
            8 => load_u64(src, bytes),
            4 => load_u32(src, bytes),
            2 => load_u16(src, bytes),
            _ => load_u8(src, bytes),
        }
    }
}

/// Copies `data` into the `data.len()` elements starting at `dst`.
///
/// # Safety
///
/// As [`load_into`], for `data.len()` elements at `dst`.
pub(crate) unsafe fn store_from<T: Pod>(dst: NonNull<T>, data: &[T]) {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    let dst = dst.cast::<u8>();
    // SAFETY: as in `load_into`.
    unsafe {
        match unit::<T>() {
            8 => store_u64(dst, bytes),
            4 => store_u32(dst, bytes),
            2 => store_u16(dst, bytes),
            _ => store_u8(dst, bytes),
        }
    }
}

/// One element at `src`.
///
/// # Safety
///
/// As [`load_into`], for one element.
pub(crate) unsafe fn load<T: Pod>(src: NonNull<T>) -> T {
    let mut value = T::zeroed();
    // SAFETY: the caller's promise, for one element.
    unsafe { load_into(src, std::slice::from_mut(&mut value)) };
    value
}

/// Stores one element at `dst`.
///
/// # Safety
///
/// As [`store_from`], for one element.
pub(crate) unsafe fn store<T: Pod>(dst: NonNull<T>, value: T) {
    // SAFETY: the caller's promise, for one element.
    unsafe { store_from(dst, std::slice::from_ref(&value)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_widths_follow_alignment() {
        assert_eq!(unit::<u8>(), 1);
        assert_eq!(unit::<[u8; 3]>(), 1);
        assert_eq!(unit::<u16>(), 2);
        assert_eq!(unit::<[u32; 3]>(), 4);
        assert_eq!(unit::<f64>(), 8);
        assert_eq!(unit::<u128>(), align_of::<u128>().min(8));
        assert_eq!(unit::<()>(), 1);
    }

    #[test]
    fn round_trips_for_every_width() {
        fn round_trip<T: Pod + PartialEq + std::fmt::Debug>(values: &[T]) {
            let mut memory = vec![T::zeroed(); values.len()];
            let place = NonNull::from(memory.as_mut_slice()).cast::<T>();
            let mut back = vec![T::zeroed(); values.len()];
            // SAFETY: `memory` holds `values.len()` aligned elements, used only here.
            unsafe {
                store_from(place, values);
                load_into(place, &mut back);
            }
            assert_eq!(back, values);
        }
        round_trip(&[1u8, 2, 3]);
        round_trip(&[[1u8, 2, 3], [4, 5, 6]]);
        round_trip(&[-1i16, 7]);
        round_trip(&[1.5f32, -2.0]);
        round_trip(&[[1u32, 2, 3]]);
        round_trip(&[f64::MAX, 0.25]);
        round_trip(&[u128::MAX, 1 << 100]);
        round_trip::<()>(&[(), ()]);
        let mut one = 0u64;
        // SAFETY: a local, used only here.
        unsafe {
            store(NonNull::from(&mut one), 99);
            assert_eq!(load(NonNull::from(&mut one)), 99);
        }
    }
}
