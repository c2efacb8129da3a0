//! A failure inside a scenario's child process, in a form that crosses back to the parent.
//!
//! A child's target returns its value through the process boundary, so its error must be
//! serializable too; [`DemoError`] is not (it holds the crates' errors and I/O errors as
//! they are). A child's target returns [`ChildResult`] instead: `?` works in it on every
//! error of this project's crates and on a [`DemoError`], each kept as its `Display`, and
//! the parent names the child when it turns the failure back into a [`DemoError`].

use std::fmt::Display;

use serde::{Deserialize, Serialize};

use crate::DemoError;

/// What a child process's target hands back: its value, or what went wrong in it.
///
/// ```
/// use mp_demos::{ChildFailure, ChildResult};
///
/// fn child(queue: mp::ipc::Queue<u32>) -> ChildResult<u32> {
///     Ok(queue.try_get()?)
/// }
///
/// let err = child(mp::ipc::Queue::new()?).unwrap_err();
/// assert_eq!(err.to_string(), mp::ipc::Error::Empty.to_string());
/// # Ok::<(), mp::Error>(())
/// ```
pub type ChildResult<T> = Result<T, ChildFailure>;

/// Why a child process of a scenario failed: the text of its error, which is all that
/// crosses the process boundary.
///
/// Every error of this project's crates converts into it with `?` (anything that
/// converts into `mp::Error`), keeping its `Display`; so does a [`DemoError`] (a failed
/// check, or a step with its context). Errors of other crates say what was being done
/// with [`ChildFailure::new`].
///
/// ```
/// use mp_demos::{ChildFailure, DemoError, check};
///
/// let from_a_check = ChildFailure::from(check(false, "3 lines").unwrap_err());
/// assert_eq!(from_a_check.to_string(), "check failed: 3 lines");
/// let from_the_crates = ChildFailure::from(mp::sync::Error::WouldBlock);
/// assert_eq!(from_the_crates.to_string(), mp::sync::Error::WouldBlock.to_string());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ChildFailure {
    message: String,
}

impl ChildFailure {
    /// A failure described by `message` (an error of another crate, with what was being
    /// done).
    ///
    /// ```
    /// use mp_demos::ChildFailure;
    ///
    /// let failure = ChildFailure::new(format_args!("decoding {}: bad header", "in.png"));
    /// assert_eq!(failure.message(), "decoding in.png: bad header");
    /// ```
    pub fn new(message: impl Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// What went wrong, as the child said it.
    ///
    /// ```
    /// assert_eq!(mp_demos::ChildFailure::new("no input").message(), "no input");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The failure as the parent's error, naming the child it happened in.
    ///
    /// ```
    /// let err = mp_demos::ChildFailure::new("bad pixel").in_child("Process-3");
    /// assert_eq!(err.to_string(), "in Process-3: bad pixel");
    /// ```
    pub fn in_child(self, child: impl Into<String>) -> DemoError {
        DemoError::InChild {
            child: child.into(),
            failure: self,
        }
    }
}

impl<E: Into<mp::Error>> From<E> for ChildFailure {
    fn from(error: E) -> Self {
        Self::new(error.into())
    }
}

impl From<DemoError> for ChildFailure {
    fn from(error: DemoError) -> Self {
        Self::new(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepContext;

    #[test]
    fn a_step_s_context_crosses_with_the_error() {
        let queue = mp::threads::Queue::<u32>::new();
        let step = || -> ChildResult<u32> { Ok(queue.try_get().context("the first job")?) };
        let failure = step().unwrap_err();
        assert_eq!(
            failure.message(),
            format!("the first job: {}", mp::threads::Error::Empty)
        );
    }

    #[test]
    fn a_failure_survives_the_wire() {
        let failure = ChildFailure::new("worker 2 found no input");
        let (bytes, fds) = mp::wire::encode(&failure).unwrap();
        assert_eq!(
            mp::wire::decode::<ChildFailure>(&bytes, fds).unwrap(),
            failure
        );
    }
}
