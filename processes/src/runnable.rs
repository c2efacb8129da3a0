//! [`Run`]: a process made from a value, as Python's `class P(Process): def run(self)`.
//!
//! Python subclasses `Process` and overrides `run`; the object is pickled to a spawned
//! child, and the parent's copy never sees what `run` changed. Here the value is sent to
//! the child (serde), `run` works on it there, and the child sends it back: `join`
//! gives the value as `run` left it, so the state a subclass would keep in `self`
//! comes home. (mp-threads' `Run` is the same idea for threads.)

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::handle::ProcessHandle;
use crate::process::Process;

/// A value whose `run` is a process's body: Python's `Process` subclass with `run()`.
///
/// ```
/// use mp_processes::Run;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Counter {
///     upto: u64,
///     total: u64,
/// }
///
/// impl Run for Counter {
///     fn run(&mut self) {
///         self.total = (1..=self.upto).sum();
///     }
/// }
///
/// let done = Counter { upto: 100, total: 0 }.start()?.join()?;
/// assert_eq!(done.total, 5050);
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub trait Run: Serialize + DeserializeOwned + Send + 'static {
    /// The process's body; it runs in the child, on the child's copy of the value.
    fn run(&mut self);

    /// Starts a process (default start method) that calls `run` on this value; joining
    /// gives the value back as `run` left it. For a name, a start method or `daemon`,
    /// use [`Process::from_run`].
    ///
    /// ```
    /// use mp_processes::Run;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Greeting(String);
    ///
    /// impl Run for Greeting {
    ///     fn run(&mut self) {
    ///         self.0.push_str(", from a child");
    ///     }
    /// }
    ///
    /// assert_eq!(Greeting("hello".into()).start()?.join()?.0, "hello, from a child");
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    fn start(self) -> Result<ProcessHandle<Self>, Error> {
        Process::from_run(self).start()
    }
}

/// What the child calls: one function per type, so it crosses by address as every
/// target does.
fn run_value<T: Run>(mut value: T) -> T {
    value.run();
    value
}

impl<T: Run> Process<T> {
    /// A process whose body is `value.run()`; joining gives `value` back as `run` left
    /// it (Python's `P(...)` for a `Process` subclass `P`).
    ///
    /// ```
    /// use mp_processes::{Process, Run, StartMethod};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Serialize, Deserialize)]
    /// struct Pid(u32);
    ///
    /// impl Run for Pid {
    ///     fn run(&mut self) {
    ///         self.0 = std::process::id();
    ///     }
    /// }
    ///
    /// let child = Process::from_run(Pid(0)).name("pid-reader").start_method(StartMethod::Spawn).start()?;
    /// let pid = child.pid();
    /// assert_eq!(child.join()?.0, pid);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn from_run(value: T) -> Process<T> {
        Process::new(run_value::<T>, (value,))
    }
}
