//! Every decoder that reads bytes another process wrote, behind one function per input
//! kind. The `fuzz/` targets (libFuzzer, nightly) and the bounded stable run of the
//! suite call the same functions, so what the one finds the other replays.
//!
//! A target returns normally whatever the bytes are: a decoder that rejects them
//! returns an error, which the target drops. A panic is a bug (the stable run catches
//! and counts it, libFuzzer reports it), and so is a hang or an allocation out of
//! proportion to the input.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use mp_ipc::{Connection, Queue, QueueBuilder};
use mp_shared_mem::{Segment, Shared, transfer};

/// The most bytes a target feeds one decoder: fewer than a socket buffer holds, so
/// writing them never waits for the reader.
pub const MAX_INPUT: usize = 32 * 1024;

/// The limit a fuzzed connection sets on one message, so that an announced length
/// beyond it is refused rather than awaited.
const FUZZED_MAX_MESSAGE: usize = 4096;

/// Ring bytes of the queue whose shared segment [`queue_records`] corrupts.
const FUZZED_RING: usize = 4096;

/// The input kinds, each with its decoders.
///
/// ```
/// for target in mp_faults::Target::ALL {
///     target.run(b"\x00\x00\x00\x02hi");
///     assert!(!target.valid_samples().is_empty());
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// [`connection_frames`].
    ConnectionFrames,
    /// [`queue_records`].
    QueueRecords,
    /// [`transfer_format`].
    TransferFormat,
    /// [`boot_message`].
    BootMessage,
}

impl Target {
    /// Every target, in the order the suite runs them.
    pub const ALL: [Target; 4] = [
        Target::ConnectionFrames,
        Target::QueueRecords,
        Target::TransferFormat,
        Target::BootMessage,
    ];

    /// The target's name, as in its summary line and its `fuzz/` target.
    ///
    /// ```
    /// assert_eq!(mp_faults::Target::BootMessage.name(), "boot_message");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Target::ConnectionFrames => "connection_frames",
            Target::QueueRecords => "queue_records",
            Target::TransferFormat => "transfer_format",
            Target::BootMessage => "boot_message",
        }
    }

    /// Feeds `data` to the target's decoders.
    ///
    /// ```
    /// mp_faults::Target::TransferFormat.run(&[0xff; 16]);
    /// ```
    pub fn run(self, data: &[u8]) {
        match self {
            Target::ConnectionFrames => connection_frames(data),
            Target::QueueRecords => queue_records(data),
            Target::TransferFormat => transfer_format(data),
            Target::BootMessage => boot_message(data),
        }
    }

    /// Valid inputs of this kind, which the generator mutates.
    ///
    /// ```
    /// assert!(mp_faults::Target::ConnectionFrames.valid_samples().len() >= 2);
    /// ```
    pub fn valid_samples(self) -> Vec<Vec<u8>> {
        match self {
            Target::ConnectionFrames => connection_samples(),
            Target::QueueRecords => vec![
                vec![0, 0, 0xff],
                // Past the control block, into the ring: a record header's length.
                vec![0x00, 0x10, 0x7f, 0x04, 0x10, 0x03],
            ],
            Target::TransferFormat => transfer_samples(),
            Target::BootMessage => {
                let (value, call) = mp_processes::sample_boot_message();
                let mut sample = value.into_bytes();
                sample.push(b'\n');
                sample.extend_from_slice(&call);
                vec![sample, b"forkserver:4:1\n".to_vec()]
            }
        }
    }
}

/// Bytes as they would arrive on a `Connection` from its peer: the stream is written
/// into one end of a pipe, the writer closed, and the reader receives messages (as
/// bytes, into a buffer, and as values, by turns the first byte chooses) until the
/// end of the stream or an error that ends it.
///
/// ```
/// let mut frame = 5u32.to_be_bytes().to_vec();
/// frame.extend_from_slice(b"hello");
/// mp_faults::decode_targets::connection_frames(&frame);
/// ```
pub fn connection_frames(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    let Ok((mut reader, writer)) = mp_ipc::pipe::<(u32, String, Vec<u8>)>(true) else {
        return;
    };
    reader.set_max_message_size(FUZZED_MAX_MESSAGE);
    if !write_raw(&writer, data) {
        return;
    }
    drop(writer);
    let style = data.first().copied().unwrap_or(0);
    let mut buf = [0u8; 64];
    // Each message takes at least its 4-byte header, so this many reads reach the end.
    for turn in 0..data.len() / 4 + 2 {
        let outcome = match (usize::from(style) + turn) % 3 {
            0 => reader.recv_bytes().map(drop),
            1 => reader.recv_bytes_into(&mut buf).map(drop),
            _ => reader.recv().map(drop),
        };
        match outcome {
            Ok(()) => {}
            Err(mp_ipc::Error::PeerClosed | mp_ipc::Error::OutOfSync) => return,
            Err(_) => {}
        }
    }
}

/// Bytes written over the records of a queue's shared ring, as a process with the ring
/// mapped could write them: after three messages are queued,
/// each 3-byte group of `data` sets the byte at a big-endian 16-bit offset, and then the
/// queue is used (polling gets and puts, `qsize`, `close`) a bounded number of times.
///
/// ```
/// mp_faults::decode_targets::queue_records(&[0x00, 0x20, 0xff]);
/// ```
pub fn queue_records(data: &[u8]) {
    let Ok(queue) = QueueBuilder::new()
        .ring_bytes(FUZZED_RING)
        .queue::<Vec<u8>>()
    else {
        return;
    };
    for len in [3usize, 200, 9000] {
        let _ = queue.try_put(&vec![0x5a; len]);
    }
    let Some(ring) = shared_segment_of(&queue) else {
        return;
    };
    // The records follow the control block, whose lock words are left alone: a lock
    // word naming a live process is a holder that never lets go, not a corrupt record.
    let records = ring.size().saturating_sub(FUZZED_RING);
    for change in data.chunks_exact(3).take(MAX_INPUT / 3) {
        let offset = usize::from(u16::from_be_bytes([change[0], change[1]])) % FUZZED_RING;
        let _ = ring.write_at(records + offset, &[change[2]]);
    }
    for turn in 0..8 {
        let _ = queue.qsize();
        let _ = queue.try_get();
        let _ = queue.get_timeout(Duration::ZERO);
        if turn % 3 == 0 {
            let _ = queue.try_put(&vec![0xa5; 40]);
        }
    }
    queue.close();
    let _ = queue.try_get();
}

/// Bytes as a handle transfer delivers them (the format every handle crosses a process
/// boundary in), with a few live descriptors beside them: the first byte chooses the type
/// to decode, the second how many descriptors come along, the rest is the message.
///
/// ```
/// mp_faults::decode_targets::transfer_format(&[0, 0, 1, 2, 3]);
/// ```
pub fn transfer_format(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    let (kind, fd_count, bytes) = match data {
        [kind, fds, rest @ ..] => (*kind, usize::from(*fds % 4), rest),
        _ => (0, 0, data),
    };
    let Some(fds) = live_descriptors(fd_count) else {
        return;
    };
    match kind % 7 {
        0 => drop(transfer::decode::<(u32, String, Vec<u8>)>(bytes, fds)),
        1 => drop(transfer::decode::<Shared<AtomicU64>>(bytes, fds)),
        2 => drop(transfer::decode::<Segment>(bytes, fds)),
        3 => drop(transfer::decode::<Queue<u64>>(bytes, fds)),
        4 => drop(transfer::decode::<Connection<u32>>(bytes, fds)),
        5 => drop(transfer::decode::<Vec<Segment>>(bytes, fds)),
        _ => drop(transfer::decode::<(Option<Shared<AtomicU64>>, Vec<u64>)>(
            bytes, fds,
        )),
    }
}

/// What a spawned child reads before it runs anything: the boot variable's value (up
/// to the first newline) and the `Call` frame's payload (the rest), through
/// `mp_processes::decode_boot_message`, the crate's hidden entry point for this suite.
///
/// ```
/// mp_faults::decode_targets::boot_message(b"spawn:3:1\n\x01\x02");
/// ```
pub fn boot_message(data: &[u8]) {
    let data = &data[..data.len().min(MAX_INPUT)];
    let (value, call) = match data.iter().position(|&b| b == b'\n') {
        Some(newline) => (&data[..newline], &data[newline + 1..]),
        None => (data, &[][..]),
    };
    let value = String::from_utf8_lossy(value);
    let _ = mp_processes::decode_boot_message(&value, call);
}

/// Writes `data` to the socket under `writer` as raw bytes, bypassing the framing.
fn write_raw(writer: &impl AsFd, data: &[u8]) -> bool {
    let Ok(fd) = writer.as_fd().try_clone_to_owned() else {
        return false;
    };
    File::from(fd).write_all(data).is_ok()
}

/// The shared segment under `queue`, mapped a second time (as another process maps it),
/// found through the queue's own handle transfer.
fn shared_segment_of<T: serde::Serialize + serde::de::DeserializeOwned>(
    queue: &Queue<T>,
) -> Option<Segment> {
    let (_bytes, fds) = transfer::encode(queue).ok()?;
    fds.into_iter()
        .filter_map(|fd| Segment::from_fd(fd).ok())
        .max_by_key(Segment::size)
}

/// `count` descriptors of a small live segment, as a transfer would carry them.
fn live_descriptors(count: usize) -> Option<Vec<OwnedFd>> {
    if count == 0 {
        return Some(Vec::new());
    }
    let segment = Segment::new(4096).ok()?;
    let (_bytes, fds) = transfer::encode(&segment).ok()?;
    let fd = fds.into_iter().next()?;
    (0..count).map(|_| fd.try_clone().ok()).collect()
}

fn connection_samples() -> Vec<Vec<u8>> {
    let mut samples = Vec::new();
    let values = [
        (7u32, "seven".to_owned(), vec![1u8, 2, 3]),
        (u32::MAX, String::new(), vec![0u8; 300]),
    ];
    let mut stream = Vec::new();
    for value in &values {
        if let Ok((payload, _fds)) = mp_wire::encode(value) {
            let (header, header_len) = mp_wire::frame::encode_header(payload.len());
            let mut frame = header[..header_len].to_vec();
            frame.extend_from_slice(&payload);
            stream.extend_from_slice(&frame);
            samples.push(frame);
        }
    }
    samples.push(stream);
    // The long form of the header: -1, then a 64-bit length.
    let mut long = (-1i32).to_be_bytes().to_vec();
    long.extend_from_slice(&5u64.to_be_bytes());
    long.extend_from_slice(b"hello");
    samples.push(long);
    samples
}

fn transfer_samples() -> Vec<Vec<u8>> {
    let mut samples = Vec::new();
    if let Ok((bytes, _fds)) = transfer::encode(&(7u32, "seven".to_owned(), vec![1u8, 2])) {
        samples.push([&[0, 0][..], &bytes].concat());
    }
    if let Ok(shared) = Shared::new(AtomicU64::new(3))
        && let Ok((bytes, fds)) = transfer::encode(&shared)
    {
        samples.push([&[1, fds.len() as u8][..], &bytes].concat());
    }
    if let Ok(segment) = Segment::new(4096)
        && let Ok((bytes, fds)) = transfer::encode(&segment)
    {
        samples.push([&[2, fds.len() as u8][..], &bytes].concat());
    }
    if let Ok(queue) = Queue::<u64>::new()
        && let Ok((bytes, fds)) = transfer::encode(&queue)
    {
        samples.push([&[3, fds.len() as u8][..], &bytes].concat());
    }
    samples
}
