//! `Array<T>`: Python's synchronized `multiprocessing.Array`.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::time::Duration;

use bytemuck::Pod;
use mp_sync::{LockResult, Mutex, MutexGuard, OwnerDied, TryLockError, TryLockResult};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::header::{self, Kind, Layout};
use crate::{Error, Segment, transfer};

/// A fixed-length array of plain data in shared memory under one lock, as Python's
/// `multiprocessing.Array(typecode, values)`.
///
/// [`get`](Array::get), [`set`](Array::set) and [`to_vec`](Array::to_vec) take the lock
/// once each; [`lock`](Array::lock) holds it and derefs to a mutable slice, for compound
/// updates and bulk copies. The lock is mp-sync's [`Mutex`]: a process that dies holding it
/// is reported to the next locker (`Err(OwnerDied)`, or [`Error::Lock`] from the one-shot
/// methods), never a deadlock.
///
/// For Python's `Array(typecode, values, lock=False)` use [`RawArray`](crate::RawArray)
/// (what Python returns for it too): no lock, and disjoint slices that several processes
/// write at once.
///
/// ```
/// use mp_shared_mem::{Array, Error};
///
/// let squares = Array::from_slice(&[1u32, 2, 3])?;
/// for x in squares.lock()?.iter_mut() {
///     *x *= *x;
/// }
/// assert_eq!(squares.to_vec()?, [1, 4, 9]);
/// squares.set(0, 100)?;
/// assert_eq!(squares.get(0)?, 100);
/// assert_eq!(squares.get(3), Err(Error::IndexOutOfRange { index: 3, len: 3 }));
/// # Ok::<(), Error>(())
/// ```
pub struct Array<T: Pod> {
    segment: Segment,
    lock: NonNull<Mutex<()>>,
    data: NonNull<T>,
    len: usize,
}

// SAFETY: the elements are reached only under the mutex, one thread at a time; that moves
// `T`s between threads, which `T: Send` allows.
unsafe impl<T: Pod + Send> Send for Array<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Pod + Send> Sync for Array<T> {}

/// The lock of an [`Array`], held: derefs to the elements as a slice. Not `Send`: the lock
/// records the thread that holds it.
///
/// ```
/// let array = mp_shared_mem::Array::zeroed(4)?;
/// let mut guard = array.lock().unwrap();
/// guard.copy_from_slice(&[1u8, 2, 3, 4]);
/// assert_eq!(guard.iter().sum::<u8>(), 10);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArrayGuard<'a, T> {
    _lock: MutexGuard<'a, ()>,
    data: NonNull<T>,
    len: usize,
    _elements: PhantomData<&'a mut [T]>,
}

impl<T: Pod> Array<T> {
    /// A new shared array holding a copy of `values`.
    ///
    /// ```
    /// let a = mp_shared_mem::Array::from_slice(&[1.5f32, 2.5])?;
    /// assert_eq!(a.len(), 2);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<Self, Error> {
        let array = Self::zeroed(values.len())?;
        array.lock()?.copy_from_slice(values);
        Ok(array)
    }

    /// A new shared array of `len` zeroes (all bits zero, a valid `T` since `Pod` includes
    /// `Zeroable`). The memory comes zeroed from the kernel: no time is spent filling it.
    ///
    /// ```
    /// let a = mp_shared_mem::Array::<u64>::zeroed(3)?;
    /// assert_eq!(a.to_vec()?, [0, 0, 0]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn zeroed(len: usize) -> Result<Self, Error> {
        let layout = Self::layout(len)?;
        let segment = Segment::new(layout.size)?;
        layout.write_header(&segment)?;
        let lock = segment.ptr_at::<Mutex<()>>(layout.lock_offset)?;
        // SAFETY: the segment is fresh, seen by no one else; `Layout` put the lock at an
        // offset inside it aligned for `Mutex<()>` (a cache line after the header).
        unsafe { lock.as_ptr().write(Mutex::new(())) };
        let data = segment.ptr_at::<T>(layout.data_offset)?;
        tracing::debug!(type_name = type_name::<T>(), len, "Array created");
        Ok(Self {
            segment,
            lock,
            data,
            len,
        })
    }

    /// The array in a segment made by `Array::<T>` ([`Error::TypeMismatch`] if it holds
    /// something else); its length comes from the segment.
    ///
    /// ```
    /// let a = mp_shared_mem::Array::from_slice(&[7i8; 5])?;
    /// let again = mp_shared_mem::Array::<i8>::from_segment(a.segment().clone())?;
    /// assert_eq!(again.len(), 5);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn from_segment(segment: Segment) -> Result<Self, Error> {
        let len = header::recorded_len(&segment)?;
        let layout = Self::layout(len)?;
        layout.check(&segment)?;
        let lock = segment.ptr_at::<Mutex<()>>(layout.lock_offset)?;
        let data = segment.ptr_at::<T>(layout.data_offset)?;
        Ok(Self {
            segment,
            lock,
            data,
            len,
        })
    }

    /// The number of elements.
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::Array::<u8>::zeroed(9)?.len(), 9);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no elements.
    ///
    /// ```
    /// assert!(mp_shared_mem::Array::<u8>::zeroed(0)?.is_empty());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `index`, read under the lock. [`Error::IndexOutOfRange`] past the end,
    /// [`Error::Lock`] if a holder died (see [`Array::lock`]).
    ///
    /// ```
    /// let a = mp_shared_mem::Array::from_slice(&[3u8, 4])?;
    /// assert_eq!(a.get(1)?, 4);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.check_index(index)?;
        let guard = self.lock()?;
        guard.get(index).copied().ok_or(Error::IndexOutOfRange {
            index,
            len: self.len,
        })
    }

    /// Writes element `index` under the lock; errors as [`get`](Array::get).
    ///
    /// ```
    /// let a = mp_shared_mem::Array::<u8>::zeroed(2)?;
    /// a.set(1, 8)?;
    /// assert_eq!(a.to_vec()?, [0, 8]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: T) -> Result<(), Error> {
        self.check_index(index)?;
        let mut guard = self.lock()?;
        let slot = guard.get_mut(index).ok_or(Error::IndexOutOfRange {
            index,
            len: self.len,
        })?;
        *slot = value;
        Ok(())
    }

    /// A copy of all elements, taken under the lock.
    ///
    /// ```
    /// let a = mp_shared_mem::Array::from_slice(&[1u16, 2])?;
    /// assert_eq!(a.to_vec()?, vec![1, 2]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<T>, Error> {
        Ok(self.lock()?.to_vec())
    }

    /// Blocks until the calling thread holds the lock; the guard derefs to `[T]`.
    ///
    /// `Err(OwnerDied(guard))` still holds the lock, and says a previous holder died
    /// holding it (the elements may be half-updated); see [`mp_sync::LockResult`].
    ///
    /// ```
    /// let a = mp_shared_mem::Array::from_slice(&[1i32, 2, 3])?;
    /// a.lock().unwrap().reverse();
    /// assert_eq!(a.to_vec()?, [3, 2, 1]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        match self.mutex().lock() {
            Ok(guard) => Ok(self.guard(guard)),
            Err(died) => Err(OwnerDied::new(self.guard(died.into_inner()))),
        }
    }

    /// Takes the lock if it is free, without waiting (else `Err(TryLockError::WouldBlock)`).
    ///
    /// ```
    /// use mp_sync::TryLockError;
    /// let a = mp_shared_mem::Array::<u8>::zeroed(1)?;
    /// let held = a.lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(matches!(a.try_lock(), Err(TryLockError::WouldBlock))));
    /// });
    /// # drop(held);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn try_lock(&self) -> TryLockResult<ArrayGuard<'_, T>> {
        self.map_try(self.mutex().try_lock())
    }

    /// Blocks until the lock is held or `timeout` elapses (then
    /// `Err(TryLockError::TimedOut)`). `Duration::ZERO` tries once; `Duration::MAX` waits
    /// for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sync::TryLockError;
    /// let a = mp_shared_mem::Array::<u8>::zeroed(1)?;
    /// let held = a.lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let waited = a.lock_timeout(Duration::from_millis(5));
    ///         assert!(matches!(waited, Err(TryLockError::TimedOut)));
    ///     });
    /// });
    /// # drop(held);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> TryLockResult<ArrayGuard<'_, T>> {
        self.map_try(self.mutex().lock_timeout(timeout))
    }

    /// Whether a holder died holding the lock since the last
    /// [`clear_poison`](Array::clear_poison).
    ///
    /// ```
    /// assert!(!mp_shared_mem::Array::<u8>::zeroed(1)?.is_poisoned());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.mutex().is_poisoned()
    }

    /// Clears the owner-died mark, once the elements are known to be right again.
    ///
    /// ```
    /// mp_shared_mem::Array::<u8>::zeroed(1)?.clear_poison();
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn clear_poison(&self) {
        self.mutex().clear_poison();
    }

    /// The segment that holds the elements and their lock.
    ///
    /// ```
    /// let a = mp_shared_mem::Array::<u64>::zeroed(1000)?;
    /// assert!(a.segment().size() >= 8000);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    fn check_index(&self, index: usize) -> Result<(), Error> {
        if index < self.len {
            Ok(())
        } else {
            Err(Error::IndexOutOfRange {
                index,
                len: self.len,
            })
        }
    }

    fn mutex(&self) -> &Mutex<()> {
        // SAFETY: `lock` points into the mapping kept alive by `self.segment`, at the
        // offset the layout reserves for it (checked against the segment on receipt),
        // aligned for `Mutex<()>`, where the creator wrote one. Only shared references are
        // made; any lock word another process leaves is handled by the mutex.
        unsafe { self.lock.as_ref() }
    }

    fn guard<'a>(&'a self, lock: MutexGuard<'a, ()>) -> ArrayGuard<'a, T> {
        ArrayGuard {
            _lock: lock,
            data: self.data,
            len: self.len,
            _elements: PhantomData,
        }
    }

    fn map_try<'a>(
        &'a self,
        result: TryLockResult<MutexGuard<'a, ()>>,
    ) -> TryLockResult<ArrayGuard<'a, T>> {
        result
            .map(|guard| self.guard(guard))
            .map_err(|err| err.map(|guard| self.guard(guard)))
    }

    fn layout(len: usize) -> Result<Layout, Error> {
        Layout::new::<T>(Kind::Array, type_name::<T>(), len)
    }
}

impl<T> Deref for ArrayGuard<'_, T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `data` points at `len` elements inside the mapping that the array (which
        // outlives the guard) keeps alive, aligned for `T`; the guard holds the array's lock,
        // so no other thread or process is using them; every bit pattern is a valid `T`
        // (`Pod`, checked where guards are made).
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }
}

impl<T> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes this the only access through the guard.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
    }
}

impl<T: fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: Pod> Clone for Array<T> {
    fn clone(&self) -> Self {
        Self {
            segment: self.segment.clone(),
            lock: self.lock,
            data: self.data,
            len: self.len,
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Array");
        d.field("len", &self.len);
        match self.try_lock() {
            Ok(guard) => d.field("elements", &&*guard),
            Err(TryLockError::OwnerDied(died)) => d.field("elements", &&**died.get_ref()),
            Err(_) => d.field("elements", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Pod> Serialize for Array<T> {
    /// Serializes the segment: works inside [`transfer::encode`] only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.segment.serialize(serializer)
    }
}

impl<'de, T: Pod> Deserialize<'de> for Array<T> {
    /// Maps the received segment and checks that it holds an `Array<T>`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = Segment::deserialize(deserializer)?;
        Array::from_segment(segment).map_err(transfer::reject_with)
    }
}
