//! 002 "async/await": `main` awaits the coroutine `say_hello`, which sleeps a second and
//! then prints `Hello`.
//!
//! `say_hello` is an `async fn`; `main` awaits it on asyncio's stand-in, a one-thread
//! tokio runtime. The scenario checks that the greeting came once, as `Hello`, and only
//! after the sleep: `main` went on after `say_hello` had finished, not before.

use std::time::Duration;

use super::async_support::{asyncio_run, span_of};
use super::support::Transcript;
use crate::{Context, DemoError, NoArgs, check, check_eq, format_duration, scaled};

/// The original's `say_hello`: sleeps, then greets (and hands the greeting back, so that
/// `main` can check it).
async fn say_hello(transcript: &Transcript, nap: Duration) -> Result<String, DemoError> {
    tokio::time::sleep(nap).await;
    let greeting = "Hello".to_owned();
    transcript.say(greeting.clone())?;
    Ok(greeting)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let NoArgs {} = ctx.parse_args()?;
    let nap = scaled(1.0);
    let transcript = Transcript::new();
    let (greeting, took) = asyncio_run(span_of(say_hello(&transcript, nap)))?;
    let greeting = greeting?;
    println!("(main awaited say_hello for {})", format_duration(took.duration()));
    check_eq("the greeting", greeting.as_str(), "Hello")?;
    check_eq("the lines printed", transcript.lines()?, vec!["Hello".to_owned()])?;
    check(
        took.duration() >= nap,
        format_args!(
            "main went on only after the whole sleep ({} at least, took {})",
            format_duration(nap),
            format_duration(took.duration())
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn hello_comes_after_the_sleep() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("async-hello", vec![])).unwrap();
    }

    #[test]
    fn arguments_are_usage_errors() {
        assert_usage_errors("async-hello", run, &[&["--loud"]]);
    }
}
