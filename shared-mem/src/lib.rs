//! Memory shared between processes: anonymous segments, `Shared<T>` (the process-level
//! `Arc<T>`), Python's synchronized `Value` and `Array`, named blocks that Python can
//! attach to, and the handle transfer by which anything owning a file descriptor crosses
//! into another process.
//!
//! | Python | mp-shared-mem |
//! |---|---|
//! | `multiprocessing.Value('i', 0)` | [`Value::new(0i32)?`](Value::new) |
//! | `v.value`, `v.value = x` | [`v.get()?`](Value::get), [`v.set(x)?`](Value::set) |
//! | `with v.get_lock(): v.value += 1` | [`*v.lock()? += 1`](Value::lock) |
//! | `multiprocessing.Array('i', [1, 2])` | [`Array::from_slice(&[1, 2])?`](Array::from_slice) |
//! | `multiprocessing.Array('d', 10)` | [`Array::<f64>::zeroed(10)?`](Array::zeroed) |
//! | `a[i]`, `a[i] = x`, `a[:]`, `len(a)` | [`a.get(i)?`](Array::get), [`a.set(i, x)?`](Array::set), [`a.to_vec()?`](Array::to_vec), [`a.len()`](Array::len) |
//! | `with a.get_lock(): a[0] += a[1]` | `let mut g = a.lock()?; g[0] += g[1];` ([`Array::lock`]) |
//! | `multiprocessing.Lock()` passed to a child | [`Shared::new(Lock::new())?`](Shared::new), `.clone()` to the child |
//! | `shared_memory.SharedMemory(create=True, size=n)` | [`SharedMemory::create(n)?`](SharedMemory::create) |
//! | `shared_memory.SharedMemory(name)` | [`SharedMemory::attach(name)?`](SharedMemory::attach) |
//! | `shm.buf[a:b]` / `shm.buf[a:b] = data` | [`shm.read_at(a, buf)?`](SharedMemory::read_at) / [`shm.write_at(a, data)?`](SharedMemory::write_at) |
//! | `bytes(shm.buf)` | [`shm.to_vec()`](SharedMemory::to_vec) |
//! | `shm.close()`, `shm.unlink()` | drop, [`shm.unlink()?`](SharedMemory::unlink) (the creator also unlinks on drop) |
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
//! - [`SharedMemory`]: a named POSIX block, byte for byte what Python's
//!   `SharedMemory` sees under the same name.
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
//! out plain `&mut T` only under their lock.
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
//! `tests/python_interop.rs` runs both directions with `python3`.
//!
//! mp-bench's `array-bulk-child` (a forked child copying 16 MiB in and out of an
//! [`Array`], against `memcpy` and `multiprocessing.Array`), `value-locked-increment` (two
//! processes, against a robust process-shared `pthread_mutex` and `multiprocessing.Value`)
//! and `segment-create` rows measure this crate
//! (`cargo run --release -p mp-bench -- --filter shared_mem`).
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
pub use error::Error;
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
