//! Turning calls into tasks: each chunk of argument tuples encoded into one frame with
//! its descriptors, checked against the frame limits, and handed to the pool's state,
//! which sends it to an idle worker or keeps it in the backlog.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::collected::{Collected, CollectedChunk};
use super::frame::{MAX_FRAME_LEN, TaskHead};
use super::results::{ChunkSink, Imap, MapResults};
use super::shared::Inner;
use super::sink::Sink;
use super::state::{Phase, Task};
use super::worker::entry_of;
use crate::error::Error;
use crate::target::{Stateless, Target};

/// What a task's arguments and results are: values that cross to a worker and back.
pub(super) trait Message: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Message for T {}

/// Submits every item; their results in the items' order, as they come (the `imap`
/// family).
pub(super) fn map_items<F: Target<A, Output = R>, A: Message, R: Message>(
    inner: &Inner,
    _function: F,
    items: Vec<A>,
    chunksize: usize,
) -> Result<Imap<R>, Error> {
    let len = items.len();
    let results = submit_items::<F, A, R>(inner, items, chunksize, false)?;
    Ok(Imap::new(results, len))
}

/// Submits every item and waits for all the values (the `map` family).
pub(super) fn map_all<F: Target<A, Output = R>, A: Message, R: Message>(
    inner: &Inner,
    _function: F,
    items: Vec<A>,
    chunksize: usize,
) -> Result<Vec<R>, Error> {
    check_chunksize(chunksize)?;
    let results = Collected::new(items.len(), items.len().div_ceil(chunksize));
    submit_chunks::<F, A, R>(inner, &items, chunksize, |chunk, first, len| {
        Arc::new(CollectedChunk {
            results: Arc::clone(&results),
            chunk,
            first,
            len,
        })
    })?;
    results.take_all()
}

/// Encodes `items` in chunks, one task each, and submits them.
pub(super) fn submit_items<F, A, R>(
    inner: &Inner,
    items: Vec<A>,
    chunksize: usize,
    unordered: bool,
) -> Result<Arc<MapResults<R>>, Error>
where
    F: Target<A, Output = R>,
    A: Message,
    R: Message,
{
    check_chunksize(chunksize)?;
    let results = MapResults::new(items.len(), unordered);
    submit_chunks::<F, A, R>(inner, &items, chunksize, |_, first, len| {
        Arc::new(ChunkSink {
            results: Arc::clone(&results),
            first,
            len,
        })
    })?;
    Ok(results)
}

/// Encodes `items` in chunks of `chunksize`, one task each with the sink `sink_for(chunk
/// number, index of its first item, its length)` makes, and submits each.
///
/// Each chunk is submitted as soon as it is encoded, so the workers start on the first
/// chunks while the later ones are being encoded.
fn submit_chunks<F, A, R>(
    inner: &Inner,
    items: &[A],
    chunksize: usize,
    mut sink_for: impl FnMut(usize, usize, usize) -> Arc<dyn Sink>,
) -> Result<(), Error>
where
    F: Target<A, Output = R>,
    A: Message,
    R: Message,
{
    for (number, chunk) in items.chunks(chunksize).enumerate() {
        let sink = sink_for(number, number * chunksize, chunk.len());
        let task = encode::<F, A, R>(inner, chunk, sink)?;
        submit_tasks(inner, vec![task])?;
    }
    Ok(())
}

/// One task: a fresh id, the frame of its items, their descriptors.
pub(super) fn encode<F, A, R>(
    inner: &Inner,
    items: &[A],
    sink: Arc<dyn Sink>,
) -> Result<(u64, Task), Error>
where
    F: Target<A, Output = R>,
    A: Message,
    R: Message,
{
    let () = Stateless::<F>::CHECK;
    let id = inner.next_task.fetch_add(1, Ordering::Relaxed);
    let head = TaskHead {
        id,
        entry: entry_of::<F, A, R>(),
        skip: Vec::new(),
    };
    let (frame, fds) = mp_wire::encode(&(&head, items))?;
    if frame.len() > MAX_FRAME_LEN {
        return Err(Error::Transfer(mp_shared_mem::Error::MessageTooLarge {
            len: frame.len() as u64,
            max: MAX_FRAME_LEN,
        }));
    }
    if fds.len() > mp_wire::MAX_FDS_PER_FRAME {
        return Err(Error::Transfer(mp_shared_mem::Error::TooManyFds {
            count: fds.len(),
            max: mp_wire::MAX_FDS_PER_FRAME,
        }));
    }
    Ok((
        id,
        Task {
            frame,
            fds,
            len: items.len(),
            skip: Vec::new(),
            requeued: 0,
            claimed: false,
            sink,
        },
    ))
}

pub(super) fn submit_tasks(inner: &Inner, tasks: Vec<(u64, Task)>) -> Result<(), Error> {
    let mut state = inner.state.lock();
    match &state.phase {
        Phase::Running => {}
        Phase::Broken(cause) => {
            return Err(Error::PoolBroken {
                cause: cause.clone(),
            });
        }
        Phase::Closed | Phase::Terminated => return Err(Error::PoolClosed),
    }
    for (id, task) in tasks {
        state.add_task(id, task);
    }
    let sent = state.dispatch(inner.config.max_tasks);
    drop(state);
    if sent && inner.config.timeout.is_some() {
        // The supervisor's next deadline may now be sooner.
        inner.wake();
    }
    Ok(())
}

pub(super) fn check_chunksize(chunksize: usize) -> Result<(), Error> {
    if chunksize == 0 {
        return Err(Error::InvalidArgument {
            argument: "chunksize",
            requirement: "at least 1",
        });
    }
    Ok(())
}

pub(super) fn one_tuples<T>(items: impl IntoIterator<Item = T>) -> Vec<(T,)> {
    items.into_iter().map(|item| (item,)).collect()
}
