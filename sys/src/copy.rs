//! Copies of byte blocks that stay fast wherever the two buffers lie.
//!
//! glibc copies a block above a size threshold (`glibc.cpu.x86_rep_movsb_threshold`,
//! 2 KiB and up on x86-64) with the `rep movsb` instruction. On AMD processors that
//! instruction is an order of magnitude slower when the destination's offset within its
//! page is a little above the source's, for instance 16 bytes: two blocks from malloc are
//! often exactly that far apart, since it puts a 16-byte header before every large block.
//! And a copy into memory not touched yet (a fresh vector of many pages) is several times
//! slower by `rep movsb` than by the vector loop, its page faults taken inside the
//! instruction.
//!
//! So the blocks that cross a process boundary (a message, an argument, a result) are
//! copied here in pieces below that threshold, which glibc copies with its vector loop at
//! full speed wherever they lie. A small block is one piece: it costs what
//! `copy_from_slice` costs. The `codec-64k` and `process-args-16mib` rows of mp-bench
//! measure the difference.
//!
//! ```
//! let source: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
//! let mut target = vec![0u8; source.len()];
//! mp_sys::copy::copy_bytes(&mut target, &source);
//! assert_eq!(target, source);
//! ```

/// The largest piece handed to `memcpy` at once: below glibc's smallest `rep movsb`
/// threshold on x86-64 (2048 bytes times the vector width in 16-byte units).
const PIECE: usize = 1024;

/// Copies `source` into `target`, as `target.copy_from_slice(source)`, in pieces that
/// stay fast wherever the two lie (see the [module docs](self)).
///
/// # Panics
///
/// If the two slices have different lengths, as `copy_from_slice` does.
///
/// ```
/// let mut target = [0u8; 5000];
/// mp_sys::copy::copy_bytes(&mut target, &[7u8; 5000]);
/// assert!(target.iter().all(|byte| *byte == 7));
/// ```
#[inline]
pub fn copy_bytes(target: &mut [u8], source: &[u8]) {
    assert_eq!(
        target.len(),
        source.len(),
        "copy_bytes: the target's length differs from the source's"
    );
    if source.len() <= PIECE {
        target.copy_from_slice(source);
        return;
    }
    for (to, from) in target.chunks_mut(PIECE).zip(source.chunks(PIECE)) {
        to.copy_from_slice(from);
    }
}

/// Copies `len` bytes from `source` to `target`, as [`std::ptr::copy_nonoverlapping`], in
/// pieces that stay fast wherever the two lie (see the [module docs](self)): for memory
/// that other processes map too, where a slice may not be formed.
///
/// # Safety
///
/// As for [`std::ptr::copy_nonoverlapping`]: `source` is valid for reads and `target`
/// for writes of `len` bytes, and the two ranges do not overlap.
///
/// ```
/// let source = vec![3u8; 4000];
/// let mut target = vec![0u8; 4000];
/// // SAFETY: both vectors hold 4000 bytes and are distinct allocations.
/// unsafe { mp_sys::copy::copy_nonoverlapping(source.as_ptr(), target.as_mut_ptr(), 4000) };
/// assert_eq!(target, source);
/// ```
#[inline]
pub unsafe fn copy_nonoverlapping(source: *const u8, target: *mut u8, len: usize) {
    let mut done = 0;
    while done < len {
        let piece = (len - done).min(PIECE);
        // SAFETY: `done + piece <= len`, so both pieces lie in the ranges the caller
        // vouched for, which do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(source.add(done), target.add(done), piece) };
        done += piece;
    }
}

/// Appends `source` to `vector`, as `vector.extend_from_slice(source)`, in pieces that stay
/// fast wherever the two lie (see the [module docs](self)); the room is reserved once.
///
/// ```
/// let mut vector = b"head:".to_vec();
/// mp_sys::copy::extend_bytes(&mut vector, &[1u8; 3000]);
/// assert_eq!(vector.len(), 3005);
/// assert_eq!(&vector[..5], b"head:");
/// ```
#[inline]
pub fn extend_bytes(vector: &mut Vec<u8>, source: &[u8]) {
    if source.len() <= PIECE {
        vector.extend_from_slice(source);
        return;
    }
    vector.reserve(source.len());
    for piece in source.chunks(PIECE) {
        vector.extend_from_slice(piece);
    }
}

/// A new vector holding `source`, as `source.to_vec()`, copied as [`extend_bytes`] does.
///
/// ```
/// let source = vec![9u8; 70_000];
/// assert_eq!(mp_sys::copy::to_vec(&source), source);
/// ```
#[inline]
pub fn to_vec(source: &[u8]) -> Vec<u8> {
    let mut vector = Vec::with_capacity(source.len());
    extend_bytes(&mut vector, source);
    vector
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize, salt: u8) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ salt).collect()
    }

    #[test]
    fn every_length_around_the_piece_size_copies_exactly() {
        for len in [
            0,
            1,
            PIECE - 1,
            PIECE,
            PIECE + 1,
            3 * PIECE + 17,
            65_536 + 5,
        ] {
            let source = pattern(len, 0x5a);
            let mut target = pattern(len, 0xa5);
            copy_bytes(&mut target, &source);
            assert_eq!(target, source, "copy of {len}");
            let mut vector = b"prefix".to_vec();
            extend_bytes(&mut vector, &source);
            assert_eq!(&vector[..6], b"prefix");
            assert_eq!(&vector[6..], &source[..], "extend by {len}");
            assert_eq!(to_vec(&source), source, "to_vec of {len}");
        }
    }

    #[test]
    fn copies_at_every_offset_within_a_page() {
        let source = pattern(70_000, 3);
        let mut room = vec![0u8; 70_000 + 4096];
        for shift in [0, 1, 16, 63, 64, 2048, 4095] {
            let target = &mut room[shift..shift + source.len()];
            copy_bytes(target, &source);
            assert_eq!(target, &source[..], "shift {shift}");
        }
    }

    #[test]
    fn raw_copies_match_slice_copies() {
        for len in [0, 5, PIECE, 2 * PIECE + 3] {
            let source = pattern(len, 9);
            let mut target = vec![0u8; len];
            // SAFETY: both hold `len` bytes, in distinct allocations.
            unsafe { copy_nonoverlapping(source.as_ptr(), target.as_mut_ptr(), len) };
            assert_eq!(target, source, "raw copy of {len}");
        }
    }

    #[test]
    #[should_panic(expected = "length differs")]
    fn different_lengths_panic_as_copy_from_slice_does() {
        copy_bytes(&mut [0u8; 3], &[1u8; 4]);
    }
}
