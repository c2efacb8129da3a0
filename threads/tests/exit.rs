//! The daemon flag at process exit: the process waits for non-daemon threads,
//! as Python's interpreter does, and not for daemon threads.
//!
//! Each case re-runs this test binary as a child process in which a single
//! test starts a thread and returns at once; the parent reads what the child
//! printed after its test function had already returned.

use std::time::Duration;

use mp_threads::Thread;
use test_support::PATIENCE;
use test_support::rerun::run_test_in_child;

const CHILD_MODE: &str = "MP_THREADS_EXIT_TEST_CHILD";

/// Only does something when run as the child; a no-op in the normal test run.
#[test]
fn child_starts_a_thread_and_returns() {
    let daemon = match std::env::var(CHILD_MODE).as_deref() {
        Ok("daemon") => true,
        Ok("non-daemon") => false,
        _ => return,
    };
    // A daemon thread that the exit waited for would keep the child alive for
    // an hour, past the parent's patience; a non-daemon one finishes soon after
    // the test function returned, which only a waiting exit lets it do.
    let nap = if daemon {
        Duration::from_secs(3600)
    } else {
        Duration::from_millis(300)
    };
    Thread::new(
        move || {
            std::thread::sleep(nap);
            println!("late thread finished");
        },
        (),
    )
    .daemon(daemon)
    .start()
    .expect("the child can start a thread");
    println!("test function returned");
}

/// Runs the child, bounded: if its output does not end within the patience, it is
/// killed and reaped.
fn run_child(mode: &str) -> String {
    run_test_in_child(
        "child_starts_a_thread_and_returns",
        (CHILD_MODE, mode),
        PATIENCE,
    )
}

#[test]
fn exit_waits_for_non_daemon_threads() {
    let output = run_child("non-daemon");
    assert!(output.contains("test function returned"), "{output}");
    assert!(
        output.contains("late thread finished"),
        "the process exited before its non-daemon thread finished:\n{output}"
    );
}

#[test]
fn exit_does_not_wait_for_daemon_threads() {
    let output = run_child("daemon");
    assert!(output.contains("test function returned"), "{output}");
    assert!(
        !output.contains("late thread finished"),
        "the process waited for a daemon thread:\n{output}"
    );
}
