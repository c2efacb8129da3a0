//! Whether a file is still held: open in this process, mapped by it, or named in
//! `/dev/shm`. A test of something that must release its memory (on drop, on a child's
//! death) asks about that very file, by device and inode: the other tests of the binary
//! open and close descriptors all the time, so counting them would not do.

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Device and inode of an open file: what identifies it among all files.
///
/// ```
/// let file = std::fs::File::open("/dev/null")?;
/// let id = test_support::files::file_id(&file);
/// assert_eq!(id, test_support::files::file_id(&file.try_clone()?));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    /// The device the file lives on (`st_dev`).
    pub dev: u64,
    /// Its inode number (`st_ino`).
    pub ino: u64,
}

/// The [`FileId`] of an open descriptor. Panics if `fstat` fails.
///
/// ```
/// let file = std::fs::File::open("/dev/null")?;
/// assert_ne!(test_support::files::file_id(&file).ino, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn file_id(fd: impl AsFd) -> FileId {
    let stat = nix::sys::stat::fstat(fd).expect("fstat");
    FileId {
        dev: stat.st_dev,
        ino: stat.st_ino,
    }
}

/// Whether a descriptor of this process refers to `file`. Panics if `/proc/self/fd`
/// cannot be read.
///
/// ```
/// use test_support::files::{file_id, open_in_this_process};
///
/// let file = tempfile_in_dev_shm()?;
/// let id = file_id(&file);
/// assert!(open_in_this_process(id));
/// drop(file);
/// assert!(!open_in_this_process(id));
/// # fn tempfile_in_dev_shm() -> std::io::Result<std::fs::File> {
/// #     let path = format!("/dev/shm/test-support-open-{}", std::process::id());
/// #     let file = std::fs::File::create(&path)?;
/// #     std::fs::remove_file(&path)?;
/// #     Ok(file)
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn open_in_this_process(file: FileId) -> bool {
    let entries = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    entries
        .flatten()
        .any(|entry| std::fs::metadata(entry.path()).is_ok_and(|meta| is(file, &meta)))
}

/// Whether this process maps `file` (`/proc/self/maps` lists the device and inode of
/// every file mapping). Panics if `/proc/self/maps` cannot be read.
///
/// ```
/// use std::num::NonZeroUsize;
/// use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
/// use test_support::files::{file_id, mapped_in_this_process};
///
/// let file = nix::sys::memfd::memfd_create("doc", nix::sys::memfd::MFdFlags::empty())?;
/// nix::unistd::ftruncate(&file, 4096)?;
/// let id = file_id(&file);
/// assert!(!mapped_in_this_process(id));
/// let len = NonZeroUsize::new(4096).unwrap();
/// // SAFETY: a fresh mapping of a fresh file, at an address the kernel picks.
/// let pages = unsafe { mmap(None, len, ProtFlags::PROT_READ, MapFlags::MAP_SHARED, &file, 0)? };
/// assert!(mapped_in_this_process(id));
/// // SAFETY: the mapping just made, used by nothing.
/// unsafe { munmap(pages, 4096)? };
/// assert!(!mapped_in_this_process(id));
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn mapped_in_this_process(file: FileId) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    let device = format!(
        "{:02x}:{:02x}",
        nix::sys::stat::major(file.dev),
        nix::sys::stat::minor(file.dev)
    );
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace().skip(3);
        let on_device = fields.next() == Some(device.as_str());
        let inode = fields.next().and_then(|inode| inode.parse::<u64>().ok());
        on_device && inode == Some(file.ino)
    })
}

/// Whether any file in `/dev/shm` is `file`.
///
/// ```
/// let file = std::fs::File::open("/dev/null")?;
/// assert!(!test_support::files::in_dev_shm(test_support::files::file_id(&file)));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn in_dev_shm(file: FileId) -> bool {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return false;
    };
    entries
        .flatten()
        .any(|entry| entry.metadata().is_ok_and(|meta| is(file, &meta)))
}

/// Whether `/dev/shm/<name>` exists.
///
/// ```
/// assert!(!test_support::files::dev_shm_has("no-such-block-anywhere"));
/// ```
pub fn dev_shm_has(name: &str) -> bool {
    Path::new("/dev/shm").join(name).exists()
}

fn is(file: FileId, meta: &std::fs::Metadata) -> bool {
    meta.dev() == file.dev && meta.ino() == file.ino
}
