//! `RawQueue`: one queue segment mapped in this process, with the memory access, waiting
//! and locking that the producer and consumer paths (`produce.rs`, `consume.rs`) share.

use std::any::type_name;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use mp_shared_mem::Segment;
use mp_sync::{Lock, LockGuard, TryLockError};

use super::control::{Control, Cursor, DATA_OFFSET, Kind, MAGIC, VERSION, Wake, type_hash};
use crate::{Error, QueueFault};
use mp_sys::futex;
use mp_sys::{Backoff, BackoffPolicy, Deadline};

/// How long a blocked call may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Patience {
    /// Not at all (`try_` forms).
    NoWait,
    /// For this long from the first time it has to wait (`_timeout` forms): the clock is
    /// only read when waiting turns out to be needed, so a call that finds its message or
    /// its room at once costs no clock read.
    Within(Duration),
    /// Until this instant.
    Until(Instant),
    /// For ever (the blocking forms).
    Forever,
}

impl Patience {
    /// The patience of a `_timeout` call.
    pub(crate) fn from_timeout(timeout: Duration) -> Self {
        Patience::Within(timeout)
    }

    /// The same patience with its deadline fixed from now, if it had none yet.
    pub(crate) fn fixed(self) -> Self {
        match self {
            // A timeout too large to represent waits for ever.
            Patience::Within(timeout) => Deadline::after(timeout)
                .instant()
                .map_or(Patience::Forever, Patience::Until),
            other => other,
        }
    }

    /// `None` for no waiting at all, else the deadline.
    pub(crate) fn deadline(self) -> Option<Deadline> {
        match self.fixed() {
            Patience::NoWait => None,
            Patience::Until(deadline) => Some(Deadline::at(deadline)),
            Patience::Within(_) | Patience::Forever => Some(Deadline::NEVER),
        }
    }
}

/// The first waiting phases: 256 single pauses, then 8 `sched_yield`s, then sleep. A
/// wake-up between processes costs microseconds, a message far less, so a partner that is
/// running fills or drains the ring again long before the spinning runs out.
const RING_WAIT: BackoffPolicy = BackoffPolicy {
    spin_rounds: 256,
    first_spin: 1,
    doubling: false,
    yield_rounds: 8,
};
/// The longest sleep before a waiter checks again on its own. It bounds the delay when
/// the process that should have woken us died between its commit and its wake-up call.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

/// One queue segment, mapped in this process.
pub(crate) struct RawQueue {
    segment: Segment,
    control: NonNull<Control>,
    data: NonNull<u8>,
    /// `ring_bytes - 1`: ring sizes are powers of two.
    mask: u32,
    ring_bytes: u32,
    /// 0: unbounded.
    maxsize: u32,
    /// Whether the segment is a joinable queue's, whose takes are accounted for.
    joinable: bool,
    /// This process's account in a joinable queue, once looked up: the process id in the
    /// high half, the account's index plus one in the low half (0: not looked up).
    pub(crate) account: AtomicU64,
}

impl Clone for RawQueue {
    fn clone(&self) -> Self {
        Self {
            segment: self.segment.clone(),
            control: self.control,
            data: self.data,
            mask: self.mask,
            ring_bytes: self.ring_bytes,
            maxsize: self.maxsize,
            joinable: self.joinable,
            account: AtomicU64::new(self.account.load(Ordering::Relaxed)),
        }
    }
}

// SAFETY: the pointers point into the mapping that `segment` keeps alive for as long as
// this value exists, in every thread. The control block is only reached as `&Control`,
// made of atomics and mp-sync locks, which are `Sync`; the ring bytes are only touched by
// the holder of the producer or consumer lock, in the ranges the protocol gives that side
// (see `produce.rs` and `consume.rs`), whichever thread it runs on.
unsafe impl Send for RawQueue {}
// SAFETY: as for `Send`.
unsafe impl Sync for RawQueue {}

impl RawQueue {
    /// A new queue in a fresh segment.
    pub(crate) fn create(
        kind: Kind,
        ring_bytes: usize,
        maxsize: usize,
        type_name: &str,
    ) -> Result<Self, Error> {
        let segment = Segment::new(DATA_OFFSET + ring_bytes)?;
        let control = segment.as_ptr().cast::<Control>();
        // SAFETY: the segment is fresh (no other handle or process can see it yet), at
        // least DATA_OFFSET bytes long, which the control block fits in (checked at
        // compile time), and page-aligned, more than the block's 128-byte alignment. So
        // `control` is valid for writing one `Control`.
        unsafe { control.write(Control::new()) };
        let queue = Self::from_parts(segment, ring_bytes, maxsize, kind)?;
        queue.control().stamp(kind, ring_bytes, maxsize, type_name);
        tracing::debug!(
            kind = kind.name(),
            ring_bytes,
            maxsize,
            type_name,
            "queue created"
        );
        Ok(queue)
    }

    /// Opens a queue received from another process, checking that it is a queue of one of
    /// the kinds in `accepted` for messages of type `type_name`.
    pub(crate) fn attach(
        segment: Segment,
        accepted: &[Kind],
        wanted: Kind,
        type_name: &str,
    ) -> Result<Self, Error> {
        let corrupt = |fault| Error::CorruptQueue { fault };
        if segment.size() < DATA_OFFSET + super::control::MIN_RING_BYTES {
            return Err(corrupt(QueueFault::TooSmall {
                size: segment.size(),
            }));
        }
        // SAFETY: the segment is mapped, page-aligned and longer than the control block;
        // every field of `Control` is an atomic (or a lock made of one), valid for any bit
        // pattern, so viewing these bytes as a `Control` is sound whatever they hold.
        let control = unsafe { &*segment.as_ptr().cast::<Control>() };
        let id = &control.identity.0;
        let magic = id.magic.load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(corrupt(QueueFault::BadMagic { found: magic }));
        }
        let version = id.version.load(Ordering::Relaxed);
        if version != VERSION {
            return Err(corrupt(QueueFault::OtherVersion {
                found: version,
                expected: VERSION,
            }));
        }
        let recorded_ring = id.ring_bytes.load(Ordering::Relaxed);
        let ring_fault = QueueFault::RingSize {
            ring_bytes: recorded_ring,
            segment: segment.size(),
        };
        let ring_bytes = usize::try_from(recorded_ring).map_err(|_| corrupt(ring_fault))?;
        if !ring_bytes.is_power_of_two()
            || !(super::control::MIN_RING_BYTES..=super::control::MAX_RING_BYTES)
                .contains(&ring_bytes)
            || segment.size() != DATA_OFFSET + ring_bytes
        {
            return Err(corrupt(ring_fault));
        }
        let recorded_maxsize = id.maxsize.load(Ordering::Relaxed);
        let maxsize = usize::try_from(recorded_maxsize)
            .ok()
            .filter(|m| *m <= super::control::MAX_MAXSIZE)
            .ok_or(corrupt(QueueFault::MaxsizeOutOfRange {
                maxsize: recorded_maxsize,
            }))?;
        let recorded_kind = id.kind.load(Ordering::Relaxed);
        let found_kind = Kind::from_raw(recorded_kind).ok_or(corrupt(QueueFault::UnknownKind {
            kind: recorded_kind,
        }))?;
        if !accepted.contains(&found_kind)
            || id.type_hash.load(Ordering::Relaxed) != type_hash(type_name)
        {
            return Err(Error::SharedMem(mp_shared_mem::Error::TypeMismatch {
                expected: format!("{}<{type_name}>", wanted.name()),
                found: format!("{}<{}>", found_kind.name(), control.type_name()),
            }));
        }
        let queue = Self::from_parts(segment, ring_bytes, maxsize, found_kind)?;
        tracing::debug!(
            kind = found_kind.name(),
            ring_bytes,
            maxsize,
            type_name,
            "queue opened"
        );
        Ok(queue)
    }

    fn from_parts(
        segment: Segment,
        ring_bytes: usize,
        maxsize: usize,
        kind: Kind,
    ) -> Result<Self, Error> {
        let too_big = || Error::InvalidArgument {
            argument: "ring_bytes",
            requirement: "the ring and maxsize must fit in 32 bits",
        };
        let control =
            NonNull::new(segment.as_ptr().cast::<Control>()).ok_or(Error::InvalidArgument {
                argument: "segment",
                requirement: "a queue needs a mapped segment",
            })?;
        // SAFETY: the segment is `DATA_OFFSET + ring_bytes` bytes long (checked by both
        // callers), so the data pointer stays inside the mapping.
        let data = unsafe { control.cast::<u8>().add(DATA_OFFSET) };
        Ok(Self {
            segment,
            control,
            data,
            mask: u32::try_from(ring_bytes - 1).map_err(|_| too_big())?,
            ring_bytes: u32::try_from(ring_bytes).map_err(|_| too_big())?,
            maxsize: u32::try_from(maxsize).map_err(|_| too_big())?,
            joinable: kind == Kind::Joinable,
            account: AtomicU64::new(0),
        })
    }

    #[inline]
    pub(crate) fn control(&self) -> &Control {
        // SAFETY: `control` points at the start of the mapping `self.segment` keeps alive;
        // it holds a `Control` (written by the creator, or checked by `attach`), made of
        // atomics only, so shared references to it are sound from any thread of any process.
        unsafe { self.control.as_ref() }
    }

    pub(crate) fn segment(&self) -> &Segment {
        &self.segment
    }

    pub(crate) fn ring_bytes(&self) -> u32 {
        self.ring_bytes
    }

    pub(crate) fn maxsize(&self) -> u32 {
        self.maxsize
    }

    /// Whether the segment is a joinable queue's (whatever the handle's type).
    #[inline]
    pub(crate) fn is_joinable(&self) -> bool {
        self.joinable
    }

    // -- the cursors ----------------------------------------------------------------------

    pub(crate) fn tail(&self) -> Cursor {
        Cursor::unpack(self.control().tail.0.tail.load(Ordering::Acquire))
    }

    pub(crate) fn head(&self) -> Cursor {
        Cursor::unpack(self.control().head.0.head.load(Ordering::Acquire))
    }

    /// Messages completed and not yet taken, as far as the two cursors say right now.
    pub(crate) fn qsize(&self) -> u32 {
        let head = self.head();
        let tail = self.tail();
        let queued = tail.count.wrapping_sub(head.count);
        // A corrupt or racing pair can only make this look huge; report what is plausible.
        if queued > self.ring_bytes / 8 {
            0
        } else {
            queued
        }
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.control().shared.0.closed.load(Ordering::Acquire) != 0
    }

    /// Bytes used between a head and a tail position, if the pair is consistent.
    #[inline]
    pub(crate) fn used(&self, head_pos: u32, tail_pos: u32) -> Result<u32, Error> {
        let used = tail_pos.wrapping_sub(head_pos);
        if used > self.ring_bytes || !used.is_multiple_of(8) {
            return Err(Error::CorruptQueue {
                fault: QueueFault::CursorsApart {
                    used,
                    ring_bytes: self.ring_bytes,
                },
            });
        }
        Ok(used)
    }

    // -- the ring's bytes -----------------------------------------------------------------

    /// A pointer to ring offset `pos & mask`.
    #[inline]
    fn at(&self, pos: u32) -> *mut u8 {
        // SAFETY: `pos & mask < ring_bytes`, so the pointer stays inside the ring.
        unsafe { self.data.as_ptr().add((pos & self.mask) as usize) }
    }

    /// Bytes from `pos` to the end of the ring.
    #[inline]
    pub(crate) fn until_end(&self, pos: u32) -> u32 {
        self.ring_bytes - (pos & self.mask)
    }

    /// The record header word at `pos` (a multiple of 8: headers never wrap).
    #[inline]
    fn header_word(&self, pos: u32) -> &AtomicU64 {
        // SAFETY: `pos & mask` is a multiple of 8 below the ring's size (positions only
        // ever advance by multiples of 8, and the ring's size is one too), and the ring
        // starts on a page boundary, so the word is in bounds and aligned. It is only
        // ever accessed atomically through this function, which is sound whatever the
        // bytes hold and whoever writes them at the same time.
        unsafe { &*self.at(pos).cast::<AtomicU64>() }
    }

    /// Writes a record header at `pos`. The caller holds the producer lock and `pos` is
    /// in its free space; the header is published by the tail's commit.
    #[inline]
    pub(crate) fn write_header(&self, pos: u32, len: u32, tag: u32) {
        self.header_word(pos)
            .store(super::record::pack_header(len, tag), Ordering::Relaxed);
    }

    /// Reads the record header at `pos`: its payload length and tag.
    #[inline]
    pub(crate) fn read_header(&self, pos: u32) -> (u32, u32) {
        super::record::unpack_header(self.header_word(pos).load(Ordering::Relaxed))
    }

    /// Copies `bytes` into the ring at `pos`, wrapping around its end.
    ///
    /// # Safety
    /// The caller holds the producer lock and `[pos, pos + bytes.len())` is free space
    /// (between the tail and the head plus the ring size), which no other process reads or
    /// writes while the protocol is followed. `bytes.len() <= ring_bytes`.
    pub(crate) unsafe fn write_ring(&self, pos: u32, bytes: &[u8]) {
        let first = bytes.len().min(self.until_end(pos) as usize);
        // SAFETY: the first part runs from `pos` to at most the ring's end, the second
        // from the ring's start for the rest (at most the ring's size); the caller owns
        // the range. `bytes` is private memory, so the two never overlap.
        unsafe {
            mp_sys::copy::copy_nonoverlapping(bytes.as_ptr(), self.at(pos), first);
            mp_sys::copy::copy_nonoverlapping(
                bytes.as_ptr().add(first),
                self.data.as_ptr(),
                bytes.len() - first,
            );
        }
    }

    /// Copies ring bytes from `pos` into `out`, wrapping around the ring's end.
    ///
    /// # Safety
    /// The caller holds the consumer lock and `[pos, pos + out.len())` lies between the
    /// head and a tail it loaded (acquire), which producers do not write while the
    /// protocol is followed. `out.len() <= ring_bytes`.
    pub(crate) unsafe fn read_ring(&self, pos: u32, out: &mut [u8]) {
        let first = out.len().min(self.until_end(pos) as usize);
        // SAFETY: as in `write_ring`, with the roles swapped.
        unsafe {
            mp_sys::copy::copy_nonoverlapping(self.at(pos), out.as_mut_ptr(), first);
            mp_sys::copy::copy_nonoverlapping(
                self.data.as_ptr(),
                out.as_mut_ptr().add(first),
                out.len() - first,
            );
        }
    }

    /// The ring bytes `[pos, pos + len)` as a slice to serialize into.
    ///
    /// # Safety
    /// As for [`write_ring`](Self::write_ring), and the range must not wrap
    /// (`len <= until_end(pos)`). The slice must be dropped before the tail is committed
    /// past it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn ring_slice_mut(&self, pos: u32, len: u32) -> &mut [u8] {
        // SAFETY: in bounds (no wrap, checked by the caller), and exclusively the
        // producer's by the protocol for as long as the slice lives.
        unsafe { std::slice::from_raw_parts_mut(self.at(pos), len as usize) }
    }

    /// The ring bytes `[pos, pos + len)` to decode from in place.
    ///
    /// # Safety
    /// As for [`read_ring`](Self::read_ring), and the range must not wrap. The slice must
    /// be dropped before the head is committed past it.
    pub(crate) unsafe fn ring_slice(&self, pos: u32, len: u32) -> &[u8] {
        // SAFETY: in bounds and, by the protocol, written by nobody while it lives.
        unsafe { std::slice::from_raw_parts(self.at(pos), len as usize) }
    }

    // -- waiting ----------------------------------------------------------------------------

    /// Waits until `ready` says so (`Ok(true)`) or `deadline` passes (`Ok(false)`):
    /// spins, yields, then sleeps on `wake` in slices. Only the holder of the side lock
    /// that `wake` belongs to calls this, so it is the only one to raise `wake.waiter`.
    pub(crate) fn wait_until(
        &self,
        wake: &Wake,
        deadline: Deadline,
        mut ready: impl FnMut() -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        let mut backoff = Backoff::new(RING_WAIT);
        while !backoff.is_spent() {
            if ready()? {
                return Ok(true);
            }
            backoff.snooze();
        }
        loop {
            wake.waiter.store(1, Ordering::Relaxed);
            // Pairs with the commit and the load in `notify_after_commit`: either the
            // waker sees `waiter` raised, or we see what it published before it looked.
            fence(Ordering::SeqCst);
            let seq = wake.seq.load(Ordering::Relaxed);
            let outcome = ready();
            if !matches!(outcome, Ok(false)) {
                wake.waiter.store(0, Ordering::Relaxed);
                return outcome;
            }
            if deadline.has_passed() {
                wake.waiter.store(0, Ordering::Relaxed);
                return Ok(false);
            }
            let until = deadline.earlier(Deadline::after(SLEEP_SLICE));
            futex::wait(&wake.seq, seq, until);
        }
    }

    /// Wakes whoever sleeps on `wake`, if anyone said it would. Costs no system call
    /// when nobody sleeps.
    ///
    /// The caller has just published its progress with a `SeqCst` store (the commit of a
    /// cursor). That store, this `SeqCst` load and the `SeqCst` fence of
    /// [`wait_until`](Self::wait_until) between the sleeper's raising of `waiter` and its
    /// check form Dekker's pattern: either we see `waiter` raised, or the sleeper sees our
    /// progress before it sleeps. (On x86-64 the store is one `xchg` and the load a plain
    /// `mov`: no separate fence on the path every message takes.)
    #[inline]
    pub(crate) fn notify_after_commit(&self, wake: &Wake) {
        if wake.waiter.load(Ordering::SeqCst) != 0 || wake.async_waiters.load(Ordering::SeqCst) != 0
        {
            wake.seq.fetch_add(1, Ordering::Release);
            futex::wake_all(&wake.seq);
        }
    }

    /// Wakes every sleeper of both sides, whether or not it said so (close).
    pub(crate) fn wake_everyone(&self) {
        let control = self.control();
        for wake in [&control.tail.0.items, &control.head.0.space] {
            wake.seq.fetch_add(1, Ordering::Release);
            futex::wake_all(&wake.seq);
        }
    }

    // -- the side locks ------------------------------------------------------------------

    /// Takes a side lock within `patience`; `Ok(None)` if it could not. The second part
    /// is true if a previous holder died holding it: the caller repairs its side, then
    /// clears the mark.
    pub(crate) fn lock_side<'a>(
        &self,
        lock: &'a Lock,
        patience: &mut Patience,
    ) -> Option<(LockGuard<'a>, bool)> {
        // Try first: the clock is read only if the lock is held, and then the deadline is
        // fixed for the rest of the call.
        let outcome = match lock.try_lock() {
            Err(TryLockError::WouldBlock) => {
                *patience = patience.fixed();
                self.lock_patiently(lock, *patience)
            }
            outcome => outcome,
        };
        match outcome {
            Ok(guard) => Some((guard, false)),
            Err(TryLockError::OwnerDied(died)) => Some((died.into_inner(), true)),
            Err(_) => None,
        }
    }

    fn lock_patiently<'a>(
        &self,
        lock: &'a Lock,
        patience: Patience,
    ) -> mp_sync::TryLockResult<LockGuard<'a>> {
        match patience.deadline() {
            None => Err(TryLockError::WouldBlock),
            Some(deadline) => match deadline.remaining() {
                Some(left) => lock.lock_timeout(left),
                None => lock.lock().map_err(TryLockError::OwnerDied),
            },
        }
    }
}

/// The type name recorded for messages of type `T`.
pub(crate) fn message_type<T>() -> &'static str {
    type_name::<T>()
}
