//! [`Run`]: Python's "subclass `Thread` and override `run()`" pattern.

use crate::Target;
use crate::error::Error;
use crate::thread::{JoinHandle, Thread};

/// A type whose [`run`](Run::run) method is a thread's body, as a Python class
/// that subclasses `threading.Thread` and overrides `run()`.
///
/// [`start`](Run::start) moves the value to a new thread and calls `run` there;
/// [`join`](JoinHandle::join) hands the value back, so whatever `run` stored in
/// its fields can be read afterwards (Python code reads `self.result` after
/// `join()`). [`Thread::from_run`] gives a [`Thread`] builder instead, to set a
/// name or the daemon flag first.
///
/// ```
/// use mp_threads::{Run, current_thread};
///
/// struct MyThread {
///     number: u32,
///     said: String,
/// }
///
/// impl Run for MyThread {
///     fn run(&mut self) {
///         self.said = format!("Thread {} is running in {}", self.number, current_thread().name());
///     }
/// }
///
/// let handle = MyThread { number: 1, said: String::new() }.start()?;
/// let finished = handle.join()?;
/// assert!(finished.said.starts_with("Thread 1 is running in Thread-"));
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub trait Run: Send + Sized + 'static {
    /// The thread's body.
    fn run(&mut self);

    /// Starts a thread that calls `run` on this value; joining gives it back.
    ///
    /// ```
    /// use mp_threads::Run;
    ///
    /// struct Squarer(u64);
    /// impl Run for Squarer {
    ///     fn run(&mut self) {
    ///         self.0 *= self.0;
    ///     }
    /// }
    ///
    /// assert_eq!(Squarer(9).start()?.join()?.0, 81);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    fn start(self) -> Result<JoinHandle<Self>, Error> {
        Thread::from_run(self).start()
    }
}

impl Thread<(), ()> {
    /// A thread builder whose body is `runner.run()`; joining gives `runner` back.
    ///
    /// ```
    /// use mp_threads::{Run, Thread, current_thread};
    ///
    /// struct Named(String);
    /// impl Run for Named {
    ///     fn run(&mut self) {
    ///         self.0 = current_thread().name().to_owned();
    ///     }
    /// }
    ///
    /// let handle = Thread::from_run(Named(String::new())).name("custom").start()?;
    /// assert_eq!(handle.join()?.0, "custom");
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn from_run<R: Run>(runner: R) -> Thread<impl Target<(), Output = R> + Send + 'static, ()> {
        Thread::new(
            move || {
                let mut runner = runner;
                runner.run();
                runner
            },
            (),
        )
    }
}
