//! The control block at the start of a queue's segment: who the queue is, the two cursors,
//! the two side locks and the wake-up words.
//!
//! Everything in it is an atomic or an mp-sync [`Lock`] (itself one atomic word): the block
//! is shared with other processes, which may read or write it at any time, so no byte of it
//! is ever accessed non-atomically. Fields that one side writes often sit on 128-byte blocks
//! of their own (see [`Line`]), so that a producer and a consumer running in parallel do not
//! make each other's lines bounce more than the two cursors require.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use mp_sync::Lock;

/// "mpqueue1", little-endian: the first word of every queue segment.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"mpqueue1");
/// Layout version; a segment of another version is refused. 2: `Wake::async_waiters`,
/// which producers and consumers of an older layout would not know to wake. 3: the
/// stream states below, with which a consumer or `close` gives a stream back. 4: the
/// consumer accounts of a joinable queue. 5: each side's fields on a 128-byte block.
pub(crate) const VERSION: u32 = 5;
/// Where the ring starts in the segment: one page, which the control block fits in.
pub(crate) const DATA_OFFSET: usize = 4096;
/// Bytes of the type name kept for error messages.
pub(crate) const TYPE_NAME_BYTES: usize = 112;

/// The smallest ring: one page.
///
/// ```
/// let queue = mp_ipc::QueueBuilder::new().ring_bytes(1).queue::<u8>()?;
/// assert_eq!(queue.ring_bytes(), mp_ipc::MIN_RING_BYTES);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub const MIN_RING_BYTES: usize = 4096;
/// The largest ring: 1 GiB. Cursor positions are kept modulo 2^32 and compared by
/// wrapping difference, which needs the ring well below 2^31 bytes.
///
/// ```
/// let too_large = mp_ipc::QueueBuilder::new().ring_bytes(mp_ipc::MAX_RING_BYTES + 1).queue::<u8>();
/// assert!(matches!(too_large, Err(mp_ipc::Error::InvalidArgument { .. })));
/// ```
pub const MAX_RING_BYTES: usize = 1 << 30;
/// The ring of a queue built without [`ring_bytes`](crate::QueueBuilder::ring_bytes):
/// 1 MiB. Pages are only backed by memory once the ring reaches them.
///
/// ```
/// assert_eq!(mp_ipc::Queue::<u8>::new()?.ring_bytes(), mp_ipc::DEFAULT_RING_BYTES);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub const DEFAULT_RING_BYTES: usize = 1 << 20;
/// The largest `maxsize`: message counts are kept modulo 2^32 like positions.
///
/// ```
/// assert!(mp_ipc::Queue::<u8>::with_maxsize(mp_ipc::MAX_MAXSIZE + 1).is_err());
/// ```
pub const MAX_MAXSIZE: usize = 1 << 30;

/// No message larger than the ring is being streamed.
pub(crate) const STREAM_NONE: u32 = 0;
/// A stream is being written; a consumer that gives up on it (its get ran out of time
/// while the stream stood still) or `close` may move it to [`STREAM_ABANDONED`].
pub(crate) const STREAM_OPEN: u32 = 1;
/// The stream was given up by its consumer or by `close`: its producer writes an abort
/// record and sends the message again from the start (or, once the queue is closed,
/// fails with `Closed`). Consumers drop what they gathered of it.
pub(crate) const STREAM_ABANDONED: u32 = 2;
/// The producer is committing the last chunk: nobody may abandon the stream any more,
/// and its consumer waits for that chunk whatever its deadline (the producer is between
/// two stores; if it dies there, the next holder of its lock writes an abort record).
pub(crate) const STREAM_FINISHING: u32 = 3;

/// Which handle type made the queue; a segment is only opened as the kind it was made as
/// (a [`JoinableQueue`](crate::JoinableQueue) may also be opened as a plain
/// [`Queue`](crate::Queue), as Python's is a subclass of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Queue = 1,
    Joinable = 2,
    Simple = 3,
}

impl Kind {
    pub(crate) fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Kind::Queue),
            2 => Some(Kind::Joinable),
            3 => Some(Kind::Simple),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Queue => "Queue",
            Kind::Joinable => "JoinableQueue",
            Kind::Simple => "SimpleQueue",
        }
    }
}

/// A value alone on a 128-byte block: its cache line and the one paired with it. x86-64
/// processors fetch lines in aligned pairs (the adjacent-line prefetcher), so a value one
/// side writes at every message must not share a pair with one the other side writes:
/// on 64-byte lines alone, the producers' cursor would share a pair with the consumer
/// lock, and each side's writes would keep pulling the other's line away.
#[repr(C, align(128))]
pub(crate) struct Line<T>(pub(crate) T);

/// Written once by the creator, checked by every process that opens the queue.
#[repr(C)]
pub(crate) struct Identity {
    pub(crate) magic: AtomicU64,
    pub(crate) version: AtomicU32,
    pub(crate) kind: AtomicU32,
    pub(crate) ring_bytes: AtomicU64,
    pub(crate) maxsize: AtomicU64,
    /// FNV-1a of the message type's name.
    pub(crate) type_hash: AtomicU64,
    pub(crate) type_name_len: AtomicU32,
    pub(crate) type_name: [AtomicU8; TYPE_NAME_BYTES],
}

/// A wake-up word: a sleeper waits on `seq` after raising `waiter`; a waker that sees
/// `waiter` raised bumps `seq` and wakes.
#[repr(C)]
pub(crate) struct Wake {
    pub(crate) seq: AtomicU32,
    /// Raised by the one side-lock holder that is about to sleep. A holder that dies
    /// asleep leaves it raised; the cost is an extra wake call per operation until the
    /// next holder, which repairs the side, lowers it.
    pub(crate) waiter: AtomicU32,
    /// How many async waits (`get_async`, `put_async`) are registered on `seq`. Counted
    /// apart from `waiter`, which the side-lock holder lowers when it stops waiting: an
    /// async waiter holds no lock while it waits. A process that dies with one registered
    /// leaves it raised, which costs an extra wake call per operation, nothing more.
    pub(crate) async_waiters: AtomicU32,
}

/// The producers' cursor and the wake-up word consumers sleep on, together: a producer
/// writes the cursor and then reads `items.waiter` from the line it already owns.
#[repr(C)]
pub(crate) struct TailLine {
    /// Packed [`Cursor`]: messages completed, bytes committed.
    pub(crate) tail: AtomicU64,
    pub(crate) items: Wake,
}

/// The consumers' cursor and the wake-up word producers sleep on.
#[repr(C)]
pub(crate) struct HeadLine {
    pub(crate) head: AtomicU64,
    pub(crate) space: Wake,
}

/// State only the holder of the producer lock touches.
#[repr(C)]
pub(crate) struct ProducerSide {
    pub(crate) lock: Lock,
    /// Where the message larger than the ring being streamed stands: one of the
    /// `STREAM_*` states. A producer that takes the lock over from a dead holder and
    /// finds a stream not `STREAM_NONE` writes an abort record.
    pub(crate) stream: AtomicU32,
    /// The last head seen: a lower bound of the real one, so free space computed from it
    /// is never too large. Saves reading the consumers' line on every put.
    pub(crate) cached_head: AtomicU64,
}

/// State only the holder of the consumer lock touches.
#[repr(C)]
pub(crate) struct ConsumerSide {
    pub(crate) lock: Lock,
    /// The last tail seen (an upper bound of what may be read without looking again).
    pub(crate) cached_tail: AtomicU64,
    /// In a joinable queue, the take in progress (see `accounts.rs`): 0 for none, else
    /// the account's index plus one, and the kind of take shifted left by 16.
    pub(crate) taking: AtomicU32,
    /// The head's message count before the take in progress.
    pub(crate) taking_count: AtomicU32,
    /// The account's count of tasks taken before the take in progress.
    pub(crate) taking_taken: AtomicU32,
}

/// State both sides and joiners touch rarely.
#[repr(C)]
pub(crate) struct Shared {
    /// 1 once `close` was called.
    pub(crate) closed: AtomicU32,
    /// Bumped whenever the unfinished tasks may have reached none: what joiners sleep on.
    pub(crate) tasks_seq: AtomicU32,
    /// Processes or threads sleeping in `join`.
    pub(crate) joiners: AtomicU32,
    /// How many consumer accounts have been handed out (the anonymous one aside): the
    /// ones past it are all unused.
    pub(crate) accounts_in_use: AtomicU32,
    /// Held while a dead process's account is settled or handed to another process.
    pub(crate) accounts_lock: Lock,
}

/// Consumer accounts in a joinable queue's control block; the last is the anonymous one,
/// shared by processes that find no other free.
pub(crate) const ACCOUNTS: usize = 120;

/// One process's account in a joinable queue: the tasks it took and marked done, so
/// that those it took and did not mark done can be counted lost once it dies.
#[repr(C)]
pub(crate) struct Account {
    /// Who: the owner's identity (`accounts::Identity`), 0 while unused.
    pub(crate) owner: AtomicU64,
    /// Tasks taken (high half) and marked done (low half) by the owners so far, each
    /// modulo 2^32. Settling a dead owner's account raises "done" to "taken".
    pub(crate) tasks: AtomicU64,
    /// The "taken" count at the last settling (high half) and the tasks counted lost in
    /// this account (low half): settling twice counts nothing twice.
    pub(crate) losses: AtomicU64,
}

/// The control block.
#[repr(C)]
pub(crate) struct Control {
    pub(crate) identity: Line<Identity>,
    pub(crate) producer: Line<ProducerSide>,
    pub(crate) tail: Line<TailLine>,
    pub(crate) consumer: Line<ConsumerSide>,
    pub(crate) head: Line<HeadLine>,
    pub(crate) shared: Line<Shared>,
    pub(crate) accounts: [Account; ACCOUNTS],
}

const _: () = assert!(size_of::<Control>() <= DATA_OFFSET);

impl Control {
    /// A fresh control block; `identity` is filled in by [`Control::stamp`].
    pub(crate) fn new() -> Self {
        let wake = || Wake {
            seq: AtomicU32::new(0),
            waiter: AtomicU32::new(0),
            async_waiters: AtomicU32::new(0),
        };
        Self {
            identity: Line(Identity {
                magic: AtomicU64::new(0),
                version: AtomicU32::new(0),
                kind: AtomicU32::new(0),
                ring_bytes: AtomicU64::new(0),
                maxsize: AtomicU64::new(0),
                type_hash: AtomicU64::new(0),
                type_name_len: AtomicU32::new(0),
                type_name: std::array::from_fn(|_| AtomicU8::new(0)),
            }),
            producer: Line(ProducerSide {
                lock: Lock::new(),
                stream: AtomicU32::new(STREAM_NONE),
                cached_head: AtomicU64::new(0),
            }),
            tail: Line(TailLine {
                tail: AtomicU64::new(0),
                items: wake(),
            }),
            consumer: Line(ConsumerSide {
                lock: Lock::new(),
                cached_tail: AtomicU64::new(0),
                taking: AtomicU32::new(0),
                taking_count: AtomicU32::new(0),
                taking_taken: AtomicU32::new(0),
            }),
            head: Line(HeadLine {
                head: AtomicU64::new(0),
                space: wake(),
            }),
            shared: Line(Shared {
                closed: AtomicU32::new(0),
                tasks_seq: AtomicU32::new(0),
                joiners: AtomicU32::new(0),
                accounts_in_use: AtomicU32::new(0),
                accounts_lock: Lock::new(),
            }),
            accounts: std::array::from_fn(|_| Account {
                owner: AtomicU64::new(0),
                tasks: AtomicU64::new(0),
                losses: AtomicU64::new(0),
            }),
        }
    }

    /// Records who the queue is. The magic number goes last (release), so a block whose
    /// magic reads right has the rest written.
    pub(crate) fn stamp(&self, kind: Kind, ring_bytes: usize, maxsize: usize, type_name: &str) {
        let id = &self.identity.0;
        id.version.store(VERSION, Ordering::Relaxed);
        id.kind.store(kind as u32, Ordering::Relaxed);
        id.ring_bytes.store(ring_bytes as u64, Ordering::Relaxed);
        id.maxsize.store(maxsize as u64, Ordering::Relaxed);
        id.type_hash.store(type_hash(type_name), Ordering::Relaxed);
        let name = type_name.as_bytes();
        let kept = name.len().min(TYPE_NAME_BYTES);
        for (slot, byte) in id.type_name.iter().zip(&name[..kept]) {
            slot.store(*byte, Ordering::Relaxed);
        }
        id.type_name_len.store(kept as u32, Ordering::Relaxed);
        id.magic.store(MAGIC, Ordering::Release);
    }

    /// The recorded type name (possibly cut short), for error messages.
    pub(crate) fn type_name(&self) -> String {
        let id = &self.identity.0;
        let len = (id.type_name_len.load(Ordering::Relaxed) as usize).min(TYPE_NAME_BYTES);
        let bytes: Vec<u8> = id.type_name[..len]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// FNV-1a, 64 bits: a fingerprint of a type name, the same in every process of one build.
pub(crate) fn type_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One side's progress, packed in one `u64` so that a single atomic store commits both:
/// the count of whole messages passed and the byte position, each modulo 2^32.
///
/// Packing is what makes a crash harmless: a process killed between two separate stores
/// would leave the count and the position disagreeing for good.
///
/// Positions are multiples of 8, so bit 0 of a packed cursor is free: in the tail it is
/// [`SEALED`], which [`Cursor::unpack`] leaves out.
/// Set in the tail word by a `close` that gave up waiting for a stopped producer: a
/// producer commits a record only if the tail word is the one it started from, so no
/// message commits past the seal (abort records excepted, which deliver nothing).
pub(crate) const SEALED: u64 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) count: u32,
    pub(crate) pos: u32,
}

impl Cursor {
    #[inline]
    pub(crate) fn unpack(word: u64) -> Self {
        Self {
            count: (word >> 32) as u32,
            pos: (word & !SEALED) as u32,
        }
    }

    #[inline]
    pub(crate) fn pack(self) -> u64 {
        (u64::from(self.count) << 32) | u64::from(self.pos)
    }

    /// This cursor moved on by `bytes`, and by one message if `completes` is true.
    #[inline]
    pub(crate) fn advanced(self, bytes: u32, completes: bool) -> Self {
        Self {
            count: self.count.wrapping_add(u32::from(completes)),
            pos: self.pos.wrapping_add(bytes),
        }
    }
}
