//! The results of a map as they come: one slot per item, filled a chunk at a time by the
//! pool's reader thread, read in order ([`Imap`]) or as they arrive ([`ImapUnordered`]).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::Error;

/// One slot per item of a map.
pub(super) struct Slots<R> {
    state: Mutex<SlotState<R>>,
    filled: Condvar,
}

struct SlotState<R> {
    values: Vec<Option<Result<R, Error>>>,
    /// Indexes of filled slots not yet taken by an unordered reader, in arrival order.
    arrived: VecDeque<usize>,
}

impl<R> Slots<R> {
    pub(super) fn new(len: usize) -> Arc<Slots<R>> {
        Arc::new(Slots {
            state: Mutex::new(SlotState {
                values: (0..len).map(|_| None).collect(),
                arrived: VecDeque::new(),
            }),
            filled: Condvar::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, SlotState<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills the slots from `first` on with `results`; a slot filled already keeps its
    /// result (each item's result is given once).
    pub(super) fn fill(&self, first: usize, results: Vec<Result<R, Error>>) {
        let mut state = self.state();
        for (offset, result) in results.into_iter().enumerate() {
            let index = first + offset;
            if let Some(slot @ None) = state.values.get_mut(index) {
                *slot = Some(result);
                state.arrived.push_back(index);
            }
        }
        drop(state);
        self.filled.notify_all();
    }

    /// Fills every empty slot from `first` on with `error`.
    pub(super) fn fill_from(&self, first: usize, error: &Error) {
        let mut state = self.state();
        let len = state.values.len();
        for index in first..len {
            if state.values[index].is_none() {
                state.values[index] = Some(Err(error.clone()));
                state.arrived.push_back(index);
            }
        }
        drop(state);
        self.filled.notify_all();
    }

    /// Waits for slot `index`, and takes its result.
    fn take(&self, index: usize) -> Option<Result<R, Error>> {
        let mut state = self.state();
        loop {
            match state.values.get_mut(index)? {
                Some(_) => return state.values[index].take(),
                None => {
                    state = self
                        .filled
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
    }

    /// Waits for any slot not taken yet, and takes it with its index.
    fn take_any(&self) -> Option<(usize, Result<R, Error>)> {
        let mut state = self.state();
        loop {
            if let Some(index) = state.arrived.pop_front() {
                if let Some(result) = state.values[index].take() {
                    return Some((index, result));
                }
                continue;
            }
            state = self
                .filled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The results of [`Pool::imap`](crate::Pool::imap), in the order of the items (Python's
/// `imap`). Each `next` waits for that item's result; every item's result comes (a
/// terminated pool fails the rest with [`Error::Terminated`]), so iteration ends.
///
/// ```no_run
/// let cluster = mp_cluster::Cluster::from_env()?;
/// let pool = mp_cluster::Pool::new(&cluster, "doubles")?;
/// let mut results = pool.imap(|n: u32| n * 2, [1, 2])?;
/// assert_eq!(results.len(), 2);
/// assert_eq!(results.next().transpose()?, Some(2));
/// # Ok::<(), mp_cluster::Error>(())
/// ```
pub struct Imap<R> {
    slots: Arc<Slots<R>>,
    next: usize,
    len: usize,
}

impl<R> Imap<R> {
    pub(super) fn new(slots: Arc<Slots<R>>, len: usize) -> Imap<R> {
        Imap {
            slots,
            next: 0,
            len,
        }
    }
}

impl<R> Iterator for Imap<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.len {
            return None;
        }
        let result = self.slots.take(self.next);
        self.next += 1;
        result
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

impl<R> ExactSizeIterator for Imap<R> {}

/// The results of [`Pool::imap_unordered`](crate::Pool::imap_unordered) as they come
/// (Python's `imap_unordered`).
///
/// ```no_run
/// let cluster = mp_cluster::Cluster::from_env()?;
/// let pool = mp_cluster::Pool::new(&cluster, "doubles")?;
/// let results = pool.imap_unordered(|n: u32| n * 2, [1, 2])?;
/// assert_eq!(results.len(), 2);
/// let mut values: Vec<u32> = results.collect::<Result<_, _>>()?;
/// values.sort();
/// assert_eq!(values, [2, 4]);
/// # Ok::<(), mp_cluster::Error>(())
/// ```
pub struct ImapUnordered<R> {
    slots: Arc<Slots<R>>,
    left: usize,
}

impl<R> ImapUnordered<R> {
    pub(super) fn new(slots: Arc<Slots<R>>, len: usize) -> ImapUnordered<R> {
        ImapUnordered { slots, left: len }
    }
}

impl<R> Iterator for ImapUnordered<R> {
    type Item = Result<R, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let taken = self.slots.take_any();
        self.left -= 1;
        taken.map(|(_, result)| result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<R> ExactSizeIterator for ImapUnordered<R> {}
