//! `ShmSafe`: the types that may live in memory shared between processes.

use std::sync::atomic::{
    AtomicBool, AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize, AtomicU8, AtomicU16,
    AtomicU32, AtomicU64, AtomicUsize,
};

/// Types that are valid in memory mapped by several processes at once.
///
/// [`Shared<T>`](crate::Shared) places a `T: ShmSafe` in a shared mapping and hands out
/// `&T` in every process that holds the segment. Implemented here for the primitive
/// numbers, `bool`, `char`, `()`, the atomics (not `AtomicPtr`), arrays of `ShmSafe`
/// types, and every primitive of mp-sync (`Lock`, `RLock`, `Mutex<T>`, `Condition<T>`,
/// `Semaphore`, `BoundedSemaphore`, `Event`, `Barrier`).
///
/// # Safety
///
/// Implementing it promises that a value of the type, placed in a mapping and then used
/// through `&Self` by several threads of several processes at once, stays sound:
///
/// - **Shared use is thread-safe**: the type is `Sync` (a supertrait), and its interior
///   mutability works on memory another process can see: atomics or mp-sync primitives,
///   never process-private locks such as `std::sync::Mutex` (it may use private futexes).
/// - **No pointers, references or handles into one process**: no `Box`, `Vec`, `String`,
///   `&T`, `Arc`, function pointers, trait objects, and no file descriptors. Their values
///   mean nothing in another address space or descriptor table.
/// - **No destructor that matters**: a value in shared memory is never dropped (no process
///   knows it is the last one), so a `Drop` impl would simply not run.
/// - **Same layout everywhere**: `#[repr(C)]` (or `#[repr(transparent)]`) for a struct,
///   so that processes built from different binaries agree on it.
/// - **Every bit pattern that the type's own safe API can produce**, from any process, is
///   a valid value; plain fields are never written after creation except through
///   interior mutability.
///
/// For a [`bytemuck::Pod`] struct, [`shm_safe_pod!`](crate::shm_safe_pod) checks all of
/// this at compile time and writes the `unsafe impl` for you. A blanket
/// `impl<T: Pod> ShmSafe for T` is not possible: the compiler would reject it next to the
/// impls for atomics and mp-sync types, which an upstream crate could one day make `Pod`.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use mp_shared_mem::{Shared, ShmSafe};
/// use mp_sync::Mutex;
///
/// #[repr(C)]
/// struct Stats {
///     requests: AtomicU64,
///     last_error: Mutex<[u8; 64]>,
/// }
///
/// // SAFETY: `#[repr(C)]`, made only of an atomic and a mp-sync mutex over plain bytes,
/// // both `ShmSafe`; no pointers, no descriptors, nothing to drop.
/// unsafe impl ShmSafe for Stats {}
///
/// let stats = Shared::new(Stats {
///     requests: AtomicU64::new(0),
///     last_error: Mutex::new([0; 64]),
/// })?;
/// stats.requests.fetch_add(1, Ordering::Relaxed);
/// assert_eq!(stats.requests.load(Ordering::Relaxed), 1);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub unsafe trait ShmSafe: Sync {}

macro_rules! shm_safe {
    ($($ty:ty),* $(,)?) => {$(
        // SAFETY: a primitive or an atomic over one: no pointers, no descriptors, no drop
        // glue; atomics synchronize through the memory itself, which all mappings share.
        unsafe impl ShmSafe for $ty {}
    )*};
}

shm_safe!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    (),
    AtomicBool,
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicUsize,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    AtomicIsize,
);

// SAFETY: an array has its element's properties, laid out back to back with no padding
// between elements beyond the element's own.
unsafe impl<T: ShmSafe, const N: usize> ShmSafe for [T; N] {}

// SAFETY: mp-sync types are `#[repr(C)]`, hold only futex words and counters (no pointers,
// no descriptors, no `Drop`), and wait on shared futexes, which the kernel keys by the
// mapped file and offset, so waiters and wakers in different processes meet. Their lock
// words record kernel thread or process ids, which mean the same in every process of one
// PID namespace.
unsafe impl ShmSafe for mp_sync::Lock {}
// SAFETY: as for `Lock`.
unsafe impl ShmSafe for mp_sync::RLock {}
// SAFETY: as for `Lock`; the guarded `T` is itself `ShmSafe`, and `Send` so that the
// mutex is `Sync`.
unsafe impl<T: ShmSafe + Send> ShmSafe for mp_sync::Mutex<T> {}
// SAFETY: as for `Mutex<T>`: a condition is a mutex plus a shared sequence counter.
unsafe impl<T: ShmSafe + Send> ShmSafe for mp_sync::Condition<T> {}
// SAFETY: as for `Lock`.
unsafe impl ShmSafe for mp_sync::Semaphore {}
// SAFETY: as for `Lock`.
unsafe impl ShmSafe for mp_sync::BoundedSemaphore {}
// SAFETY: as for `Lock`.
unsafe impl ShmSafe for mp_sync::Event {}
// SAFETY: as for `Lock`.
unsafe impl ShmSafe for mp_sync::Barrier {}

/// Marks `#[repr(C)]` plain-data types ([`bytemuck::Pod`] and `Sync`) as [`ShmSafe`],
/// checking both bounds at compile time.
///
/// `Pod` already promises what shared memory needs of plain data: no padding, no
/// interior mutability, no drop glue, and every bit pattern valid; `Sync` keeps out raw
/// pointers (which are `Pod` but meaningless in another process).
///
/// ```
/// use bytemuck::{Pod, Zeroable};
/// use mp_shared_mem::Shared;
///
/// #[derive(Clone, Copy, Pod, Zeroable)]
/// #[repr(C)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
/// mp_shared_mem::shm_safe_pod!(Point);
///
/// let origin = Shared::new(Point { x: 0.0, y: 0.0 })?;
/// assert_eq!(origin.x, 0.0);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
///
/// A type that is not `Pod` is refused:
///
/// ```compile_fail
/// #[repr(C)]
/// struct Named {
///     name: String,
/// }
/// mp_shared_mem::shm_safe_pod!(Named);
/// ```
#[macro_export]
macro_rules! shm_safe_pod {
    ($($ty:ty),+ $(,)?) => {$(
        const _: () = $crate::__private::assert_pod_and_sync::<$ty>();
        // SAFETY: the line above proves at compile time that the type is `bytemuck::Pod`
        // (no padding, no interior mutability, no drop glue, every bit pattern valid) and
        // `Sync` (so no raw pointers), which is everything `ShmSafe` asks of plain data.
        unsafe impl $crate::ShmSafe for $ty {}
    )+};
}

#[doc(hidden)]
pub mod __private {
    /// Compiles only for `Pod + Sync` types; used by [`shm_safe_pod!`](crate::shm_safe_pod).
    pub const fn assert_pod_and_sync<T: bytemuck::Pod + Sync>() {}
}
