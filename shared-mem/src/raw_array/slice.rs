//! `RawSlice<T>`: one part of a [`RawArray`], for one process to write.

use std::fmt;
use std::ops::Range;

use bytemuck::Pod;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Elements, RawArray};
use crate::{Error, Segment, transfer};

/// A run of elements of a [`RawArray`], made by [`RawArray::split`] or
/// [`RawArray::chunks`], that reaches those elements only: Python's pattern of giving each
/// process its own part of a `RawArray`, with the parts kept apart by the type instead of
/// by index arithmetic in every process.
///
/// Indexes are relative to the slice ([`start`](RawSlice::start) is its first element's
/// index in the array). A slice is not `Clone`: move it into the one process (or thread)
/// that writes it, by `fork` (a closure that captures it), or through [`transfer`] (then
/// drop the sender's copy). The slices of one `split` never overlap, so their holders
/// write at the same time without a lock and lose nothing.
///
/// # Soundness
///
/// A slice hands out no `&mut [T]` into shared memory: after a fork or a transfer, a
/// second handle to the same bytes can exist in another process (the parent's copy of a
/// captured value, the array it was cut from), and Rust could not tell. Instead every
/// access is an atomic load or store per element (see [`RawArray`]), which is sound
/// whatever else touches the bytes. [`with_mut`](RawSlice::with_mut) gives the plain
/// `&mut [T]` that `chunks_mut` would, over a private copy that is stored back when the
/// closure returns: the speed of plain code in the loop, two copies around it.
///
/// ```
/// use mp_shared_mem::RawArray;
///
/// let samples = RawArray::<f64>::zeroed(6)?;
/// let [mut left, right] = <[_; 2]>::try_from(samples.split(2)?).unwrap();
/// left.with_mut(|xs| xs.fill(1.5));
/// right.set(0, 2.0)?; // element 3 of the array
/// assert_eq!(samples.to_vec(), [1.5, 1.5, 1.5, 2.0, 0.0, 0.0]);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub struct RawSlice<T: Pod> {
    elements: Elements<T>,
    start: usize,
}

impl<T: Pod> RawSlice<T> {
    pub(super) fn new(elements: Elements<T>, start: usize) -> Self {
        Self { elements, start }
    }

    /// The number of elements.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(5)?;
    /// assert_eq!(a.chunks(4)?[1].len(), 1);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.elements.len
    }

    /// Whether it has no elements (a [`split`](RawArray::split) into more parts than
    /// elements makes some).
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(1)?;
    /// assert!(a.split(2)?[1].is_empty());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.elements.len == 0
    }

    /// The index in the array of the slice's first element.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(10)?;
    /// assert_eq!(a.chunks(4)?[2].start(), 8);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn start(&self) -> usize {
        self.start
    }

    /// The indexes in the array that the slice covers.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(10)?;
    /// assert_eq!(a.split(2)?[1].range(), 5..10);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn range(&self) -> Range<usize> {
        self.start..self.start + self.elements.len
    }

    /// Element `index` of the slice; [`Error::IndexOutOfRange`] past its end.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1u8, 2, 3, 4])?;
    /// let right = &a.split(2)?[1];
    /// assert_eq!(right.get(0)?, 3);
    /// assert!(right.get(2).is_err());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.elements.get(index)
    }

    /// Stores element `index` of the slice; errors as [`get`](RawSlice::get).
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(4)?;
    /// a.split(2)?[1].set(1, 9)?;
    /// assert_eq!(a.to_vec(), [0, 0, 0, 9]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: T) -> Result<(), Error> {
        self.elements.set(index, value)
    }

    /// Copies the slice's elements from `start` into `out`; [`Error::RangeOutOfBounds`]
    /// past its end.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1u8, 2, 3, 4])?;
    /// let mut two = [0; 2];
    /// a.split(2)?[1].read_at(0, &mut two)?;
    /// assert_eq!(two, [3, 4]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn read_at(&self, start: usize, out: &mut [T]) -> Result<(), Error> {
        self.elements.read_at(start, out)
    }

    /// Copies `data` into the slice's elements from `start`; [`Error::RangeOutOfBounds`]
    /// past its end.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(4)?;
    /// let right = &a.split(2)?[1];
    /// right.write_at(0, &[5, 6])?;
    /// assert!(right.write_at(1, &[5, 6]).is_err()); // would reach past the slice
    /// assert_eq!(a.to_vec(), [0, 0, 5, 6]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn write_at(&self, start: usize, data: &[T]) -> Result<(), Error> {
        self.elements.write_at(start, data)
    }

    /// A copy of the slice's elements.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1u8, 2, 3])?;
    /// assert_eq!(a.chunks(2)?[0].to_vec(), [1, 2]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.elements.to_vec()
    }

    /// Runs `work` on a plain `&mut [T]` holding the slice's elements, then stores them
    /// back, and returns what `work` returned: `chunks_mut` for shared memory.
    ///
    /// The closure works on a private copy (see [Soundness](RawSlice#soundness)): it sees
    /// the elements as they were when it started, and when it returns, all of them are
    /// stored back, so a write to this range by someone else meanwhile is overwritten. The
    /// slices of one split never share elements, so that happens only if the array's own
    /// handle (or another split) writes here.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::from_slice(&[1i32, 2, 3, 4])?;
    /// let mut second_half = a.split(2)?.pop().unwrap();
    /// let sum = second_half.with_mut(|xs| {
    ///     xs.iter_mut().for_each(|x| *x *= 10);
    ///     xs.iter().sum::<i32>()
    /// });
    /// assert_eq!(sum, 70);
    /// assert_eq!(a.to_vec(), [1, 2, 30, 40]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn with_mut<R>(&mut self, work: impl FnOnce(&mut [T]) -> R) -> R {
        let mut local = self.elements.to_vec();
        let result = work(&mut local);
        // The copy has the slice's length, whatever `work` did with its elements.
        let stored = self.elements.write_at(0, &local);
        debug_assert!(stored.is_ok());
        result
    }

    /// The segment of the array the slice belongs to.
    ///
    /// ```
    /// let a = mp_shared_mem::RawArray::<u8>::zeroed(4)?;
    /// assert_eq!(a.split(2)?[0].segment().size(), a.segment().size());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.elements.segment
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for RawSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSlice")
            .field("range", &self.range())
            .field("elements", &self.to_vec())
            .finish()
    }
}

impl<T: Pod> Serialize for RawSlice<T> {
    /// Serializes the array's segment and the slice's range: works inside
    /// [`transfer::encode`] only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.elements.segment, self.start as u64, self.len() as u64).serialize(serializer)
    }
}

impl<'de, T: Pod> Deserialize<'de> for RawSlice<T> {
    /// Maps the received segment, checks that it holds a `RawArray<T>` and that the range
    /// lies inside it ([`Error::RangeOutOfBounds`] if not).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (segment, start, count) = <(Segment, u64, u64)>::deserialize(deserializer)?;
        let array = RawArray::<T>::from_segment(segment).map_err(transfer::reject_with)?;
        let out_of_bounds = || Error::RangeOutOfBounds {
            start: usize::try_from(start).unwrap_or(usize::MAX),
            count: usize::try_from(count).unwrap_or(usize::MAX),
            len: array.len(),
        };
        let (Ok(start), Ok(count)) = (usize::try_from(start), usize::try_from(count)) else {
            return Err(transfer::reject_with(out_of_bounds()));
        };
        let elements = array
            .elements
            .part(start, count)
            .map_err(transfer::reject_with)?;
        Ok(RawSlice::new(elements, start))
    }
}
