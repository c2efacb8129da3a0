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
    current: AtomicPtr<Stamped<T>>,
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
            current: AtomicPtr::new(std::ptr::null_mut()),
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
        let existing = self.current.load(Ordering::Acquire);
        // SAFETY: `current` only ever holds null or a pointer from `Box::into_raw` in
        // `install`, never freed once published, so a non-null pointer is valid for
        // 'static.
        if let Some(stamped) = unsafe { existing.as_ref() }
            && stamped.generation == fork_generation()
        {
            return &stamped.value;
        }
        self.install(existing, (self.fresh)(), false)
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
        self.install(self.current.load(Ordering::Acquire), value, true)
    }

    fn install(
        &'static self,
        mut expected: *mut Stamped<T>,
        value: T,
        replace: bool,
    ) -> &'static T {
        let generation = fork_generation();
        let fresh = Box::into_raw(Box::new(Stamped { generation, value }));
        loop {
            match self.current.compare_exchange(
                expected,
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: `fresh` came from `Box::into_raw` and, now published, is never
                // freed.
                Ok(_) => return unsafe { &(*fresh).value },
                Err(winner) => {
                    // SAFETY: as in `get`, `current` holds only published, never-freed
                    // pointers.
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
}
