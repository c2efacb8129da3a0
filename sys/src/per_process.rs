//! [`PerProcess`]: a static that belongs to one process, not to a forked copy of it.
//!
//! A child made by `fork` inherits a copy of every static, including locks that another
//! thread of the parent may have held at that instant and will never release in the
//! child. So each piece of per-process state (mp-processes keeps this process's identity,
//! its children, its launcher thread and its forkserver this way) lives behind one
//! pointer stamped with the [fork generation](crate::process::fork_generation) it was
//! made in: the first use after a fork finds a foreign stamp, leaves the old value
//! untouched (leaked, never locked: one value per fork, which a process pays once) and
//! installs a fresh one.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::process::fork_generation;

struct Stamped<T> {
    generation: u64,
    value: T,
}

/// A value of type `T` per process: made by `fresh` on first use in each process, and
/// made again on first use in a forked child.
///
/// ```
/// use std::sync::Mutex;
/// use mp_sys::PerProcess;
///
/// /// The children this process started: a forked child has none of them.
/// static CHILDREN: PerProcess<Mutex<Vec<i32>>> = PerProcess::new(|| Mutex::new(Vec::new()));
///
/// CHILDREN.get().lock().unwrap().push(42);
/// assert_eq!(*CHILDREN.get().lock().unwrap(), [42]);
/// ```
pub struct PerProcess<T: 'static> {
    slot: Slot<T>,
    fresh: fn() -> T,
}

impl<T: Send + Sync + 'static> PerProcess<T> {
    /// A value that `fresh` makes in each process, at its first [`get`](Self::get).
    ///
    /// ```
    /// use std::sync::atomic::AtomicU32;
    /// use mp_sys::PerProcess;
    ///
    /// static STARTS: PerProcess<AtomicU32> = PerProcess::new(|| AtomicU32::new(0));
    /// # let _ = STARTS.get();
    /// ```
    pub const fn new(fresh: fn() -> T) -> Self {
        PerProcess {
            slot: Slot::new(),
            fresh,
        }
    }

    /// This process's value, made on first use in this process.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use mp_sys::PerProcess;
    ///
    /// static HITS: PerProcess<AtomicU32> = PerProcess::new(|| AtomicU32::new(0));
    /// HITS.get().fetch_add(1, Ordering::Relaxed);
    /// assert_eq!(HITS.get().load(Ordering::Relaxed), 1);
    /// ```
    pub fn get(&'static self) -> &'static T {
        self.slot.get_or(self.fresh)
    }

    /// Makes `value` this process's value, whatever was there (a child's identity, set
    /// before its target runs). The previous value is left alone (references to it stay
    /// valid).
    ///
    /// ```
    /// use mp_sys::PerProcess;
    ///
    /// static NAME: PerProcess<String> = PerProcess::new(|| "MainProcess".to_owned());
    /// let before = NAME.get();
    /// assert_eq!(NAME.replace("Process-1".to_owned()), "Process-1");
    /// assert_eq!(NAME.get(), "Process-1");
    /// assert_eq!(before, "MainProcess");
    /// ```
    pub fn replace(&'static self, value: T) -> &'static T {
        self.slot
            .install(self.slot.current.load(Ordering::Acquire), value, true)
    }
}

/// The mechanism under [`PerProcess`], for owners that need not be statics (each
/// [`Reactor`](crate::reactor::Reactor) holds its tables and threads in one): one value
/// per process, made at the first [`get_or`](Slot::get_or) in each process.
///
/// Dropping the slot drops the value of the calling process; values of a process this
/// one was forked from are leaked, never touched (their locks may be held by threads
/// that are not here). A value displaced by [`PerProcess::replace`] is leaked too, since
/// `'static` references to it may remain.
pub(crate) struct Slot<T> {
    current: AtomicPtr<Stamped<T>>,
    /// The slot owns its values (for auto traits and drop check): it is `Send` only if
    /// `T` is, and `Sync` only if `T` is. Making a value through a shared slot also
    /// needs `T: Send` (see the bounds of `get_or`), since it may be dropped elsewhere.
    _owns: PhantomData<T>,
}

impl<T> Slot<T> {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        Self {
            current: AtomicPtr::new(std::ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// This process's value, if it was made already.
    // Only the reactor asks, and the loom build leaves the reactor out.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn current(&self) -> Option<&T> {
        // SAFETY: `current` only ever holds null or a pointer from `Box::into_raw` in
        // `install`, freed only by `drop` (which has `&mut self`, so no reference from
        // `&self` is alive), so a non-null pointer is valid for the borrow of `self`.
        let stamped = unsafe { self.current.load(Ordering::Acquire).as_ref() }?;
        (stamped.generation == fork_generation()).then_some(&stamped.value)
    }
}

impl<T: Send + Sync> Slot<T> {
    /// This process's value, made by `fresh` if this process has none yet.
    pub(crate) fn get_or(&self, fresh: impl FnOnce() -> T) -> &T {
        let existing = self.current.load(Ordering::Acquire);
        // SAFETY: as in `current`: null, or published by `install` and alive while
        // `self` is borrowed.
        if let Some(stamped) = unsafe { existing.as_ref() }
            && stamped.generation == fork_generation()
        {
            return &stamped.value;
        }
        self.install(existing, fresh(), false)
    }

    fn install(&self, mut expected: *mut Stamped<T>, value: T, replace: bool) -> &T {
        let generation = fork_generation();
        let fresh = Box::into_raw(Box::new(Stamped { generation, value }));
        loop {
            match self.current.compare_exchange(
                expected,
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // The displaced value (`expected`) is leaked on purpose: it belongs to a
                // parent process, or `replace` promised to leave it alone.
                // SAFETY: `fresh` came from `Box::into_raw` and, now published, is freed
                // only by `drop`, which cannot run while `self` is borrowed.
                Ok(_) => return unsafe { &(*fresh).value },
                Err(winner) => {
                    // SAFETY: as in `current`, `current` holds only published pointers,
                    // alive while `self` is borrowed.
                    if let Some(stamped) = unsafe { winner.as_ref() }
                        && stamped.generation == generation
                        && !replace
                    {
                        // Another thread of this process installed a value first. Ours
                        // was never shared: free it.
                        // SAFETY: `fresh` came from `Box::into_raw` just above and was
                        // not published, so no one else has it.
                        drop(unsafe { Box::from_raw(fresh) });
                        return &stamped.value;
                    }
                    expected = winner;
                }
            }
        }
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: as in `current`; `&mut self` means no reference into the value is alive.
        let Some(stamped) = (unsafe { current.as_ref() }) else {
            return;
        };
        if stamped.generation == fork_generation() {
            // SAFETY: made by `Box::into_raw` in this process and published once; with
            // `&mut self` nothing else can reach it, and the slot forgets it here.
            drop(unsafe { Box::from_raw(current) });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    static COUNTER: PerProcess<AtomicU32> = PerProcess::new(|| AtomicU32::new(7));

    #[test]
    fn one_value_per_process_until_replaced() {
        let first = COUNTER.get();
        first.fetch_add(1, Ordering::Relaxed);
        assert!(std::ptr::eq(first, COUNTER.get()));
        let replaced = COUNTER.replace(AtomicU32::new(1));
        assert_eq!(replaced.load(Ordering::Relaxed), 1);
        assert!(std::ptr::eq(replaced, COUNTER.get()));
        assert_eq!(
            first.load(Ordering::Relaxed),
            8,
            "the old value is left alone"
        );
    }

    /// Counts its drops.
    struct Dropped<'a>(&'a AtomicU32);

    impl Drop for Dropped<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_slot_makes_its_value_once_and_drops_it_with_itself() {
        let drops = AtomicU32::new(0);
        let slot = Slot::new();
        assert!(slot.current().is_none());
        let first: *const Dropped<'_> = slot.get_or(|| Dropped(&drops));
        let again: *const Dropped<'_> = slot.get_or(|| unreachable!("made once"));
        assert!(std::ptr::eq(first, again));
        assert!(
            slot.current()
                .is_some_and(|value| std::ptr::eq(value, first))
        );
        drop(slot);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
    }
}
