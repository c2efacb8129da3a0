//! [`Ring`]: the lock-free FIFO storage under [`Queue`](crate::Queue):
//! crossbeam's `SegQueue` when unbounded, its `ArrayQueue` when bounded.

use crossbeam_queue::{ArrayQueue, SegQueue};

/// Items in first-in, first-out order, without blocking.
///
/// The sleepers of the engine rely on one property of crossbeam-queue 0.3
/// (see [`Sleepers`](crate::queue::sleepers::Sleepers)): `push` and `pop` change
/// tail and head with `SeqCst` compare-and-swaps, and `is_empty`/`is_full`
/// read them with `SeqCst` loads.
pub(crate) enum Ring<T> {
    /// A linked list of segments (as crossbeam-channel's `unbounded`).
    Unbounded(SegQueue<T>),
    /// A ring of fixed capacity allocated up front (as crossbeam-channel's
    /// `bounded`): a full ring refuses a push, which is how `maxsize` holds.
    Bounded(ArrayQueue<T>),
}

impl<T> Ring<T> {
    /// Unbounded for `capacity` 0, else a ring of exactly `capacity` slots.
    pub(crate) fn new(capacity: usize) -> Self {
        if capacity == 0 {
            Ring::Unbounded(SegQueue::new())
        } else {
            Ring::Bounded(ArrayQueue::new(capacity))
        }
    }

    /// Adds an item at the back; a full ring hands it back.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        match self {
            Ring::Unbounded(list) => {
                list.push(item);
                Ok(())
            }
            Ring::Bounded(ring) => ring.push(item),
        }
    }

    /// Takes the item at the front.
    pub(crate) fn pop(&self) -> Option<T> {
        match self {
            Ring::Unbounded(list) => list.pop(),
            Ring::Bounded(ring) => ring.pop(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Ring::Unbounded(list) => list.len(),
            Ring::Bounded(ring) => ring.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Ring::Unbounded(list) => list.is_empty(),
            Ring::Bounded(ring) => ring.is_empty(),
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        match self {
            Ring::Unbounded(_) => false,
            Ring::Bounded(ring) => ring.is_full(),
        }
    }

    pub(crate) fn is_bounded(&self) -> bool {
        matches!(self, Ring::Bounded(_))
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn a_bounded_ring_refuses_past_its_capacity() {
        let ring = Ring::new(2);
        assert!(ring.is_bounded());
        assert_eq!(ring.push(1), Ok(()));
        assert_eq!(ring.push(2), Ok(()));
        assert!(ring.is_full());
        assert_eq!(ring.push(3), Err(3));
        assert_eq!(ring.pop(), Some(1));
        assert_eq!(ring.len(), 1);
    }

    #[test]
    fn an_unbounded_ring_is_never_full() {
        let ring = Ring::new(0);
        assert!(!ring.is_bounded());
        for n in 0..10_000 {
            assert_eq!(ring.push(n), Ok(()));
        }
        assert!(!ring.is_full());
        assert_eq!(ring.len(), 10_000);
        assert_eq!(ring.pop(), Some(0));
        while ring.pop().is_some() {}
        assert!(ring.is_empty());
    }
}
