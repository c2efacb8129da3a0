//! The consumer side: `get`, the repair a consumer does when it takes the consumer lock
//! over from a dead holder, and the checks that keep a corrupt ring from doing harm.
//!
//! The holder of the consumer lock owns the ring bytes from the head up to the tail it
//! loaded. It decodes a record, then commits by storing the head (one atomic store of the
//! packed cursor): a consumer killed before that store leaves the message queued, one
//! killed after it has taken it.
//!
//! Everything read from the ring is checked before use: a record must lie between the
//! head and the tail, a streamed message may not grow past the total its first chunk
//! announced, and memory is only allocated for bytes that are actually there. A ring
//! written by a buggy or hostile process gives [`Error::CorruptQueue`] or a decode error,
//! never undefined behaviour or an allocation of a size it chose.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mp_sync::TryLockError;
use mp_sys::Deadline;
use serde::de::DeserializeOwned;

use super::accounts::Take;
use super::control::{Cursor, STREAM_ABANDONED};
use super::raw::{Patience, RawQueue};
use super::record::{self, ABORT, FIRST, HEADER, LAST, MORE, WHOLE};
use crate::{Error, QueueFault};

/// How long a consumer in the middle of a streamed message waits for the next chunk
/// before it checks whether the producer died.
const STREAM_STALL: Duration = Duration::from_millis(200);
/// How long it then tries for the producer lock (long enough for mp-sync to notice a
/// dead holder, which it checks every 100 ms).
const STREAM_RESCUE: Duration = Duration::from_millis(150);

thread_local! {
    /// Where a message that wraps around the ring's end is gathered to be decoded.
    static GATHER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// How far ahead, in bytes, the producers must be for a consumer that had caught up with
/// them to read on at once: four cache lines (see `slip_behind`).
const SLIP_BYTES: u32 = 256;
/// The spin-loop hints (about 25 ns each on the machine the project measures on) a
/// consumer waits before reading records that lie closer behind the producers.
const SLIP_PAUSES: u32 = 16;

/// The later of two deadlines.
fn later(a: Deadline, b: Deadline) -> Deadline {
    if a.earlier(b) == a { b } else { a }
}

/// A streamed message being received.
struct Stream {
    bytes: Vec<u8>,
    total: u64,
}

impl RawQueue {
    /// Takes one message, waiting within `patience` for the consumer lock and for a
    /// message. `Err(Empty)` when the patience ran out, `Err(Closed)` once the queue is
    /// closed and drained.
    pub(crate) fn get<T: DeserializeOwned>(&self, mut patience: Patience) -> Result<T, Error> {
        let consumer = &self.control().consumer.0;
        let Some((guard, owner_died)) = self.lock_side(&consumer.lock, &mut patience) else {
            return Err(Error::Empty);
        };
        if owner_died {
            self.repair_consumer();
            consumer.lock.clear_poison();
        }
        let result = self.get_locked(patience);
        drop(guard);
        result
    }

    fn get_locked<T: DeserializeOwned>(&self, patience: Patience) -> Result<T, Error> {
        let mut stream: Option<Stream> = None;
        loop {
            // Only the holder of the consumer lock moves the head.
            let head = Cursor::unpack(self.control().head.0.head.load(Ordering::Relaxed));
            let tail_pos = if stream.is_some() {
                match self.wait_mid_stream(head.pos, patience)? {
                    Some(tail_pos) => tail_pos,
                    None => {
                        tracing::debug!("dropped a streamed message that was given up");
                        stream = None;
                        continue;
                    }
                }
            } else {
                self.wait_for_record(head.pos, patience)?
            };
            let available = self.used(head.pos, tail_pos)?;
            // At least one header lies between the head and the tail we loaded
            // (`available` is a non-zero multiple of 8).
            let (len, tag) = self.read_header(head.pos);
            let size = record::footprint(len as usize)
                .filter(|size| *size <= available)
                .ok_or(Error::CorruptQueue {
                    fault: QueueFault::RecordPastTail { len, available },
                })?;
            let payload = head.pos.wrapping_add(HEADER);
            match (tag, stream.as_mut()) {
                (WHOLE, None) => {
                    let message = self.decode_at::<T>(payload, len);
                    // The message is taken even if it does not decode: left in place, it
                    // would fail every get after this one.
                    self.commit_taking(head, size, Take::of(&message));
                    return message;
                }
                (FIRST, None) => {
                    let total = self.read_stream_total(payload, len)?;
                    let mut received = Stream {
                        bytes: Vec::new(),
                        total,
                    };
                    self.append(&mut received, payload.wrapping_add(8), len - 8)?;
                    stream = Some(received);
                    self.commit_head(head, size, false);
                }
                (MORE | LAST, Some(received)) => {
                    self.append(received, payload, len)?;
                    if tag == LAST {
                        if received.bytes.len() as u64 != received.total {
                            return Err(Error::CorruptQueue {
                                fault: QueueFault::StreamCutShort {
                                    received: received.bytes.len() as u64,
                                    total: received.total,
                                },
                            });
                        }
                        let message = decode_bytes::<T>(&received.bytes);
                        self.commit_taking(head, size, Take::of(&message));
                        return message;
                    }
                    self.commit_head(head, size, false);
                }
                (ABORT, Some(_)) => {
                    tracing::debug!("a streamed message was abandoned by its producer");
                    stream = None;
                    self.commit_head(head, size, false);
                }
                // The rest of a message whose consumer died while receiving it: the
                // message went with that consumer (see the docs on streamed messages).
                (MORE | ABORT, None) => self.commit_head(head, size, false),
                (LAST, None) => {
                    tracing::debug!("skipped the rest of a streamed message whose consumer died");
                    self.commit_taking(head, size, Take::Lost);
                }
                (WHOLE | FIRST, Some(_)) => {
                    return Err(Error::CorruptQueue {
                        fault: QueueFault::MessageInsideStream,
                    });
                }
                (other, _) => {
                    return Err(Error::CorruptQueue {
                        fault: QueueFault::UnknownTag { tag: other },
                    });
                }
            }
        }
    }

    /// Waits until a record follows `head_pos`; the tail position then.
    #[inline]
    fn wait_for_record(&self, head_pos: u32, patience: Patience) -> Result<u32, Error> {
        let cached = Cursor::unpack(
            self.control()
                .consumer
                .0
                .cached_tail
                .load(Ordering::Relaxed),
        );
        if cached.pos != head_pos && self.used(head_pos, cached.pos).is_ok() {
            return Ok(cached.pos);
        }
        let tail_pos = self.consumer_view_of_tail();
        if tail_pos != head_pos {
            return Ok(self.slip_behind(head_pos, tail_pos));
        }
        let items = &self.control().tail.0.items;
        let patience = patience.fixed();
        loop {
            if self.is_closed() {
                // Puts finish before `close` returns; look once more for the last of them.
                let tail_pos = self.consumer_view_of_tail();
                return if tail_pos != head_pos {
                    Ok(tail_pos)
                } else {
                    Err(Error::Closed)
                };
            }
            let Some(deadline) = patience.deadline() else {
                return Err(Error::Empty);
            };
            let ready = self.wait_until(items, deadline, || {
                Ok(self.consumer_view_of_tail() != head_pos || self.is_closed())
            })?;
            let tail_pos = self.consumer_view_of_tail();
            if tail_pos != head_pos {
                return Ok(tail_pos);
            }
            if !ready {
                return Err(Error::Empty);
            }
        }
    }

    /// Waits, in the middle of a streamed message, until its next record follows
    /// `head_pos`: `Ok(Some(tail position))`, or `Ok(None)` if the stream was abandoned
    /// (by `close`, or by a consumer before this one) and what was gathered of it must be
    /// dropped.
    ///
    /// A stream that stands still for [`STREAM_STALL`] may have lost its producer: we then
    /// try its lock, which mp-sync hands over with the news if the holder died, and write
    /// the abort record it owed. A get whose `patience` has run out gives the stream up
    /// (`Err(Empty)`) once it has also stood still for [`STREAM_STALL`]: a producer that
    /// is running sends its next chunk far sooner, so a stream that moves is never given
    /// up half-way because of a short timeout.
    fn wait_mid_stream(&self, head_pos: u32, patience: Patience) -> Result<Option<u32>, Error> {
        let tail_pos = self.consumer_view_of_tail();
        if tail_pos != head_pos {
            return Ok(Some(tail_pos));
        }
        let items = &self.control().tail.0.items;
        let stream = &self.control().producer.0.stream;
        let stalled_at = Deadline::after(STREAM_STALL);
        // When this get may give the stream up: not before it stalled, nor before the
        // patience runs out (never, for the blocking form).
        let give_up_at = match patience.fixed().deadline() {
            None => Some(stalled_at),
            Some(deadline) if deadline.is_never() => None,
            Some(deadline) => Some(later(deadline, stalled_at)),
        };
        let mut rescue_at = stalled_at;
        loop {
            let tail_pos = self.consumer_view_of_tail();
            if tail_pos != head_pos {
                return Ok(Some(tail_pos));
            }
            if stream.load(Ordering::SeqCst) == STREAM_ABANDONED
                || (self.is_closed() && self.abandon_stream())
            {
                return Ok(None);
            }
            if give_up_at.is_some_and(Deadline::has_passed) && self.abandon_stream() {
                tracing::debug!("a streamed message stood still past the get's deadline");
                return Err(Error::Empty);
            }
            if rescue_at.has_passed() {
                let bound = give_up_at
                    .and_then(Deadline::remaining)
                    .map_or(STREAM_RESCUE, |left| left.min(STREAM_RESCUE));
                self.rescue_stream_from_dead_producer(bound);
                rescue_at = Deadline::after(STREAM_STALL);
                continue;
            }
            // A stream whose last chunk is being committed (or that a dead producer left
            // open) is looked at again every slice.
            let wake_at = match give_up_at {
                Some(give_up) if !give_up.has_passed() => rescue_at.earlier(give_up),
                _ => rescue_at,
            };
            self.wait_until(items, wake_at, || {
                Ok(self.consumer_view_of_tail() != head_pos
                    || self.is_closed()
                    || stream.load(Ordering::Relaxed) == STREAM_ABANDONED)
            })?;
        }
    }

    /// The tail to read up to, once a consumer that had caught up with the producers
    /// finds records again: if they lie less than [`SLIP_BYTES`] ahead, it pauses for
    /// [`SLIP_PAUSES`] first and looks again.
    ///
    /// A consumer reading right behind a producer reads the cache lines the producer is
    /// still writing, so a line crosses between their cores once per record rather than
    /// once per line, and the side locks' atomic instructions wait for those crossings.
    /// The queue then settles into a slow regime where the consumer catches up every two
    /// to five gets (ipc-queue-1x1-16b: 6 to 7 M msg/s, against about 21 when the ring
    /// holds a backlog). The pause lets the producer move a few lines ahead: 10 to 11 M
    /// msg/s in that regime, the other unchanged. It costs only a get that finds fewer
    /// than `SLIP_BYTES` already waiting, at most about half a microsecond; a get that has
    /// to wait for a record takes it as soon as it comes.
    #[inline]
    fn slip_behind(&self, head_pos: u32, tail_pos: u32) -> u32 {
        if tail_pos.wrapping_sub(head_pos) >= SLIP_BYTES {
            return tail_pos;
        }
        for _ in 0..SLIP_PAUSES {
            std::hint::spin_loop();
        }
        self.consumer_view_of_tail()
    }

    /// The tail as it is now, remembered for the next get.
    #[inline]
    fn consumer_view_of_tail(&self) -> u32 {
        let tail = self.control().tail.0.tail.load(Ordering::Acquire);
        self.control()
            .consumer
            .0
            .cached_tail
            .store(tail, Ordering::Relaxed);
        Cursor::unpack(tail).pos
    }

    /// A stream has stalled: if its producer died holding the producer lock, take the lock
    /// over and write the abort record it owed, so this get can go on to the next message.
    fn rescue_stream_from_dead_producer(&self, bound: Duration) {
        let producer = &self.control().producer.0;
        match producer.lock.lock_timeout(bound) {
            Ok(guard) => drop(guard),
            Err(TryLockError::OwnerDied(died)) => {
                let guard = died.into_inner();
                if self.repair_producer().is_ok() {
                    producer.lock.clear_poison();
                }
                drop(guard);
            }
            Err(_) => {}
        }
    }

    /// The total length a `FIRST` record announces, checked for sense. Nothing is
    /// allocated for it: the bytes are gathered as they come.
    fn read_stream_total(&self, payload: u32, len: u32) -> Result<u64, Error> {
        if len < 8 {
            return Err(Error::CorruptQueue {
                fault: QueueFault::StreamWithoutLength { len },
            });
        }
        let mut total = [0u8; 8];
        // SAFETY: we hold the consumer lock and the record, checked to lie before the
        // tail, has at least these 8 payload bytes.
        unsafe { self.read_ring(payload, &mut total) };
        let total = u64::from_le_bytes(total);
        if total < u64::from(len - 8) {
            return Err(Error::CorruptQueue {
                fault: QueueFault::StreamShorterThanChunk {
                    total,
                    chunk: len - 8,
                },
            });
        }
        Ok(total)
    }

    /// Adds the `len` bytes at `pos` to a stream, refusing to grow it past its total.
    fn append(&self, stream: &mut Stream, pos: u32, len: u32) -> Result<(), Error> {
        let have = stream.bytes.len();
        if have as u64 + u64::from(len) > stream.total {
            return Err(Error::CorruptQueue {
                fault: QueueFault::StreamOverrun {
                    total: stream.total,
                },
            });
        }
        stream.bytes.resize(have + len as usize, 0);
        // SAFETY: we hold the consumer lock; the chunk lies between the head and the tail
        // (its record was checked), and `len` is at most the ring's size.
        unsafe { self.read_ring(pos, &mut stream.bytes[have..]) };
        Ok(())
    }

    /// Decodes the `len` bytes at `pos`: in place if they do not wrap around the ring's
    /// end, otherwise gathered in a scratch buffer first.
    fn decode_at<T: DeserializeOwned>(&self, pos: u32, len: u32) -> Result<T, Error> {
        if len <= self.until_end(pos) {
            // SAFETY: we hold the consumer lock, the bytes lie between the head and the
            // tail and do not wrap; the slice is dropped before the head is committed.
            let bytes = unsafe { self.ring_slice(pos, len) };
            return decode_bytes(bytes);
        }
        let mut gathered = GATHER
            .try_with(|gather| std::mem::take(&mut *gather.borrow_mut()))
            .unwrap_or_default();
        gathered.resize(len as usize, 0);
        // SAFETY: as above; `read_ring` copies the two parts.
        unsafe { self.read_ring(pos, &mut gathered) };
        let message = decode_bytes(&gathered);
        let _ = GATHER.try_with(|gather| *gather.borrow_mut() = gathered);
        message
    }

    /// Takes the last record of a message, accounted for in a joinable queue.
    #[inline]
    fn commit_taking(&self, head: Cursor, size: u32, take: Take) {
        if self.is_joinable() {
            self.commit_accounted_taking(head, size, take);
        } else {
            self.commit_head(head, size, true);
        }
    }

    /// `commit_taking` in a joinable queue: out of the way of the other queues' path.
    #[inline(never)]
    fn commit_accounted_taking(&self, head: Cursor, size: u32, take: Take) {
        let account = self.begin_take(head.count, take);
        self.commit_head(head, size, true);
        self.end_take(account, take);
    }

    /// Takes a record: the commit point of a get.
    #[inline]
    pub(crate) fn commit_head(&self, head: Cursor, size: u32, completes: bool) {
        let next = head.advanced(size, completes);
        self.control()
            .head
            .0
            .head
            .store(next.pack(), Ordering::SeqCst);
        self.notify_after_commit(&self.control().head.0.space);
    }

    /// Called with the consumer lock just taken over from a dead holder. The committed
    /// head needs nothing; the rest of a streamed message it was receiving is skipped by
    /// the next get.
    pub(crate) fn repair_consumer(&self) {
        self.control()
            .tail
            .0
            .items
            .waiter
            .store(0, Ordering::Relaxed);
        self.consumer_view_of_tail();
        self.finish_dead_take();
        tracing::debug!("consumer side repaired after its lock holder died");
    }
}

/// Decodes a whole message, which must use every byte.
fn decode_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    mp_wire::decode_bytes::<T>(bytes).map_err(Error::from)
}
