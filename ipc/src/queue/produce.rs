//! The producer side: `put`, `close`, and the repair a producer does when it takes the
//! producer lock over from a dead holder.
//!
//! The holder of the producer lock owns the ring bytes from the tail up to the head plus
//! the ring's size. It writes a record there, then commits it by moving the tail (one
//! compare-and-swap of the packed cursor): a producer killed before that leaves the
//! queue as it was, one killed after it has delivered its message. Nothing else a producer
//! does matters to the consumers.
//!
//! The swap, rather than a store, is for `close`: a producer stopped (SIGSTOP) in the
//! middle of a put holds the producer lock for as long as it is stopped, and `close`,
//! which must not return while a put may still complete, cannot wait for ever. After
//! [`CLOSE_PATIENCE`] it seals the tail instead ([`SEALED`]); the stopped put's swap then
//! fails when it goes on, and the put returns `Closed`: nothing arrives after `close`,
//! and nothing is lost, since a put that fails delivered nothing.

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;

use super::control::{
    Cursor, SEALED, STREAM_ABANDONED, STREAM_FINISHING, STREAM_NONE, STREAM_OPEN,
};
use super::raw::{Patience, RawQueue};
use super::record::{self, ABORT, FIRST, HEADER, LAST, MORE, WHOLE};
use crate::{Error, QueueFault};
use mp_sys::{Deadline, futex};

/// Room a streaming producer always leaves free, so that it (or whoever takes its lock
/// over) can write an abort record without waiting for consumers.
const ABORT_RESERVE: u32 = HEADER;

/// How long `close` waits for the producer lock before it looks again at the stream in
/// progress.
const CLOSE_SLICE: Duration = Duration::from_millis(50);

/// How long `close` waits for a put in progress to finish before it seals the tail (the
/// holder of the producer lock is stopped or starved; see the module docs).
pub(crate) const CLOSE_PATIENCE: Duration = Duration::from_secs(1);

/// Scratch buffers kept past this size are given back to the allocator.
const SCRATCH_KEPT: usize = 1 << 20;

thread_local! {
    /// Where a message is serialized when it cannot be serialized straight into the ring
    /// (it wraps around the ring's end, or must wait for room, or is streamed).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl RawQueue {
    /// Puts one message, waiting within `patience` for the producer lock and for room.
    /// `Err(Full)` when the patience ran out, `Err(Closed)` once the queue is closed.
    pub(crate) fn put<T: Serialize + ?Sized>(
        &self,
        value: &T,
        mut patience: Patience,
    ) -> Result<(), Error> {
        // Before the lock too: a put on a closed queue fails at once, even while a
        // stopped producer holds the lock.
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let producer = &self.control().producer.0;
        let Some((guard, owner_died)) = self.lock_side(&producer.lock, &mut patience) else {
            return Err(Error::Full);
        };
        if owner_died {
            self.repair_producer()?;
            producer.lock.clear_poison();
        }
        let result = self.put_locked(value, patience);
        drop(guard);
        result
    }

    fn put_locked<T: Serialize + ?Sized>(
        &self,
        value: &T,
        mut patience: Patience,
    ) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        // Only the holder of the producer lock moves the tail, so it stays put while we
        // hold the lock.
        let tail = Cursor::unpack(self.control().tail.0.tail.load(Ordering::Relaxed));
        if self.maxsize() != 0 {
            self.wait_for_slot(tail, &mut patience)?;
        }

        // The fast path: serialize straight into the free bytes at the tail.
        let free = self.free_space(tail.pos, false)?;
        if let Some(()) = self.try_put_in_place(value, tail, free)? {
            return Ok(());
        }
        let refreshed = self.free_space(tail.pos, true)?;
        if refreshed > free
            && let Some(()) = self.try_put_in_place(value, tail, refreshed)?
        {
            return Ok(());
        }

        // The message wraps around the ring's end, or needs more room than is free now,
        // or is larger than the ring: serialize it aside first.
        let patience = patience.fixed();
        with_encoded(value, |bytes| match record::footprint(bytes.len()) {
            Some(size) if size <= self.ring_bytes() => self.put_whole(bytes, size, tail, patience),
            _ => self.put_stream(bytes, tail, patience),
        })?
    }

    /// Serializes `value` into the contiguous free bytes at the tail and commits it, if it
    /// fits there (`Ok(None)` if not).
    fn try_put_in_place<T: Serialize + ?Sized>(
        &self,
        value: &T,
        tail: Cursor,
        free: u32,
    ) -> Result<Option<()>, Error> {
        let room = self.until_end(tail.pos).min(free);
        if room <= HEADER {
            return Ok(None);
        }
        // SAFETY: we hold the producer lock, and `[tail + 8, tail + room)` is free space
        // that does not wrap (`room` is at most the bytes to the ring's end). The slice is
        // dropped at the end of this statement, before the commit.
        let written = mp_wire::encode_bytes_into_slice(value, unsafe {
            self.ring_slice_mut(tail.pos.wrapping_add(HEADER), room - HEADER)
        });
        let len = match written {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(None),
            Err(other) => return Err(encode_failure(value, other)),
        };
        // `len <= room - 8` and `room` is a multiple of 8, so the padded record fits.
        let size = record::footprint(len).ok_or(Error::Full)?;
        let len = u32::try_from(len).map_err(|_| Error::Full)?;
        self.write_header(tail.pos, len, WHOLE);
        self.commit_tail(tail, size, true)?;
        Ok(Some(()))
    }

    /// Writes a serialized message that fits in the ring as one record, once there is room.
    fn put_whole(
        &self,
        bytes: &[u8],
        size: u32,
        tail: Cursor,
        patience: Patience,
    ) -> Result<(), Error> {
        self.wait_for_room(tail, size, patience)?;
        let len = u32::try_from(bytes.len()).map_err(|_| Error::Full)?;
        self.write_header(tail.pos, len, WHOLE);
        // SAFETY: we hold the producer lock and `wait_for_room` made sure that `size`
        // bytes from the tail are free.
        unsafe { self.write_ring(tail.pos.wrapping_add(HEADER), bytes) };
        self.commit_tail(tail, size, true)?;
        Ok(())
    }

    /// Streams a message larger than the ring: a `FIRST` record with the total length,
    /// then `MORE` records, then `LAST`, each committed as soon as it is written so that
    /// consumers make room for the next. Always leaves [`ABORT_RESERVE`] bytes free.
    ///
    /// A consumer that gives the stream up (its get ran out of time while we stood still)
    /// moves it to `STREAM_ABANDONED`: we then abort it and send the message again from
    /// the start, so a put that returns `Ok` was received whole by one consumer. Once the
    /// queue is closed, an abandoned stream fails with `Closed` instead.
    fn put_stream(&self, bytes: &[u8], mut tail: Cursor, patience: Patience) -> Result<(), Error> {
        let stream = &self.control().producer.0.stream;
        let ring = self.ring_bytes();
        // Chunks of at most half the ring let the consumer copy one while we write the next.
        let largest_chunk = ring / 2;
        stream.store(STREAM_OPEN, Ordering::SeqCst);
        tracing::debug!(
            bytes = bytes.len(),
            ring,
            "streaming a message larger than the ring"
        );
        let mut sent = 0usize;
        let mut first = true;
        loop {
            if stream.load(Ordering::SeqCst) == STREAM_ABANDONED {
                tail = self.restart_stream(tail, first)?;
                sent = 0;
                first = true;
            }
            let remaining = bytes.len() - sent;
            let prefix: u32 = if first { 8 } else { 0 };
            let smallest = u32::try_from(remaining).unwrap_or(u32::MAX).min(ring / 8);
            let needed = (HEADER + ABORT_RESERVE + prefix + smallest + 7) & !7;
            let waited = self.wait_for_room_or(tail, needed, patience, || {
                stream.load(Ordering::SeqCst) == STREAM_ABANDONED
            });
            if let Err(error) = waited {
                self.end_stream(first)?;
                return Err(error);
            }
            if stream.load(Ordering::SeqCst) == STREAM_ABANDONED {
                continue;
            }
            let free = self.free_space(tail.pos, false)?;
            let room = (free - HEADER - ABORT_RESERVE - prefix) & !7;
            let chunk = remaining.min(room.min(largest_chunk) as usize);
            let end = sent + chunk;
            let tag = match (first, end == bytes.len()) {
                (true, _) => FIRST,
                (false, true) => LAST,
                (false, false) => MORE,
            };
            if tag == LAST {
                // From here on nobody may give the stream up; a consumer or `close` that
                // got there first makes us start again (or stop, once closed).
                if stream
                    .compare_exchange(
                        STREAM_OPEN,
                        STREAM_FINISHING,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_err()
                {
                    continue;
                }
                if self.is_closed() {
                    self.end_stream(false)?;
                    return Err(Error::Closed);
                }
            }
            let len = prefix + chunk as u32;
            self.write_header(tail.pos, len, tag);
            // SAFETY: we hold the producer lock and `free` bytes from the tail are free;
            // `HEADER + len` (padded) is at most `free - ABORT_RESERVE`.
            unsafe {
                let mut at = tail.pos.wrapping_add(HEADER);
                if first {
                    self.write_ring(at, &(bytes.len() as u64).to_le_bytes());
                    at = at.wrapping_add(8);
                }
                self.write_ring(at, &bytes[sent..end]);
            }
            let size = record::footprint(len as usize).ok_or(Error::Full)?;
            tail = match self.commit_tail(tail, size, tag == LAST) {
                Ok(next) => next,
                Err(sealed) => {
                    self.end_stream(first)?;
                    return Err(sealed);
                }
            };
            sent = end;
            first = false;
            if tag == LAST {
                break;
            }
        }
        stream.store(STREAM_NONE, Ordering::SeqCst);
        Ok(())
    }

    /// Ends the stream in progress without finishing it: an abort record if any of it was
    /// committed (`!first`), then no stream.
    fn end_stream(&self, first: bool) -> Result<(), Error> {
        let ended = if first { Ok(()) } else { self.write_abort() };
        self.control()
            .producer
            .0
            .stream
            .store(STREAM_NONE, Ordering::SeqCst);
        ended
    }

    /// The stream was abandoned: aborts what was sent of it and opens it again, to be sent
    /// from the start; the tail then. `Closed` (and no stream) once the queue is closed.
    fn restart_stream(&self, tail: Cursor, first: bool) -> Result<Cursor, Error> {
        if !first {
            self.write_abort()?;
        }
        tracing::debug!("a streamed message was given up by its consumer: sending it again");
        self.control()
            .producer
            .0
            .stream
            .store(STREAM_OPEN, Ordering::SeqCst);
        // After reopening: a `close` that saw the stream abandoned before we reopened it
        // returned without waiting for us, so we must see its flag now (both `SeqCst`).
        if self.is_closed() {
            self.end_stream(true)?;
            return Err(Error::Closed);
        }
        if first {
            Ok(tail)
        } else {
            Ok(Cursor::unpack(
                self.control().tail.0.tail.load(Ordering::Relaxed),
            ))
        }
    }

    /// Waits until a message may be added under `maxsize`.
    fn wait_for_slot(&self, tail: Cursor, patience: &mut Patience) -> Result<(), Error> {
        let maxsize = self.maxsize();
        let has_slot = |refresh: bool| -> Result<bool, Error> {
            let head = self.producer_view_of_head(refresh);
            Ok(tail.count.wrapping_sub(head.count) < maxsize)
        };
        if has_slot(false)? || has_slot(true)? {
            return Ok(());
        }
        *patience = patience.fixed();
        self.wait_on_space(*patience, || has_slot(true))
    }

    /// Waits until `size` bytes from the tail are free.
    fn wait_for_room(&self, tail: Cursor, size: u32, patience: Patience) -> Result<(), Error> {
        self.wait_for_room_or(tail, size, patience, || false)
    }

    /// Waits until `size` bytes from the tail are free or `stop` says so.
    fn wait_for_room_or(
        &self,
        tail: Cursor,
        size: u32,
        patience: Patience,
        stop: impl Fn() -> bool,
    ) -> Result<(), Error> {
        if self.free_space(tail.pos, true)? >= size {
            return Ok(());
        }
        self.wait_on_space(patience, || {
            Ok(stop() || self.free_space(tail.pos, true)? >= size)
        })
    }

    /// Waits on the consumers' wake-up word until `ready`, the queue closes (`Closed`) or
    /// the patience runs out (`Full`).
    fn wait_on_space(
        &self,
        patience: Patience,
        mut ready: impl FnMut() -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let Some(deadline) = patience.deadline() else {
            return Err(Error::Full);
        };
        let space = &self.control().head.0.space;
        let ready = self.wait_until(space, deadline, || Ok(self.is_closed() || ready()?))?;
        if self.is_closed() {
            Err(Error::Closed)
        } else if ready {
            Ok(())
        } else {
            Err(Error::Full)
        }
    }

    /// The head as the producer last saw it, or as it is now if `refresh`.
    #[inline]
    fn producer_view_of_head(&self, refresh: bool) -> Cursor {
        let cached = &self.control().producer.0.cached_head;
        if refresh {
            let head = self.control().head.0.head.load(Ordering::Acquire);
            cached.store(head, Ordering::Relaxed);
            Cursor::unpack(head)
        } else {
            Cursor::unpack(cached.load(Ordering::Relaxed))
        }
    }

    /// Free bytes from `tail_pos`, by the cached head or, if `refresh`, the current one.
    #[inline]
    fn free_space(&self, tail_pos: u32, refresh: bool) -> Result<u32, Error> {
        let head = self.producer_view_of_head(refresh);
        Ok(self.ring_bytes() - self.used(head.pos, tail_pos)?)
    }

    /// Publishes a record of `size` bytes: the commit point of a put. `Closed` if `close`
    /// sealed the tail since the put began (the record is not published).
    #[inline]
    fn commit_tail(&self, tail: Cursor, size: u32, completes: bool) -> Result<Cursor, Error> {
        let next = tail.advanced(size, completes);
        self.control()
            .tail
            .0
            .tail
            .compare_exchange(tail.pack(), next.pack(), Ordering::SeqCst, Ordering::SeqCst)
            .map_err(|_| Error::Closed)?;
        self.notify_after_commit(&self.control().tail.0.items);
        Ok(next)
    }

    /// Publishes an abort record, sealed tail or not (it delivers nothing, and consumers
    /// in the middle of the stream need it to go on); keeps the seal.
    fn commit_abort(&self, tail: Cursor) {
        let next = tail.advanced(HEADER, false).pack();
        let _ =
            self.control()
                .tail
                .0
                .tail
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |word| {
                    Some(next | (word & SEALED))
                });
        self.notify_after_commit(&self.control().tail.0.items);
    }

    /// Writes an abort record for the stream in progress (room is always reserved).
    fn write_abort(&self) -> Result<(), Error> {
        let tail = Cursor::unpack(self.control().tail.0.tail.load(Ordering::Relaxed));
        if self.free_space(tail.pos, true)? < HEADER {
            return Err(Error::CorruptQueue {
                fault: QueueFault::NoRoomForAbort,
            });
        }
        // We hold the producer lock and at least 8 bytes from the tail are free.
        self.write_header(tail.pos, 0, ABORT);
        self.commit_abort(tail);
        tracing::debug!("stream aborted");
        Ok(())
    }

    /// Called with the producer lock just taken over from a dead holder: ends a stream it
    /// left open and resets what only a producer uses. The committed tail needs nothing:
    /// whatever the dead producer wrote past it is simply overwritten.
    pub(crate) fn repair_producer(&self) -> Result<(), Error> {
        let producer = &self.control().producer.0;
        self.control()
            .head
            .0
            .space
            .waiter
            .store(0, Ordering::Relaxed);
        self.producer_view_of_head(true);
        if producer.stream.load(Ordering::SeqCst) != STREAM_NONE {
            self.write_abort()?;
            producer.stream.store(STREAM_NONE, Ordering::SeqCst);
        }
        tracing::debug!("producer side repaired after its lock holder died");
        Ok(())
    }

    /// Python's `close()`, for the whole queue: no put succeeds afterwards, and consumers
    /// get `Closed` once the queue is drained. Returns once no put can complete any more.
    ///
    /// That is once the producer lock is free, with two exceptions that keep a stopped
    /// producer from holding `close` for ever: a stream still open is abandoned, which its
    /// producer can only answer with an abort record and `Closed`; and after
    /// [`CLOSE_PATIENCE`] the tail is sealed, which the put in progress can only answer
    /// with `Closed`.
    pub(crate) fn close(&self) {
        let control = self.control();
        if control.shared.0.closed.swap(1, Ordering::SeqCst) == 0 {
            tracing::debug!("queue closed");
        }
        self.wake_everyone();
        // A put that checked the flag before we set it finishes (or gives up, as its waits
        // see the flag) before we get the lock: after this, nothing more arrives.
        let producer = &control.producer.0;
        let give_up = Deadline::after(CLOSE_PATIENCE);
        loop {
            let mut patience = Patience::Within(CLOSE_SLICE);
            if let Some((guard, owner_died)) = self.lock_side(&producer.lock, &mut patience) {
                if owner_died && self.repair_producer().is_ok() {
                    producer.lock.clear_poison();
                }
                drop(guard);
                return;
            }
            if self.abandon_stream() {
                return;
            }
            if give_up.has_passed() {
                self.seal_tail();
                tracing::warn!(
                    "close: the producer lock stayed held (a stopped producer?); tail sealed, its put will fail with Closed"
                );
                return;
            }
        }
    }

    /// What `close` does when the producer lock stays held past [`CLOSE_PATIENCE`]: no
    /// record but an abort commits after this.
    fn seal_tail(&self) {
        self.control()
            .tail
            .0
            .tail
            .fetch_or(SEALED, Ordering::SeqCst);
    }

    /// Gives up the stream in progress, if one is open (or was abandoned already): its
    /// producer will abort it. False if there is none, or its last chunk is being
    /// committed. Wakes the producer, which may be waiting for room that will not come.
    pub(crate) fn abandon_stream(&self) -> bool {
        let stream = &self.control().producer.0.stream;
        let abandoned = match stream.compare_exchange(
            STREAM_OPEN,
            STREAM_ABANDONED,
            Ordering::SeqCst,
            Ordering::SeqCst,
        ) {
            Ok(_) | Err(STREAM_ABANDONED) => true,
            Err(STREAM_NONE | STREAM_FINISHING) | Err(_) => false,
        };
        if abandoned {
            let space = &self.control().head.0.space;
            space.seq.fetch_add(1, Ordering::Release);
            futex::wake_all(&space.seq);
        }
        abandoned
    }
}

/// Serializes `value` into this thread's scratch buffer and runs `f` on the bytes.
fn with_encoded<T: Serialize + ?Sized, R>(
    value: &T,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, Error> {
    let mut buffer = SCRATCH
        .try_with(|scratch| std::mem::take(&mut *scratch.borrow_mut()))
        .unwrap_or_default();
    buffer.clear();
    mp_wire::encode_bytes_into(value, &mut buffer).map_err(|e| encode_failure(value, e))?;
    let result = f(&buffer);
    if buffer.capacity() <= SCRATCH_KEPT {
        let _ = SCRATCH.try_with(|scratch| *scratch.borrow_mut() = buffer);
    }
    Ok(result)
}

/// How many bytes the queue's codec (mp-wire) makes of `value`: the payload a put would
/// write, by the same encoding, into the thread's reused scratch buffer.
#[cfg(feature = "async")]
pub(crate) fn encoded_len<T: Serialize + ?Sized>(value: &T) -> Result<usize, Error> {
    with_encoded(value, <[u8]>::len)
}

/// Why `value` could not be serialized. A handle refuses to serialize outside the handle
/// transfer, which says nothing about how many there are; serializing again through
/// `transfer::encode` tells whether the value holds file descriptors, which a queue cannot
/// carry (its ring holds bytes only).
fn encode_failure<T: Serialize + ?Sized>(value: &T, error: mp_wire::Error) -> Error {
    match mp_shared_mem::transfer::encode(value) {
        Ok((_, fds)) if !fds.is_empty() => Error::FdsInQueueMessage { count: fds.len() },
        Ok(_) => Error::SharedMem(error.into()),
        Err(precise) => Error::SharedMem(precise),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::control::Kind;

    #[test]
    fn a_put_that_commits_after_close_sealed_the_tail_fails_closed_and_delivers_nothing() {
        let raw = RawQueue::create(Kind::Queue, 4096, 0, "u32").unwrap();
        // A put read the tail (and the open flag), then its process stopped.
        let tail = raw.tail();
        raw.control().shared.0.closed.store(1, Ordering::SeqCst);
        raw.seal_tail(); // `close` gave up waiting for it
        assert!(matches!(
            raw.commit_tail(tail, HEADER, true),
            Err(Error::Closed)
        ));
        assert_eq!(raw.tail(), tail);
        assert_eq!(raw.qsize(), 0);
        // An abort record still goes through (a consumer in the middle of a stream
        // needs it), and the seal stays.
        raw.commit_abort(tail);
        assert_eq!(raw.tail().pos, tail.pos + HEADER);
        assert!(matches!(
            raw.commit_tail(raw.tail(), HEADER, true),
            Err(Error::Closed)
        ));
    }

    #[test]
    fn a_put_on_a_closed_queue_fails_without_waiting_for_the_producer_lock() {
        let raw = RawQueue::create(Kind::Queue, 4096, 0, "u32").unwrap();
        let _held = raw.control().producer.0.lock.lock().unwrap();
        raw.control().shared.0.closed.store(1, Ordering::SeqCst);
        assert!(matches!(
            raw.put(&1u32, Patience::Forever),
            Err(Error::Closed)
        ));
    }
}
