//! A value in memory that a forked child shares with its parent: an anonymous
//! `MAP_SHARED` mapping, inherited across `fork`, gone with the last process that maps
//! it, so it can never leak a file.

use std::num::NonZeroUsize;
use std::ops::Deref;
use std::ptr::NonNull;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous, munmap};

use crate::Error;

/// The alignment every mapping has (a page).
const PAGE: usize = 4096;

/// A `T` placed in an anonymous `MAP_SHARED` mapping: a forked child shares it with the
/// parent. Dropped in place and unmapped on drop (the child's copy goes with the child).
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use test_support::{SharedMapping, spawn_child};
///
/// let word = SharedMapping::new(AtomicU32::new(1));
/// let mut child = spawn_child(|| {
///     word.fetch_add(41, Ordering::SeqCst);
///     Ok(())
/// });
/// assert_eq!(child.join(), 0);
/// assert_eq!(word.load(Ordering::SeqCst), 42);
/// ```
pub struct SharedMapping<T> {
    value: NonNull<T>,
    len: NonZeroUsize,
}

// SAFETY: the mapping is only ever reached through `&T` (`Deref`), so sharing a
// `SharedMapping<T>` between threads shares `&T`, which `T: Sync` allows.
unsafe impl<T: Sync> Sync for SharedMapping<T> {}

// SAFETY: moving the handle to another thread moves the ownership of the `T` (dropped
// there), which `T: Send` allows; other handles to it do not exist in this process.
unsafe impl<T: Send> Send for SharedMapping<T> {}

impl<T> SharedMapping<T> {
    /// Maps fresh shared memory and moves `value` into it; panics (failing the test) if
    /// the mapping cannot be made.
    ///
    /// ```
    /// let flag = test_support::SharedMapping::new(7_u64);
    /// assert_eq!(*flag, 7);
    /// ```
    pub fn new(value: T) -> Self {
        Self::try_new(value).expect("map shared memory")
    }

    /// [`SharedMapping::new`] for callers that report failures instead of panicking.
    ///
    /// ```
    /// let flag = test_support::SharedMapping::try_new(7_u64)?;
    /// assert_eq!(*flag, 7);
    /// # Ok::<(), test_support::Error>(())
    /// ```
    pub fn try_new(value: T) -> Result<Self, Error> {
        let align = align_of::<T>();
        if align > PAGE {
            return Err(Error::Alignment { align });
        }
        // A zero-sized T still gets a page: mmap rejects a zero length.
        let len = NonZeroUsize::new(size_of::<T>()).unwrap_or(NonZeroUsize::MIN);
        // SAFETY: a new anonymous mapping with no address hint: the kernel picks fresh
        // pages that alias no existing Rust object, so making it invalidates no reference.
        let pages = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        }
        .map_err(Error::Map)?;
        let value_ptr = pages.cast::<T>();
        // SAFETY: the mapping is readable and writable, page-aligned (enough for `T`,
        // checked above), at least `size_of::<T>()` bytes long, and nothing else refers
        // to it yet.
        unsafe { value_ptr.as_ptr().write(value) };
        Ok(Self {
            value: value_ptr,
            len,
        })
    }
}

impl<T> Deref for SharedMapping<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `try_new` initialised the value, and it stays mapped until `drop`; only
        // shared references are ever handed out.
        unsafe { self.value.as_ref() }
    }
}

impl<T> Drop for SharedMapping<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` proves no reference from `deref` is still alive in this
        // process; the value was initialised by `try_new` and is dropped once, here.
        unsafe { self.value.as_ptr().drop_in_place() };
        // SAFETY: the address and length are exactly those of the mapping made in
        // `try_new`, and nothing in this process refers to it any more.
        let unmapped = unsafe { munmap(self.value.cast(), self.len.get()) };
        if let Err(err) = unmapped {
            // Panicking in drop would abort an unwinding test; report and go on.
            eprintln!("munmap failed: {err}");
        }
    }
}
