//! Queue rows: messages between processes through `mp_ipc::Queue`, against
//! `ipc-channel`, a bare shared-memory ring (the limit) and Python's
//! `multiprocessing.Queue`.
//!
//! - `ipc-queue-1x1-16b` and `ipc-queue-1x1-64k`: a forked child puts `n` messages,
//!   the parent gets them, checking that each is the next one in order. The 16-byte row
//!   also measures the bare ring with the queue's locking (a process-shared lock taken
//!   per put and per get), the floor of a queue that takes many producers and consumers
//!   and survives the death of either.
//! - `ipc-queue-2x2-16b`: two forked producers and two forked consumers; the parent
//!   waits until the consumers have counted all `n` items (and checks their sum).
//!   ipc-channel has one receiver per channel and the bare ring one consumer, so this
//!   row has ours and Python only.
//!
//! The clock starts when the parent releases the children (a `go` word they spin on),
//! so forking is outside the timing. Children allocate (the 64 KiB messages are
//! decoded into vectors, ipc-channel allocates): glibc's `fork` leaves `malloc` usable in
//! the child of a multi-threaded parent, and the queue's locks live in shared memory, not
//! in the parent's threads. Every wait is bounded by [`WAIT_LIMIT`].

mod bare_ring;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ipc_channel::ipc;
use mp_ipc::Queue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::bare_ring::BareRing;
use crate::error::BenchError;
use crate::fork::{ForkedChild, SharedMapping};
use crate::futex;
use crate::row::{Contender, Goal, Row, Unit};

const SCRIPT: &str = "ipc_queue.py";

/// Longest any one wait of a measurement may take.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Bytes of the large messages.
const BIG: usize = 64 * 1024;

/// Ring bytes of the bare ring, as the queue's default ring.
const RING_BYTES: usize = mp_ipc::DEFAULT_RING_BYTES;

/// Exit codes of the children.
const CHILD_NOT_RELEASED: i32 = 2;
const CHILD_QUEUE_FAILED: i32 = 3;

/// The queue rows.
pub fn rows() -> Vec<Row> {
    vec![one_to_one_small(), one_to_one_big(), two_by_two()]
}

fn one_to_one_small() -> Row {
    Row {
        name: "ipc-queue-1x1-16b",
        family: "ipc-queue",
        what: "one 16-byte message from a producer process to a consumer process",
        unit: Unit::Rate("msg"),
        goal: Some(Goal::within(0.1, "ipc-channel")),
        contenders: vec![
            Contender::ours("mp_ipc::Queue", |n| one_to_one::<Small>(n, Through::Queue)),
            Contender::ours("mp_ipc::SimpleQueue", |n| {
                one_to_one::<Small>(n, Through::SimpleQueue)
            }),
            Contender::peer("ipc-channel", |n| {
                one_to_one::<Small>(n, Through::IpcChannel)
            }),
            Contender::peer("bare SPSC shared-memory ring", |n| bare_ring(n, 16)),
            Contender::peer(
                "bare ring, each put and get under its side's mp_sync::Lock (the queue's locking)",
                |n| locked_bare_ring(n, 16),
            ),
            Contender::python(
                "multiprocessing.Queue",
                SCRIPT,
                "multiprocessing-queue-1x1-16b",
            ),
        ],
    }
}

fn one_to_one_big() -> Row {
    Row {
        name: "ipc-queue-1x1-64k",
        family: "ipc-queue",
        what: "one 64 KiB message (bytes) from a producer process to a consumer process",
        unit: Unit::Bandwidth {
            bytes_per_op: BIG as u64,
        },
        goal: None,
        contenders: vec![
            Contender::ours("mp_ipc::Queue", |n| one_to_one::<Big>(n, Through::Queue)),
            Contender::peer("ipc-channel", |n| one_to_one::<Big>(n, Through::IpcChannel)),
            Contender::peer("bare SPSC shared-memory ring", |n| bare_ring(n, BIG)),
            Contender::python(
                "multiprocessing.Queue",
                SCRIPT,
                "multiprocessing-queue-1x1-64k",
            ),
        ],
    }
}

fn two_by_two() -> Row {
    Row {
        name: "ipc-queue-2x2-16b",
        family: "ipc-queue",
        what: "one 16-byte message from 2 producer processes to 2 consumer processes",
        unit: Unit::Rate("msg"),
        goal: None,
        contenders: vec![
            Contender::ours("mp_ipc::Queue", two_by_two_queue),
            Contender::python(
                "multiprocessing.Queue",
                SCRIPT,
                "multiprocessing-queue-2x2-16b",
            ),
        ],
    }
}

fn ipc_error(error: mp_ipc::Error) -> BenchError {
    BenchError::WrongOutcome(format!("mp-ipc: {error}"))
}

fn channel_error(error: impl std::fmt::Display) -> BenchError {
    BenchError::WrongOutcome(format!("ipc-channel: {error}"))
}

/// What the children spin on, and what the consumers of the 2 x 2 row count into.
struct Control {
    go: AtomicU32,
    received: AtomicU64,
    sum: AtomicU64,
    /// Raised (and woken) by the consumer that counts the last item of the 2 x 2 row.
    all_in: AtomicU32,
    /// The sides' locks of the locked bare ring.
    producer: mp_sync::Lock,
    consumer: mp_sync::Lock,
}

impl Control {
    fn new() -> Result<SharedMapping<Self>, BenchError> {
        Ok(SharedMapping::try_new(Self {
            go: AtomicU32::new(0),
            received: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            all_in: AtomicU32::new(0),
            producer: mp_sync::Lock::new(),
            consumer: mp_sync::Lock::new(),
        })?)
    }

    /// Spins (yielding) until the parent says go; false after [`WAIT_LIMIT`].
    fn wait_for_go(&self) -> bool {
        spin_until(|| self.go.load(Ordering::Acquire) == 1)
    }
}

/// Spins (yielding) until `ready`; false after [`WAIT_LIMIT`].
fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT_LIMIT;
    while !ready() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// A message that says which one it is.
trait Message: Serialize + DeserializeOwned + Clone {
    fn numbered(index: u64) -> Self;
    fn renumber(&mut self, index: u64);
    fn index(&self) -> Option<u64>;
}

/// 16 bytes: the index, then a constant.
#[derive(Clone, Serialize, Deserialize)]
struct Small([u8; 16]);

impl Message for Small {
    fn numbered(index: u64) -> Self {
        let mut message = Small(*b"........sixteen!");
        message.renumber(index);
        message
    }

    fn renumber(&mut self, index: u64) {
        self.0[..8].copy_from_slice(&index.to_le_bytes());
    }

    fn index(&self) -> Option<u64> {
        let mut index = [0u8; 8];
        index.copy_from_slice(&self.0[..8]);
        Some(u64::from_le_bytes(index))
    }
}

/// 64 KiB of bytes, serialized as one byte string (as `serde_bytes` would): the way to
/// move bulk bytes through any serde channel.
#[derive(Clone)]
struct Big(Vec<u8>);

impl Serialize for Big {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Big {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Big;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Big, E> {
                Ok(Big(bytes.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Big, E> {
                Ok(Big(bytes))
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}

impl Message for Big {
    fn numbered(index: u64) -> Self {
        let mut message = Big((0..BIG).map(|i| i as u8).collect());
        message.renumber(index);
        message
    }

    fn renumber(&mut self, index: u64) {
        self.0[..8].copy_from_slice(&index.to_le_bytes());
    }

    fn index(&self) -> Option<u64> {
        if self.0.len() != BIG || self.0[BIG - 1] != (BIG - 1) as u8 {
            return None;
        }
        let mut index = [0u8; 8];
        index.copy_from_slice(&self.0[..8]);
        Some(u64::from_le_bytes(index))
    }
}

/// Which channel a 1 x 1 measurement goes through.
#[derive(Clone, Copy)]
enum Through {
    Queue,
    SimpleQueue,
    IpcChannel,
}

/// The sending half, made before the fork.
enum Sender<M: Message> {
    Queue(Queue<M>),
    SimpleQueue(mp_ipc::SimpleQueue<M>),
    IpcChannel(ipc::IpcSender<M>),
}

/// The receiving half.
enum Receiver<M: Message> {
    Queue(Queue<M>),
    SimpleQueue(mp_ipc::SimpleQueue<M>),
    IpcChannel(ipc::IpcReceiver<M>),
}

fn make_channel<M: Message>(through: Through) -> Result<(Sender<M>, Receiver<M>), BenchError> {
    Ok(match through {
        Through::Queue => {
            let queue = Queue::new().map_err(ipc_error)?;
            (Sender::Queue(queue.clone()), Receiver::Queue(queue))
        }
        Through::SimpleQueue => {
            let queue = mp_ipc::SimpleQueue::new().map_err(ipc_error)?;
            (
                Sender::SimpleQueue(queue.clone()),
                Receiver::SimpleQueue(queue),
            )
        }
        Through::IpcChannel => {
            let (sender, receiver) = ipc::channel().map_err(channel_error)?;
            (Sender::IpcChannel(sender), Receiver::IpcChannel(receiver))
        }
    })
}

impl<M: Message> Sender<M> {
    fn send(&self, message: &M) -> bool {
        match self {
            Sender::Queue(queue) => queue.put_timeout(message, WAIT_LIMIT).is_ok(),
            Sender::SimpleQueue(queue) => queue.put(message).is_ok(),
            // ipc-channel's `send` takes the message by value.
            Sender::IpcChannel(sender) => sender.send(message.clone()).is_ok(),
        }
    }
}

impl<M: Message> Receiver<M> {
    fn recv(&self) -> Result<M, BenchError> {
        match self {
            Receiver::Queue(queue) => queue.get_timeout(WAIT_LIMIT).map_err(ipc_error),
            Receiver::SimpleQueue(queue) => queue.get_timeout(WAIT_LIMIT).map_err(ipc_error),
            Receiver::IpcChannel(receiver) => {
                receiver.try_recv_timeout(WAIT_LIMIT).map_err(channel_error)
            }
        }
    }
}

fn one_to_one<M: Message>(iterations: u64, through: Through) -> Result<Duration, BenchError> {
    let (sender, receiver) = make_channel::<M>(through)?;
    let control = Control::new()?;
    let child = ForkedChild::spawn(&control, |control| {
        if !control.wait_for_go() {
            return CHILD_NOT_RELEASED;
        }
        let mut message = M::numbered(0);
        for index in 0..iterations {
            message.renumber(index);
            if !sender.send(&message) {
                return CHILD_QUEUE_FAILED;
            }
        }
        0
    })?;
    drop(sender);
    let start = Instant::now();
    control.go.store(1, Ordering::Release);
    for expected in 0..iterations {
        let message = receiver.recv()?;
        if message.index() != Some(expected) {
            return Err(BenchError::WrongOutcome(format!(
                "message {expected} came as {:?}",
                message.index()
            )));
        }
    }
    let elapsed = start.elapsed();
    child.reap(WAIT_LIMIT)?;
    Ok(elapsed)
}

fn bare_ring(iterations: u64, message_bytes: usize) -> Result<Duration, BenchError> {
    ring_through(iterations, message_bytes, Locking::None)
}

/// The bare ring with the locking the queue needs to take many producers and consumers
/// and to survive a holder's death: each put under a producer lock, each get under a
/// consumer lock (mp-sync's, in the shared mapping).
fn locked_bare_ring(iterations: u64, message_bytes: usize) -> Result<Duration, BenchError> {
    ring_through(iterations, message_bytes, Locking::PerSide)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Locking {
    None,
    PerSide,
}

/// Runs `body` under `lock` if the ring is locked; false if the lock cannot be had.
fn locked_if(locking: Locking, lock: &mp_sync::Lock, body: impl FnOnce() -> bool) -> bool {
    match locking {
        Locking::None => body(),
        Locking::PerSide => match lock.lock() {
            Ok(_guard) => body(),
            Err(_) => false,
        },
    }
}

fn ring_through(
    iterations: u64,
    message_bytes: usize,
    locking: Locking,
) -> Result<Duration, BenchError> {
    let ring = BareRing::new(message_bytes, RING_BYTES)?;
    let control = Control::new()?;
    let child = ForkedChild::spawn(&control, |control| {
        if !control.wait_for_go() {
            return CHILD_NOT_RELEASED;
        }
        let mut message = vec![0x5au8; message_bytes];
        let mut cached_head = 0;
        for index in 0..iterations {
            message[..8].copy_from_slice(&index.to_le_bytes());
            if !locked_if(locking, &control.producer, || {
                ring.push(&message, &mut cached_head, WAIT_LIMIT)
            }) {
                return CHILD_QUEUE_FAILED;
            }
        }
        0
    })?;
    let mut out = vec![0u8; message_bytes];
    let mut cached_tail = 0;
    let start = Instant::now();
    control.go.store(1, Ordering::Release);
    for expected in 0..iterations {
        if !locked_if(locking, &control.consumer, || {
            ring.pop(&mut out, &mut cached_tail, WAIT_LIMIT)
        }) {
            return Err(BenchError::TimedOut {
                what: "a message from the bare ring",
                timeout: WAIT_LIMIT,
            });
        }
        if out[..8] != expected.to_le_bytes() || out[message_bytes - 1] != 0x5a {
            return Err(BenchError::WrongOutcome(format!(
                "bare ring message {expected} differs"
            )));
        }
    }
    let elapsed = start.elapsed();
    child.reap(WAIT_LIMIT)?;
    Ok(elapsed)
}

fn two_by_two_queue(iterations: u64) -> Result<Duration, BenchError> {
    const PRODUCERS: u64 = 2;
    let queue = Queue::<Small>::new().map_err(ipc_error)?;
    let control = Control::new()?;
    let mut children = Vec::new();
    for producer in 0..PRODUCERS {
        // Producer p puts the items congruent to p modulo 2.
        let queue = queue.clone();
        children.push(ForkedChild::spawn(&control, move |control| {
            if !control.wait_for_go() {
                return CHILD_NOT_RELEASED;
            }
            let mut message = Small::numbered(0);
            for index in (producer..iterations).step_by(PRODUCERS as usize) {
                message.renumber(index);
                if queue.put_timeout(&message, WAIT_LIMIT).is_err() {
                    return CHILD_QUEUE_FAILED;
                }
            }
            0
        })?);
    }
    for _ in 0..2 {
        let queue = queue.clone();
        children.push(ForkedChild::spawn(&control, move |control| {
            if !control.wait_for_go() {
                return CHILD_NOT_RELEASED;
            }
            loop {
                match queue.get_timeout(WAIT_LIMIT) {
                    Ok(message) => {
                        control
                            .sum
                            .fetch_add(message.index().unwrap_or(0), Ordering::Relaxed);
                        let counted = control.received.fetch_add(1, Ordering::AcqRel) + 1;
                        if counted == iterations {
                            control.all_in.store(1, Ordering::Release);
                            futex::wake(&control.all_in, i32::MAX);
                        }
                    }
                    Err(mp_ipc::Error::Closed) => return 0,
                    Err(_) => return CHILD_QUEUE_FAILED,
                }
            }
        })?);
    }
    let control = &*control;
    let start = Instant::now();
    control.go.store(1, Ordering::Release);
    // The parent sleeps until the last item is counted: a parent spinning on the count
    // would be a fifth busy process on the cores the four children share, and would
    // pull the counter's cache line away from the consumers at every look.
    let deadline = start + WAIT_LIMIT;
    while control.all_in.load(Ordering::Acquire) == 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        futex::wait(&control.all_in, 0, left);
    }
    let all_in = control.received.load(Ordering::Acquire) >= iterations;
    let elapsed = start.elapsed();
    queue.close();
    for child in children {
        child.reap(WAIT_LIMIT)?;
    }
    if !all_in {
        return Err(BenchError::TimedOut {
            what: "the consumers to count every item",
            timeout: WAIT_LIMIT,
        });
    }
    let expected_sum = iterations * iterations.saturating_sub(1) / 2;
    let (received, sum) = (
        control.received.load(Ordering::Acquire),
        control.sum.load(Ordering::Acquire),
    );
    if received != iterations || sum != expected_sum {
        return Err(BenchError::WrongOutcome(format!(
            "consumers got {received} items adding up to {sum}, not {iterations} adding up to {expected_sum}"
        )));
    }
    Ok(elapsed)
}
