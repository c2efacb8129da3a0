//! Work a process does before it ends without running the C library's `atexit` hooks.
//!
//! A child process of mp-processes ends with `_exit`, never returning into the `main` it
//! was forked from: `atexit` hooks do not run there, and neither would anything else
//! registered for the end of `main`. What must still happen (Python's child runs
//! `threading._shutdown()`, which waits for its non-daemon threads) is registered here by
//! the crate that needs it, and the child's exit path [`run`]s it. The registry is made
//! afresh in a forked child: a child runs what it registered itself, not what its parent
//! did (its parent's threads are not there to wait for).
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! static RAN: AtomicBool = AtomicBool::new(false);
//! fn mark() {
//!     RAN.store(true, Ordering::SeqCst);
//! }
//! mp_sys::at_exit::register("example: mark", mark);
//! mp_sys::at_exit::register("example: mark", mark); // once per name
//! mp_sys::at_exit::run();
//! assert!(RAN.load(Ordering::SeqCst));
//! ```

use std::sync::Mutex;

use crate::PerProcess;

type Hooks = Mutex<Vec<(&'static str, fn())>>;

static HOOKS: PerProcess<Hooks> = PerProcess::new(|| Mutex::new(Vec::new()));

/// Registers `hook` under `name` for this process's [`run`], once per name (a second
/// registration under the same name does nothing).
///
/// ```
/// fn nothing() {}
/// mp_sys::at_exit::register("example: nothing", nothing);
/// ```
pub fn register(name: &'static str, hook: fn()) {
    let mut hooks = HOOKS
        .get()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !hooks.iter().any(|(registered, _)| *registered == name) {
        hooks.push((name, hook));
    }
}

/// Runs and forgets every hook registered in this process, in the order registered. A
/// hook that panics is logged and the others run.
///
/// ```
/// mp_sys::at_exit::run(); // nothing registered: nothing to do
/// ```
pub fn run() {
    let hooks = std::mem::take(
        &mut *HOOKS
            .get()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for (name, hook) in hooks {
        if let Err(payload) = std::panic::catch_unwind(hook) {
            tracing::warn!(
                hook = name,
                message = %crate::panic::panic_message(&*payload),
                "an exit hook panicked"
            );
        }
    }
}
