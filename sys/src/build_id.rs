//! Which build of a program is running: an identity that is the same for the same
//! executable on every machine, and differs as soon as one byte of its code does.
//!
//! A function crosses to another process as its offset from a fixed symbol of the binary
//! (see mp-processes). That offset means the same function only in the same build, so
//! the receiver must check that it runs the sender's build before it jumps. On one
//! machine a file's device and inode would do; across machines (mp-cluster's workers) they
//! mean nothing, so the identity here is drawn from the file's *content*:
//!
//! - the ELF note `NT_GNU_BUILD_ID` when the linker wrote one (GNU ld, gold, lld and mold
//!   do with `--build-id`, the default of Debian's and Fedora's compilers): a hash of the
//!   linked image that the linker computed, read from the program headers without
//!   reading the rest of the file;
//! - otherwise a SHA-256 of the whole file, computed once per process.
//!
//! Two copies of one executable, on two machines or under two paths, have one identity;
//! a rebuild that changes any code has another.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::OnceLock;

use nix::errno::Errno;
use sha2::{Digest, Sha256};

use crate::Error;

/// The identity of one build of an executable.
///
/// ```
/// use mp_sys::build_id::BuildId;
///
/// let ours = BuildId::current()?;
/// assert!(!ours.as_bytes().is_empty());
/// // The same file read again gives the same identity.
/// assert_eq!(BuildId::of_file("/proc/self/exe")?, *ours);
/// println!("this program is build {ours}");
/// # Ok::<(), mp_sys::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BuildId {
    bytes: Vec<u8>,
    source: BuildIdSource,
}

/// Where a [`BuildId`] came from.
///
/// ```
/// use mp_sys::build_id::{BuildId, BuildIdSource};
///
/// let source = BuildId::current()?.source();
/// assert!(matches!(source, BuildIdSource::ElfNote | BuildIdSource::ContentHash));
/// # Ok::<(), mp_sys::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuildIdSource {
    /// The linker's `NT_GNU_BUILD_ID` note.
    ElfNote,
    /// A SHA-256 of the file: it had no build-id note.
    ContentHash,
}

impl BuildId {
    /// The identity of the running program (`/proc/self/exe`), computed once per process.
    ///
    /// ```
    /// let a = mp_sys::build_id::BuildId::current()?;
    /// let b = mp_sys::build_id::BuildId::current()?;
    /// assert!(std::ptr::eq(a, b));
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn current() -> Result<&'static BuildId, Error> {
        static CURRENT: OnceLock<Result<BuildId, Error>> = OnceLock::new();
        CURRENT
            .get_or_init(|| BuildId::of_file("/proc/self/exe"))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The identity of the executable at `path`: its build-id note, or else a SHA-256 of
    /// its content.
    ///
    /// ```
    /// use mp_sys::build_id::{BuildId, BuildIdSource};
    ///
    /// // A file that is not ELF at all is identified by its content.
    /// let path = std::env::temp_dir().join(format!("build-id-doc-{}", std::process::id()));
    /// std::fs::write(&path, b"#!/bin/sh\necho hi\n").unwrap();
    /// let id = BuildId::of_file(&path)?;
    /// std::fs::remove_file(&path).unwrap();
    /// assert_eq!(id.source(), BuildIdSource::ContentHash);
    /// assert_eq!(id.as_bytes().len(), 32);
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn of_file(path: impl AsRef<Path>) -> Result<BuildId, Error> {
        let file = File::open(path.as_ref()).map_err(|e| io_error("open", &e))?;
        if let Some(bytes) = elf_build_id(&file).map_err(|e| io_error("pread", &e))? {
            return Ok(BuildId {
                bytes,
                source: BuildIdSource::ElfNote,
            });
        }
        Ok(BuildId {
            bytes: sha256_of(&file).map_err(|e| io_error("read", &e))?,
            source: BuildIdSource::ContentHash,
        })
    }

    /// Rebuilds an identity received from another process (`as_bytes` and `source` of
    /// the sender's).
    ///
    /// ```
    /// use mp_sys::build_id::BuildId;
    ///
    /// let ours = BuildId::current()?;
    /// let received = BuildId::from_parts(ours.as_bytes().to_vec(), ours.source());
    /// assert_eq!(&received, ours);
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn from_parts(bytes: Vec<u8>, source: BuildIdSource) -> BuildId {
        BuildId { bytes, source }
    }

    /// The identity's bytes: the note's payload (20 bytes from GNU ld's SHA-1), or 32
    /// bytes of SHA-256.
    ///
    /// ```
    /// let id = mp_sys::build_id::BuildId::current()?;
    /// assert!(id.as_bytes().len() >= 8);
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Where the identity came from.
    ///
    /// ```
    /// let id = mp_sys::build_id::BuildId::current()?;
    /// println!("{:?}", id.source());
    /// # Ok::<(), mp_sys::Error>(())
    /// ```
    pub fn source(&self) -> BuildIdSource {
        self.source
    }
}

/// Lower-case hex, as `readelf -n` and `file` print a build id.
impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.bytes {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildId({:?}, {self})", self.source)
    }
}

fn io_error(operation: &'static str, error: &std::io::Error) -> Error {
    Error::Os {
        operation,
        errno: Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO)),
    }
}

const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
/// Program headers past this many are not looked at (the ELF format allows 65535).
const MAX_PROGRAM_HEADERS: usize = 0xffff;
/// A note segment larger than this is not a linker's and is skipped.
const MAX_NOTE_SEGMENT: u64 = 1 << 20;

/// The payload of the file's `NT_GNU_BUILD_ID` note, or `None` when the file is not ELF
/// or has no such note. Only I/O errors are errors: a malformed header means "no note".
fn elf_build_id(file: &File) -> std::io::Result<Option<Vec<u8>>> {
    let mut ident = [0u8; 64];
    let got = read_up_to(file, &mut ident, 0)?;
    let Some(layout) = Layout::of_header(&ident[..got]) else {
        return Ok(None);
    };
    let table_len = layout.phnum * layout.phentsize;
    let mut table = vec![0u8; table_len];
    if read_up_to(file, &mut table, layout.phoff)? < table_len {
        return Ok(None);
    }
    for header in table.chunks_exact(layout.phentsize) {
        let Some(segment) = layout.note_segment(header) else {
            continue;
        };
        let mut notes = vec![0u8; segment.size as usize];
        let got = read_up_to(file, &mut notes, segment.offset)?;
        if let Some(id) = find_build_id(&notes[..got], &layout, segment.align) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Reads from `offset` until `buf` is full or the file ends; returns how much was read.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What of an ELF header is needed to find the note segments.
struct Layout {
    wide: bool,
    big_endian: bool,
    phoff: u64,
    phentsize: usize,
    phnum: usize,
}

struct NoteSegment {
    offset: u64,
    size: u64,
    align: usize,
}

impl Layout {
    fn of_header(header: &[u8]) -> Option<Layout> {
        if header.len() < 52 || header[..4] != *b"\x7fELF" {
            return None;
        }
        let wide = match header[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = match header[5] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let mut layout = Layout {
            wide,
            big_endian,
            phoff: 0,
            phentsize: 0,
            phnum: 0,
        };
        let (phoff, sizes_at) = if wide {
            (layout.word(header, 0x20)?, 0x36)
        } else {
            (u64::from(layout.u32_at(header, 0x1c)?), 0x2a)
        };
        layout.phoff = phoff;
        layout.phentsize = usize::from(layout.u16_at(header, sizes_at)?);
        layout.phnum = usize::from(layout.u16_at(header, sizes_at + 2)?).min(MAX_PROGRAM_HEADERS);
        let smallest = if wide { 56 } else { 32 };
        (layout.phentsize >= smallest).then_some(layout)
    }

    fn note_segment(&self, header: &[u8]) -> Option<NoteSegment> {
        if self.u32_at(header, 0)? != PT_NOTE {
            return None;
        }
        let (offset, size, align) = if self.wide {
            (
                self.word(header, 8)?,
                self.word(header, 32)?,
                self.word(header, 48)?,
            )
        } else {
            (
                u64::from(self.u32_at(header, 4)?),
                u64::from(self.u32_at(header, 16)?),
                u64::from(self.u32_at(header, 28)?),
            )
        };
        // Notes are padded to 4 bytes, or to 8 in segments aligned so (gABI).
        let align = if align == 8 { 8 } else { 4 };
        (size <= MAX_NOTE_SEGMENT).then_some(NoteSegment {
            offset,
            size,
            align,
        })
    }

    fn u16_at(&self, bytes: &[u8], at: usize) -> Option<u16> {
        let raw: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        })
    }

    fn u32_at(&self, bytes: &[u8], at: usize) -> Option<u32> {
        let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    }

    fn word(&self, bytes: &[u8], at: usize) -> Option<u64> {
        let raw: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(raw)
        } else {
            u64::from_le_bytes(raw)
        })
    }
}

/// Walks the notes of one segment for the GNU build id.
fn find_build_id(notes: &[u8], layout: &Layout, align: usize) -> Option<Vec<u8>> {
    // Offsets are from the segment's start, which is itself aligned: the descriptor and
    // the next note each begin at the next multiple of `align`.
    let aligned =
        |offset: usize, len: usize| offset.checked_add(len)?.checked_next_multiple_of(align);
    let mut at = 0usize;
    while at + 12 <= notes.len() {
        let name_len = layout.u32_at(notes, at)? as usize;
        let desc_len = layout.u32_at(notes, at + 4)? as usize;
        let kind = layout.u32_at(notes, at + 8)?;
        let name_at = at + 12;
        let desc_at = aligned(name_at, name_len)?;
        let next = aligned(desc_at, desc_len)?;
        let name = notes.get(name_at..name_at.checked_add(name_len)?)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" && desc_len > 0 {
            return Some(notes.get(desc_at..desc_at + desc_len)?.to_vec());
        }
        at = next;
    }
    None
}

fn sha256_of(mut file: &File) -> std::io::Result<Vec<u8>> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finalize().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 little-endian image with one PT_NOTE segment holding `notes`.
    fn elf64_with_notes(notes: &[u8], align: u64) -> Vec<u8> {
        let mut image = vec![0u8; 64 + 56];
        image[..4].copy_from_slice(b"\x7fELF");
        image[4] = 2;
        image[5] = 1;
        image[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        image[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        image[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let ph = 64;
        image[ph..ph + 4].copy_from_slice(&PT_NOTE.to_le_bytes());
        image[ph + 8..ph + 16].copy_from_slice(&120u64.to_le_bytes());
        image[ph + 32..ph + 40].copy_from_slice(&(notes.len() as u64).to_le_bytes());
        image[ph + 48..ph + 56].copy_from_slice(&align.to_le_bytes());
        image.extend_from_slice(notes);
        image
    }

    fn note(name: &[u8], kind: u32, desc: &[u8], align: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(name);
        out.resize(out.len().next_multiple_of(align), 0);
        out.extend_from_slice(desc);
        out.resize(out.len().next_multiple_of(align), 0);
        out
    }

    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn with(name: &str, bytes: &[u8]) -> TempFile {
            let path = std::env::temp_dir().join(format!(
                "mp-sys-build-id-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::write(&path, bytes).expect("writing a temporary file");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn the_gnu_note_is_found_after_other_notes() {
        let mut notes = note(b"GNU\0", 5, &[1, 2, 3, 4, 5, 6, 7, 8], 8);
        notes.extend(note(b"GNU\0", NT_GNU_BUILD_ID, &[0xab; 20], 8));
        let file = TempFile::with("note", &elf64_with_notes(&notes, 8));
        let id = BuildId::of_file(&file.0).expect("reading the file");
        assert_eq!(id.source(), BuildIdSource::ElfNote);
        assert_eq!(id.as_bytes(), &[0xab; 20]);
        assert_eq!(id.to_string(), "ab".repeat(20));
    }

    #[test]
    fn a_note_of_another_owner_is_not_taken() {
        let notes = note(b"Go\0\0", NT_GNU_BUILD_ID, &[7; 16], 4);
        let file = TempFile::with("owner", &elf64_with_notes(&notes, 4));
        let id = BuildId::of_file(&file.0).expect("reading the file");
        assert_eq!(id.source(), BuildIdSource::ContentHash);
    }

    #[test]
    fn truncated_and_lying_headers_fall_back_to_the_content() {
        let good = elf64_with_notes(&note(b"GNU\0", NT_GNU_BUILD_ID, &[1; 20], 4), 4);
        for cut in [3, 40, 70, 100, good.len() - 1] {
            let file = TempFile::with("cut", &good[..cut]);
            let id = BuildId::of_file(&file.0).expect("reading the file");
            assert_eq!(id.source(), BuildIdSource::ContentHash, "cut at {cut}");
        }
        // A note claiming a huge descriptor.
        let mut lying = good.clone();
        lying[120 + 4..120 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let file = TempFile::with("lying", &lying);
        assert_eq!(
            BuildId::of_file(&file.0)
                .expect("reading the file")
                .source(),
            BuildIdSource::ContentHash
        );
    }

    #[test]
    fn identical_content_gives_one_identity_and_one_byte_another() {
        let a = TempFile::with("a", b"same bytes");
        let b = TempFile::with("b", b"same bytes");
        let c = TempFile::with("c", b"same bytez");
        let id = |f: &TempFile| BuildId::of_file(&f.0).expect("reading the file");
        assert_eq!(id(&a), id(&b));
        assert_ne!(id(&a), id(&c));
    }

    #[test]
    fn the_running_program_agrees_with_its_file() {
        let current = BuildId::current().expect("the running program");
        let copy = std::fs::read("/proc/self/exe").expect("reading our executable");
        let file = TempFile::with("copy", &copy);
        assert_eq!(&BuildId::of_file(&file.0).expect("the copy"), current);
    }

    #[test]
    fn a_missing_file_is_an_os_error() {
        let error = BuildId::of_file("/nonexistent/mp-sys/build-id").unwrap_err();
        assert_eq!(
            error,
            Error::Os {
                operation: "open",
                errno: Errno::ENOENT
            }
        );
    }
}
