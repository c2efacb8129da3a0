//! `Shared<T>`: the process-level `Arc<T>`.

use std::any::type_name;
use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::header::{Kind, Layout};
use crate::{Error, Segment, ShmSafe, transfer};

/// A `T` in memory shared between processes: the process-level `Arc<T>`.
///
/// `Shared::new(value)` moves `value` into a fresh [`Segment`]; every clone, in this
/// process or in another, derefs to that one `T`. Give it to another process by `fork`
/// (the child inherits the mapping) or through [`transfer`] (a Unix socket, or inherited
/// descriptors); the receiver checks the type recorded by the creator and refuses a
/// `Shared<U>` decoded from a `Shared<T>` with [`Error::TypeMismatch`].
///
/// Only `&T` is ever handed out, so shared state changes through atomics or mp-sync
/// primitives, as with `Arc`. The memory is freed when the last holder in any process lets
/// go; the `T` itself is never dropped (no process can know it is the last), which is why
/// [`ShmSafe`] types have no destructor that matters.
///
/// ```
/// use mp_shared_mem::Shared;
/// use mp_sync::Lock;
///
/// let lock = Shared::new(Lock::new())?;
/// let for_child = lock.clone();
/// {
///     let _held = for_child.lock().unwrap();
///     assert!(lock.locked());
/// }
/// assert!(!lock.locked());
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub struct Shared<T: ShmSafe> {
    segment: Segment,
    value: NonNull<T>,
}

// SAFETY: a `Shared<T>` gives only `&T`, from any thread that holds it; `T: ShmSafe`
// includes `T: Sync`, which is what sharing `&T` between threads needs. The value is
// never dropped, so no thread needs to own a `T`.
unsafe impl<T: ShmSafe> Send for Shared<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: ShmSafe> Sync for Shared<T> {}

impl<T: ShmSafe> Shared<T> {
    /// Moves `value` into new shared memory.
    ///
    /// Fails if the segment cannot be made ([`Error::Os`]: out of descriptors or memory), or
    /// `T` is aligned to more than a memory page ([`Error::UnsupportedAlignment`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicI32, Ordering};
    /// let hits = mp_shared_mem::Shared::new(AtomicI32::new(3))?;
    /// assert_eq!(hits.load(Ordering::Relaxed), 3);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Self, Error> {
        let layout = Self::layout()?;
        let segment = Segment::new(layout.size)?;
        layout.write_header(&segment)?;
        let slot = Self::value_ptr(&segment, &layout)?;
        // SAFETY: the segment is fresh (no other process or handle can see it yet) and
        // `layout.size` bytes long, and `Layout::new` placed `data_offset` inside it,
        // aligned for `T` (the mapping is page-aligned and `align_of::<T>()` is at most a
        // page), so `slot` is valid for a write of one `T`.
        unsafe { slot.as_ptr().write(value) };
        tracing::debug!(type_name = type_name::<T>(), "Shared created");
        Ok(Self {
            segment,
            value: slot,
        })
    }

    /// The `T` in a segment made by `Shared::<T>::new`, such as one received by
    /// [`Segment`]'s `Deserialize`.
    ///
    /// Fails with [`Error::TypeMismatch`] if the segment was made for another type, and
    /// [`Error::NotASegment`] if it is not a `Shared` at all.
    ///
    /// ```
    /// use mp_shared_mem::{Error, Shared};
    ///
    /// let original = Shared::new(42u64)?;
    /// let again = Shared::<u64>::from_segment(original.segment().clone())?;
    /// assert_eq!(*again, 42);
    /// assert!(matches!(
    ///     Shared::<i64>::from_segment(original.segment().clone()),
    ///     Err(Error::TypeMismatch { .. })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn from_segment(segment: Segment) -> Result<Self, Error> {
        let layout = Self::layout()?;
        layout.check(&segment)?;
        let value = Self::value_ptr(&segment, &layout)?;
        Ok(Self { segment, value })
    }

    /// The segment that holds the value.
    ///
    /// ```
    /// let shared = mp_shared_mem::Shared::new(0u8)?;
    /// assert!(shared.segment().size() > 0);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    /// Whether two handles point at the same memory in this process's mapping (clones of
    /// one another), as `Arc::ptr_eq`. Handles mapped separately (received through
    /// [`transfer`]) are not equal even when they share the memory.
    ///
    /// ```
    /// let a = mp_shared_mem::Shared::new(1u8)?;
    /// let b = a.clone();
    /// assert!(mp_shared_mem::Shared::ptr_eq(&a, &b));
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        this.value == other.value
    }

    fn layout() -> Result<Layout, Error> {
        Layout::new::<T>(Kind::Shared, type_name::<T>(), 1)
    }

    fn value_ptr(segment: &Segment, layout: &Layout) -> Result<NonNull<T>, Error> {
        segment.ptr_at(layout.data_offset)
    }
}

impl<T: ShmSafe> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `value` points into the mapping that `self.segment` keeps alive, at an
        // offset checked against the segment's size and aligned for `T`; it holds a `T`
        // written by the creator (checked by type fingerprint, size and alignment on
        // receipt), and only shared references are ever made to it, which `T: Sync` allows
        // from any thread of any process.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ShmSafe> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self {
            segment: self.segment.clone(),
            value: self.value,
        }
    }
}

impl<T: ShmSafe + fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shared").field(&**self).finish()
    }
}

impl<T: ShmSafe> Serialize for Shared<T> {
    /// Serializes the segment: works inside [`transfer::encode`] only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.segment.serialize(serializer)
    }
}

impl<'de, T: ShmSafe> Deserialize<'de> for Shared<T> {
    /// Maps the received segment and checks that it holds a `T`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = Segment::deserialize(deserializer)?;
        Shared::from_segment(segment).map_err(transfer::reject_with)
    }
}
