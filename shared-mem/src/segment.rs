//! `Segment`: anonymous shared memory backed by `memfd_create`.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::AtomicU8;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::stat::fstat;
use nix::unistd::ftruncate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mapping::Mapping;
use crate::transfer;
use crate::{Error, SegmentFault};

/// A block of memory that several processes map, backed by an anonymous `memfd`.
///
/// The memory has no name: it cannot leak in `/dev/shm`, and the kernel frees it when
/// the last process that holds it closes its descriptor and unmaps it, however that process
/// ends (`kill -9` included). The size is fixed at creation and sealed
/// (`F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`), so no holder can truncate the file under
/// the others (which would kill them with `SIGBUS`).
///
/// A `Segment` is a cheap handle: `clone` shares the one mapping of this process. Another
/// process gets the segment by inheriting it across `fork`, or through
/// [`transfer`](crate::transfer) (serialization carries the descriptor, and the receiver
/// maps it again). The bytes start zeroed.
///
/// [`Shared<T>`](crate::Shared), [`Value<T>`](crate::Value) and [`Array<T>`](crate::Array)
/// are typed views of a segment; use a bare `Segment` for raw bytes.
///
/// ```
/// use mp_shared_mem::Segment;
///
/// let segment = Segment::new(4096)?;
/// segment.write_at(10, b"hello")?;
/// let mut word = [0u8; 5];
/// segment.clone().read_at(10, &mut word)?;
/// assert_eq!(&word, b"hello");
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
#[derive(Clone)]
pub struct Segment {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order: unmap before the descriptor closes (either order is correct; this one
    // reads naturally).
    mapping: Mapping,
    fd: OwnedFd,
}

impl Segment {
    /// A new zero-filled segment of `size` bytes.
    ///
    /// Fails with [`Error::ZeroSize`] for 0, [`Error::TooLarge`] past a file offset, and
    /// [`Error::Os`] when the process is out of descriptors (`EMFILE`) or memory.
    ///
    /// ```
    /// let segment = mp_shared_mem::Segment::new(100)?;
    /// assert_eq!(segment.size(), 100);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn new(size: usize) -> Result<Self, Error> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        let file_size = i64::try_from(size).map_err(|_| Error::TooLarge { size: size as u128 })?;
        let fd = memfd_create(
            c"mp-segment",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .map_err(|errno| Error::os("memfd_create", errno))?;
        ftruncate(&fd, file_size).map_err(|errno| match errno {
            nix::errno::Errno::EFBIG | nix::errno::Errno::EINVAL => {
                Error::TooLarge { size: size as u128 }
            }
            errno => Error::os("ftruncate", errno),
        })?;
        fcntl(
            &fd,
            FcntlArg::F_ADD_SEALS(
                SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL,
            ),
        )
        .map_err(|errno| Error::os("fcntl(F_ADD_SEALS)", errno))?;
        let mapping = Mapping::new(fd.as_fd(), size)?;
        tracing::debug!(size, fd = ?fd, "segment created");
        Ok(Self {
            inner: Arc::new(Inner { mapping, fd }),
        })
    }

    /// Maps a segment received from another process (or any memfd sealed against
    /// shrinking), taking ownership of the descriptor.
    ///
    /// Fails with [`Error::NotASegment`] when `fd` is not a memfd sealed with
    /// `F_SEAL_SHRINK`: without that seal its owner could truncate it and crash this
    /// process with `SIGBUS`.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use mp_shared_mem::Segment;
    ///
    /// let original = Segment::new(64)?;
    /// original.write_at(0, b"x")?;
    /// let descriptor = original.as_fd().try_clone_to_owned().unwrap();
    /// let second_mapping = Segment::from_fd(descriptor)?;
    /// assert_eq!(second_mapping.to_vec()[0], b'x');
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<Self, Error> {
        let seals = fcntl(&fd, FcntlArg::F_GET_SEALS).map_err(|errno| match errno {
            nix::errno::Errno::EINVAL => Error::NotASegment {
                fault: SegmentFault::NotAMemfd,
            },
            errno => Error::os("fcntl(F_GET_SEALS)", errno),
        })?;
        if SealFlag::from_bits_truncate(seals) & SealFlag::F_SEAL_SHRINK != SealFlag::F_SEAL_SHRINK
        {
            return Err(Error::NotASegment {
                fault: SegmentFault::NotSealed,
            });
        }
        let stat = fstat(&fd).map_err(|errno| Error::os("fstat", errno))?;
        let size = usize::try_from(stat.st_size).map_err(|_| Error::NotASegment {
            fault: SegmentFault::BadSize,
        })?;
        let mapping = Mapping::new(fd.as_fd(), size)?;
        tracing::debug!(size, fd = ?fd, "segment mapped from a descriptor");
        Ok(Self {
            inner: Arc::new(Inner { mapping, fd }),
        })
    }

    /// The size in bytes.
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::Segment::new(10)?.size(), 10);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn size(&self) -> usize {
        self.inner.mapping.len()
    }

    /// The first byte of this process's mapping (page-aligned). Other processes see the
    /// same memory at other addresses.
    ///
    /// ```
    /// let segment = mp_shared_mem::Segment::new(8)?;
    /// assert_eq!(segment.as_ptr() as usize % 4096, 0);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.inner.mapping.as_ptr()
    }

    /// The bytes, as atomics: sound to use while other processes use them too.
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    /// let segment = mp_shared_mem::Segment::new(8)?;
    /// segment.bytes()[3].store(7, Ordering::Relaxed);
    /// assert_eq!(segment.to_vec()[3], 7);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn bytes(&self) -> &[AtomicU8] {
        self.inner.mapping.bytes()
    }

    /// Copies bytes out, starting at `offset`; [`Error::OutOfBounds`] past the end.
    ///
    /// ```
    /// let segment = mp_shared_mem::Segment::new(8)?;
    /// let mut buf = [1u8; 4];
    /// segment.read_at(4, &mut buf)?;
    /// assert_eq!(buf, [0; 4]);
    /// assert!(segment.read_at(5, &mut buf).is_err());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        self.inner.mapping.read_at(offset, buf)
    }

    /// Copies bytes in, starting at `offset`; [`Error::OutOfBounds`] past the end.
    ///
    /// ```
    /// let segment = mp_shared_mem::Segment::new(8)?;
    /// segment.write_at(6, &[1, 2])?;
    /// assert!(segment.write_at(7, &[1, 2]).is_err());
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        self.inner.mapping.write_at(offset, data)
    }

    /// A copy of all the bytes.
    ///
    /// ```
    /// assert_eq!(mp_shared_mem::Segment::new(3)?.to_vec(), vec![0, 0, 0]);
    /// # Ok::<(), mp_shared_mem::Error>(())
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        self.inner.mapping.to_vec()
    }
}

impl Segment {
    /// A pointer `offset` bytes into this process's mapping: in bounds, or one past the end
    /// for `offset == size` (where only zero-sized data may sit).
    pub(crate) fn ptr_at<T>(&self, offset: usize) -> Result<NonNull<T>, Error> {
        if offset > self.size() {
            return Err(Error::SizeMismatch {
                expected: offset as u64,
                found: self.size() as u64,
            });
        }
        let base = NonNull::from(self.bytes()).cast::<u8>();
        // SAFETY: `offset <= size`, so the result stays within the mapping or one byte past
        // its end, as `NonNull::add` requires.
        Ok(unsafe { base.add(offset) }.cast())
    }
}

impl AsFd for Segment {
    /// The memfd; it stays owned by the segment.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("fd", &self.inner.fd)
            .field("size", &self.size())
            .finish()
    }
}

impl Serialize for Segment {
    /// Records the descriptor in the side table of [`transfer::encode`]; outside of it,
    /// fails with a serde error.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        transfer::serialize_fd(&self.inner.fd, serializer)
    }
}

impl<'de> Deserialize<'de> for Segment {
    /// Takes the descriptor from the side table of [`transfer::decode`] and maps it.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fd = transfer::deserialize_fd(deserializer)?;
        Segment::from_fd(fd).map_err(transfer::reject_with)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        tracing::debug!(size = self.mapping.len(), fd = ?self.fd, "segment released by this process");
    }
}
