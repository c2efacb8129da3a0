//! One `MAP_SHARED` mapping of a file descriptor, and the byte access every block offers.

use std::num::NonZeroUsize;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};

use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};

use crate::Error;

/// A read-write shared mapping of a whole file, unmapped on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory that other processes may change at any time anyway;
// this type hands it out only as atomics (`bytes`) or through raw pointers whose users
// synchronise, so moving or sharing the owner between threads adds no new race.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `fd`, which the caller made sure exist.
    pub(crate) fn new(fd: BorrowedFd<'_>, len: usize) -> Result<Self, Error> {
        let length = NonZeroUsize::new(len).ok_or(Error::ZeroSize)?;
        // SAFETY: a fresh mapping at an address the kernel picks cannot overlap any Rust
        // object; `fd` is open for the duration of the call; the mapping is owned by the
        // returned value and unmapped only in its `Drop`.
        let ptr = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )
        }
        .map_err(|errno| Error::os("mmap", errno))?;
        Ok(Self {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The first byte, page-aligned.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The whole mapping as atomic bytes: sound to read and write while other processes
    /// do the same.
    pub(crate) fn bytes(&self) -> &[AtomicU8] {
        // SAFETY: `AtomicU8` has the size, alignment and validity of `u8`; the mapping is
        // `len` readable and writable bytes that live as long as `self`; all access through
        // the slice is atomic, so concurrent writers (in this or another process) do not race
        // with it in the sense of the memory model.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<AtomicU8>(), self.len) }
    }

    fn range(&self, offset: usize, len: usize) -> Result<&[AtomicU8], Error> {
        let out_of_bounds = Error::OutOfBounds {
            offset,
            len,
            size: self.len,
        };
        let end = offset.checked_add(len).ok_or(out_of_bounds.clone())?;
        self.bytes().get(offset..end).ok_or(out_of_bounds)
    }

    pub(crate) fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        let source = self.range(offset, buf.len())?;
        for (dst, src) in buf.iter_mut().zip(source) {
            *dst = src.load(Ordering::Relaxed);
        }
        Ok(())
    }

    pub(crate) fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), Error> {
        let target = self.range(offset, data.len())?;
        for (dst, src) in target.iter().zip(data) {
            dst.store(*src, Ordering::Relaxed);
        }
        Ok(())
    }

    pub(crate) fn to_vec(&self) -> Vec<u8> {
        self.bytes()
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe exactly the mapping made in `new`, and every borrow
        // of it is tied to `&self`, so none outlives this call.
        if let Err(errno) = unsafe { munmap(self.ptr.cast(), self.len) } {
            tracing::warn!(%errno, len = self.len, "munmap failed");
        }
    }
}

/// The smallest page size of any Linux architecture: every mapping starts at a multiple of
/// it, so data aligned to at most this much can sit at a fixed offset into a mapping.
pub(crate) const MIN_PAGE_SIZE: usize = 4096;
