//! The main process's exit: it waits for its non-daemonic children, as Python's
//! interpreter does, and its daemonic children die with it.
//!
//! Each case runs this test binary again as a child in which a single test starts a
//! process and returns at once; the parent reads what the grandchild printed after the
//! harness had already finished its tests.

mod common;

use std::time::Duration;

use mp_processes::{Process, StartMethod};
use test_support::PATIENCE;
use test_support::rerun::run_test_in_child;

const CHILD_MODE: &str = "MP_PROCESSES_EXIT_TEST_CHILD";

fn late_print(nap_ms: u64) {
    println!("grandchild pid {}", std::process::id());
    std::thread::sleep(Duration::from_millis(nap_ms));
    println!("late grandchild finished");
}

/// Only does something when run as the child; a no-op in the normal test run.
#[test]
fn child_starts_a_process_and_returns() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let (daemon, method) = mode.split_once(':').expect("daemon:method");
    let daemon = daemon == "daemon";
    let method: StartMethod = method.parse().expect("a start method");
    // A daemonic grandchild that the exit waited for would sleep for ten minutes, past
    // the parent's patience; a non-daemonic one finishes soon after the test returned,
    // which only a waiting exit lets it do.
    let nap_ms = if daemon { 600_000 } else { 300 };
    let handle = Process::new(late_print, (nap_ms,))
        .daemon(daemon)
        .start_method(method)
        .start()
        .expect("the child starts a process");
    drop(handle);
    println!("test function returned");
}

/// Runs the child (the test binary) and collects its output, bounded: if the output
/// does not end within the patience, whatever still holds it is killed.
fn run_child(mode: &str) -> String {
    run_test_in_child(
        "child_starts_a_process_and_returns",
        (CHILD_MODE, mode),
        PATIENCE,
    )
}

fn exit_waits_for_a_non_daemonic_child(method: StartMethod) {
    let text = run_child(&format!("non-daemon:{method}"));
    let returned = text.find("test function returned").expect(&text);
    let finished = text.find("late grandchild finished").expect(&text);
    assert!(returned < finished, "{text}");
}

fn exit_kills_a_daemonic_child(method: StartMethod) {
    // The daemonic grandchild holds the output pipe: the output ends only if it died
    // with the test binary (run_child fails the test otherwise).
    let text = run_child(&format!("daemon:{method}"));
    assert!(text.contains("test function returned"), "{text}");
    // (It may have been killed before it printed its pid: the test binary can end first.)
    assert!(!text.contains("late grandchild finished"), "{text}");
}

common::for_each_method!(
    exit_waits_for_a_non_daemonic_child,
    exit_kills_a_daemonic_child,
);
