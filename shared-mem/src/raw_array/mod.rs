//! `RawArray<T>`: Python's `multiprocessing.RawArray` (and `Array(..., lock=False)`), and
//! the disjoint [`RawSlice`]s by which several processes write their own parts of one
//! array without a shared lock.
//!
//! Why no `&mut [T]` for a slice: a fork copies the parent's handles into the child, and
//! [`transfer`] maps a segment again in the receiver, so no type can prove that it is the
//! only writer of some bytes in every process. Plain access to memory another process
//! may write is a data race, so every safe access here is atomic per element (see
//! [`RawValue`](crate::RawValue)); the `unsafe` plain views leave the proof to the caller.

mod elements;
mod slice;

use std::any::type_name;
use std::fmt;

use bytemuck::Pod;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::header::{self, Kind, Layout};
use crate::{Error, Segment, transfer};
use elements::Elements;
pub use slice::RawSlice;

/// A fixed-length array of plain data in shared memory with no lock, as Python's
/// `multiprocessing.RawArray(typecode, size_or_values)` and
/// `multiprocessing.Array(typecode, size_or_values, lock=False)` (which returns a
/// `RawArray` in Python too). [`Array`](crate::Array) is the same with one lock for the
/// whole array.
///
/// The user synchronises. Every element access is an atomic load or store of the element's
/// alignment (at most 8 bytes at a time: a `u64` or `f64` is never torn), so a read that
/// races a write in another process is sound and sees the old or the new element; what
/// orders them is the user's lock, event, or join.
///
/// Several processes fill one array without any lock by taking disjoint parts:
/// [`split`](RawArray::split) cuts it into `n` [`RawSlice`]s of nearly equal length,
/// [`chunks`](RawArray::chunks) into slices of a given length, as `slice::chunks_mut` does
/// for a local slice. Each slice handle reaches only its own elements, is not `Clone`, and
/// is moved to the one process that writes it.
///
/// ```
/// use mp_shared_mem::RawArray;
///
/// let squares = RawArray::<u64>::zeroed(100)?;
/// for mut part in squares.split(4)? {
///     // each part would go to its own process; here they run one after the other
///     let first = part.start() as u64;
///     part.with_mut(|elements| {
///         for (i, x) in elements.iter_mut().enumerate() {
///             *x = (first + i as u64).pow(2);
///         }
///     });
/// }
/// assert_eq!(squares.get(9)?, 81);
/// assert_eq!(squares.to_vec().iter().sum::<u64>(), (0..100u64).map(|i| i * i).sum());
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub struct RawArray<T: Pod> {
    elements: Elements<T>,
}

impl<T: Pod> RawArray<T> {
    /// A new shared array of `len` zeroes (all bits zero; the memory comes zeroed from the
    /// kernel), as Python's `RawArray('d', 10)`.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<f64>::zeroed(10)?;
    /// assert_eq!(a.to_vec(), [0.0; 10]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn zeroed(len: usize) -> Result<Self, Error> {
        let layout = Self::layout(len)?;
        let segment = Segment::new(layout.size)?;
        layout.write_header(&segment)?;
        let data = segment.ptr_at::<T>(layout.data_offset)?;
        tracing::debug!(type_name = type_name::<T>(), len, "RawArray created");
        // SAFETY: the layout reserves `len` elements of `T` at `data_offset` (aligned for
        // `T`) inside the segment; every handle to them reaches them through `Elements`.
        let elements = unsafe { Elements::new(segment, data, len) };
        Ok(Self { elements })
    }

    /// A new shared array holding a copy of `values`, as Python's `RawArray('i', [1, 2])`.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1i32, 2])?;
    /// assert_eq!(a.to_vec(), [1, 2]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<Self, Error> {
        let array = Self::zeroed(values.len())?;
        array.write_at(0, values)?;
        Ok(array)
    }

    /// The array in a segment made by `RawArray::<T>` ([`Error::TypeMismatch`] if it holds
    /// something else, an [`Array`](crate::Array) included); its length comes from the
    /// segment.
    ///
    /// ```
    /// use mp_shared_mem::{Array, Error, RawArray};
    ///
    /// let a = RawArray::from_slice(&[7u8; 5])?;
    /// assert_eq!(RawArray::<u8>::from_segment(a.segment().clone())?.len(), 5);
    /// let locked = Array::from_slice(&[7u8; 5])?;
    /// assert!(matches!(
    ///     RawArray::<u8>::from_segment(locked.segment().clone()),
    ///     Err(Error::TypeMismatch { .. })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_segment(segment: Segment) -> Result<Self, Error> {
        let len = header::recorded_len(&segment)?;
        let layout = Self::layout(len)?;
        layout.check(&segment)?;
        let data = segment.ptr_at::<T>(layout.data_offset)?;
        // SAFETY: `check` confirmed a `RawArray<T>` of `len` elements made by `zeroed`,
        // whose layout places them at `data_offset` inside the segment.
        let elements = unsafe { Elements::new(segment, data, len) };
        Ok(Self { elements })
    }

    /// The number of elements (Python's `len(a)`).
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::RawArray::<u8>::zeroed(9)?.len(), 9);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.elements.len
    }

    /// Whether it has no elements.
    ///
    /// ```
    /// assert!(mp_shared_mem::RawArray::<u8>::zeroed(0)?.is_empty());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.elements.len == 0
    }

    /// Element `index` (Python's `a[i]`); [`Error::IndexOutOfRange`] past the end.
    ///
    /// ```
    /// use mp_shared_mem::{Error, RawArray};
    ///
    /// let a = RawArray::from_slice(&[3u8, 4])?;
    /// assert_eq!(a.get(1)?, 4);
    /// assert_eq!(a.get(2), Err(Error::IndexOutOfRange { index: 2, len: 2 }));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.elements.get(index)
    }

    /// Stores element `index` (Python's `a[i] = x`); errors as [`get`](RawArray::get).
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(2)?;
    /// a.set(1, 8)?;
    /// assert_eq!(a.to_vec(), [0, 8]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: T) -> Result<(), Error> {
        self.elements.set(index, value)
    }

    /// Copies the elements from `start` into `out` (Python's `a[start:start + n]`);
    /// [`Error::RangeOutOfBounds`] past the end.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1u32, 2, 3, 4])?;
    /// let mut middle = [0; 2];
    /// a.read_at(1, &mut middle)?;
    /// assert_eq!(middle, [2, 3]);
    /// assert!(a.read_at(3, &mut middle).is_err());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn read_at(&self, start: usize, out: &mut [T]) -> Result<(), Error> {
        self.elements.read_at(start, out)
    }

    /// Copies `data` into the elements from `start` (Python's `a[start:start + n] = data`);
    /// [`Error::RangeOutOfBounds`] past the end.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<i16>::zeroed(4)?;
    /// a.write_at(2, &[-1, -2])?;
    /// assert_eq!(a.to_vec(), [0, 0, -1, -2]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn write_at(&self, start: usize, data: &[T]) -> Result<(), Error> {
        self.elements.write_at(start, data)
    }

    /// A copy of all elements (Python's `a[:]`).
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1u16, 2])?;
    /// assert_eq!(a.to_vec(), vec![1, 2]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.elements.to_vec()
    }

    /// Cuts the array into `parts` disjoint [`RawSlice`]s covering it in order, of nearly
    /// equal length (the first `len % parts` have one element more; with more parts than
    /// elements, the last ones are empty). [`Error::ZeroPieces`] for 0 parts.
    ///
    /// The slices of one call never overlap, so processes that each hold one write without
    /// a lock and lose nothing. Another call, or this handle, can still reach the same
    /// elements: that is the user's synchronisation to keep.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(10)?;
    /// let parts = a.split(3)?;
    /// let ranges: Vec<_> = parts.iter().map(|p| p.range()).collect();
    /// assert_eq!(ranges, [0..4, 4..7, 7..10]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn split(&self, parts: usize) -> Result<Vec<RawSlice<T>>, Error> {
        if parts == 0 {
            return Err(Error::ZeroPieces);
        }
        let (base, longer) = (self.len() / parts, self.len() % parts);
        let mut start = 0;
        (0..parts)
            .map(|part| {
                let count = base + usize::from(part < longer);
                let slice = RawSlice::new(self.elements.part(start, count)?, start);
                start += count;
                Ok(slice)
            })
            .collect()
    }

    /// Cuts the array into disjoint [`RawSlice`]s of `chunk_len` elements in order, the last
    /// one shorter if `chunk_len` does not divide the length, as `slice::chunks_mut`.
    /// [`Error::ZeroPieces`] for a `chunk_len` of 0; no slices for an empty array.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(5)?;
    /// let lengths: Vec<_> = a.chunks(2)?.iter().map(|c| c.len()).collect();
    /// assert_eq!(lengths, [2, 2, 1]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn chunks(&self, chunk_len: usize) -> Result<Vec<RawSlice<T>>, Error> {
        if chunk_len == 0 {
            return Err(Error::ZeroPieces);
        }
        (0..self.len())
            .step_by(chunk_len)
            .map(|start| {
                let count = chunk_len.min(self.len() - start);
                Ok(RawSlice::new(self.elements.part(start, count)?, start))
            })
            .collect()
    }

    /// The elements as a plain slice, for the fastest reads (a bulk sum, once the writers
    /// are joined).
    ///
    /// # Safety
    ///
    /// While the slice is alive, no thread or process may write the array (through any
    /// handle, a [`RawSlice`] included): that would change memory Rust assumes frozen.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1u64, 2, 3])?;
    /// // SAFETY: the array is new and not shared; nothing writes it meanwhile.
    /// let sum: u64 = unsafe { a.as_slice() }.iter().sum();
    /// assert_eq!(sum, 6);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[T] {
        // SAFETY: `len` elements of `T`, aligned, inside the mapping kept alive by `self`;
        // every bit pattern is a `T` (`Pod`); the caller promises no writer meanwhile.
        unsafe { std::slice::from_raw_parts(self.elements.first().as_ptr(), self.len()) }
    }

    /// The elements as a mutable plain slice, for the fastest writes.
    ///
    /// # Safety
    ///
    /// While the slice is alive, no other thread or process may read or write the array,
    /// through any handle.
    ///
    /// ```
    /// let mut a = mp_shared_mem::RawArray::<u8>::zeroed(3)?;
    /// // SAFETY: the array is new and not shared; no one else uses it meanwhile.
    /// unsafe { a.as_mut_slice() }.copy_from_slice(b"abc");
    /// assert_eq!(a.to_vec(), b"abc");
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub unsafe fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, borrowed mutably; the caller promises exclusive use.
        unsafe { std::slice::from_raw_parts_mut(self.elements.first().as_ptr(), self.len()) }
    }

    /// The segment that holds the elements.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u64>::zeroed(1000)?;
    /// assert!(a.segment().size() >= 8000);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.elements.segment
    }

    fn layout(len: usize) -> Result<Layout, Error> {
        Layout::new::<T>(Kind::RawArray, type_name::<T>(), len)
    }
}

impl<T: Pod> Clone for RawArray<T> {
    /// Another handle to the same elements.
    fn clone(&self) -> Self {
        Self {
            elements: self.elements.clone(),
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawArray")
            .field("len", &self.len())
            .field("elements", &self.to_vec())
            .finish()
    }
}

impl<T: Pod> Serialize for RawArray<T> {
    /// Serializes the segment: works inside [`transfer::encode`] only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.elements.segment.serialize(serializer)
    }
}

impl<'de, T: Pod> Deserialize<'de> for RawArray<T> {
    /// Maps the received segment and checks that it holds a `RawArray<T>`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = Segment::deserialize(deserializer)?;
        RawArray::from_segment(segment).map_err(transfer::reject_with)
    }
}
