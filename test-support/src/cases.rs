//! Table-driven tests: one body run over a table of cases, where every case is checked
//! even after one fails, and the failure names each case that failed. A loop with plain
//! assertions would stop at the first failing case and, unless every message repeats
//! it, not say which case that was.

use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `check` on every case of `cases` (each a name and a value); panics after the
/// last one, failing the test, if any case panicked, listing each failed case by name
/// with its message.
///
/// ```
/// test_support::for_each_case([("one", 1), ("two", 2)], |n| assert!(n > 0));
/// ```
///
/// ```should_panic
/// test_support::for_each_case([("one", 1), ("two", 2), ("three", 3)], |n| {
///     assert!(n % 2 == 1, "{n} is even");
/// });
/// ```
#[track_caller]
pub fn for_each_case<N: Display, C>(cases: impl IntoIterator<Item = (N, C)>, check: impl Fn(C)) {
    let mut failed = Vec::new();
    for (name, case) in cases {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(case))) {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(a panic without a message)")
                .to_owned();
            failed.push(format!("case {name}: {message}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_runs_and_each_failure_is_named() {
        let ran = std::cell::Cell::new(0);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            for_each_case([("one", 1), ("two", 2), ("three", 3), ("four", 4)], |n| {
                ran.set(ran.get() + 1);
                assert!(n % 2 == 1, "{n} is even");
            });
        }));
        assert_eq!(ran.get(), 4);
        let payload = outcome.expect_err("two cases fail");
        let message = payload
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert_eq!(message, "case two: 2 is even\ncase four: 4 is even");
    }
}
