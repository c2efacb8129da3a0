//! The crate's one error type: why a scenario, or the runner around it, failed.

use std::time::Duration;

/// Everything that makes a scenario (or the `demos` command line) fail.
///
/// A scenario returns `Err(DemoError)` when its outcome is wrong or a step of it failed;
/// the binary prints the error and exits non-zero, which is what `demos all` counts as a
/// failure. Errors of this project's crates convert with `?`.
///
/// ```
/// use mp_demos::{DemoError, check_eq};
///
/// let err: DemoError = check_eq("counter", 199_873, 200_000).unwrap_err();
/// assert_eq!(err.to_string(), "check failed: counter is 199873, expected 200000");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The scenario ran, but its outcome is not the one it checks for.
    #[error("check failed: {0}")]
    CheckFailed(String),
    /// A primitive of mp-sync reported an error (an owner died, a barrier broke...).
    #[error(transparent)]
    Sync(#[from] mp_sync::Error),
    /// A thread of the scenario panicked.
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

/// `?` on a blocking acquisition: a dead previous owner fails the scenario (and the guard
/// inside is dropped, which releases the lock).
impl<G> From<mp_sync::OwnerDied<G>> for DemoError {
    fn from(err: mp_sync::OwnerDied<G>) -> Self {
        Self::Sync(err.into())
    }
}

/// `?` on a `try_` or `_timeout` acquisition.
impl<G> From<mp_sync::TryLockError<G>> for DemoError {
    fn from(err: mp_sync::TryLockError<G>) -> Self {
        Self::Sync(err.into())
    }
}
