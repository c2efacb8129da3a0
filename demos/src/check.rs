//! Checking a scenario's outcome, with a failure message that says what was wrong.

use std::fmt::{Debug, Display};

use crate::DemoError;

/// Fails with `what` unless `condition` holds.
///
/// Write `what` as the expectation, so the failure reads as what should have happened.
///
/// ```
/// use mp_demos::check;
///
/// assert!(check(3 < 5, "the waiter woke after the set").is_ok());
/// let err = check(false, "5 distinct pids").unwrap_err();
/// assert_eq!(err.to_string(), "check failed: 5 distinct pids");
/// ```
pub fn check(condition: bool, what: impl Display) -> Result<(), DemoError> {
    if condition {
        Ok(())
    } else {
        Err(DemoError::CheckFailed(what.to_string()))
    }
}

/// Fails unless `actual == expected`, saying what `what` was and should have been.
///
/// ```
/// use mp_demos::check_eq;
///
/// assert!(check_eq("squares", vec![1, 4, 9], vec![1, 4, 9]).is_ok());
/// let err = check_eq("balance", -3, 0).unwrap_err();
/// assert_eq!(err.to_string(), "check failed: balance is -3, expected 0");
/// ```
pub fn check_eq<T: PartialEq + Debug>(
    what: impl Display,
    actual: T,
    expected: T,
) -> Result<(), DemoError> {
    if actual == expected {
        Ok(())
    } else {
        Err(DemoError::CheckFailed(format!(
            "{what} is {actual:?}, expected {expected:?}"
        )))
    }
}
