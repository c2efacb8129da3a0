//! What travels on a worker's channel, one frame of mp-wire (postcard bytes and
//! descriptors) at a time: the message types only; the frame is mp-wire's.
//!
//! Pool to worker: a [`TaskHead`] then, in the same bytes, the task's items: a `[A]` of
//! argument tuples (one for `apply_async`, a chunk for `map`). Worker to pool: a
//! [`Reply`], followed for [`Reply::Results`] by a `Vec<ItemOutcome<R>>`.

use serde::{Deserialize, Serialize};

use crate::error::ProtocolFault;
use crate::error::{ArgumentsFault, SendFault};
use crate::wire::PanicReport;

/// The largest frame either side accepts (1 GiB): a corrupt length cannot make the
/// receiver allocate more, and a larger task is refused when it is submitted.
pub(crate) const MAX_FRAME_LEN: usize = 1 << 30;

/// The head of a task frame.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TaskHead {
    /// The task's id in the pool (from 1).
    pub(crate) id: u64,
    /// The trampoline that runs this task's function, as an offset from the binary's
    /// anchor (the mechanism of `Process` targets).
    pub(crate) entry: i64,
    /// Items not to run: they failed already, on a worker that died running them.
    pub(crate) skip: Vec<u32>,
}

/// The head of a frame from a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The initializer ran: the worker takes tasks from now on.
    Ready,
    /// The outcomes of task `id` follow, one per item.
    Results {
        /// The task.
        id: u64,
    },
    /// The items of task `id` could not be decoded: none of them ran.
    BadArgs {
        /// The task.
        id: u64,
        /// Why.
        fault: ArgumentsFault,
    },
    /// The items of task `id` ran, but their results could not be sent.
    Unsendable {
        /// The task.
        id: u64,
        /// Why.
        fault: SendFault,
    },
    /// The initializer panicked with this message; the worker ends.
    InitFailed(String),
}

/// How one call of the task's function ended in the worker (the in-memory view; see
/// [`Outcomes`] for what travels).
#[derive(Debug)]
pub(crate) enum ItemOutcome<R> {
    Returned(R),
    Panicked(PanicReport),
    /// Not run: listed in [`TaskHead::skip`].
    Skipped,
}

/// The outcomes of a task's items as they travel: the values in one plain vector (so a
/// chunk of a million `u64`s decodes as a `Vec<u64>`, with no tag per item), and the few
/// items without a value beside it, by index.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Outcomes<R> {
    /// The values of the items that returned, in the items' order.
    pub(crate) values: Vec<R>,
    /// The items that did not return, by index, in increasing order.
    pub(crate) others: Vec<(u32, Other)>,
}

/// An item without a value.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Other {
    Panicked(PanicReport),
    Skipped,
}

impl<R> Outcomes<R> {
    pub(crate) fn with_capacity(len: usize) -> Self {
        Outcomes {
            values: Vec::with_capacity(len),
            others: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, index: usize, outcome: ItemOutcome<R>) {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        match outcome {
            ItemOutcome::Returned(value) => self.values.push(value),
            ItemOutcome::Panicked(report) => self.others.push((index, Other::Panicked(report))),
            ItemOutcome::Skipped => self.others.push((index, Other::Skipped)),
        }
    }

    /// Whether these are the outcomes of exactly `len` items (a reply from a worker is
    /// checked before it is believed).
    pub(crate) fn check(&self, len: usize) -> Result<(), ProtocolFault> {
        let increasing = self.others.windows(2).all(|pair| pair[0].0 < pair[1].0);
        let in_range = self
            .others
            .last()
            .is_none_or(|(index, _)| (*index as usize) < len);
        if self.values.len() + self.others.len() != len || !increasing || !in_range {
            return Err(ProtocolFault::OutcomeCount {
                values: self.values.len(),
                others: self.others.len(),
                items: len,
            });
        }
        Ok(())
    }

    /// How many items were skipped.
    pub(crate) fn skipped(&self) -> usize {
        self.others
            .iter()
            .filter(|(_, other)| matches!(other, Other::Skipped))
            .count()
    }

    /// Each item's outcome, in order (of a [`check`](Outcomes::check)ed reply).
    pub(crate) fn into_items(self) -> impl Iterator<Item = ItemOutcome<R>> {
        let mut values = self.values.into_iter();
        let mut others = self.others.into_iter().peekable();
        (0usize..).map_while(move |index| {
            match others.next_if(|(other_index, _)| *other_index as usize == index) {
                Some((_, Other::Panicked(report))) => Some(ItemOutcome::Panicked(report)),
                Some((_, Other::Skipped)) => Some(ItemOutcome::Skipped),
                None => values.next().map(ItemOutcome::Returned),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_in_order_and_are_checked() {
        let mut outcomes = Outcomes::with_capacity(4);
        outcomes.push(0, ItemOutcome::Returned(10u8));
        outcomes.push(1, ItemOutcome::Skipped);
        outcomes.push(2, ItemOutcome::Returned(30));
        outcomes.push(
            3,
            ItemOutcome::Panicked(PanicReport {
                message: "no".into(),
                location: Some("src/lib.rs:1:1".into()),
                backtrace: None,
            }),
        );
        assert!(outcomes.check(4).is_ok());
        assert!(outcomes.check(5).is_err());
        assert_eq!(outcomes.skipped(), 1);
        let items: Vec<String> = outcomes
            .into_items()
            .map(|item| format!("{item:?}"))
            .collect();
        assert_eq!(
            items,
            [
                "Returned(10)",
                "Skipped",
                "Returned(30)",
                "Panicked(PanicReport { message: \"no\", location: Some(\"src/lib.rs:1:1\"), backtrace: None })"
            ]
        );

        let lying = Outcomes::<u8> {
            values: vec![1],
            others: vec![(5, Other::Skipped)],
        };
        assert!(lying.check(2).is_err(), "an index out of range");
        let unordered = Outcomes::<u8> {
            values: vec![],
            others: vec![(1, Other::Skipped), (0, Other::Skipped)],
        };
        assert!(unordered.check(2).is_err());
    }
}
