//! Joining threads under a bound.
//!
//! `JoinHandle::join` waits forever, so a thread stuck in an untimed wait would hang
//! the test. These joins poll the handles until every thread has finished or
//! [`PATIENCE`] has passed. A thread still blocked then cannot be interrupted: it is left
//! behind and ends with the test process, and the test fails instead of hanging. A
//! thread that panicked fails the test at once with its own panic.

use std::thread::JoinHandle;

use crate::{PATIENCE, holds_within};

/// Joins every thread, in order, waiting at most [`PATIENCE`] for all of them; their
/// values.
///
/// ```
/// let handles = (0..3).map(|n| std::thread::spawn(move || n * 2)).collect();
/// assert_eq!(test_support::threads::join_all_within(handles), [0, 2, 4]);
/// ```
pub fn join_all_within<T>(handles: Vec<JoinHandle<T>>) -> Vec<T> {
    let mut pending: Vec<Option<JoinHandle<T>>> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    let all_finished = holds_within(
        || {
            for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
                if slot.as_ref().is_some_and(JoinHandle::is_finished) {
                    let handle = slot.take().expect("a pending handle");
                    match handle.join() {
                        Ok(value) => *result = Some(value),
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
            }
            pending.iter().all(Option::is_none)
        },
        PATIENCE,
    );
    let blocked = pending.iter().flatten().count();
    assert!(
        all_finished,
        "{blocked} thread(s) still blocked after {PATIENCE:?}"
    );
    results
        .into_iter()
        .map(|result| result.expect("every thread joined"))
        .collect()
}

/// As [`join_all_within`], for one thread.
///
/// ```
/// let handle = std::thread::spawn(|| "done");
/// assert_eq!(test_support::threads::join_within(handle), "done");
/// ```
pub fn join_within<T>(handle: JoinHandle<T>) -> T {
    let mut results = join_all_within(vec![handle]);
    results.pop().expect("one thread")
}
