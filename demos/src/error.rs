//! The crate's one error type: why a scenario, or the runner around it, failed.

use std::time::Duration;

use crate::ChildFailure;

/// Everything that makes a scenario (or the `demos` command line) fail.
///
/// A scenario returns `Err(DemoError)` when its outcome is wrong or a step of it failed;
/// the binary prints the error and exits non-zero, which is what `demos all` counts as a
/// failure. Errors of this project's crates convert with `?`, each as it is, inside
/// [`DemoError::Mp`]; [`StepContext::context`] adds what was being done where the error
/// alone would not say it.
///
/// ```
/// use mp_demos::{DemoError, check_eq};
///
/// let err: DemoError = check_eq("counter", 199_873, 200_000).unwrap_err();
/// assert_eq!(err.to_string(), "check failed: counter is 199873, expected 200000");
///
/// fn first(queue: &mp::ipc::Queue<u32>) -> Result<u32, DemoError> {
///     Ok(queue.try_get()?)
/// }
/// let err = first(&mp::ipc::Queue::new()?).unwrap_err();
/// assert!(matches!(err, DemoError::Mp(_)));
/// assert_eq!(err.to_string(), mp::ipc::Error::Empty.to_string());
/// # Ok::<(), mp::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The scenario ran, but its outcome is not the one it checks for.
    #[error("check failed: {0}")]
    CheckFailed(String),
    /// A call of this project's crates failed (an owner died, a queue was closed, a child
    /// was killed...); its `Display` is the error's own. (Boxed: `mp::Error` is large, and
    /// every scenario step returns this type.)
    #[error(transparent)]
    Mp(Box<mp::Error>),
    /// A call of this project's crates failed during a step that the error alone does not
    /// name (see [`StepContext::context`]).
    #[error("{what}: {source}")]
    Step {
        /// What the scenario was doing.
        what: String,
        /// The error of the call.
        #[source]
        source: Box<mp::Error>,
    },
    /// A child process of the scenario reported a failure (see [`ChildFailure`]).
    #[error("in {child}: {failure}")]
    InChild {
        /// The child's name, such as `Process-2`.
        child: String,
        /// What went wrong in it, as it reported it.
        #[source]
        failure: ChildFailure,
    },
    /// A `std` thread or an async task of the scenario panicked (a panic in an
    /// `mp::threads` thread or pool task comes as [`DemoError::Mp`], with its own message).
    #[error("thread `{name}` panicked: {message}")]
    ThreadPanicked {
        /// The thread's name (`<unnamed>` when it has none).
        name: String,
        /// The panic's message, when it was a string.
        message: String,
    },
    /// A thread of the scenario did not finish within the time the scenario allowed it.
    #[error("thread `{name}` did not finish within {limit:?}")]
    ThreadTimedOut {
        /// The thread's name (`<unnamed>` when it has none).
        name: String,
        /// How long the scenario waited.
        limit: Duration,
    },
    /// An input/output operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No scenario has this name.
    #[error("unknown scenario `{0}`: `demos list` lists the scenarios")]
    UnknownScenario(String),
    /// A time scale that is not a finite number at least 0.
    #[error("invalid scale `{0}`: expected a finite number at least 0, such as 1 or 0.01")]
    InvalidScale(String),
    /// The scenario's arguments did not parse; the message says why and how to get help.
    #[error("{0}")]
    Usage(String),
    /// Not a failure: the scenario cannot run here (a program it needs is missing), and
    /// this says why and how to get it. The binary prints it and exits with
    /// [`SKIPPED_STATUS`](crate::SKIPPED_STATUS), which `demos all` shows as skipped.
    ///
    /// ```
    /// let skipped = mp_demos::DemoError::Skipped("redis-server is not installed".into());
    /// assert_eq!(skipped.to_string(), "skipped: redis-server is not installed");
    /// ```
    #[error("skipped: {0}")]
    Skipped(String),
    /// Not a failure: `--help` was given, and this is the help to print (the binary prints
    /// it and exits 0).
    #[error("{0}")]
    Help(String),
    /// Any other error a scenario step produced (see [`DemoError::other`]).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl DemoError {
    /// Wraps any error, so that a scenario can use `?` on a crate this one has no variant for.
    ///
    /// ```
    /// use mp_demos::DemoError;
    ///
    /// let parsed: Result<u32, DemoError> = "12x".parse::<u32>().map_err(DemoError::other);
    /// assert_eq!(parsed.unwrap_err().to_string(), "invalid digit found in string");
    /// ```
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Other(error.into())
    }

    /// An input/output error, with what was being done when it happened.
    ///
    /// ```
    /// use mp_demos::DemoError;
    ///
    /// let err = std::fs::read("/nonexistent/input.png").map_err(|e| DemoError::io("reading input.png", e));
    /// assert!(err.unwrap_err().to_string().starts_with("reading input.png: "));
    /// ```
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<std::io::Error> for DemoError {
    fn from(source: std::io::Error) -> Self {
        Self::io("input/output", source)
    }
}

impl From<mp::Error> for DemoError {
    fn from(error: mp::Error) -> Self {
        Self::Mp(Box::new(error))
    }
}

/// `From<E> for DemoError` for each error type that `mp::Error` converts from, through
/// `mp::Error`, so that `?` works on every call of this project's crates.
macro_rules! through_mp_error {
    ($($error:ty),* $(,)?) => {
        $(
            impl From<$error> for DemoError {
                fn from(error: $error) -> Self {
                    Self::from(mp::Error::from(error))
                }
            }
        )*
    };
}

through_mp_error!(
    mp::sync::Error,
    mp::shared_mem::Error,
    mp::ipc::Error,
    mp::processes::Error,
    mp::threads::Error,
    mp::wire::Error,
    mp::managers::Error,
    mp::cluster::Error,
    mp::sys::Error,
);

/// `?` on a blocking acquisition: a dead previous owner fails the scenario (and the guard
/// inside is dropped, which releases the lock).
impl<G> From<mp::sync::OwnerDied<G>> for DemoError {
    fn from(died: mp::sync::OwnerDied<G>) -> Self {
        Self::from(mp::Error::from(died))
    }
}

/// `?` on a `try_` or `_timeout` acquisition.
impl<G> From<mp::sync::TryLockError<G>> for DemoError {
    fn from(error: mp::sync::TryLockError<G>) -> Self {
        Self::from(mp::Error::from(error))
    }
}

/// `?` on a thread queue's `put`: the rejected item is dropped with the error.
impl<T> From<mp::threads::PutError<T>> for DemoError {
    fn from(error: mp::threads::PutError<T>) -> Self {
        Self::from(mp::Error::from(error))
    }
}

/// What a scenario was doing when a call of this project's crates failed, for the few
/// steps where the error alone would not say it (which of two waits timed out, which
/// shared value could not be locked).
///
/// It is one small helper rather than a `map_err` at every call: `?` alone is right
/// wherever the error says everything.
///
/// ```
/// use mp::threads::Queue;
/// use mp_demos::{DemoError, StepContext};
///
/// let jobs = Queue::<u32>::new();
/// let err: DemoError = jobs.try_get().context("taking the first job").unwrap_err();
/// assert!(err.to_string().starts_with("taking the first job: the queue is empty"));
/// ```
pub trait StepContext<T> {
    /// The value, or the error as a [`DemoError::Step`] naming `what` was being done.
    ///
    /// ```
    /// use mp::ipc::Queue;
    /// use mp_demos::StepContext;
    ///
    /// let queue = Queue::<u32>::new()?;
    /// let err = queue.try_get().context("reading the first result").unwrap_err();
    /// assert!(err.to_string().starts_with("reading the first result: "));
    /// # Ok::<(), mp::Error>(())
    /// ```
    fn context(self, what: impl Into<String>) -> Result<T, DemoError>;
}

impl<T, E: Into<mp::Error>> StepContext<T> for Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T, DemoError> {
        self.map_err(|error| DemoError::Step {
            what: what.into(),
            source: Box::new(error.into()),
        })
    }
}
