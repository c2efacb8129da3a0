//! The limit the queue rows are measured against: a bare single-producer single-consumer
//! ring of fixed-size slots in shared memory. No serialization, no locks, no sleeping (it
//! spins, yielding now and then), no crash handling: what moving the bytes through shared memory costs at best.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mp_shared_mem::Segment;

use crate::error::BenchError;

/// Cursors on lines of their own; slots start one page in.
const HEAD_OFFSET: usize = 0;
const TAIL_OFFSET: usize = 128;
const SLOTS_OFFSET: usize = 4096;

/// A ring of `slots` slots of `slot_bytes` bytes in a memfd segment.
pub struct BareRing {
    /// Keeps the mapping alive.
    _segment: Segment,
    base: NonNull<u8>,
    slots: u64,
    slot_bytes: usize,
}

impl BareRing {
    /// A ring of at least `total_bytes` of slots (at least 2 slots).
    pub fn new(slot_bytes: usize, total_bytes: usize) -> Result<Self, BenchError> {
        let slots = (total_bytes / slot_bytes).max(2) as u64;
        let segment = Segment::new(SLOTS_OFFSET + slots as usize * slot_bytes)?;
        let base = NonNull::new(segment.as_ptr())
            .ok_or_else(|| BenchError::WrongOutcome("a segment without a mapping".into()))?;
        Ok(Self {
            _segment: segment,
            base,
            slots,
            slot_bytes,
        })
    }

    fn cursor(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: both cursor offsets are 8-aligned and inside the segment's first page,
        // which only ever holds these two atomics (zeroed at creation, a valid 0), and the
        // segment outlives the reference.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU64>() }
    }

    fn slot(&self, index: u64) -> *mut u8 {
        let offset = SLOTS_OFFSET + (index % self.slots) as usize * self.slot_bytes;
        // SAFETY: `index % slots < slots`, so the slot lies inside the segment.
        unsafe { self.base.as_ptr().add(offset) }
    }

    /// Spins until `ready` holds; false after `limit`.
    fn spin_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        let mut spins = 0u32;
        while !ready() {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                // Spinning on, while the partner may not even be running, would only
                // burn its time slice: a shared machine must not turn the limit into
                // a crawl.
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
        true
    }

    /// Copies `message` (at most one slot) into the next slot, waiting for room.
    pub fn push(&self, message: &[u8], cached_head: &mut u64, limit: Duration) -> bool {
        let tail = self.cursor(TAIL_OFFSET).load(Ordering::Relaxed);
        if tail - *cached_head >= self.slots {
            let head = self.cursor(HEAD_OFFSET);
            if !Self::spin_until(limit, || {
                *cached_head = head.load(Ordering::Acquire);
                tail - *cached_head < self.slots
            }) {
                return false;
            }
        }
        let len = message.len().min(self.slot_bytes);
        // SAFETY: the slot at `tail` is free (the consumer is past it) and only this
        // single producer writes it until the tail is published below.
        unsafe { std::ptr::copy_nonoverlapping(message.as_ptr(), self.slot(tail), len) };
        self.cursor(TAIL_OFFSET).store(tail + 1, Ordering::Release);
        true
    }

    /// Copies the next message out into `out` (one slot), waiting for one.
    pub fn pop(&self, out: &mut [u8], cached_tail: &mut u64, limit: Duration) -> bool {
        let head = self.cursor(HEAD_OFFSET).load(Ordering::Relaxed);
        if head == *cached_tail {
            let tail = self.cursor(TAIL_OFFSET);
            if !Self::spin_until(limit, || {
                *cached_tail = tail.load(Ordering::Acquire);
                head != *cached_tail
            }) {
                return false;
            }
        }
        let len = out.len().min(self.slot_bytes);
        // SAFETY: the slot at `head` was published by the producer (tail > head, loaded
        // with acquire) and it does not touch it again until the head moves on.
        unsafe { std::ptr::copy_nonoverlapping(self.slot(head), out.as_mut_ptr(), len) };
        self.cursor(HEAD_OFFSET).store(head + 1, Ordering::Release);
        true
    }
}
