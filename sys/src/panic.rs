//! Panics the library catches: turning a payload into the message a user reads, and
//! catching a panic without printing it.
//!
//! A panic caught in a pool task is the caller's to see, at `result()`, as Python keeps
//! a task's exception until `future.result()` raises it. Rust's default panic hook
//! prints every panic to stderr (with a backtrace when `RUST_BACKTRACE` asks) before
//! `catch_unwind` sees it, so a caught-and-returned panic was shown twice: once on
//! stderr, unasked, and once in the error. [`catch_silently`] runs a closure with the
//! printing turned off for the calling thread and keeps what the hook would have printed
//! (the message, where the panic happened, the backtrace if one was asked for) in the
//! returned [`CaughtPanic`].
//!
//! [`catch_reporting`] keeps the same record but lets the panic print as an uncaught one
//! would: for a thread's target, whose panic Python's `threading.excepthook` prints.
//!
//! How: the first call (or [`install_hook`]) installs a panic hook that wraps the one installed before it.
//! While a thread runs inside one of the two, the wrapper records the panic's location
//! and backtrace for that thread (and, for [`catch_reporting`], hands it on to the
//! previous hook); on every other thread, and outside, it hands the panic to the
//! previous hook unchanged. A program that installs a
//! hook of its own *after* the first silent catch replaces the wrapper, and caught panics
//! are printed again by its hook: that is the program's choice to make.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{AssertUnwindSafe, PanicHookInfo, catch_unwind};
use std::sync::Once;

/// The message of a panic payload: `panic!("...")` gives a `&'static str` or a `String`;
/// anything else (from `std::panic::panic_any`) is described by kind.
///
/// ```
/// use mp_sys::panic::panic_message;
///
/// let payload = std::panic::catch_unwind(|| panic!("formatted {}", 42)).unwrap_err();
/// assert_eq!(panic_message(&*payload), "formatted 42");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// A panic caught by [`catch_silently`] or [`catch_reporting`]: everything the default
/// hook prints.
///
/// ```
/// use mp_sys::panic::catch_silently;
///
/// let caught = catch_silently(|| -> u32 { panic!("bad input {}", 7) }).unwrap_err();
/// assert_eq!(caught.message, "bad input 7");
/// assert!(caught.location.as_deref().is_some_and(|at| at.contains(".rs:")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CaughtPanic {
    /// The panic's message (see [`panic_message`]).
    pub message: String,
    /// `file:line:column` of the `panic!`, when the hook saw it.
    pub location: Option<String>,
    /// The backtrace, when one was asked for (`RUST_BACKTRACE` or `RUST_LIB_BACKTRACE`
    /// set, as for a printed panic) and could be taken.
    pub backtrace: Option<String>,
}

impl fmt::Display for CaughtPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(location) = &self.location {
            write!(f, " (at {location})")?;
        }
        Ok(())
    }
}

/// What the hook recorded for a panic on this thread inside [`catch_silently`].
struct Recorded {
    location: Option<String>,
    backtrace: Option<String>,
}

/// What the hook does with a panic of the calling thread.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Catching {
    /// Not inside a catch of this module: hand it on.
    No,
    /// Inside [`catch_silently`]: record it, print nothing.
    Silently,
    /// Inside [`catch_reporting`]: record it and hand it on.
    Reporting,
}

thread_local! {
    static CATCHING: Cell<Catching> = const { Cell::new(Catching::No) };
    static RECORDED: RefCell<Option<Recorded>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs the hook wrapper that [`catch_silently`] and [`catch_reporting`] rely on, if
/// it is not installed yet; they call it themselves.
///
/// Call it in a parent before it forks a child that will catch panics: installing a
/// hook takes the standard library's hook lock for writing, and a forked child inherits
/// that lock as it was, held if another thread of the parent was printing a panic at
/// the fork, and would wait for it for ever. mp-processes calls it before every start.
///
/// ```
/// mp_sys::panic::install_hook();
/// mp_sys::panic::install_hook(); // once is enough; again does nothing
/// ```
pub fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            // `try_with`: a panic while this thread's locals are torn down goes to the
            // previous hook, as it would without us.
            let catching = CATCHING.try_with(Cell::get).unwrap_or(Catching::No);
            if catching != Catching::No {
                record(info);
            }
            if catching != Catching::Silently {
                previous(info);
            }
        }));
    });
}

fn record(info: &PanicHookInfo<'_>) {
    let backtrace = Backtrace::capture();
    let recorded = Recorded {
        location: info.location().map(ToString::to_string),
        backtrace: (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string()),
    };
    let _ = RECORDED.try_with(|slot| *slot.borrow_mut() = Some(recorded));
}

/// Runs `f`, catching a panic without printing it: Python's way with a task's exception,
/// kept until someone asks.
///
/// Other threads' panics, and this thread's outside the call, print as before. Calls
/// nest; the panic is reported to the innermost.
///
/// ```
/// use mp_sys::panic::catch_silently;
///
/// assert_eq!(catch_silently(|| 6 * 7), Ok(42));
/// let caught = catch_silently(|| -> () { panic!("quietly") }).unwrap_err();
/// assert_eq!(caught.to_string().split(" (at ").next(), Some("quietly"));
/// ```
pub fn catch_silently<R>(f: impl FnOnce() -> R) -> Result<R, CaughtPanic> {
    catch(Catching::Silently, f)
}

/// Runs `f`, catching a panic that still prints as an uncaught one would, and keeping
/// what was printed in the error: what a thread's target needs.
///
/// ```
/// use mp_sys::panic::catch_reporting;
///
/// // Prints "thread '...' panicked at ...: shown" to stderr, as any panic does.
/// let caught = catch_reporting(|| -> () { panic!("shown") }).unwrap_err();
/// assert_eq!(caught.message, "shown");
/// assert!(caught.location.is_some());
/// ```
pub fn catch_reporting<R>(f: impl FnOnce() -> R) -> Result<R, CaughtPanic> {
    catch(Catching::Reporting, f)
}

fn catch<R>(mode: Catching, f: impl FnOnce() -> R) -> Result<R, CaughtPanic> {
    install_hook();
    let outer = CATCHING.with(|catching| catching.replace(mode));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|catching| catching.set(outer));
    outcome.map_err(|payload| {
        let recorded = RECORDED.with(|slot| slot.borrow_mut().take());
        let (location, backtrace) = recorded
            .map(|recorded| (recorded.location, recorded.backtrace))
            .unwrap_or_default();
        // The payload is dropped here, inside no silent scope: a payload whose drop
        // panics aborts, as it would anywhere.
        CaughtPanic {
            message: panic_message(&*payload),
            location,
            backtrace,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_string_and_other_payloads() {
        let str_payload = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_message(&*str_payload), "plain");
        let string_payload = std::panic::catch_unwind(|| panic!("formatted {}", 42)).unwrap_err();
        assert_eq!(panic_message(&*string_payload), "formatted 42");
        let other_payload = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
        assert_eq!(panic_message(&*other_payload), "non-string panic payload");
    }

    #[test]
    fn a_silent_catch_keeps_message_and_location() {
        let line = line!() + 1;
        let caught = catch_silently(|| -> u8 { panic!("kept {}", 1) }).unwrap_err();
        assert_eq!(caught.message, "kept 1");
        let location = caught.location.expect("the hook saw the location");
        assert!(
            location.contains(&format!("panic.rs:{line}:")),
            "{location}"
        );
    }

    #[test]
    fn nested_catches_report_to_the_innermost_and_restore_the_outer() {
        let outer = catch_silently(|| {
            let inner = catch_silently(|| -> () { panic!("inner") }).unwrap_err();
            assert_eq!(inner.message, "inner");
            // Still silent after the inner call returned.
            panic!("outer");
        })
        .unwrap_err();
        assert_eq!(outer.message, "outer");
        assert!(CATCHING.with(Cell::get) == Catching::No);
    }

    #[test]
    fn no_record_outlives_its_catch() {
        let _ = catch_silently(|| -> () { panic!("first") });
        assert!(RECORDED.with(|slot| slot.borrow().is_none()));
    }
}
