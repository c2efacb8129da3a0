//! `SharedMemory`: a named POSIX shared memory block, as Python's
//! `multiprocessing.shared_memory.SharedMemory`.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use mp_sys::PerProcess;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::ftruncate;

use crate::mapping::Mapping;
use crate::{Error, NameFault};

mod orphans;

/// Prefix of the random names of [`SharedMemory::create`].
const RANDOM_PREFIX: &str = "mp_";
/// Longest name accepted (`NAME_MAX` less the leading slash).
const MAX_NAME_LEN: usize = 254;

/// A named block of shared memory that any process can attach to by name, Python's
/// `multiprocessing.shared_memory.SharedMemory` included.
///
/// The bytes are the block, from offset 0, with no header: a Python process that attaches
/// by [`name`](SharedMemory::name) sees exactly what Rust wrote, and the reverse. The block
/// lives in `/dev/shm` with mode 0600 until it is unlinked. The creator unlinks it when
/// dropped, unless told otherwise with [`set_unlink_on_drop`](SharedMemory::set_unlink_on_drop);
/// processes that attached keep their mapping until they drop it.
///
/// A name is a kernel-wide resource that outlives a creator killed with `SIGKILL`. As
/// Python's resource tracker does (without a tracker process here), such a block is
/// *reaped*: its name is unlinked, with a `tracing` warning, by
/// [`reap_orphans`](SharedMemory::reap_orphans) or by the sweep that each process makes at
/// its first `create` or `attach`. Precisely, a block is reaped when the process that was
/// to unlink it on drop (its creator, or whoever took that over with
/// `set_unlink_on_drop(true)`) no longer runs, and no live process uses it (every handle
/// holds a shared `flock` on the block, which the sweep must take exclusively, so even a
/// handle attached at that very moment counts; a program without handles, such as Python,
/// counts while `/proc/PID/maps` shows the block mapped): unlike
/// Python, which unlinks at the tracker's exit whoever still uses the block, a block
/// attached by a live process keeps its name until its last user is gone. A block handed
/// over with `set_unlink_on_drop(false)` is never reaped (whoever takes it must unlink
/// it), nor is a block that Python or another program created. Reaping only removes the
/// name: mappings stay valid. The bookkeeping is one empty file per block in `/dev/shm`
/// (`mp_creator.<pid>.<start time>.<name>`, removed with the block); names longer than
/// about 215 bytes are not recorded and never reaped. Prefer
/// [`Segment`](crate::Segment) (anonymous, never leaks) unless another program needs the
/// name.
///
/// Nothing orders the accesses of different processes to the bytes: use
/// [`read_at`](SharedMemory::read_at)/[`write_at`](SharedMemory::write_at) (atomic bytes,
/// always sound) and a protocol or a lock on top, as in Python.
///
/// | Python | mp-shared-mem |
/// |---|---|
/// | `SharedMemory(create=True, size=n)` | [`SharedMemory::create(n)`](SharedMemory::create) |
/// | `SharedMemory(name="x", create=True, size=n)` | [`SharedMemory::create_named("x", n)`](SharedMemory::create_named) |
/// | `SharedMemory(name="x")` | [`SharedMemory::attach("x")`](SharedMemory::attach) |
/// | `shm.name`, `shm.size` | [`name()`](SharedMemory::name), [`size()`](SharedMemory::size) |
/// | `shm.buf[a:b]`, `shm.buf[a:b] = data` | [`read_at`](SharedMemory::read_at), [`write_at`](SharedMemory::write_at) |
/// | `shm.close()` | drop it |
/// | `shm.unlink()` | [`unlink()`](SharedMemory::unlink) |
///
/// ```
/// use mp_shared_mem::SharedMemory;
///
/// let block = SharedMemory::create(16)?;
/// block.write_at(0, b"ping")?;
///
/// let other = SharedMemory::attach(block.name())?; // as Python's SharedMemory(name)
/// let mut word = [0u8; 4];
/// other.read_at(0, &mut word)?;
/// assert_eq!(&word, b"ping");
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub struct SharedMemory {
    mapping: Mapping,
    /// The block's descriptor, an open file description of this handle's own holding a
    /// shared `flock`: the reaper's sign that the block is in use (see
    /// [`reap_orphans`](SharedMemory::reap_orphans)). Closed after the mapping.
    _in_use: OwnedFd,
    /// Without the leading slash, as Python reports it.
    name: String,
    unlink_on_drop: bool,
    unlinked: AtomicBool,
    /// The record naming this process as the one that unlinks the block, while it is.
    creator_record: Option<String>,
}

impl SharedMemory {
    /// Creates a block of `size` bytes (zeroed) under a new random name (`mp_` and 16 hex
    /// digits). [`Error::ZeroSize`] for 0, as Python's `ValueError`.
    ///
    /// ```
    /// let block = mp_shared_mem::SharedMemory::create(100)?;
    /// assert!(block.name().starts_with("mp_"));
    /// assert_eq!(block.size(), 100);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn create(size: usize) -> Result<Self, Error> {
        loop {
            match Self::create_named(&random_name(), size) {
                Err(Error::AlreadyExists { .. }) => continue,
                other => return other,
            }
        }
    }

    /// Creates a block of `size` bytes named `name` (with or without a leading `/`).
    /// [`Error::AlreadyExists`] if the name is taken, [`Error::InvalidName`] for an empty
    /// name, one with another `/` or a NUL, or one too long.
    ///
    /// ```
    /// use mp_shared_mem::{Error, SharedMemory};
    ///
    /// let name = format!("doc_create_named_{}", std::process::id());
    /// let block = SharedMemory::create_named(&name, 10)?;
    /// assert_eq!(block.name(), name);
    /// assert!(matches!(SharedMemory::create_named(&name, 10), Err(Error::AlreadyExists { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn create_named(name: &str, size: usize) -> Result<Self, Error> {
        let name = checked_name(name)?;
        sweep_once_per_process();
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        let file_size = i64::try_from(size).map_err(|_| Error::TooLarge { size: size as u128 })?;
        let path = format!("/{name}");
        let fd = shm_open(
            path.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .map_err(|errno| match errno {
            Errno::EEXIST => Error::AlreadyExists {
                name: name.to_string(),
            },
            errno => Error::os("shm_open", errno),
        })?;
        let mapped = ftruncate(&fd, file_size)
            .map_err(|errno| match errno {
                Errno::EFBIG | Errno::EINVAL => Error::TooLarge { size: size as u128 },
                errno => Error::os("ftruncate", errno),
            })
            .and_then(|()| Mapping::new(fd.as_fd(), size));
        let mapping = match mapped {
            Ok(mapping) => mapping,
            Err(err) => {
                let _ = shm_unlink(path.as_str());
                return Err(err);
            }
        };
        if let Err(err) = orphans::hold_in_use(&fd) {
            drop(mapping);
            let _ = shm_unlink(path.as_str());
            return Err(err);
        }
        tracing::debug!(name, size, "named shared memory created");
        Ok(Self {
            mapping,
            _in_use: fd,
            name: name.to_string(),
            unlink_on_drop: true,
            unlinked: AtomicBool::new(false),
            creator_record: orphans::register(name),
        })
    }

    /// Attaches to the block named `name` (with or without a leading `/`), created by this
    /// crate, by Python, or by anything that uses `shm_open`. Its size is the block's.
    /// [`Error::NotFound`] if there is none; [`Error::ZeroSize`] if it is empty.
    ///
    /// ```
    /// use mp_shared_mem::{Error, SharedMemory};
    /// assert!(matches!(SharedMemory::attach("no_such_block_here"), Err(Error::NotFound { .. })));
    /// ```
    pub fn attach(name: &str) -> Result<Self, Error> {
        let name = checked_name(name)?;
        sweep_once_per_process();
        let fd = shm_open(
            format!("/{name}").as_str(),
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| match errno {
            Errno::ENOENT => Error::NotFound {
                name: name.to_string(),
            },
            errno => Error::os("shm_open", errno),
        })?;
        orphans::hold_in_use(&fd)?;
        let stat = fstat(&fd).map_err(|errno| Error::os("fstat", errno))?;
        if stat.st_nlink == 0 {
            // Reaped between the open and the lock: the name is gone.
            return Err(Error::NotFound {
                name: name.to_string(),
            });
        }
        let size = usize::try_from(stat.st_size).map_err(|_| Error::TooLarge {
            size: stat.st_size.unsigned_abs() as u128,
        })?;
        let mapping = Mapping::new(fd.as_fd(), size)?;
        tracing::debug!(name, size, "named shared memory attached");
        Ok(Self {
            mapping,
            _in_use: fd,
            name: name.to_string(),
            unlink_on_drop: false,
            unlinked: AtomicBool::new(false),
            creator_record: None,
        })
    }

    /// As [`attach`](SharedMemory::attach), and checks that the block is `size` bytes
    /// ([`Error::SizeMismatch`] if not; Linux keeps the size given at creation, in Python
    /// too).
    ///
    /// ```
    /// use mp_shared_mem::{Error, SharedMemory};
    ///
    /// let block = SharedMemory::create(64)?;
    /// assert!(SharedMemory::attach_sized(block.name(), 64).is_ok());
    /// assert!(matches!(
    ///     SharedMemory::attach_sized(block.name(), 65),
    ///     Err(Error::SizeMismatch { expected: 65, found: 64 })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn attach_sized(name: &str, size: usize) -> Result<Self, Error> {
        let block = Self::attach(name)?;
        if block.size() != size {
            return Err(Error::SizeMismatch {
                expected: size as u64,
                found: block.size() as u64,
            });
        }
        Ok(block)
    }

    /// The name, without a leading slash (as Python's `shm.name`).
    ///
    /// ```
    /// let block = mp_shared_mem::SharedMemory::create(1)?;
    /// assert!(!block.name().starts_with('/'));
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The size in bytes.
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::SharedMemory::create(3)?.size(), 3);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn size(&self) -> usize {
        self.mapping.len()
    }

    /// Removes the name, as Python's `shm.unlink()`: no one can attach any more, and the
    /// memory is freed once every process has dropped its mapping. Any holder may call it;
    /// [`Error::NotFound`] if the name is gone already.
    ///
    /// ```
    /// use mp_shared_mem::{Error, SharedMemory};
    ///
    /// let block = SharedMemory::create(8)?;
    /// block.unlink()?;
    /// assert!(matches!(SharedMemory::attach(block.name()), Err(Error::NotFound { .. })));
    /// block.write_at(0, b"mapped")?; // still usable here
    /// # Ok::<(), Error>(())
    /// ```
    pub fn unlink(&self) -> Result<(), Error> {
        if let Some(record) = &self.creator_record {
            orphans::unregister(record);
        }
        let result = shm_unlink(format!("/{}", self.name).as_str());
        self.unlinked.store(true, Ordering::Relaxed);
        match result {
            Ok(()) => {
                tracing::debug!(name = self.name, "named shared memory unlinked");
                Ok(())
            }
            Err(Errno::ENOENT) => Err(Error::NotFound {
                name: self.name.clone(),
            }),
            Err(errno) => Err(Error::os("shm_unlink", errno)),
        }
    }

    /// Whether dropping this handle unlinks the name: `true` for the creator, `false` for
    /// those that attached. Turn it off to leave the block for a process that outlives this
    /// one (which must then unlink it): the block is then never reaped. Turning it on
    /// makes this process the one whose death without unlinking lets the block be reaped
    /// (see [`reap_orphans`](SharedMemory::reap_orphans)).
    ///
    /// ```
    /// use mp_shared_mem::SharedMemory;
    ///
    /// let mut block = SharedMemory::create(8)?;
    /// block.set_unlink_on_drop(false);
    /// let name = block.name().to_string();
    /// drop(block);
    /// let again = SharedMemory::attach(&name)?;
    /// again.unlink()?;
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn set_unlink_on_drop(&mut self, unlink: bool) {
        self.unlink_on_drop = unlink;
        if unlink {
            if self.creator_record.is_none() && !self.unlinked.load(Ordering::Relaxed) {
                self.creator_record = orphans::register(&self.name);
            }
        } else if let Some(record) = self.creator_record.take() {
            orphans::unregister(&record);
        }
    }

    /// Unlinks the blocks left behind by processes that died without unlinking them (the
    /// names of those unlinked), as Python's resource tracker does when a program ends:
    /// those whose creator (or whoever turned
    /// [`set_unlink_on_drop`](SharedMemory::set_unlink_on_drop) on) no longer runs and
    /// that no live process maps. Each is reported with a `tracing` warning. Every process
    /// also does this once, at its first `create` or `attach`; call it to sweep again,
    /// say after a child was killed.
    ///
    /// ```
    /// use mp_shared_mem::SharedMemory;
    ///
    /// let mine = SharedMemory::create(8)?;
    /// let reaped = SharedMemory::reap_orphans()?;
    /// assert!(!reaped.iter().any(|name| name == mine.name()), "its creator runs");
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn reap_orphans() -> Result<Vec<String>, Error> {
        orphans::reap()
    }

    /// The first byte of this process's mapping.
    ///
    /// ```
    /// assert!(!mp_shared_mem::SharedMemory::create(1)?.as_ptr().is_null());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.mapping.as_ptr()
    }

    /// The bytes, as atomics: sound while other processes use them too.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// let block = mp_shared_mem::SharedMemory::create(2)?;
    /// block.bytes()[1].store(5, Ordering::Relaxed);
    /// assert_eq!(block.to_vec(), [0, 5]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn bytes(&self) -> &[AtomicU8] {
        self.mapping.bytes()
    }

    /// Copies bytes out from `offset` (Python's `bytes(shm.buf[offset:offset + n])`);
    /// [`Error::OutOfBounds`] past the end.
    ///
    /// ```
    /// let block = mp_shared_mem::SharedMemory::create(4)?;
    /// let mut buf = [9u8; 4];
    /// block.read_at(0, &mut buf)?;
    /// assert_eq!(buf, [0; 4]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        self.mapping.read_at(offset, buf)
    }

    /// Copies bytes in at `offset` (Python's `shm.buf[offset:offset + n] = data`);
    /// [`Error::OutOfBounds`] past the end.
    ///
    /// ```
    /// let block = mp_shared_mem::SharedMemory::create(4)?;
    /// block.write_at(2, &[1, 2])?;
    /// assert!(block.write_at(3, &[1, 2]).is_err());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        self.mapping.write_at(offset, data)
    }

    /// A copy of all the bytes (Python's `bytes(shm.buf)`).
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::SharedMemory::create(2)?.to_vec(), [0, 0]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        self.mapping.to_vec()
    }

    /// The bytes as a plain slice, for fast bulk reads.
    ///
    /// # Safety
    ///
    /// No process (Python included) and no thread may write the block while the slice is
    /// alive: Rust assumes the bytes behind a `&[u8]` do not change.
    ///
    /// ```
    /// let block = mp_shared_mem::SharedMemory::create(3)?;
    /// block.write_at(0, b"abc")?;
    /// // SAFETY: the block was just created under a random name; nothing else writes it.
    /// let bytes = unsafe { block.as_slice() };
    /// assert_eq!(bytes, b"abc");
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes alive as long as `self`; the caller
        // promises no one writes them meanwhile.
        unsafe { std::slice::from_raw_parts(self.mapping.as_ptr(), self.mapping.len()) }
    }

    /// The bytes as a mutable slice, for fast bulk writes.
    ///
    /// # Safety
    ///
    /// No other process, thread or handle may read or write the block while the slice is
    /// alive.
    ///
    /// ```
    /// let mut block = mp_shared_mem::SharedMemory::create(3)?;
    /// // SAFETY: the block was just created under a random name; no one else uses it.
    /// unsafe { block.as_mut_slice() }.copy_from_slice(b"xyz");
    /// assert_eq!(block.to_vec(), b"xyz");
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` writable bytes alive as long as `self`, borrowed
        // mutably; the caller promises exclusive use of the block meanwhile.
        unsafe { std::slice::from_raw_parts_mut(self.mapping.as_ptr(), self.mapping.len()) }
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // The record goes first: a record never outlives its block.
        if let Some(record) = &self.creator_record {
            orphans::unregister(record);
        }
        if self.unlink_on_drop && !self.unlinked.load(Ordering::Relaxed) {
            match shm_unlink(format!("/{}", self.name).as_str()) {
                Ok(()) => tracing::debug!(name = self.name, "named shared memory unlinked on drop"),
                Err(errno) => {
                    tracing::debug!(name = self.name, %errno, "unlink on drop failed")
                }
            }
        }
    }
}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.name)
            .field("size", &self.size())
            .field("unlink_on_drop", &self.unlink_on_drop)
            .finish()
    }
}

/// Reaps orphaned blocks at this process's first `create` or `attach` (a forked child
/// sweeps again): a crashed program's blocks go without anyone calling
/// [`SharedMemory::reap_orphans`].
fn sweep_once_per_process() {
    static SWEPT: PerProcess<AtomicBool> = PerProcess::new(|| AtomicBool::new(false));
    if !SWEPT.get().swap(true, Ordering::Relaxed)
        && let Err(err) = orphans::reap()
    {
        tracing::debug!(%err, "sweeping orphaned shared memory failed");
    }
}

/// The name without its leading slash, checked.
fn checked_name(name: &str) -> Result<&str, Error> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let invalid = |fault| Error::InvalidName {
        name: name.to_string(),
        fault,
    };
    if bare.is_empty() {
        return Err(invalid(NameFault::Empty));
    }
    if bare.contains('/') {
        return Err(invalid(NameFault::InnerSlash));
    }
    if bare.contains('\0') {
        return Err(invalid(NameFault::Nul));
    }
    if bare == "." || bare == ".." {
        return Err(invalid(NameFault::DotName));
    }
    if bare.len() > MAX_NAME_LEN {
        return Err(invalid(NameFault::TooLong { max: MAX_NAME_LEN }));
    }
    Ok(bare)
}

/// A fresh name; `create` retries on the (unlikely) collision.
fn random_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is seeded from the OS once per process and varies per instance; mixing
    // in the pid, the time and a counter keeps names of processes forked from one parent
    // (which share the seed) apart.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let bits = RandomState::new().hash_one((
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed),
    ));
    format!("{RANDOM_PREFIX}{bits:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(checked_name("/abc").unwrap(), "abc");
        assert_eq!(checked_name("abc").unwrap(), "abc");
        for bad in ["", "/", "a/b", "//a", "a\0b", ".", "/..", &"x".repeat(255)] {
            assert!(
                matches!(checked_name(bad), Err(Error::InvalidName { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(checked_name(&"x".repeat(254)).is_ok());
    }

    #[test]
    fn random_names_differ() {
        let a = random_name();
        let b = random_name();
        assert_ne!(a, b);
        assert_eq!(a.len(), RANDOM_PREFIX.len() + 16);
    }
}
