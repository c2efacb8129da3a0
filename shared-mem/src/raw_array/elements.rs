//! The element access that a whole [`RawArray`](super::RawArray) and each of its
//! [`RawSlice`](super::RawSlice)s share: bounds checks, then atomic copies.

use std::ptr::NonNull;

use bytemuck::Pod;

use crate::{Error, Segment, atomic_elements};

/// `len` elements of `T` at `data`, inside the mapping of `segment`.
pub(super) struct Elements<T> {
    pub(super) segment: Segment,
    data: NonNull<T>,
    pub(super) len: usize,
}

// SAFETY: elements are only copied in and out through atomics (`atomic_elements`), which
// moves `T`s between threads: `T: Send` allows it. No reference into the mapping escapes.
unsafe impl<T: Send> Send for Elements<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Send> Sync for Elements<T> {}

impl<T: Pod> Elements<T> {
    /// # Safety
    ///
    /// `data` points at `len` elements of `T`, aligned for `T`, inside the mapping of
    /// `segment`, which every process reaches only through `atomic_elements` (or, by the
    /// contract of an `unsafe` method, while no one else does).
    pub(super) unsafe fn new(segment: Segment, data: NonNull<T>, len: usize) -> Self {
        Self { segment, data, len }
    }

    /// The elements `start..start + count`, as a handle of their own.
    pub(super) fn part(&self, start: usize, count: usize) -> Result<Self, Error> {
        let data = self.pointer(start, count)?;
        // SAFETY: `pointer` checked that the part lies inside these elements, which lie
        // inside the mapping of the same segment.
        Ok(unsafe { Self::new(self.segment.clone(), data, count) })
    }

    pub(super) fn get(&self, index: usize) -> Result<T, Error> {
        let place = self.element(index)?;
        // SAFETY: `element` checked the index; see `new` for the rest.
        Ok(unsafe { atomic_elements::load(place) })
    }

    pub(super) fn set(&self, index: usize, value: T) -> Result<(), Error> {
        let place = self.element(index)?;
        // SAFETY: as in `get`.
        unsafe { atomic_elements::store(place, value) };
        Ok(())
    }

    pub(super) fn read_at(&self, start: usize, out: &mut [T]) -> Result<(), Error> {
        let place = self.pointer(start, out.len())?;
        // SAFETY: `pointer` checked that `out.len()` elements from `start` are inside.
        unsafe { atomic_elements::load_into(place, out) };
        Ok(())
    }

    pub(super) fn write_at(&self, start: usize, data: &[T]) -> Result<(), Error> {
        let place = self.pointer(start, data.len())?;
        // SAFETY: as in `read_at`.
        unsafe { atomic_elements::store_from(place, data) };
        Ok(())
    }

    pub(super) fn to_vec(&self) -> Vec<T> {
        let mut out = vec![T::zeroed(); self.len];
        // SAFETY: all `len` elements, from the first; see `new`.
        unsafe { atomic_elements::load_into(self.data, &mut out) };
        out
    }

    /// The first element, for the `unsafe` plain views.
    pub(super) fn first(&self) -> NonNull<T> {
        self.data
    }

    fn element(&self, index: usize) -> Result<NonNull<T>, Error> {
        if index >= self.len {
            return Err(Error::IndexOutOfRange {
                index,
                len: self.len,
            });
        }
        // SAFETY: `index < len`, so the element is inside the `len` elements at `data`.
        Ok(unsafe { self.data.add(index) })
    }

    fn pointer(&self, start: usize, count: usize) -> Result<NonNull<T>, Error> {
        match start.checked_add(count) {
            Some(end) if end <= self.len => {
                // SAFETY: `start <= end <= len`: in bounds, or one past the end.
                Ok(unsafe { self.data.add(start) })
            }
            _ => Err(Error::RangeOutOfBounds {
                start,
                count,
                len: self.len,
            }),
        }
    }
}

impl<T> Clone for Elements<T> {
    fn clone(&self) -> Self {
        Self {
            segment: self.segment.clone(),
            data: self.data,
            len: self.len,
        }
    }
}
