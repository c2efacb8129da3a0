//! [`Local`]: Python's `threading.local`.

use std::cell::Cell;
use std::fmt;

use parking_lot::Mutex;
use thread_local::ThreadLocal;

use crate::registry;

type Init<T> = Box<dyn Fn() -> T + Send + Sync>;

/// A value that every thread sees its own copy of, per `Local` object: Python's
/// `threading.local()`.
///
/// Where Python sets attributes (`local.student = name`), a `Local<T>` holds one
/// `T` per thread: [`set`](Local::set) it, read it back with
/// [`get`](Local::get) (a clone) or [`with`](Local::with) (in place). A thread
/// that has not set a value sees none, unless the `Local` was made by
/// [`with_init`](Local::with_init), which gives each thread its own fresh value
/// on first use (Python's `local` subclass with `__init__`). A new thread never
/// sees a value of a thread that has exited.
///
/// Unlike Python, a thread's value is not dropped when the thread exits: it is
/// kept until the `Local` is dropped, so [`into_values`](Local::into_values)
/// can gather what every thread left (a per-thread counter summed at the end).
///
/// ```
/// use std::sync::Arc;
/// use mp_threads::{Local, Thread, current_thread};
///
/// let school = Arc::new(Local::<String>::new());
/// let greet = |school: Arc<Local<String>>, student: &'static str| {
///     school.set(student.to_owned());
///     let student = school.get().unwrap_or_default();
///     format!("Hello, {student} (in {})", current_thread().name())
/// };
/// let a = Thread::new(greet, (Arc::clone(&school), "A")).name("Thread-A").start()?;
/// let b = Thread::new(greet, (Arc::clone(&school), "B")).name("Thread-B").start()?;
/// assert_eq!(a.join()?, "Hello, A (in Thread-A)");
/// assert_eq!(b.join()?, "Hello, B (in Thread-B)");
/// assert_eq!(school.get(), None); // the main thread never set one
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub struct Local<T: Send> {
    /// Each slot is tagged with the ident of the thread that filled it: the
    /// `thread_local` crate hands a slot of an exited thread to the next new
    /// thread, which must not see the old value.
    slots: ThreadLocal<Cell<Option<(u64, T)>>>,
    /// Values of exited threads whose slot a new thread took over.
    retired: Mutex<Vec<T>>,
    init: Option<Init<T>>,
}

impl<T: Send> Local<T> {
    /// A `Local` in which no thread has a value yet.
    ///
    /// ```
    /// let local = mp_threads::Local::<u32>::new();
    /// assert!(!local.is_set());
    /// ```
    pub fn new() -> Self {
        Local {
            slots: ThreadLocal::new(),
            retired: Mutex::new(Vec::new()),
            init: None,
        }
    }

    /// A `Local` that gives each thread `init()` the first time the thread
    /// uses it (and again after [`take`](Local::take)).
    ///
    /// ```
    /// use mp_threads::{Local, Thread};
    /// use std::sync::Arc;
    ///
    /// let hits = Arc::new(Local::with_init(|| 0_u32));
    /// hits.with(|n| *n += 1);
    /// let other = Arc::clone(&hits);
    /// let seen = Thread::new(move || other.get(), ()).start()?.join()?;
    /// assert_eq!(seen, Some(0));
    /// assert_eq!(hits.get(), Some(1));
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn with_init(init: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Local {
            slots: ThreadLocal::new(),
            retired: Mutex::new(Vec::new()),
            init: Some(Box::new(init)),
        }
    }

    /// Sets the calling thread's value, returning the one it replaces.
    ///
    /// ```
    /// let local = mp_threads::Local::new();
    /// assert_eq!(local.set("first"), None);
    /// assert_eq!(local.set("second"), Some("first"));
    /// ```
    pub fn set(&self, value: T) -> Option<T> {
        let me = registry::current_ident();
        let slot = self.slot();
        let previous = self.own_value(slot.take(), me);
        slot.set(Some((me, value)));
        previous
    }

    /// A clone of the calling thread's value (initialised first by a
    /// [`with_init`](Local::with_init) `Local`).
    ///
    /// ```
    /// let local = mp_threads::Local::new();
    /// assert_eq!(local.get(), None);
    /// local.set(vec![1]);
    /// assert_eq!(local.get(), Some(vec![1]));
    /// ```
    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        self.with(|value| value.clone())
    }

    /// Calls `f` with the calling thread's value in place and returns what it
    /// returns, or `None` if this thread has no value (and there is no init).
    ///
    /// While `f` runs the value is lent out: a nested use of the same `Local`
    /// on the same thread sees no value, and the lent value is put back
    /// afterwards, replacing anything the nested use set. If `f` panics, the
    /// calling thread's value is dropped.
    ///
    /// ```
    /// let counter = mp_threads::Local::with_init(|| 0);
    /// counter.with(|n| *n += 5);
    /// assert_eq!(counter.with(|n| *n), Some(5));
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let me = registry::current_ident();
        let slot = self.slot();
        let mut value = match self.own_value(slot.take(), me) {
            Some(value) => value,
            None => (self.init.as_ref()?)(),
        };
        let result = f(&mut value);
        // Anything a nested use left in the slot is dropped after ours is back.
        let nested = slot.replace(Some((me, value)));
        drop(nested);
        Some(result)
    }

    /// Removes and returns the calling thread's value.
    ///
    /// ```
    /// let local = mp_threads::Local::new();
    /// local.set(3);
    /// assert_eq!(local.take(), Some(3));
    /// assert_eq!(local.take(), None);
    /// ```
    pub fn take(&self) -> Option<T> {
        let me = registry::current_ident();
        let slot = self.slot();
        self.own_value(slot.take(), me)
    }

    /// Whether the calling thread has a value (an init does not count until
    /// it has run).
    ///
    /// ```
    /// let local = mp_threads::Local::with_init(|| 1);
    /// assert!(!local.is_set());
    /// let _ = local.get();
    /// assert!(local.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        let me = registry::current_ident();
        let slot = self.slot();
        let current = slot.take();
        let is_set = matches!(current, Some((owner, _)) if owner == me);
        match current {
            Some((owner, value)) if owner == me => slot.set(Some((owner, value))),
            stale => {
                slot.set(None);
                self.retire(stale);
            }
        }
        is_set
    }

    /// Every value held, of live and exited threads alike, in no particular
    /// order. `&mut self` guarantees no thread is using the `Local` meanwhile.
    ///
    /// ```
    /// use mp_threads::{Local, Thread};
    /// use std::sync::Arc;
    ///
    /// let counts = Arc::new(Local::with_init(|| 0_u32));
    /// let workers: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let counts = Arc::clone(&counts);
    ///         Thread::new(move || { counts.with(|n| *n += 10); }, ()).start()
    ///     })
    ///     .collect::<Result<_, _>>()?;
    /// for worker in workers {
    ///     worker.join()?;
    /// }
    /// let mut counts = Arc::into_inner(counts).expect("every worker has finished");
    /// assert_eq!(counts.values_mut().map(|n| *n).sum::<u32>(), 40);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots
            .iter_mut()
            .filter_map(|slot| slot.get_mut().as_mut().map(|(_, value)| value))
            .chain(self.retired.get_mut().iter_mut())
    }

    /// Consumes the `Local`, returning every value held, of live and exited
    /// threads alike, in no particular order.
    ///
    /// ```
    /// let local = mp_threads::Local::new();
    /// local.set('x');
    /// assert_eq!(local.into_values(), vec!['x']);
    /// ```
    pub fn into_values(self) -> Vec<T> {
        let mut values = self.retired.into_inner();
        values.extend(
            self.slots
                .into_iter()
                .filter_map(|slot| slot.into_inner().map(|(_, value)| value)),
        );
        values
    }

    fn slot(&self) -> &Cell<Option<(u64, T)>> {
        self.slots.get_or(|| Cell::new(None))
    }

    /// The value if it belongs to thread `me`; a stale one is set aside.
    fn own_value(&self, content: Option<(u64, T)>, me: u64) -> Option<T> {
        match content {
            Some((owner, value)) if owner == me => Some(value),
            stale => {
                self.retire(stale);
                None
            }
        }
    }

    fn retire(&self, stale: Option<(u64, T)>) {
        if let Some((_, value)) = stale {
            self.retired.lock().push(value);
        }
    }
}

impl<T: Send> Default for Local<T> {
    /// Same as [`Local::new`].
    fn default() -> Self {
        Local::new()
    }
}

impl<T: Send> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local")
            .field("has_init", &self.init.is_some())
            .finish_non_exhaustive()
    }
}
