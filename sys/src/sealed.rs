//! Bytes handed to another process in a sealed memfd instead of through a socket.
//!
//! A large message through a Unix socket is copied into the kernel and out again in
//! pieces of the socket's buffer, each one waiting for the other side to be scheduled.
//! Written once into a memfd, sealed, and passed as one descriptor (`SCM_RIGHTS`), it
//! costs the sender one `write` and the receiver one mapping, whatever its size. The
//! memfd is anonymous: nothing is left behind when either side dies, even by `SIGKILL`.
//!
//! The seals are what make the receiver's side sound: `F_SEAL_WRITE` and
//! `F_SEAL_SHRINK` (which no one can remove) mean the bytes cannot change or shrink
//! under the mapping, so they can be read as a plain `&[u8]` without a `SIGBUS` or a
//! race; [`SealedBytes::open`] refuses a descriptor that lacks them.
//!
//! ```
//! use mp_sys::sealed::{SealedBytes, seal};
//!
//! let fd = seal(b"many bytes")?;
//! // ... the descriptor crosses to another process, which maps it:
//! let bytes = SealedBytes::open(fd, 1 << 20)?;
//! assert_eq!(&*bytes, b"many bytes");
//! # Ok::<(), mp_sys::Error>(())
//! ```

use std::num::NonZeroUsize;
use std::ops::Deref;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

use crate::Error;

fn os(operation: &'static str) -> impl Fn(Errno) -> Error {
    move |errno| Error::Os { operation, errno }
}

/// How many times sealing is tried while the kernel reports the file's pages busy.
const SEAL_ATTEMPTS: u32 = 3;

/// The seals a block must carry for [`SealedBytes::open`] to map it.
const REQUIRED_SEALS: SealFlag = SealFlag::F_SEAL_WRITE.union(SealFlag::F_SEAL_SHRINK);

/// A new memfd holding `bytes`, sealed against every change (`F_SEAL_WRITE`,
/// `F_SEAL_SHRINK`, `F_SEAL_GROW`, `F_SEAL_SEAL`), `O_CLOEXEC`: a descriptor to send
/// to the process that [`SealedBytes::open`]s it.
///
/// ```
/// let fd = mp_sys::sealed::seal(&[1, 2, 3])?;
/// assert_eq!(&*mp_sys::sealed::SealedBytes::open(fd, 3)?, &[1, 2, 3]);
/// # Ok::<(), mp_sys::Error>(())
/// ```
pub fn seal(bytes: &[u8]) -> Result<OwnedFd, Error> {
    let mut file = UnsealedFile::new()?;
    file.append(bytes)?;
    file.seal()
}

/// A memfd being filled, to be [`seal`](UnsealedFile::seal)ed once complete: for bytes
/// produced in pieces (an encoder's output), which then reach the file without first
/// being gathered in one buffer.
///
/// It is only ever written with `write`, never through a mapping: `F_SEAL_WRITE` is
/// refused while a writable mapping exists, and a fresh mapping would cost a page fault
/// per page where `write` fills the file's pages in the kernel.
///
/// ```
/// use mp_sys::sealed::{SealedBytes, UnsealedFile};
///
/// let mut file = UnsealedFile::new()?;
/// file.append(b"in ")?;
/// file.append(b"pieces")?;
/// assert_eq!(file.len(), 9);
/// assert_eq!(&*SealedBytes::open(file.seal()?, 100)?, b"in pieces");
/// # Ok::<(), mp_sys::Error>(())
/// ```
#[derive(Debug)]
pub struct UnsealedFile {
    fd: OwnedFd,
    len: usize,
}

impl UnsealedFile {
    /// A new, empty memfd (`O_CLOEXEC`, sealing allowed).
    ///
    /// ```
    /// assert!(mp_sys::sealed::UnsealedFile::new()?.is_empty());
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn new() -> Result<Self, Error> {
        let fd = memfd_create(
            c"mp-sealed-bytes",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .map_err(os("memfd_create"))?;
        Ok(Self { fd, len: 0 })
    }

    /// Appends `bytes` to the file.
    ///
    /// ```
    /// let mut file = mp_sys::sealed::UnsealedFile::new()?;
    /// file.append(&[0; 10_000])?;
    /// assert_eq!(file.len(), 10_000);
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), Error> {
        // `write` fills the file's pages in the kernel: no page of this process is
        // faulted in.
        let mut rest = bytes;
        while !rest.is_empty() {
            match nix::unistd::write(&self.fd, rest) {
                Ok(0) => return Err(os("write")(Errno::ENOSPC)),
                Ok(written) => {
                    rest = &rest[written..];
                    self.len += written;
                }
                Err(Errno::EINTR) => {}
                Err(errno) => return Err(os("write")(errno)),
            }
        }
        Ok(())
    }

    /// How many bytes have been appended.
    ///
    /// ```
    /// assert_eq!(mp_sys::sealed::UnsealedFile::new()?.len(), 0);
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been appended.
    ///
    /// ```
    /// assert!(mp_sys::sealed::UnsealedFile::new()?.is_empty());
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes appended so far, read back (for sending them another way when the file
    /// cannot be sealed).
    ///
    /// ```
    /// let mut file = mp_sys::sealed::UnsealedFile::new()?;
    /// file.append(b"kept")?;
    /// assert_eq!(file.read_back()?, b"kept");
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn read_back(&self) -> Result<Vec<u8>, Error> {
        let mut bytes = vec![0; self.len];
        let mut filled = 0;
        while filled < bytes.len() {
            let offset = i64::try_from(filled).map_err(|_| os("pread")(Errno::EOVERFLOW))?;
            match nix::sys::uio::pread(&self.fd, &mut bytes[filled..], offset) {
                Ok(0) => return Err(os("pread")(Errno::EIO)),
                Ok(read) => filled += read,
                Err(Errno::EINTR) => {}
                Err(errno) => return Err(os("pread")(errno)),
            }
        }
        Ok(bytes)
    }

    /// Seals the file against every change (`F_SEAL_WRITE`, `F_SEAL_SHRINK`,
    /// `F_SEAL_GROW`, `F_SEAL_SEAL`) and returns its descriptor, for
    /// [`SealedBytes::open`]. On failure the file is closed.
    ///
    /// ```
    /// let mut file = mp_sys::sealed::UnsealedFile::new()?;
    /// file.append(b"done")?;
    /// let fd = file.seal()?;
    /// assert_eq!(&*mp_sys::sealed::SealedBytes::open(fd, 4)?, b"done");
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn seal(self) -> Result<OwnedFd, Error> {
        self.try_seal().map_err(|(_file, error)| error)
    }

    /// [`seal`](Self::seal), giving the file back with the error, so that its bytes can
    /// still be [`read_back`](Self::read_back).
    ///
    /// ```
    /// let mut file = mp_sys::sealed::UnsealedFile::new()?;
    /// file.append(b"done")?;
    /// let fd = file.try_seal().map_err(|(_file, error)| error)?;
    /// assert_eq!(&*mp_sys::sealed::SealedBytes::open(fd, 4)?, b"done");
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn try_seal(self) -> Result<OwnedFd, (Self, Error)> {
        // `F_SEAL_WRITE` fails with `EBUSY` while a page of the file has a reference
        // beyond the page cache's (the kernel waits some 150 ms for it to go): a page
        // being migrated or compacted on a busy machine. Such references are brief; try
        // again.
        let seals = REQUIRED_SEALS | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match fcntl(&self.fd, FcntlArg::F_ADD_SEALS(seals)) {
                Ok(_) => return Ok(self.fd),
                Err(Errno::EBUSY) if attempts < SEAL_ATTEMPTS => {}
                Err(errno) => return Err((self, os("fcntl(F_ADD_SEALS)")(errno))),
            }
        }
    }
}

/// The bytes of a sealed memfd, mapped read-only; unmapped on drop.
///
/// ```
/// use mp_sys::sealed::{SealedBytes, seal};
///
/// let bytes = SealedBytes::open(seal(&[9; 5000])?, 8192)?;
/// assert_eq!(bytes.len(), 5000);
/// assert!(bytes.iter().all(|&byte| byte == 9));
/// # Ok::<(), mp_sys::Error>(())
/// ```
pub struct SealedBytes {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is read-only and its bytes can never change (`F_SEAL_WRITE`), so
// it may be read from any thread, and moving its owner moves nothing the kernel ties to
// a thread.
unsafe impl Send for SealedBytes {}
// SAFETY: as for `Send`: shared access is read-only access to immutable bytes.
unsafe impl Sync for SealedBytes {}

impl SealedBytes {
    /// Maps the memfd `fd` (taking it; the mapping keeps the block alive), after
    /// checking that it is sealed against writing and shrinking ([`Error::NotSealed`]
    /// otherwise, also for a descriptor that is no memfd) and at most `max_len` bytes
    /// long ([`Error::TooLarge`], before anything is mapped).
    ///
    /// ```
    /// use std::os::fd::OwnedFd;
    /// use mp_sys::Error;
    ///
    /// let file: OwnedFd = std::fs::File::open("/dev/null")?.into();
    /// assert!(matches!(mp_sys::sealed::SealedBytes::open(file, 10), Err(Error::NotSealed)));
    /// let big = mp_sys::sealed::seal(&[0; 100])?;
    /// assert!(matches!(
    ///     mp_sys::sealed::SealedBytes::open(big, 10),
    ///     Err(Error::TooLarge { len: 100, max: 10 })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(fd: OwnedFd, max_len: usize) -> Result<Self, Error> {
        let seals = fcntl(&fd, FcntlArg::F_GET_SEALS).map_err(|errno| match errno {
            Errno::EINVAL => Error::NotSealed,
            errno => os("fcntl(F_GET_SEALS)")(errno),
        })?;
        if !SealFlag::from_bits_truncate(seals).contains(REQUIRED_SEALS) {
            return Err(Error::NotSealed);
        }
        let size = nix::sys::stat::fstat(&fd).map_err(os("fstat"))?.st_size;
        let len = u64::try_from(size).unwrap_or(u64::MAX);
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= max_len)
            .ok_or(Error::TooLarge { len, max: max_len })?;
        let Some(length) = NonZeroUsize::new(len) else {
            return Ok(Self {
                ptr: NonNull::dangling(),
                len: 0,
            });
        };
        // SAFETY: a fresh mapping at an address the kernel picks overlaps no Rust object;
        // `fd` is open for the call; the mapping is owned by the value returned and
        // unmapped only by its `Drop`. It is read-only and the file can neither change
        // nor shrink (the seals checked above), so every byte of it stays readable.
        let ptr = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ,
                // Not populated: a read fault on a shmem mapping maps the pages around it
                // too (fault-around), so copying the block out faults once per 16 pages,
                // which costs less than `MAP_POPULATE` mapping them all up front (mp-bench
                // process-args-16mib measures it).
                MapFlags::MAP_SHARED,
                &fd,
                0,
            )
        }
        .map_err(os("mmap"))?;
        Ok(Self {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Deref for SealedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is `len` readable bytes that live as long as `self` (or dangling
        // with `len` 0), and no one can write them (`F_SEAL_WRITE`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::fmt::Debug for SealedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedBytes")
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for SealedBytes {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: `ptr`/`len` are exactly the mapping made in `open`, and every borrow of
        // it is tied to `&self`, so none outlives this call.
        if let Err(errno) = unsafe { munmap(self.ptr.cast(), self.len) } {
            tracing::warn!(%errno, len = self.len, "munmap failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memfd_without_the_write_seal_is_refused() {
        let fd = memfd_create(
            c"unsealed",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .unwrap();
        nix::unistd::write(&fd, b"mutable").unwrap();
        fcntl(&fd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK)).unwrap();
        assert!(matches!(SealedBytes::open(fd, 100), Err(Error::NotSealed)));
    }

    #[test]
    fn empty_and_large_blocks_round_trip() {
        assert!(SealedBytes::open(seal(&[]).unwrap(), 0).unwrap().is_empty());
        let large: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
        let mapped = SealedBytes::open(seal(&large).unwrap(), large.len()).unwrap();
        assert!(*mapped == *large);
    }

    #[test]
    fn the_sealed_block_cannot_be_changed_by_its_sender() {
        let fd = seal(b"fixed").unwrap();
        assert_eq!(nix::unistd::write(&fd, b"x"), Err(Errno::EPERM));
        assert_eq!(nix::unistd::ftruncate(&fd, 0), Err(Errno::EPERM));
    }
}
