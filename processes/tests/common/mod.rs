//! Processes that cannot outlive a failing test: a `ProcessHandle` that is killed and
//! reaped when dropped, and joins bounded by [`PATIENCE`]; and [`for_each_method!`],
//! which runs one test function under every start method. (Forked children without
//! mp-processes, polling and descriptors come from test-support.)
//!
//! Each test file uses part of this module.
#![allow(dead_code)]

use std::ops::Deref;

use mp_processes::{Error, ProcessHandle};
use serde::de::DeserializeOwned;
use test_support::PATIENCE;

/// A child that is killed and reaped when dropped, so that a failing assertion never
/// leaves a process behind.
pub struct Guarded<R: DeserializeOwned>(pub ProcessHandle<R>);

impl<R: DeserializeOwned> Guarded<R> {
    /// Joins with a bound: a child that overstays is killed and the test fails.
    pub fn join(&self) -> Result<R, Error> {
        match self.0.join_timeout(PATIENCE) {
            Err(Error::TimedOut) => {
                let _ = self.0.kill();
                let _ = self.0.join_timeout(PATIENCE);
                panic!("{} did not end within {PATIENCE:?}", self.0.name());
            }
            other => other,
        }
    }
}

impl<R: DeserializeOwned> Deref for Guarded<R> {
    type Target = ProcessHandle<R>;

    fn deref(&self) -> &ProcessHandle<R> {
        &self.0
    }
}

impl<R: DeserializeOwned> Drop for Guarded<R> {
    fn drop(&mut self) {
        if self.0.exitcode().is_none() {
            let _ = self.0.kill();
            let _ = self.0.join_timeout(PATIENCE);
        }
    }
}

/// Starts `process`, guarded; panics (failing the test) if it cannot start.
pub fn start<R: serde::Serialize + DeserializeOwned + 'static>(
    process: mp_processes::Process<R>,
) -> Guarded<R> {
    Guarded(process.start().expect("the child starts"))
}

/// One `#[test]` per start method for each test function named, in modules `fork`,
/// `spawn` and `forkserver`: `for_each_method!(a, b)` makes `fork::a`, `spawn::a`, ...,
/// each calling `a(StartMethod::...)`.
#[allow(unused_macros)] // as `dead_code` above: not every test file uses it
macro_rules! for_each_method {
    ($($test:ident),* $(,)?) => {
        mod fork {
            $( #[test] fn $test() { super::$test(mp_processes::StartMethod::Fork) } )*
        }
        mod spawn {
            $( #[test] fn $test() { super::$test(mp_processes::StartMethod::Spawn) } )*
        }
        mod forkserver {
            $( #[test] fn $test() { super::$test(mp_processes::StartMethod::Forkserver) } )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_method;
