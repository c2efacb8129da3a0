//! The floor of `pool-map-trivial` without the pool: the same items, cut into the same
//! chunks (Python's rule, a quarter of an even share per worker), encoded with mp-wire's
//! codec, sent over a socket to each of two forked children in turn, decoded there,
//! doubled, encoded, sent back and decoded. One chunk in flight per child, as the pool
//! dispatches. What is left out is all the pool adds: task ids and heads, the slot that
//! records the running item, the supervisor thread between a reply and its caller, crash
//! and timeout handling.

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::workload::{MAP_LEN, WAIT_LIMIT, WORKERS, batches, double, expect_mapped};
use crate::error::BenchError;
use crate::fork::ForkedChild;
use crate::rows::pipe::{bound_reads, fork_with};

/// The longest frame either side accepts.
const MAX_FRAME: usize = 64 << 20;

/// Exit codes of the children.
const CHILD_IO_FAILED: i32 = 2;
const CHILD_UNDECODABLE: i32 = 3;

fn wire_error(what: &'static str) -> impl Fn(mp_wire::Error) -> BenchError {
    move |error| BenchError::WrongOutcome(format!("bare map, {what}: {error}"))
}

/// A child's loop: each frame a chunk of 1-tuples, answered with their doubles, until an
/// empty frame. (The children hold copies of the parent's ends, so they would never see
/// the end of their streams.)
fn serve(end: &UnixStream) -> i32 {
    let mut reply = Vec::new();
    loop {
        let chunk = match mp_wire::recv(end, MAX_FRAME) {
            Ok((bytes, _)) if bytes.is_empty() => return 0,
            Ok((bytes, _)) => bytes,
            Err(_) => return CHILD_IO_FAILED,
        };
        let Ok(items) = mp_wire::decode_bytes::<Vec<(u64,)>>(&chunk) else {
            return CHILD_UNDECODABLE;
        };
        let values: Vec<u64> = items.into_iter().map(|(item,)| double(item)).collect();
        reply.clear();
        if mp_wire::encode_bytes_into(&values, &mut reply).is_err()
            || mp_wire::send(end, &reply, &[]).is_err()
        {
            return CHILD_IO_FAILED;
        }
    }
}

/// Sends chunk `index` of `chunks` to `worker`, if there is one.
fn send_chunk(worker: &UnixStream, chunks: &[&[(u64,)]], index: usize) -> Result<(), BenchError> {
    let Some(chunk) = chunks.get(index) else {
        return Ok(());
    };
    let mut frame = Vec::new();
    mp_wire::encode_bytes_into(chunk, &mut frame).map_err(wire_error("encode"))?;
    mp_wire::send(worker, &frame, &[]).map_err(wire_error("send"))
}

/// `double` over `items` through the children, the values in order.
fn map_over(workers: &[UnixStream], items: &[(u64,)]) -> Result<Vec<u64>, BenchError> {
    let chunksize = items.len().div_ceil(workers.len() * 4).max(1);
    let chunks: Vec<&[(u64,)]> = items.chunks(chunksize).collect();
    let mut values = Vec::with_capacity(items.len());
    // Chunk i goes to worker i % n; each worker holds one chunk at a time, and its
    // replies come back in the order its chunks went out.
    for (index, worker) in workers.iter().enumerate() {
        send_chunk(worker, &chunks, index)?;
    }
    for index in 0..chunks.len() {
        let worker = &workers[index % workers.len()];
        let (reply, _) = mp_wire::recv(worker, MAX_FRAME).map_err(wire_error("receive"))?;
        send_chunk(worker, &chunks, index + workers.len())?;
        let chunk_values: Vec<u64> = mp_wire::decode_bytes(&reply).map_err(wire_error("decode"))?;
        values.extend_from_slice(&chunk_values);
    }
    Ok(values)
}

/// The bare floor of `pool-map-trivial`: `iterations` items, in batches of the row's size.
pub(in crate::rows) fn map_trivial(iterations: u64) -> Result<Duration, BenchError> {
    let mut ends = Vec::with_capacity(WORKERS);
    let mut children: Vec<ForkedChild> = Vec::with_capacity(WORKERS);
    for _ in 0..WORKERS {
        let (parent, child) =
            UnixStream::pair().map_err(|e| BenchError::WrongOutcome(format!("socketpair: {e}")))?;
        bound_reads(&parent)?;
        bound_reads(&child)?;
        let (parent, forked) = fork_with(parent, child, serve)?;
        ends.push(parent);
        children.push(forked);
    }
    let mut elapsed = Duration::ZERO;
    let timed = (|| -> Result<(), BenchError> {
        for batch in batches(iterations, MAP_LEN) {
            let items: Vec<(u64,)> = batch.clone().map(|item| (item,)).collect();
            let start = Instant::now();
            let values = map_over(&ends, &items)?;
            elapsed += start.elapsed();
            expect_mapped(&values, batch, double, "bare map")?;
        }
        Ok(())
    })();
    let stopped: Result<(), BenchError> = ends
        .iter()
        .try_for_each(|end| mp_wire::send(end, &[], &[]).map_err(wire_error("stop")));
    // Reaped in any case (a child that did not stop is killed past the limit).
    for child in children {
        child.reap(WAIT_LIMIT)?;
    }
    timed.and(stopped).map(|()| elapsed)
}
