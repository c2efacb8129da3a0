//! 004 3.4, ThreadLocal: one global `local_school = threading.local()`; each thread binds
//! its own `local_school.student`, then `process_student()` reads it back with no argument
//! and prints `Hello, <student> (in <thread name>)`. Two threads, named `Thread-A` and
//! `Thread-B`, bind `A` and `B`.
//!
//! Here the global is a [`Local`] of mp-threads, shared by the two threads. Both bind their
//! student before either reads (they wait for each other at a barrier in between, which the
//! original does not), so a variable shared between the threads would show one thread the
//! other's student: each must still greet its own.

use std::sync::Arc;

use mp::sync::Barrier;
use mp::threads::{Local, Thread, current_thread};

use super::support::{JOIN_LIMIT, Started, Transcript};
use crate::{Context, DemoError, NoArgs, check, check_eq};

/// The original's two threads: (student, thread name).
const STUDENTS: [(&str, &str); 2] = [("A", "Thread-A"), ("B", "Thread-B")];

/// The original's `local_school`, plus what the threads print and where they meet.
struct School {
    local_school: Local<String>,
    both_bound: Barrier,
    transcript: Transcript,
}

/// Reads the current thread's student, without being told which thread it is on.
fn process_student(school: &School) -> Result<(), DemoError> {
    // Python raises AttributeError when this thread bound no student.
    let std = school.local_school.get().ok_or_else(|| {
        DemoError::CheckFailed(format!(
            "{} bound a student before reading it",
            current_thread().name()
        ))
    })?;
    school
        .transcript
        .say(format!("Hello, {std} (in {})", current_thread().name()))
}

fn process_thread(school: Arc<School>, name: &'static str) -> Result<(), DemoError> {
    school.local_school.set(name.to_owned());
    school.both_bound.wait_timeout(JOIN_LIMIT)?;
    process_student(&school)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    ctx.parse_args::<NoArgs>()?;
    let school = Arc::new(School {
        local_school: Local::new(),
        both_bound: Barrier::new(STUDENTS.len() as u32)?,
        transcript: Transcript::new(),
    });

    let started = Started::each(STUDENTS, |(student, thread_name)| {
        Thread::new(process_thread, (Arc::clone(&school), student))
            .name(thread_name)
            .start()
    });
    if !started.all_started() {
        // Release the thread already waiting for the one that did not start.
        school.both_bound.abort();
    }
    for outcome in started.join_all(JOIN_LIMIT)? {
        outcome?;
    }

    let mut greetings = school.transcript.lines()?;
    greetings.sort();
    check_eq(
        "the greetings (sorted)",
        greetings,
        STUDENTS
            .iter()
            .map(|(student, thread)| format!("Hello, {student} (in {thread})"))
            .collect(),
    )?;
    check(
        !school.local_school.is_set(),
        "the main thread sees no student: it bound none",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_greets_its_own_student() {
        run(&Context::new("thread-local", vec![])).unwrap();
    }
}
