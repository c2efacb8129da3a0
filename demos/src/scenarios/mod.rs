//! The registry: every scenario, one line each.
//!
//! # Adding a scenario
//!
//! 1. Write `src/scenarios/<name in snake case>.rs` with a
//!    `pub(crate) fn run(ctx: &Context) -> Result<(), DemoError>`. It does what the Python
//!    original does, with this project's crates, and prints what the original prints. It
//!    checks its outcome with [`check`](crate::check) / [`check_eq`](crate::check_eq) and
//!    returns their error when the outcome is wrong. Where the original has a bug, the
//!    scenario is correct and its output says what the original got wrong.
//! 2. Add its line to the `scenarios!` list below:
//!    `module => "name", "source", "what it shows", "what it checks";`, with
//!    `, limit SECONDS` before the `;` if `demos all` must allow it more than
//!    [`Scenario::DEFAULT_TIME_LIMIT`], then `, skips REASON` (a constant) if it may be
//!    skipped. The `mod` declaration comes from that line.
//! 3. Add its row, at the same place, to the scenario table of the crate docs
//!    (`src/lib.rs`): there a reader finds what it shows and what it checks in full
//!    (`tests/scenario_table.rs` fails until the row is there).
//!
//! That is all: `demos list`, `demos <name>`, `demos all` and the tests pick it up.
//!
//! What a scenario may rely on, and must respect:
//! - Sleeps go through [`sleep_scaled`](crate::sleep_scaled) (or
//!   [`scaled`](crate::scaled) for a timeout that depends on them), so that `--scale 0.01`
//!   makes the scenario fast. Work does not scale.
//! - Arguments: `ctx.parse_args::<Args>()?` with a `clap::Parser` type of the scenario, or
//!   `ctx.parse_args::<NoArgs>()?` when it takes none (`--help` then works too). Defaults
//!   are the original's values.
//! - Every wait is bounded ([`join_thread`](crate::join_thread) for threads, `_timeout`
//!   forms elsewhere); every thread is joined and every child process reaped. `demos all`
//!   runs each scenario as a child process in its own process group, kills the group after
//!   the time limit and fails a scenario that leaves a process behind.
//! - Files go under `ctx.output_dir()?` only.
//! - A scenario that needs a program which may not be installed (a server) returns
//!   [`DemoError::Skipped`](crate::DemoError::Skipped) with how to install it when it is
//!   missing, and declares that reason in its line (`, skips REASON`): `demos all` shows
//!   it as skipped, neither passed nor failed, and the tests accept a skip only from a
//!   scenario that declared it, with that reason.
//! - Child processes (mp-processes) start through `process_support::Children`, which joins
//!   them all within one bound and kills and reaps any left on an early return. A child of
//!   the default start method is a fresh run of the binary, which knows nothing of the
//!   parent's `--scale`: pass it the scaled durations as arguments.
//! - Calls of this project's crates go through the facade crate `mp` (`mp::sync::Lock`,
//!   `mp::processes::Pool`, ...) and use `?`: their errors convert into
//!   [`DemoError`](crate::DemoError) and, in a child's target, which returns
//!   [`ChildResult`](crate::ChildResult), into [`ChildFailure`](crate::ChildFailure).
//!   [`.context("...")`](crate::StepContext::context) names the step where the error
//!   alone would not (which of two values, which wait); `map_err` is for other crates'
//!   errors only.
//!
//! ```
//! use mp_demos::scenarios::{find, SCENARIOS};
//!
//! let balance = find("lock-balance").unwrap();
//! assert_eq!(balance.source, "004 3.2");
//! assert!(SCENARIOS.len() >= 2);
//! ```

use crate::Scenario;

/// Declares each scenario's module and lists it in [`SCENARIOS`], in the order given.
macro_rules! scenarios {
    ($($module:ident => $name:literal, $source:literal, $shows:literal, $checks:literal $(, limit $seconds:literal)? $(, skips $why:path)?;)*) => {
        $(mod $module;)*

        /// Every scenario, in the order `demos list` and `demos all` show them.
        ///
        /// ```
        /// for scenario in mp_demos::scenarios::SCENARIOS {
        ///     println!("{:<24} {:<10} {}", scenario.name, scenario.source, scenario.shows);
        /// }
        /// ```
        pub static SCENARIOS: &[Scenario] = &[
            $(Scenario::new($name, $source, $shows, $checks, $module::run)$(.with_time_limit($seconds))?$(.with_skip_reason($why))?,)*
        ];
    };
}

mod async_support;
mod http_support;
mod pool_support;
mod process_support;
mod redis_support;
mod support;

scenarios! {
    threads_basic => "threads-basic", "000 §1", "5 threads, each sleeps 1 s", "5 starts, 5 ends, wall ~1 s not ~5 s";
    processes_basic => "processes-basic", "000 §2", "5 processes, each sleeps 1 s", "5 distinct pids, none the parent's, the sleeps overlap (wall ~1 s)";
    crawler_threads => "crawler-threads", "000 §4.1", "threads fetch pages from a slow local HTTP server (or given URLs)", "every page fetched, the fetches overlap";
    image_processes => "image-processes", "000 §4.2", "one process per image: read, grayscale and blur, write (generated images, or given paths)", "every output file decodes and is the processed image";
    thread_child_main => "thread-child-main", "001 ch.3", "a child thread prints while the main thread works, then join", "both sequences complete, interleaved";
    lock_counter_threads => "lock-counter-threads", "001 ch.3", "2 threads x 100000 increments of a shared counter under a Lock", "the counter is exactly 200000";
    process_worker_pid => "process-worker-pid", "002 multi-process basic", "5 processes print their pid", "5 distinct pids, none the parent's";
    shared_value_array => "shared-value-array", "002 shared memory", "5 processes add into a shared Value and Array", "10 and [11, 12, 13, 14, 15], every run";
    threads_worker => "threads-worker", "002 multi-thread basic", "5 threads print their number", "0..4 each printed once";
    thread_pool_map => "thread-pool-map", "002 ThreadPoolExecutor", "ThreadPool(4).map(square, [1..5])", "[1, 4, 9, 16, 25]";
    lock_counter_1000_threads => "lock-counter-1000-threads", "002 thread sync", "1000 threads increment a counter once each under a lock", "the counter is exactly 1000";
    queue_threads => "queue-threads", "002 thread communication", "producer and consumer threads on a Queue", "0..4 consumed in order, no race on empty()";
    thread_subclass => "thread-subclass", "002 Thread subclass", "a type with run() started as a thread (the Run trait)", "5 \"Thread N is running\" lines";
    async_gather => "async-gather", "002 asyncio basic", "5 async workers sleep 1 s together, on one thread (tokio)", "5 starts before any end, all on one thread, the sleeps overlap";
    async_fetch => "async-fetch", "002 async I/O", "3 pages fetched concurrently by tasks of one thread (reqwest; or given http:// URLs)", "3 bodies as served, the fetches overlap";
    async_queue => "async-queue", "002 asyncio.Queue", "producer and consumer tasks, task_done and join, then the consumer is cancelled", "0..4 consumed in order, join after the last task_done, the consumer cancelled";
    async_semaphore => "async-semaphore", "002 asyncio.Semaphore", "5 workers, at most 2 at once (tokio Semaphore)", "peak concurrency exactly 2";
    async_hello => "async-hello", "002 async/await", "await a coroutine that sleeps, then greets", "\"Hello\", once, after the sleep";
    process_print_numbers => "process-print-numbers", "003 using processes", "a process prints 0..4", "0..4";
    process_count_race => "process-count-race", "003 process sync", "a plain variable is not shared; an unlocked shared counter loses updates; a locked one does not", "0 in the parent for the plain one; exact for the locked one";
    event_processes => "event-processes", "003 Event", "one process waits on a shared Event, another sets it after 2 s", "the waiter wakes after the set";
    download_processes => "download-processes", "003 multi-process download", "one process per image URL downloads and saves it (a local server, or given URLs)", "every file saved and decodes, as served";
    process_parent_child_pid => "process-parent-child-pid", "004 2.1", "parent and child pids, under each start method", "the child's parent pid is the parent's pid";
    thread_named => "thread-named", "004 3.1", "a thread named LoopThread", "names MainThread and LoopThread";
    lock_balance => "lock-balance", "004 3.2", "balance += n; balance -= n under a lock, 2 threads x 100000 times", "the balance ends at 0";
    thread_local => "thread-local", "004 3.4", "per-thread student name in a Local", "Hello, A (in Thread-A) and Hello, B (in Thread-B)";
    lock_owner_death => "lock-owner-death", "beyond", "a process is killed while it holds a lock", "another process takes the lock, told that the owner died";
    thread_vs_process_crash => "thread-vs-process-crash", "004 1.2", "a thread that segfaults takes its whole process down (shown inside a child); a process that segfaults takes only itself", "the child with the crashing thread died by SIGSEGV; of two siblings only the crashing one died; the parent goes on";
    pool_map => "pool-map", "002 Pool", "Pool(4).map(square, [1..5]) on worker processes", "[1, 4, 9, 16, 25], computed in the pool's workers";
    pool_apply_starmap => "pool-apply-starmap", "002 Pool", "Pool(4): apply(power, (2, 10)), then starmap(power, pairs), as the text names them", "1024, then each power of two in order, all computed in the pool's workers";
    pool_apply_async => "pool-apply-async", "004 2.2", "Pool(4), 5 apply_async tasks with random sleeps, close, join", "5 tasks ran, each its full sleep, on at most 4 worker pids";
    pool_worker_crash => "pool-worker-crash", "beyond", "a pool task kills its worker process (SIGKILL, or abort)", "that task fails naming the signal, the others succeed, the pool runs another map";
    pool_progress => "pool-progress", "beyond", "imap over 1000 tasks on a process pool, with a progress bar (indicatif)", "every result right, in order; the bar reached the total (drawn on a terminal only)";
    gil_free_cpu => "gil-free-cpu", "004 3.3, 001 ch.1-2", "CPU-bound jobs one after another, on threads, on processes (Rust has no GIL)", "the same results every way; the jobs ran together on threads and on processes; speed-ups reported";
    threads_vs_processes => "threads-vs-processes", "001 ch.2, 000 §3", "I/O-bound and CPU-bound jobs one after another, on threads, on processes; pool start-up", "the same results every way; the jobs ran together; a table and the advice it supports";
    pipe_processes => "pipe-processes", "002 Pipe", "a parent and a child process talk both ways over a Pipe, then the parent closes its end", "every ping answered in order; the child saw the end of the stream";
    raw_array_slices => "raw-array-slices", "beyond", "4 processes fill disjoint slices of one RawArray (no lock) at once; the parent reads the whole", "the array holds 1..=len; the children's sums add up to it";
    manager_dict => "manager-dict", "beyond", "4 processes add to a counter in a Manager's dict, read-then-write and with update, and append their pids to its list", "no update lost; every child's pid in the list (the read-then-write count is printed)";
    queue_processes => "queue-processes", "002 Queue", "a producer process, joined, then a consumer process, on an mp-ipc Queue", "0..4 consumed in order, nothing left";
    queue_sentinel => "queue-sentinel", "003 Queue", "producer and consumer processes; the parent's None ends the consumer", "0..4 then a clean exit";
    queue_writer_reader => "queue-writer-reader", "004 2.3", "a writer process puts A, B, C; the endless reader is terminated", "the reader got A, B, C; its exit code is -15";
    async_processes => "async-processes", "beyond", "one tokio::join! awaits a child process (join_async), a Pool result and a ThreadPool future; a ticker runs on the same loop", "2, 4 and 6 come back; the loop's thread stayed free (the ticker ticked)";
    async_process_pool => "async-process-pool", "beyond", "an async loop serves HTTP on 127.0.0.1 while awaiting 100 CPU-bound tasks on a process Pool", "every result right; the median request latency under load stays within a bound from the idle baseline";
    cluster_pool => "cluster-pool", "beyond", "a Pool over 3 worker processes standing in for machines (mp-cluster, on Redis) maps 10000 CPU-bound items; one worker is SIGKILLed half-way", "every item's result exactly once and right, each from a worker; nothing left in Redis", limit 240, skips redis_support::INSTALL_HINT;
}

/// The scenario called `name`, if there is one.
///
/// ```
/// use mp_demos::scenarios::find;
///
/// assert_eq!(find("lock-counter-threads").unwrap().checks, "the counter is exactly 200000");
/// assert!(find("no-such-scenario").is_none());
/// ```
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|scenario| scenario.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_usable_as_subcommands() {
        for (i, scenario) in SCENARIOS.iter().enumerate() {
            assert!(
                SCENARIOS[..i].iter().all(|s| s.name != scenario.name),
                "{} is registered twice",
                scenario.name
            );
            assert!(
                !["list", "all", "help"].contains(&scenario.name),
                "{} is a command of the binary",
                scenario.name
            );
            assert!(
                scenario
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}: names are lowercase words joined by '-'",
                scenario.name
            );
            assert!(!scenario.source.is_empty() && !scenario.shows.is_empty());
            assert!(!scenario.checks.is_empty());
        }
    }
}
