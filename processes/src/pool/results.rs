//! The results of a map as they arrive: [`MapResults`] (the slots, shared by the pool's
//! chunk sinks and the iterators), [`Imap`] and [`ImapUnordered`].

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;

use super::sink::{Sink, decode_outcomes};
use crate::Error;

/// One slot per item of a map.
pub(crate) struct MapResults<R> {
    state: Mutex<Slots<R>>,
    arrived: Condvar,
}

struct Slots<R> {
    slots: Vec<Slot<R>>,
    /// Slots still [`Slot::Pending`].
    pending: usize,
    /// Indices in the order their results arrived, kept for `imap_unordered` only.
    arrivals: Option<VecDeque<usize>>,
}

/// An item's result. The error is boxed so that a slot of a small `R` stays small: a
/// map of a million items allocates a million slots.
enum Slot<R> {
    Pending,
    Ready(R),
    Failed(Box<Error>),
    Taken,
}

impl<R> Slot<R> {
    fn take(&mut self) -> Option<Result<R, Error>> {
        match std::mem::replace(self, Slot::Taken) {
            Slot::Ready(value) => Some(Ok(value)),
            Slot::Failed(error) => Some(Err(*error)),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// Most results an [`Imap`] moves out under one lock.
const BATCH: usize = 1024;

impl<R> MapResults<R> {
    /// Slots for `len` items; `unordered` keeps the order of arrival too.
    pub(crate) fn new(len: usize, unordered: bool) -> Arc<Self> {
        let mut slots = Vec::with_capacity(len);
        slots.resize_with(len, || Slot::Pending);
        Arc::new(MapResults {
            state: Mutex::new(Slots {
                slots,
                pending: len,
                arrivals: unordered.then(VecDeque::new),
            }),
            arrived: Condvar::new(),
        })
    }

    /// Stores results by index (the first result of an item wins) and wakes the readers.
    fn store(&self, results: impl IntoIterator<Item = (usize, Result<R, Error>)>) {
        let mut state = self.state.lock();
        let Slots {
            slots,
            pending,
            arrivals,
        } = &mut *state;
        for (index, result) in results {
            if let Some(slot @ Slot::Pending) = slots.get_mut(index) {
                *slot = match result {
                    Ok(value) => Slot::Ready(value),
                    Err(error) => Slot::Failed(Box::new(error)),
                };
                *pending -= 1;
                if let Some(arrivals) = arrivals {
                    arrivals.push_back(index);
                }
            }
        }
        drop(state);
        self.arrived.notify_all();
    }

    /// Waits for item `first`'s result, and moves it out with the results that follow it
    /// and are ready too (up to [`BATCH`]), in order.
    fn take_from(&self, first: usize, end: usize, into: &mut VecDeque<Result<R, Error>>) {
        let mut state = self.state.lock();
        while matches!(state.slots.get(first), Some(Slot::Pending)) {
            self.arrived.wait(&mut state);
        }
        let end = end.min(first + BATCH).min(state.slots.len());
        for index in first..end {
            match state.slots[index].take() {
                Some(result) => into.push_back(result),
                None if index == first => into.push_back(Err(Error::AlreadyTaken)),
                None => break,
            }
        }
        if first >= state.slots.len() {
            into.push_back(Err(Error::AlreadyTaken));
        }
    }

    /// Waits for the next result to arrive that was not taken, and takes it.
    fn take_next_arrived(&self) -> Result<R, Error> {
        let mut state = self.state.lock();
        loop {
            let Slots {
                slots,
                pending,
                arrivals,
            } = &mut *state;
            while let Some(index) = arrivals.as_mut().and_then(VecDeque::pop_front) {
                if let Some(result) = slots.get_mut(index).and_then(Slot::take) {
                    return result;
                }
            }
            if *pending == 0 || arrivals.is_none() {
                return Err(Error::AlreadyTaken);
            }
            self.arrived.wait(&mut state);
        }
    }
}

/// The items `first..first + len` of a map: one task's share of the slots.
pub(crate) struct ChunkSink<R> {
    pub(crate) results: Arc<MapResults<R>>,
    pub(crate) first: usize,
    pub(crate) len: usize,
}

impl<R: DeserializeOwned + Send + 'static> Sink for ChunkSink<R> {
    fn deliver(&self, outcomes: &[u8], fds: Vec<OwnedFd>, worker: &str) {
        match decode_outcomes::<R>(outcomes, fds, worker, self.len) {
            Ok(items) => self.results.store(
                items
                    .into_iter()
                    .enumerate()
                    .filter_map(|(index, item)| Some((self.first + index, item?))),
            ),
            Err(err) => self.fail_rest(err, &[]),
        }
    }

    fn fail_item(&self, index: usize, error: Error) {
        self.results.store([(self.first + index, Err(error))]);
    }

    fn fail_rest(&self, error: Error, skip: &[u32]) {
        self.results.store(
            (0..self.len)
                .filter(|index| !skip.iter().any(|&skipped| skipped as usize == *index))
                .map(|index| (self.first + index, Err(error.clone()))),
        );
    }
}

/// The results of [`Pool::imap`](crate::Pool::imap), in the order of the items: Python's
/// `imap`. Each `next` waits for that item's result.
///
/// An [`ExactSizeIterator`]: its `len` is the number of results still to come, so a
/// progress bar can wrap it. Every result comes (a failed item yields its error), so the
/// iteration always ends; dropping the pool fails the results still to come with
/// [`Error::Terminated`].
///
/// ```
/// use mp_processes::{Pool, StartMethod};
///
/// let pool = Pool::builder().processes(2).start_method(StartMethod::Fork).build()?;
/// let mut results = pool.imap(|n: u32| n * 10, 1..=3)?;
/// assert_eq!(results.len(), 3);
/// assert_eq!(results.next().transpose()?, Some(10));
/// assert_eq!(results.len(), 2);
/// assert_eq!(results.collect::<Result<Vec<_>, _>>()?, [20, 30]);
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub struct Imap<R> {
    results: Arc<MapResults<R>>,
    /// Results moved out of the slots and not yielded yet.
    ready: VecDeque<Result<R, Error>>,
    /// The index of the first item not moved out yet.
    next: usize,
    len: usize,
}

impl<R> Imap<R> {
    pub(crate) fn new(results: Arc<MapResults<R>>, len: usize) -> Self {
        Imap {
            results,
            ready: VecDeque::new(),
            next: 0,
            len,
        }
    }
}

impl<R> Iterator for Imap<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() && self.next < self.len {
            let before = self.ready.len();
            self.results.take_from(self.next, self.len, &mut self.ready);
            self.next += self.ready.len() - before;
        }
        self.ready.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next + self.ready.len();
        (left, Some(left))
    }
}

impl<R> ExactSizeIterator for Imap<R> {}
impl<R> FusedIterator for Imap<R> {}

impl<R> fmt::Debug for Imap<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("next", &self.next)
            .field("len", &self.len)
            .finish()
    }
}

/// The results of [`Pool::imap_unordered`](crate::Pool::imap_unordered), in the order
/// they arrive: Python's `imap_unordered`. An [`ExactSizeIterator`], as [`Imap`].
///
/// ```
/// use mp_processes::{Pool, StartMethod};
///
/// let pool = Pool::builder().processes(2).start_method(StartMethod::Fork).build()?;
/// let results = pool.imap_unordered(|n: u32| n * 10, 1..=3)?;
/// assert_eq!(results.len(), 3);
/// let mut values = results.collect::<Result<Vec<_>, _>>()?;
/// values.sort();
/// assert_eq!(values, [10, 20, 30]);
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub struct ImapUnordered<R> {
    results: Arc<MapResults<R>>,
    left: usize,
}

impl<R> ImapUnordered<R> {
    pub(crate) fn new(results: Arc<MapResults<R>>, len: usize) -> Self {
        ImapUnordered { results, left: len }
    }
}

impl<R> Iterator for ImapUnordered<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.results.take_next_arrived())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<R> ExactSizeIterator for ImapUnordered<R> {}
impl<R> FusedIterator for ImapUnordered<R> {}

impl<R> fmt::Debug for ImapUnordered<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapUnordered")
            .field("left", &self.left)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_and_in_arrival_order() {
        let results = MapResults::<u8>::new(3, false);
        results.store([(2, Ok(30)), (0, Ok(10))]);
        results.store([(2, Ok(99)), (1, Err(Error::Terminated))]);
        let mut in_order = Imap::new(Arc::clone(&results), 3);
        assert_eq!(in_order.next().unwrap().unwrap(), 10);
        assert!(matches!(in_order.next(), Some(Err(Error::Terminated))));
        assert_eq!(
            in_order.next().unwrap().unwrap(),
            30,
            "the first result wins"
        );
        assert!(in_order.next().is_none());

        let results = MapResults::<u8>::new(2, true);
        results.store([(1, Ok(2)), (0, Ok(1))]);
        let arrived: Vec<u8> = ImapUnordered::new(results, 2).map(Result::unwrap).collect();
        assert_eq!(arrived, [2, 1]);
    }
}
