//! `RawValue<T>`: Python's `multiprocessing.RawValue`, a value in shared memory with no
//! lock.

use std::any::type_name;
use std::fmt;
use std::ptr::NonNull;

use bytemuck::Pod;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::atomic_elements;
use crate::header::{Kind, Layout};
use crate::{Error, Segment, transfer};

/// One plain-data value in shared memory with no lock, as Python's
/// `multiprocessing.RawValue(typecode, value)` (and `Value(typecode, value, lock=False)`).
///
/// The user synchronises: with an mp-sync lock kept beside it, an event, or by joining the
/// processes that write it. [`get`](RawValue::get) and [`set`](RawValue::set) are atomic
/// loads and stores of the value's alignment (at most 8 bytes at a time, so a `u64` or
/// `f64` is never torn, a larger struct may be), which keeps a read that races a write in
/// another process sound. `get` then `set` is not one step: two processes adding to the
/// value at once lose updates, as in Python; use [`Value`](crate::Value) for that, or an
/// atomic in a [`Shared`](crate::Shared).
///
/// Share it with a child by `fork` (a clone is inherited) or through [`transfer`].
///
/// ```
/// use mp_shared_mem::{RawValue, Shared};
/// use mp_sync::Lock;
///
/// let total = RawValue::new(0.0f64)?;
/// let lock = Shared::new(Lock::new())?; // the user's own synchronisation
/// {
///     let _held = lock.lock();
///     total.set(total.get() + 2.5);
/// }
/// assert_eq!(total.get(), 2.5);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub struct RawValue<T: Pod> {
    segment: Segment,
    value: NonNull<T>,
}

// SAFETY: the value is reached only through atomic loads and stores that copy `T`s in and
// out, which moves `T`s between threads: `T: Send` allows it.
unsafe impl<T: Pod + Send> Send for RawValue<T> {}
// SAFETY: as for `Send`; `&RawValue<T>` hands out no reference into the value.
unsafe impl<T: Pod + Send> Sync for RawValue<T> {}

impl<T: Pod> RawValue<T> {
    /// A new shared value holding `value`.
    ///
    /// ```
    /// let flag = mp_shared_mem::RawValue::new(7u8)?;
    /// assert_eq!(flag.get(), 7);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Self, Error> {
        let layout = Self::layout()?;
        let segment = Segment::new(layout.size)?;
        layout.write_header(&segment)?;
        let raw = Self {
            value: segment.ptr_at::<T>(layout.data_offset)?,
            segment,
        };
        raw.set(value);
        tracing::debug!(type_name = type_name::<T>(), "RawValue created");
        Ok(raw)
    }

    /// The value in a segment made by `RawValue::<T>` ([`Error::TypeMismatch`] if it holds
    /// something else).
    ///
    /// ```
    /// use mp_shared_mem::{Error, RawValue};
    ///
    /// let v = RawValue::new(5i32)?;
    /// let again = RawValue::<i32>::from_segment(v.segment().clone())?;
    /// assert_eq!(again.get(), 5);
    /// assert!(matches!(
    ///     RawValue::<u32>::from_segment(v.segment().clone()),
    ///     Err(Error::TypeMismatch { .. })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_segment(segment: Segment) -> Result<Self, Error> {
        let layout = Self::layout()?;
        layout.check(&segment)?;
        Ok(Self {
            value: segment.ptr_at::<T>(layout.data_offset)?,
            segment,
        })
    }

    /// The value now (Python's `v.value`). Atomic per aligned unit of at most 8 bytes; what
    /// it sees of a write made at the same time by another process depends on the user's
    /// synchronisation.
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::RawValue::new(-1i64)?.get(), -1);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn get(&self) -> T {
        // SAFETY: `value` points at one `T` at the offset the layout reserves for it
        // (aligned for `T`) inside the mapping that `self.segment` keeps alive; every access
        // of it, in every process, goes through `atomic_elements`.
        unsafe { atomic_elements::load(self.value) }
    }

    /// Stores `value` (Python's `v.value = x`), atomically per unit as [`get`](RawValue::get).
    ///
    /// ```
    /// let v = mp_shared_mem::RawValue::new(0u16)?;
    /// v.set(300);
    /// assert_eq!(v.get(), 300);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set(&self, value: T) {
        // SAFETY: as in `get`.
        unsafe { atomic_elements::store(self.value, value) }
    }

    /// The segment that holds the value.
    ///
    /// ```
    /// let v = mp_shared_mem::RawValue::new(1u8)?;
    /// assert!(v.segment().size() > 1);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    fn layout() -> Result<Layout, Error> {
        Layout::new::<T>(Kind::RawValue, type_name::<T>(), 1)
    }
}

impl<T: Pod> Clone for RawValue<T> {
    /// Another handle to the same value.
    fn clone(&self) -> Self {
        Self {
            segment: self.segment.clone(),
            value: self.value,
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue").field(&self.get()).finish()
    }
}

impl<T: Pod> Serialize for RawValue<T> {
    /// Serializes the segment: works inside [`transfer::encode`] only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.segment.serialize(serializer)
    }
}

impl<'de, T: Pod> Deserialize<'de> for RawValue<T> {
    /// Maps the received segment and checks that it holds a `RawValue<T>`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = Segment::deserialize(deserializer)?;
        RawValue::from_segment(segment).map_err(transfer::reject_with)
    }
}
