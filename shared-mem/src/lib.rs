//! Memory shared between processes: anonymous segments, `Shared<T>` (the process-level
//! `Arc<T>`), Python's synchronized `Value` and `Array` and their lock-free `RawValue` and
//! `RawArray`, named blocks and `ShareableList`s that Python can attach to, and the handle
//! transfer by which anything owning a file descriptor crosses into another process.
//!
//! | Python | mp-shared-mem |
//! |---|---|
//! | `multiprocessing.Value('i', 0)` | [`Value::new(0i32)?`](Value::new) |
//! | `v.value`, `v.value = x` | [`v.get()?`](Value::get), [`v.set(x)?`](Value::set) |
//! | `with v.get_lock(): v.value += 1` | [`*v.lock()? += 1`](Value::lock) |
//! | `v.get_lock().acquire(timeout=t)`, `acquire(blocking=False)` | [`v.lock_timeout(t)`](Value::lock_timeout), [`v.try_lock()`](Value::try_lock): a guard, or `TryLockError::TimedOut` / `WouldBlock` (`.is_ok()` is Python's `True`) |
//! | `multiprocessing.Array('i', [1, 2])` | [`Array::from_slice(&[1, 2])?`](Array::from_slice) |
//! | `multiprocessing.Array('d', 10)` | [`Array::<f64>::zeroed(10)?`](Array::zeroed) |
//! | `a[i]`, `a[i] = x`, `a[:]`, `len(a)` | [`a.get(i)?`](Array::get), [`a.set(i, x)?`](Array::set), [`a.to_vec()?`](Array::to_vec), [`a.len()`](Array::len) |
//! | `with a.get_lock(): a[0] += a[1]` | `let mut g = a.lock()?; g[0] += g[1];` ([`Array::lock`]) |
//! | `multiprocessing.RawValue('d', 0.0)`, `Value('d', 0.0, lock=False)` | [`RawValue::new(0.0f64)?`](RawValue::new) |
//! | `r.value`, `r.value = x` (no lock) | [`r.get()`](RawValue::get), [`r.set(x)`](RawValue::set) |
//! | `multiprocessing.RawArray('d', 10)`, `Array('d', 10, lock=False)` | [`RawArray::<f64>::zeroed(10)?`](RawArray::zeroed) |
//! | `RawArray('i', [1, 2])`, `Array('i', [1, 2], lock=False)` | [`RawArray::from_slice(&[1, 2])?`](RawArray::from_slice) |
//! | `r[i]`, `r[i] = x`, `r[a:b]`, `r[a:b] = data` (no lock) | [`r.get(i)?`](RawArray::get), [`r.set(i, x)?`](RawArray::set), [`r.read_at(a, buf)?`](RawArray::read_at), [`r.write_at(a, data)?`](RawArray::write_at) |
//! | process `k` of `n` writing its own part of `r` | [`r.split(n)?`](RawArray::split) (or [`r.chunks(m)?`](RawArray::chunks)), slice `k` moved to process `k`, [`with_mut`](RawSlice::with_mut) there |
//! | `multiprocessing.Lock()` passed to a child | [`Shared::new(Lock::new())?`](Shared::new), `.clone()` to the child |
//! | `shared_memory.SharedMemory(create=True, size=n)` | [`SharedMemory::create(n)?`](SharedMemory::create) |
//! | `shared_memory.SharedMemory(name)` | [`SharedMemory::attach(name)?`](SharedMemory::attach) |
//! | `shm.buf[a:b]` / `shm.buf[a:b] = data` | [`shm.read_at(a, buf)?`](SharedMemory::read_at) / [`shm.write_at(a, data)?`](SharedMemory::write_at) |
//! | `bytes(shm.buf)` | [`shm.to_vec()`](SharedMemory::to_vec) |
//! | `shm.close()`, `shm.unlink()` | drop, [`shm.unlink()?`](SharedMemory::unlink) (the creator also unlinks on drop) |
//! | `shared_memory.ShareableList([1, 2.5, "a", None])` | [`ShareableList::create(&[1.into(), 2.5.into(), "a".into(), Item::None])?`](ShareableList::create) |
//! | `shared_memory.ShareableList(name=name)` | [`ShareableList::attach(name)?`](ShareableList::attach) |
//! | `sl[i]`, `sl[i] = v`, `sl.shm.name` | [`sl.get(i)?`](ShareableList::get), [`sl.set(i, v)?`](ShareableList::set), [`sl.name()`](ShareableList::name) |
//! | pickling a handle for another process | [`transfer::encode`] / [`transfer::decode`], [`transfer::send_value`] / [`transfer::recv_value`] |
//!
//! # The pieces
//!
//! - [`Segment`]: bytes in a `memfd` mapped `MAP_SHARED`. Anonymous, so it can never leak
//!   in `/dev/shm`: the kernel frees it when the last process holding it lets go, even by
//!   `kill -9`. Sealed against resizing, so no holder can make the others fault.
//! - [`Shared<T>`]: one `T` in a segment, handed out as `&T` in every process, as `Arc<T>`
//!   between threads. `T` must be [`ShmSafe`]: plain data, atomics, mp-sync primitives,
//!   or `#[repr(C)]` structs of those ([`shm_safe_pod!`] marks `Pod` structs).
//! - [`Value<T>`] and [`Array<T>`]: plain data (`bytemuck::Pod`) under an mp-sync lock, with
//!   Python's `get`/`set` and a `lock()` for compound updates. A process that dies holding
//!   the lock is reported to the next one (`OwnerDied`), never a deadlock.
//! - [`RawValue<T>`] and [`RawArray<T>`]: the same plain data with no lock, as Python's
//!   `RawValue`/`RawArray` (and `Value`/`Array` with `lock=False`): the user synchronises.
//!   Every access is atomic per element, so a race with another process is never undefined
//!   behaviour. [`RawArray::split`] and [`RawArray::chunks`] cut an array into disjoint
//!   [`RawSlice`]s, one per process, that fill their parts in parallel without any lock.
//! - [`SharedMemory`]: a named POSIX block, byte for byte what Python's
//!   `SharedMemory` sees under the same name. A block whose creator died without
//!   unlinking it is reaped as Python's resource tracker would, without a tracker process
//!   ([`SharedMemory::reap_orphans`]).
//! - [`ShareableList`]: a fixed-length list of [`Item`]s (int, float, bool, str, bytes,
//!   None) in a named block, laid out as Python's `ShareableList`, so a Python process
//!   attaches to it by name, and the reverse.
//! - [`transfer`]: how handles cross processes. Serialization puts their descriptors in a
//!   side table; bytes and descriptors go together over a Unix socket (`SCM_RIGHTS`) or
//!   are inherited; deserialization maps them again and checks the type.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::os::unix::net::UnixStream;
//! use mp_shared_mem::{Array, Shared, Value, transfer};
//!
//! let hits = Shared::new(AtomicU64::new(0))?;
//! let total = Value::new(0u64)?;
//! let samples = Array::<f32>::zeroed(1024)?;
//!
//! // Any process that receives these works on the same memory.
//! let (here, there) = UnixStream::pair().unwrap();
//! transfer::send_value(&here, &(hits.clone(), total.clone(), samples.clone()))?;
//! let (h, t, s): (Shared<AtomicU64>, Value<u64>, Array<f32>) =
//!     transfer::recv_value(&there, 4096)?;
//!
//! h.fetch_add(1, Ordering::Relaxed);
//! *t.lock()? += 10;
//! s.lock()?[0] = 0.5;
//!
//! assert_eq!(hits.load(Ordering::Relaxed), 1);
//! assert_eq!(total.get()?, 10);
//! assert_eq!(samples.get(0)?, 0.5);
//! # Ok::<(), mp_shared_mem::Error>(())
//! ```
//!
//! # Choices
//!
//! **Codec: postcard.** [`transfer`] serializes with postcard, not bitcode (and never
//! bincode). bitcode is fast through its own derive, which would not see our handles'
//! serde impls; through serde, postcard is the faster of the two on small records and on
//! a 64 KiB `Vec<u8>`, produces as few bytes, has a documented stable format, and no
//! build-time cost. mp-bench's `codec-small` and `codec-64k` rows compare them, and
//! Python's `pickle` (`cargo run --release -p mp-bench -- --filter codec`).
//!
//! **Type checks on receipt.** Every typed segment starts with a 256-byte header: a magic
//! number, the kind (`Shared`, `Value`, `Array`), the size, alignment and name of the
//! stored type and a hash of the name, the element count and the offsets. A receiver
//! recomputes all of it from the type it asks for, so a `Shared<u64>` decoded as a
//! `Shared<i64>` or an `Array<u32>` is refused with [`Error::TypeMismatch`]. Type names
//! come from [`std::any::type_name`], which is the same in every process of one build;
//! processes built differently should share only `#[repr(C)]` types under the same paths.
//!
//! **No destructor runs in shared memory.** No process can know it holds the last
//! reference, so the `T` of a `Shared<T>` is never dropped: the memory is simply freed.
//! [`ShmSafe`] asks for types whose drop does not matter.
//!
//! **Bytes anyone may write are atomics.** [`Segment::bytes`] and [`SharedMemory::bytes`]
//! give `&[AtomicU8]`, and `read_at`/`write_at` copy through them, so reading a block that
//! Python writes at the same time is never undefined behaviour. `Value` and `Array` hand
//! out plain `&mut T` only under their lock. `RawValue`, `RawArray` and `RawSlice` copy
//! elements through atomics of the element's alignment (at most 8 bytes, so a `u64` or
//! `f64` is never torn), and give plain slices only through `unsafe` methods or over a
//! private copy ([`RawSlice::with_mut`]).
//!
//! **No `&mut [T]` into a `RawSlice`.** The slices of one `split` are disjoint, but a fork
//! copies the parent's handles into the child and a transfer maps the segment again, so no
//! type can prove that its holder is the only process that reaches some bytes. The
//! slices' soundness therefore does not rest on their being disjoint but on the atomics;
//! being disjoint is what makes their parallel writes lose nothing without a lock.
//!
//! **`Array(..., lock=False)` is `RawArray`.** Python returns a `RawArray` for it too; an
//! [`Array`] always has its lock, so its guard can hand out a plain `&mut [T]`.
//!
//! **Descriptors are duplicated, not moved, on encode.** [`transfer::encode`] returns
//! `O_CLOEXEC` duplicates that the caller owns and may send or keep for a child; the handle
//! keeps its own. [`transfer::recv`] asks the kernel for `O_CLOEXEC` descriptors
//! (`MSG_CMSG_CLOEXEC`), so they do not leak into programs this process runs.
//!
//! # With Python
//!
//! A [`SharedMemory`] block made here is attached by name in Python, and the reverse:
//!
//! ```
//! use mp_shared_mem::SharedMemory;
//!
//! let block = SharedMemory::create(4096)?; // a random name like "mp_5f0c..."
//! block.write_at(0, b"from rust")?;
//! println!("{}", block.name()); // for the Python side
//! // ... Python writes b"from python" at offset 1000, then:
//! let mut reply = [0u8; 11];
//! block.read_at(1000, &mut reply)?;
//! // Dropping `block` unlinks the name (`set_unlink_on_drop(false)` keeps it).
//! # Ok::<(), mp_shared_mem::Error>(())
//! ```
//!
//! ```python
//! from multiprocessing import resource_tracker, shared_memory
//!
//! shm = shared_memory.SharedMemory(name=name)              # the name printed by Rust
//! # CPython 3.8-3.12 would unlink a block it merely attached to when it exits:
//! resource_tracker.unregister(shm._name, "shared_memory")  # (3.13: track=False)
//! assert bytes(shm.buf[:9]) == b"from rust"
//! shm.buf[1000:1011] = b"from python"
//! shm.close()
//! ```
//!
//! A [`ShareableList`] is shared the same way: Python's `ShareableList(name=name)` attaches
//! to one made here, and [`ShareableList::attach`] to one made by Python.
//!
//! `tests/python_interop.rs` runs both directions of both with `python3`.
//!
//! mp-bench's `array-bulk-child` (a forked child copying 16 MiB in and out of an
//! [`Array`], against `memcpy` and `multiprocessing.Array`), `raw-array-halves` (two
//! forked children writing their own halves of a [`RawArray`] at once, against an `Array`
//! and its one lock, `memcpy` into a bare shared mapping and `multiprocessing.RawArray`),
//! `value-locked-increment` (two processes, against a robust process-shared
//! `pthread_mutex` and `multiprocessing.Value`) and `segment-create` rows measure this
//! crate (`cargo run --release -p mp-bench -- --filter shared_mem`).
//!
//! # With `fork`
//!
//! A forked child inherits every mapping and descriptor: a `Shared`, `Value` or `Array`
//! cloned before the fork is usable as is in the child. Bytes and descriptors from
//! [`transfer::encode`] made before the fork also decode in the child, since descriptors
//! keep their numbers.

mod array;
mod atomic_elements;
mod error;
mod header;
mod mapping;
mod raw_array;
mod raw_value;
mod segment;
mod shareable_list;
mod shared;
mod shared_memory;
mod shm_safe;
pub mod transfer;
mod value;

pub use array::{Array, ArrayGuard};
pub use error::{Error, ItemFault, ListFault, NameFault, SegmentFault};
pub use raw_array::{RawArray, RawSlice};
pub use raw_value::RawValue;
pub use segment::Segment;
pub use shareable_list::{Item, ShareableList};
pub use shared::Shared;
pub use shared_memory::SharedMemory;
pub use shm_safe::ShmSafe;
pub use value::Value;

#[doc(hidden)]
pub use shm_safe::__private;
