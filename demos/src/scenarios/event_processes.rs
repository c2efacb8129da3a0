//! 003, synchronizing processes with an `Event`: one process runs `wait_for_event`, which
//! prints `等待事件` ("waiting for the event"), waits, then prints `事件发生了` ("the event
//! happened"); another runs `set_event`, which works for 2 seconds, prints `事件设置` ("the
//! event is set") and sets it.
//!
//! The event is an mp-sync `Event` in shared memory, handed to both children. Each child
//! reads the machine's monotonic clock (one clock for all processes): the setter just
//! before it sets, the waiter when it starts waiting and when it wakes. The scenario
//! checks that the waiter woke because of the set (its wait did not time out) and not
//! before it. The waiter's wait is bounded, far above the setter's delay, so a set that
//! never comes fails the scenario instead of hanging it. The delay never shrinks below
//! 0.1 s, so that the waiter, started first, is normally waiting when the set comes
//! (the output says whether it was).

use std::time::Duration;

use mp::processes::Process;
use mp::shared_mem::Shared;
use mp::sync::Event;
use serde::{Deserialize, Serialize};

use super::process_support::{
    CHILD_LIMIT, Children, Moment, from_child,
};
use super::support::{MIN_CHECKED_SLEEP, scaled_at_least};
use crate::{ChildResult, Context, DemoError, NoArgs, check, format_duration};

/// What the waiting process saw.
#[derive(Debug, Serialize, Deserialize)]
struct Waited {
    /// When it began to wait.
    began: Moment,
    /// When its wait ended.
    ended: Moment,
    /// Whether the event was set (`false`: the wait timed out).
    set: bool,
}

/// The original's `wait_for_event`, with its wait bounded by `limit`.
fn wait_for_event(event: Shared<Event>, limit: Duration) -> ChildResult<Waited> {
    println!("等待事件 (waiting for the event)");
    let began = Moment::now()?;
    let set = event.wait_timeout(limit).is_ok();
    let ended = Moment::now()?;
    if set {
        println!("事件发生了 (the event happened)");
    } else {
        println!("the event did not come within {}", format_duration(limit));
    }
    Ok(Waited { began, ended, set })
}

/// The original's `set_event`: works for `delay`, then sets the event; returns when it set.
fn set_event(event: Shared<Event>, delay: Duration) -> ChildResult<Moment> {
    std::thread::sleep(delay);
    println!("事件设置 (setting the event)");
    let at = Moment::now()?;
    event.set();
    Ok(at)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    ctx.parse_args::<NoArgs>()?;
    let delay = scaled_at_least(2.0, MIN_CHECKED_SLEEP);
    let event = Shared::new(Event::new())?;

    let mut waiters = Children::new();
    let waiter_name = waiters
        .start(Process::new(wait_for_event, (event.clone(), CHILD_LIMIT)))?
        .name()
        .to_owned();
    let mut setters = Children::new();
    let setter_name = setters
        .start(Process::new(set_event, (event.clone(), delay)))?
        .name()
        .to_owned();

    // If the setter fails, the waiter would wait its whole bound: it is killed with
    // `waiters` when this function returns early.
    let set_at = setters
        .join_all(CHILD_LIMIT)?
        .pop()
        .ok_or_else(|| DemoError::CheckFailed("the setter handed back nothing".into()))?;
    let set_at = from_child(&setter_name, set_at)?;
    let waited = waiters
        .join_all(CHILD_LIMIT)?
        .pop()
        .ok_or_else(|| DemoError::CheckFailed("the waiter handed back nothing".into()))?;
    let waited = from_child(&waiter_name, waited)?;

    if waited.began <= set_at {
        println!(
            "the waiter waited {} and woke {} after the set",
            format_duration(waited.ended.since(waited.began)),
            format_duration(waited.ended.since(set_at))
        );
    } else {
        println!("(the waiter began waiting only after the set: a slow start; it returned at once)");
    }
    check(waited.set, "the waiter's wait ended with the event set, not by its timeout")?;
    check(
        waited.ended >= set_at,
        "the waiter woke after the setter set the event, not before",
    )?;
    check(event.is_set(), "the event is still set in the parent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiter_wakes_after_the_set() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("event-processes", vec![])).unwrap();
    }

    #[test]
    fn a_wait_without_a_set_times_out_in_the_child() {
        let event = Shared::new(Event::new()).unwrap();
        let waited = wait_for_event(event, Duration::from_millis(10)).unwrap();
        assert!(!waited.set);
        assert!(waited.ended.since(waited.began) >= Duration::from_millis(10));
    }
}
