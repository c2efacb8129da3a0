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
    /// Indices in the order their results arrived, for `imap_unordered`.
    arrivals: VecDeque<usize>,
}

enum Slot<R> {
    Pending,
    Ready(Result<R, Error>),
    Taken,
}

impl<R> MapResults<R> {
    pub(crate) fn new(len: usize) -> Arc<Self> {
        Arc::new(MapResults {
            state: Mutex::new(Slots {
                slots: (0..len).map(|_| Slot::Pending).collect(),
                arrivals: VecDeque::new(),
            }),
            arrived: Condvar::new(),
        })
    }

    /// Stores results by index (the first result of an item wins) and wakes the readers.
    fn store(&self, results: impl IntoIterator<Item = (usize, Result<R, Error>)>) {
        let mut state = self.state.lock();
        for (index, result) in results {
            if let Some(slot @ Slot::Pending) = state.slots.get_mut(index) {
                *slot = Slot::Ready(result);
                state.arrivals.push_back(index);
            }
        }
        drop(state);
        self.arrived.notify_all();
    }

    /// Waits for item `index`'s result and takes it.
    fn take(&self, index: usize) -> Result<R, Error> {
        let mut state = self.state.lock();
        loop {
            match state.slots.get_mut(index) {
                None => return Err(Error::ResultTaken),
                Some(slot @ Slot::Ready(_)) => {
                    return match std::mem::replace(slot, Slot::Taken) {
                        Slot::Ready(result) => result,
                        _ => Err(Error::ResultTaken),
                    };
                }
                Some(Slot::Taken) => return Err(Error::ResultTaken),
                Some(Slot::Pending) => self.arrived.wait(&mut state),
            }
        }
    }

    /// Waits for the next result to arrive that was not taken, and takes it.
    fn take_next_arrived(&self) -> Result<R, Error> {
        let mut state = self.state.lock();
        loop {
            while let Some(index) = state.arrivals.pop_front() {
                if let Some(slot @ Slot::Ready(_)) = state.slots.get_mut(index)
                    && let Slot::Ready(result) = std::mem::replace(slot, Slot::Taken)
                {
                    return result;
                }
            }
            if !state.slots.iter().any(|slot| matches!(slot, Slot::Pending)) {
                return Err(Error::ResultTaken);
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
        match decode_outcomes::<R>(outcomes, fds, worker) {
            Ok(items) if items.len() == self.len => {
                self.results.store(
                    items.into_iter().enumerate().filter_map(|(index, item)| {
                        item.map(|result| (self.first + index, result))
                    }),
                );
            }
            Ok(items) => self.fail_rest(
                Error::Transfer(mp_shared_mem::Error::Decode(format!(
                    "a reply of {} outcomes for a chunk of {}",
                    items.len(),
                    self.len
                ))),
                &[],
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
    next: usize,
    len: usize,
}

impl<R> Imap<R> {
    pub(crate) fn new(results: Arc<MapResults<R>>, len: usize) -> Self {
        Imap {
            results,
            next: 0,
            len,
        }
    }
}

impl<R> Iterator for Imap<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next == self.len {
            return None;
        }
        let result = self.results.take(self.next);
        self.next += 1;
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
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
        let results = MapResults::<u8>::new(3);
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

        let results = MapResults::<u8>::new(2);
        results.store([(1, Ok(2)), (0, Ok(1))]);
        let arrived: Vec<u8> = ImapUnordered::new(results, 2).map(Result::unwrap).collect();
        assert_eq!(arrived, [2, 1]);
    }
}
