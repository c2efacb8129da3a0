//! A child process waits for its non-daemon threads before it ends, as Python's child
//! does (`threading._shutdown()`), and does not wait for its daemon threads.

use std::time::Duration;

use mp_processes::{Process, StartMethod};
use mp_shared_mem::Value;
use test_support::PATIENCE;

/// Starts a thread that writes `mark` into `slot` after a nap, and returns at once.
fn leave_a_thread_behind(slot: Value<u32>, mark: u32, daemon: bool) {
    mp_threads::Thread::new(
        move |slot: Value<u32>| {
            std::thread::sleep(Duration::from_millis(200));
            slot.set(mark).expect("the slot is writable");
        },
        (slot,),
    )
    .daemon(daemon)
    .start()
    .expect("a thread starts");
}

#[test]
fn a_child_waits_for_its_non_daemon_threads() {
    for method in [
        StartMethod::Fork,
        StartMethod::Forkserver,
        StartMethod::Spawn,
    ] {
        let slot = Value::new(0u32).expect("a shared value");
        let child = Process::new(leave_a_thread_behind, (slot.clone(), 7, false))
            .start_method(method)
            .start()
            .expect("the child starts");
        child.join_timeout(PATIENCE).expect("the child ends");
        assert_eq!(
            slot.get().expect("readable"),
            7,
            "{method:?}: the child ended before its non-daemon thread"
        );
    }
}

#[test]
fn a_child_does_not_wait_for_its_daemon_threads() {
    let slot = Value::new(0u32).expect("a shared value");
    let child = Process::new(leave_a_thread_behind, (slot.clone(), 9, true))
        .start_method(StartMethod::Fork)
        .start()
        .expect("the child starts");
    child.join_timeout(PATIENCE).expect("the child ends");
    assert_eq!(
        slot.get().expect("readable"),
        0,
        "the daemon thread was waited for"
    );
}
