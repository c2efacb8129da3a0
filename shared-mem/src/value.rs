//! `Value<T>`: Python's synchronized `multiprocessing.Value`.

use std::any::type_name;
use std::fmt;
use std::ptr::NonNull;
use std::time::Duration;

use bytemuck::Pod;
use mp_sync::{LockResult, Mutex, MutexGuard, TryLockResult};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::header::{Kind, Layout};
use crate::{Error, Segment, transfer};

/// One plain-data value in shared memory under a lock, as Python's
/// `multiprocessing.Value(typecode, value)`.
///
/// [`get`](Value::get) and [`set`](Value::set) take the lock for one read or write, like
/// Python's `v.value`; [`lock`](Value::lock) holds it for a compound update (Python's
/// `with v.get_lock(): v.value += 1`) and derefs to the value. The lock is mp-sync's
/// [`Mutex`]: if a process dies holding it, the next locker is told
/// ([`Err(OwnerDied)`](mp_sync::OwnerDied), and [`Error::Lock`] from `get`/`set`) instead of
/// waiting forever as Python does.
///
/// Share it with a child by `fork` (a clone is inherited) or through [`transfer`].
///
/// ```
/// use mp_shared_mem::{Error, Value};
///
/// fn add_one(counter: &Value<i32>) -> Result<(), Error> {
///     *counter.lock()? += 1;
///     Ok(())
/// }
///
/// let counter = Value::new(0i32)?;
/// add_one(&counter)?;
/// counter.set(counter.get()? * 10)?;
/// assert_eq!(counter.get()?, 10);
/// # Ok::<(), Error>(())
/// ```
pub struct Value<T: Pod> {
    segment: Segment,
    cell: NonNull<Mutex<T>>,
}

// SAFETY: a `Value<T>` gives access to `T` only through the mutex, which hands out `&mut T`
// to one thread at a time; that moves `T` between threads, which `T: Send` allows.
unsafe impl<T: Pod + Send> Send for Value<T> {}
// SAFETY: as for `Send`: `&Value<T>` is `&Mutex<T>`, which is `Sync` for `T: Send`.
unsafe impl<T: Pod + Send> Sync for Value<T> {}

impl<T: Pod> Value<T> {
    /// A new shared value, unlocked.
    ///
    /// ```
    /// let flag = mp_shared_mem::Value::new(1u8)?;
    /// assert_eq!(flag.get()?, 1);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Self, Error> {
        let layout = Self::layout()?;
        let segment = Segment::new(layout.size)?;
        layout.write_header(&segment)?;
        let cell = segment.ptr_at::<Mutex<T>>(layout.data_offset)?;
        // SAFETY: the segment is fresh, seen by no one else, and `Layout` placed
        // `data_offset` inside it aligned for `Mutex<T>`: `cell` is valid for this write.
        unsafe { cell.as_ptr().write(Mutex::new(value)) };
        tracing::debug!(type_name = type_name::<T>(), "Value created");
        Ok(Self { segment, cell })
    }

    /// The value in a segment made by `Value::<T>::new` ([`Error::TypeMismatch`] if it holds
    /// something else).
    ///
    /// ```
    /// let v = mp_shared_mem::Value::new(5u16)?;
    /// let again = mp_shared_mem::Value::<u16>::from_segment(v.segment().clone())?;
    /// assert_eq!(again.get()?, 5);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn from_segment(segment: Segment) -> Result<Self, Error> {
        let layout = Self::layout()?;
        layout.check(&segment)?;
        let cell = segment.ptr_at::<Mutex<T>>(layout.data_offset)?;
        Ok(Self { segment, cell })
    }

    /// Reads the value under the lock. If a holder died, fails with
    /// [`Error::Lock`]`(OwnerDied)` until someone [`clear_poison`](Value::clear_poison)s (read
    /// it anyway through [`lock`](Value::lock)).
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::Value::new(2.5f64)?.get()?, 2.5);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        Ok(*self.lock()?)
    }

    /// Writes the value under the lock; as [`get`](Value::get) if a holder died (nothing is
    /// written then).
    ///
    /// ```
    /// let v = mp_shared_mem::Value::new(0u64)?;
    /// v.set(9)?;
    /// assert_eq!(v.get()?, 9);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set(&self, value: T) -> Result<(), Error> {
        *self.lock()? = value;
        Ok(())
    }

    /// Blocks until the calling thread holds the lock; the guard derefs to the value.
    ///
    /// `Err(OwnerDied(guard))` still holds the lock, and says a previous holder died holding
    /// it (the value may be half-updated); see [`mp_sync::LockResult`].
    ///
    /// ```
    /// let v = mp_shared_mem::Value::new(10i64)?;
    /// {
    ///     let mut guard = v.lock().unwrap();
    ///     *guard -= 3;
    ///     *guard *= 2;
    /// }
    /// assert_eq!(v.get()?, 14);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.mutex().lock()
    }

    /// Takes the lock if it is free, without waiting (else `Err(TryLockError::WouldBlock)`).
    ///
    /// ```
    /// use mp_sync::TryLockError;
    /// let v = mp_shared_mem::Value::new(0u8)?;
    /// let held = v.lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(matches!(v.try_lock(), Err(TryLockError::WouldBlock))));
    /// });
    /// # drop(held);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        self.mutex().try_lock()
    }

    /// Blocks until the lock is held or `timeout` elapses (then
    /// `Err(TryLockError::TimedOut)`). `Duration::ZERO` tries once; `Duration::MAX` waits
    /// for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sync::TryLockError;
    /// let v = mp_shared_mem::Value::new(0u8)?;
    /// let held = v.lock().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let waited = v.lock_timeout(Duration::from_millis(5));
    ///         assert!(matches!(waited, Err(TryLockError::TimedOut)));
    ///     });
    /// });
    /// # drop(held);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> TryLockResult<MutexGuard<'_, T>> {
        self.mutex().lock_timeout(timeout)
    }

    /// Whether a holder died holding the lock since the last
    /// [`clear_poison`](Value::clear_poison).
    ///
    /// ```
    /// assert!(!mp_shared_mem::Value::new(0u8)?.is_poisoned());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.mutex().is_poisoned()
    }

    /// Clears the owner-died mark, once the value is known to be right again.
    ///
    /// ```
    /// mp_shared_mem::Value::new(0u8)?.clear_poison();
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn clear_poison(&self) {
        self.mutex().clear_poison();
    }

    /// The segment that holds the value and its lock.
    ///
    /// ```
    /// let v = mp_shared_mem::Value::new(0u8)?;
    /// assert!(v.segment().size() >= 256);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    fn mutex(&self) -> &Mutex<T> {
        // SAFETY: `cell` points into the mapping kept alive by `self.segment`, at an offset
        // checked against its size and aligned for `Mutex<T>`; the creator wrote a
        // `Mutex<T>` there (checked by fingerprint on receipt). Any bits another process can
        // leave in it are valid: `T` is `Pod` and the mutex copes with any lock word. Only
        // shared references are made, and the mutex is `Sync`.
        unsafe { self.cell.as_ref() }
    }

    fn layout() -> Result<Layout, Error> {
        Layout::new::<Mutex<T>>(Kind::Value, type_name::<T>(), 1)
    }
}

impl<T: Pod> Clone for Value<T> {
    fn clone(&self) -> Self {
        Self {
            segment: self.segment.clone(),
            cell: self.cell,
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Value").field(self.mutex()).finish()
    }
}

impl<T: Pod> Serialize for Value<T> {
    /// Serializes the segment: works inside [`transfer::encode`] only.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.segment.serialize(serializer)
    }
}

impl<'de, T: Pod> Deserialize<'de> for Value<T> {
    /// Maps the received segment and checks that it holds a `Value<T>`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let segment = Segment::deserialize(deserializer)?;
        Value::from_segment(segment).map_err(transfer::reject_with)
    }
}
