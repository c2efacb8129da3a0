//! Keeping the fork method's child free of locks that a panicking thread held.
//!
//! Rust's default panic hook takes an internal lock while it prints the message and
//! the backtrace, and writes into the test harness's capture buffer under its mutex.
//! A thread of the parent panicking at the instant of a `fork` would leave those locked
//! forever in the child, whose own panic would then hang. So the panic hook is wrapped
//! (once, when the first child is forked) to count itself in and out of a gate, and the
//! forking thread closes the gate and waits for the panics in progress before it forks.
//! The gate is plain atomics, so the child can simply open it again: no waiter exists
//! there to be woken.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Panic hooks running now.
static PANICKING: AtomicUsize = AtomicUsize::new(0);
/// Set while a fork is under way: new panics wait at the gate.
static CLOSED: AtomicBool = AtomicBool::new(false);
static WRAP_HOOK: Once = Once::new();

/// Wraps the current panic hook so that it passes through the gate.
pub(crate) fn install() {
    WRAP_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            enter();
            previous(info);
            PANICKING.fetch_sub(1, Ordering::Release);
        }));
    });
}

fn enter() {
    loop {
        while CLOSED.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_micros(50));
        }
        PANICKING.fetch_add(1, Ordering::AcqRel);
        if !CLOSED.load(Ordering::Acquire) {
            return;
        }
        // A fork closed the gate meanwhile: step back out and wait.
        PANICKING.fetch_sub(1, Ordering::Release);
    }
}

/// The gate closed, with no panic hook running, until dropped (in the parent, and in
/// the child after the fork).
pub(crate) struct Closed(());

/// Closes the gate and waits for the panic hooks under way to finish.
pub(crate) fn close() -> Closed {
    // One fork at a time: forks happen on the launcher thread only.
    CLOSED.store(true, Ordering::Release);
    while PANICKING.load(Ordering::Acquire) != 0 {
        std::thread::sleep(Duration::from_micros(50));
    }
    Closed(())
}

impl Drop for Closed {
    fn drop(&mut self) {
        CLOSED.store(false, Ordering::Release);
    }
}
