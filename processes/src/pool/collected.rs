//! [`Collected`]: the results of a `map`, kept as the chunks arrive and put in order
//! once all are in.
//!
//! A map of a million trivial items must not pay for a million result slots: each
//! chunk's decoded outcomes are kept as they came, one vector per chunk, and the values
//! are moved into the final vector once, at the end. (`imap` needs a slot per item, as
//! it hands them out one by one: that is [`MapResults`](super::results::MapResults).)

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::frame::{ItemOutcome, Outcomes};
use super::sink::Sink;
use crate::Error;

pub(crate) struct Collected<R> {
    state: Mutex<State<R>>,
    done: Condvar,
    /// How many items the map has.
    len: usize,
}

struct State<R> {
    /// Per chunk, in order: its outcomes and the worker that ran them, once arrived.
    chunks: Vec<Option<(Outcomes<R>, String)>>,
    /// Items that failed on their own (their outcome in the chunk is `Skipped`), and
    /// items of chunks that failed as a whole, by index in the map.
    failures: BTreeMap<usize, Error>,
    /// Items without an outcome yet.
    pending: usize,
}

impl<R> Collected<R> {
    pub(crate) fn new(len: usize, chunks: usize) -> Arc<Self> {
        let mut slots = Vec::with_capacity(chunks);
        slots.resize_with(chunks, || None);
        Arc::new(Collected {
            state: Mutex::new(State {
                chunks: slots,
                failures: BTreeMap::new(),
                pending: len,
            }),
            done: Condvar::new(),
            len,
        })
    }

    fn settle(&self, update: impl FnOnce(&mut State<R>)) {
        let mut state = self.state.lock();
        update(&mut state);
        let finished = state.pending == 0;
        drop(state);
        if finished {
            self.done.notify_all();
        }
    }

    /// Waits for every item; the values in order, or the first error in that order.
    pub(crate) fn take_all(&self) -> Result<Vec<R>, Error> {
        let mut state = self.state.lock();
        while state.pending > 0 {
            self.done.wait(&mut state);
        }
        let chunks = std::mem::take(&mut state.chunks);
        let mut failures = std::mem::take(&mut state.failures);
        drop(state);
        let mut values = Vec::with_capacity(self.len);
        let mut index = 0;
        for chunk in chunks {
            let Some((mut outcomes, worker)) = chunk else {
                // A chunk that failed as a whole (or item by item): its first item's
                // error comes first.
                return Err(failures
                    .remove(&index)
                    .or_else(|| failures.pop_first().map(|(_, error)| error))
                    .unwrap_or(Error::AlreadyTaken));
            };
            if outcomes.others.is_empty() {
                // Every item returned: the values move over in one piece.
                index += outcomes.values.len();
                values.append(&mut outcomes.values);
                continue;
            }
            for outcome in outcomes.into_items() {
                match outcome {
                    ItemOutcome::Returned(value) => values.push(value),
                    ItemOutcome::Panicked(report) => return Err(report.into_error(worker)),
                    ItemOutcome::Skipped => {
                        return Err(failures.remove(&index).unwrap_or(Error::AlreadyTaken));
                    }
                }
                index += 1;
            }
        }
        Ok(values)
    }
}

/// One chunk of a [`Collected`] map: chunk number `chunk`, items `first..first + len`.
pub(crate) struct CollectedChunk<R> {
    pub(crate) results: Arc<Collected<R>>,
    pub(crate) chunk: usize,
    pub(crate) first: usize,
    pub(crate) len: usize,
}

impl<R: DeserializeOwned + Send + 'static> Sink for CollectedChunk<R> {
    fn deliver(&self, outcomes: &[u8], fds: Vec<OwnedFd>, worker: &str) {
        let decoded = mp_wire::decode::<Outcomes<R>>(outcomes, fds).map_err(Error::from);
        let checked = decoded.and_then(|outcomes| {
            outcomes
                .check(self.len)
                .map(|()| outcomes)
                .map_err(|fault| Error::Protocol { fault })
        });
        match checked {
            Ok(outcomes) => self.results.settle(|state| {
                let arrived = self.len - outcomes.skipped();
                if let Some(slot @ None) = state.chunks.get_mut(self.chunk) {
                    *slot = Some((outcomes, worker.to_owned()));
                    // Saturating: a corrupt reply whose skipped items are not the ones
                    // that failed must end the wait early (with an error), not wrap.
                    state.pending = state.pending.saturating_sub(arrived);
                }
            }),
            Err(error) => self.fail_rest(error, &[]),
        }
    }

    fn fail_item(&self, index: usize, error: Error) {
        self.results.settle(|state| {
            if state.failures.insert(self.first + index, error).is_none() {
                state.pending = state.pending.saturating_sub(1);
            }
        });
    }

    fn fail_rest(&self, error: Error, skip: &[u32]) {
        self.results.settle(|state| {
            for index in 0..self.len {
                if skip.iter().any(|&skipped| skipped as usize == index) {
                    continue;
                }
                if state
                    .failures
                    .insert(self.first + index, error.clone())
                    .is_none()
                {
                    state.pending = state.pending.saturating_sub(1);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PanicReport;

    fn reply(items: Vec<ItemOutcome<u32>>) -> (Vec<u8>, Vec<OwnedFd>) {
        let mut outcomes = Outcomes::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            outcomes.push(index, item);
        }
        mp_wire::encode(&outcomes).unwrap()
    }

    #[test]
    fn values_in_order_and_the_first_error_in_that_order() {
        let results = Collected::<u32>::new(4, 2);
        let second = CollectedChunk {
            results: Arc::clone(&results),
            chunk: 1,
            first: 2,
            len: 2,
        };
        let first = CollectedChunk {
            results: Arc::clone(&results),
            chunk: 0,
            first: 0,
            len: 2,
        };
        let (bytes, fds) = reply(vec![ItemOutcome::Returned(3), ItemOutcome::Returned(4)]);
        second.deliver(&bytes, fds, "w");
        let (bytes, fds) = reply(vec![ItemOutcome::Returned(1), ItemOutcome::Returned(2)]);
        first.deliver(&bytes, fds, "w");
        assert_eq!(results.take_all().unwrap(), [1, 2, 3, 4]);

        let results = Collected::<u32>::new(3, 1);
        let chunk = CollectedChunk {
            results: Arc::clone(&results),
            chunk: 0,
            first: 0,
            len: 3,
        };
        chunk.fail_item(1, Error::Terminated);
        let (bytes, fds) = reply(vec![
            ItemOutcome::Returned(1),
            ItemOutcome::Skipped,
            ItemOutcome::Panicked(PanicReport {
                message: "later".into(),
                location: None,
                backtrace: None,
            }),
        ]);
        chunk.deliver(&bytes, fds, "w");
        assert!(matches!(results.take_all(), Err(Error::Terminated)));

        let results = Collected::<u32>::new(2, 1);
        CollectedChunk {
            results: Arc::clone(&results),
            chunk: 0,
            first: 0,
            len: 2,
        }
        .fail_rest(Error::PoolClosed, &[]);
        assert!(matches!(results.take_all(), Err(Error::PoolClosed)));
    }
}
