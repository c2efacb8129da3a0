//! The end of every child path: the outcome sent to the parent, the child's own
//! non-daemonic children waited for (as Python's `_exit_function`), and `_exit`, so that
//! a child never returns into its parent's `main` or test harness.

use serde::Serialize;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mp_sys::panic::panic_message;

use super::exit::exit_now;
use crate::children::join_non_daemonic;
use crate::error::SendFault;
use crate::payload;
use crate::wire::{Outcome, Tag};

/// Sends the outcome to the parent, waits for this child's own non-daemon threads and
/// non-daemonic children (as Python's child processes do on their way out) and exits: 0 when the target returned,
/// 1 otherwise (Python's exit code for an uncaught exception). Daemonic children die
/// with this process.
pub(crate) fn finish<R: Serialize>(channel: &UnixStream, outcome: Outcome<R>) -> ! {
    let code = match outcome {
        Outcome::Returned(_) => 0,
        _ => 1,
    };
    // A `Serialize` impl may panic: report it, and never unwind out of the child's path
    // (into the launcher thread's loop, for a forked child).
    let sent = catch_unwind(AssertUnwindSafe(|| {
        payload::send_value(channel, &(Tag::Outcome, &outcome))
    }));
    let unsent = match sent {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(SendFault::Unencodable {
            detail: err.to_string(),
        }),
        Err(payload) => Some(SendFault::SerializePanicked {
            message: panic_message(&*payload),
        }),
    };
    let code = match unsent {
        None => code,
        Some(fault) => {
            let _ = mp_wire::send_value(channel, &(Tag::Outcome, Outcome::<()>::Unsendable(fault)));
            1
        }
    };
    // As Python's child on its way out: its non-daemon threads first
    // (`threading._shutdown()`, registered by mp-threads), then its non-daemonic children.
    mp_sys::at_exit::run();
    let _ = catch_unwind(join_non_daemonic);
    exit_now(code)
}
