//! [`WakerList`]: the awaiting tasks of something this process completes itself.

use std::fmt;
use std::task::Waker;

/// The wakers of the tasks awaiting one in-process completion (a thread-pool task, a
/// process-pool result), kept under the lock that guards the completion.
///
/// No reactor thread is needed when the completion happens in this process: the thread
/// that completes wakes the awaiting tasks itself. The discipline, the same as a
/// [`Waiter`](super::Waiter)'s:
/// - each future keeps a [`WakerSlot`], and on a `Pending` poll
///   [`register`](WakerList::register)s its waker under the same lock as the one the
///   completion takes, after checking under that lock that it has not completed (so no
///   wake-up is lost);
/// - the completer [`take`](WakerList::take)s the wakers under the lock and wakes them
///   after releasing it (a waker that runs its task inline cannot deadlock on it);
/// - a future dropped before completion [`remove`](WakerList::remove)s its slot in its
///   `Drop`: a cancelled await leaves no waker behind.
///
/// ```
/// use std::task::Waker;
/// use mp_sys::reactor::{WakerList, WakerSlot};
///
/// let mut list = WakerList::new();
/// let mut slot = WakerSlot::new();
/// list.register(&mut slot, Waker::noop());
/// list.register(&mut slot, Waker::noop()); // polled again: still one entry
/// assert_eq!(list.len(), 1);
/// list.remove(&mut slot); // the future was dropped
/// assert!(list.is_empty());
/// list.register(&mut slot, Waker::noop());
/// list.take().into_iter().for_each(Waker::wake); // completed: wake, outside the lock
/// assert!(list.is_empty());
/// ```
#[derive(Default)]
pub struct WakerList {
    entries: Vec<(u64, Waker)>,
    next_id: u64,
}

/// One future's place in a [`WakerList`]: empty until its first `Pending` poll.
///
/// ```
/// assert!(!mp_sys::reactor::WakerSlot::new().is_registered());
/// ```
#[derive(Debug, Default)]
pub struct WakerSlot(Option<u64>);

impl WakerSlot {
    /// A slot not in any list yet.
    ///
    /// ```
    /// let slot = mp_sys::reactor::WakerSlot::new();
    /// # drop(slot);
    /// ```
    pub const fn new() -> Self {
        Self(None)
    }

    /// Whether the slot was registered (and not removed since). A slot whose list was
    /// [`take`](WakerList::take)n still says `true`: its future is being woken.
    ///
    /// ```
    /// use mp_sys::reactor::{WakerList, WakerSlot};
    ///
    /// let mut slot = WakerSlot::new();
    /// WakerList::new().register(&mut slot, std::task::Waker::noop());
    /// assert!(slot.is_registered());
    /// ```
    pub fn is_registered(&self) -> bool {
        self.0.is_some()
    }
}

impl WakerList {
    /// An empty list.
    ///
    /// ```
    /// assert!(mp_sys::reactor::WakerList::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            next_id: 0,
        }
    }

    /// Keeps `waker` to be woken at completion, in `slot`'s place (replacing the waker
    /// of an earlier poll, unless it would wake the same task anyway).
    ///
    /// ```
    /// use mp_sys::reactor::{WakerList, WakerSlot};
    ///
    /// let mut list = WakerList::new();
    /// let (mut a, mut b) = (WakerSlot::new(), WakerSlot::new());
    /// list.register(&mut a, std::task::Waker::noop());
    /// list.register(&mut b, std::task::Waker::noop());
    /// assert_eq!(list.len(), 2);
    /// ```
    pub fn register(&mut self, slot: &mut WakerSlot, waker: &Waker) {
        if let Some(id) = slot.0
            && let Some((_, kept)) = self.entries.iter_mut().find(|(other, _)| *other == id)
        {
            if !kept.will_wake(waker) {
                *kept = waker.clone();
            }
            return;
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.entries.push((id, waker.clone()));
        slot.0 = Some(id);
    }

    /// Takes `slot`'s waker out, if it is still there: for the `Drop` of a future that
    /// did not complete.
    ///
    /// ```
    /// use mp_sys::reactor::{WakerList, WakerSlot};
    ///
    /// let mut list = WakerList::new();
    /// let mut slot = WakerSlot::new();
    /// list.remove(&mut slot); // never registered: nothing to do
    /// list.register(&mut slot, std::task::Waker::noop());
    /// list.remove(&mut slot);
    /// assert!(list.is_empty() && !slot.is_registered());
    /// ```
    pub fn remove(&mut self, slot: &mut WakerSlot) {
        if let Some(id) = slot.0.take() {
            self.entries.retain(|(other, _)| *other != id);
        }
    }

    /// Every waker, taken out of the list: to wake once the lock is released.
    ///
    /// ```
    /// use mp_sys::reactor::{WakerList, WakerSlot};
    ///
    /// let mut list = WakerList::new();
    /// list.register(&mut WakerSlot::new(), std::task::Waker::noop());
    /// assert_eq!(list.take().len(), 1);
    /// assert!(list.take().is_empty());
    /// ```
    pub fn take(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .map(|(_, waker)| waker)
            .collect()
    }

    /// How many futures wait.
    ///
    /// ```
    /// assert_eq!(mp_sys::reactor::WakerList::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no future waits.
    ///
    /// ```
    /// assert!(mp_sys::reactor::WakerList::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for WakerList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakerList")
            .field("waiting", &self.len())
            .finish()
    }
}
