//! mp-bench: this project's figures side by side with Python's and with the Rust
//! crates a user would otherwise pick, measured in one run.
//!
//! ```text
//! cargo run --release -p mp-bench                    # every row, as a table (under half a minute)
//! cargo run --release -p mp-bench -- --filter lock   # rows whose name or family contains "lock" (repeatable, or a,b)
//! cargo run --release -p mp-bench -- --json          # the same results as JSON on stdout
//! cargo run --release -p mp-bench -- --list          # the rows and their contenders, nothing measured
//! cargo run --release -p mp-bench -- --quick         # 3 rounds of ~10 ms, for a first look
//! ```
//!
//! Other options: `--rounds N` (default 11), `--target-ms MS` (default 30), `--python PATH`,
//! `--no-python`, `--quiet`. Progress goes to stderr, results to stdout.
//!
//! # What a row compares
//!
//! Each row is one operation (a lock acquire+release, an event round trip between two
//! processes...) done by several contenders, listed in this order:
//!
//! - `ours`: this project's crates. The first `ours` line is the row's reference.
//! - `peer`: the Rust crate a user would otherwise pick (`parking_lot`, `std`), or the
//!   bare system calls the primitive is built on (a shared-futex ping-pong).
//! - `python`: CPython 3 with its standard library, run as
//!   `python3 bench/python/<family>.py <case> <iterations>` in the same run (see
//!   [`python`]). The script times its own loop, so interpreter start-up is not counted
//!   (the interpreter's loop overhead is, as a Python program pays it). Without `python3`
//!   the column says so and the rest of the table is unaffected.
//!
//! # How it measures
//!
//! Each contender is calibrated until one measurement lasts about `--target-ms`; then
//! round 1 measures every contender once, in the order above, then round 2, and so on, so
//! that drift of the machine hits every side alike (see [`measure`]). A figure is the
//! median over the rounds, shown per operation (or as a rate, for rows counted in
//! messages or bytes per second); `±` is the median absolute deviation. Every measurement
//! also checks its outcome (the counter reached N, every ping got its pong); a wrong
//! outcome is reported as an error, never as a figure.
//!
//! The `ratio` column is **their time / our time**, against the reference line (for rates,
//! our rate / theirs: the same number; see [`report`]). **Above 1, ours is faster**; below
//! 1, theirs is, and the next column says it in words ("ours 1.25x faster"). A `goal` line
//! checks the row against the figure the design sets (for example, `Lock` within 1.5x of
//! `parking_lot::Mutex`) and says met or MISSED. Only ratios from one run mean anything:
//! absolute figures drift between machines and between runs, which is why the crates'
//! docs name the row to run instead of quoting figures.
//!
//! # The rows
//!
//! `--list` prints the rows of the build at hand; today they are:
//!
//! | row | what one operation is | contenders |
//! |---|---|---|
//! | `lock-uncontended` | acquire+release of a free lock | `mp_sync::Lock` (guard), `mp_sync::Mutex<u64>`; `parking_lot::Mutex`, `std::sync::Mutex`; `threading.Lock`, `multiprocessing.Lock` |
//! | `lock-contended` | one increment of a counter shared by two threads, under the lock | `mp_sync::Mutex<u64>`, `mp_sync::Lock`; `parking_lot::Mutex`, `std::sync::Mutex`; `threading.Lock` |
//! | `event-pingpong` | a round trip between two processes through two events in shared memory | `mp_sync::Event`; a bare shared-futex ping-pong (no spinning); `multiprocessing.Event` |
//! | `array-bulk-child` | a forked child writes 16 MiB into a shared `Array<u8>` under its lock and reads them back (GB/s) | `mp_shared_mem::Array<u8>`; `memcpy` in one process and in a forked child; `multiprocessing.Array` |
//! | `raw-array-halves` | two forked children each write their own half of a 4 MiB shared array of `u64`, at once (GB/s) | `RawArray<u64>` split in two, `Array<u64>` under its one lock; `memcpy` into a bare shared mapping; `multiprocessing.RawArray` |
//! | `value-locked-increment` | one increment of a shared counter by two processes, under its lock | `mp_shared_mem::Value<u64>`; a robust process-shared `pthread_mutex`; `multiprocessing.Value` + `get_lock()` |
//! | `segment-create` | make a 4 KiB shared block, map it, unmap and free it | `Segment`, `Shared<AtomicU64>`, `SharedMemory`; bare `memfd_create`+`ftruncate`+`mmap`; `shared_memory.SharedMemory` |
//! | `codec-small`, `codec-64k` | encode+decode a small record / a 64 KiB byte vector | `transfer::encode`+`decode`; `postcard`, `bitcode` (serde); `pickle` |
//! | `thread-start-join` | start a thread with a trivial target, join it for its value | `mp_threads::Thread`; `std::thread::Builder::spawn`; `threading.Thread` |
//! | `thread-pool-submit-result` | submit one trivial task to a 4-worker pool and wait for its result | `mp_threads::ThreadPool`; a hand-written crossbeam-channel pool; `ThreadPoolExecutor` |
//! | `thread-pool-submit-batch` | one task of a batch of 100 submitted, then waited for | the same three |
//! | `thread-pool-map` | one item of a map over up to 100000 items, results in order | `ThreadPool::map`; the crossbeam-channel pool, rayon `par_iter`; `ThreadPoolExecutor.map` |
//! | `thread-queue-1x1-unbounded`, `-bounded` | one `u64` from 1 producer thread to 1 consumer (bounded: 1024) | `mp_threads::Queue` (and `SimpleQueue`, unbounded); `crossbeam_channel`, `std::sync::mpsc`; `queue.Queue` (and `queue.SimpleQueue`) |
//! | `thread-queue-4x4-unbounded`, `-bounded` | one `u64` from 4 producer threads to 4 consumers | the same (std's one receiver shared behind a `Mutex`) |
//! | `ipc-queue-1x1-16b` | one 16-byte message from a producer process to a consumer process | `mp_ipc::Queue`, `SimpleQueue`; `ipc-channel`, a bare SPSC shared-memory ring (spinning, no serialization: the limit); `multiprocessing.Queue` |
//! | `ipc-queue-1x1-64k` | one 64 KiB message (bytes) between two processes (GB/s) | `mp_ipc::Queue`; `ipc-channel`, the bare ring; `multiprocessing.Queue` |
//! | `ipc-queue-2x2-16b` | one 16-byte message from 2 producer processes to 2 consumer processes | `mp_ipc::Queue`; `multiprocessing.Queue` (ipc-channel and the bare ring have one receiver) |
//! | `pipe-roundtrip` | a 16-byte message to a forked child over a duplex pipe and back | `Connection` `send`/`recv` and `send_bytes`/`recv_bytes`; a bare `socketpair` (`write`/`read`); `multiprocessing.Pipe` `send`/`recv` |
//! | `pipe-send-bytes-1mib` | one 1 MiB `send_bytes` to a forked child that `recv_bytes_into`s it (GB/s) | `Connection::send_bytes`; a bare `socketpair`; `multiprocessing.Pipe.send_bytes` |
//! | `event-async-wake` | a thread sets an `Event`; an async task awaiting it wakes and answers through an `Event` the thread waits on | `Event::wait_async` (mp-sys's reactor); `tokio::sync::Notify` (in-process only), a blocking wait in `spawn_blocking` (a thread per waiter); an `asyncio.Event` set with `call_soon_threadsafe` |
//! | `thread-pool-submit-await` | an async task submits a trivial function to a 4-worker pool and awaits its result | `ThreadPool::submit(..).await`; tokio's `spawn_blocking` (4 threads); `loop.run_in_executor(ThreadPoolExecutor(4), f)` |
//! | `process-join-async` | an async task starts a forked child that returns at once and awaits its join | `ProcessHandle::join_async` (mp-sys's reactor); the blocking `join` without a runtime, the blocking `join` in `spawn_blocking`; `await loop.run_in_executor(None, p.join)` |
//! | `process-start-join-fork`, `-forkserver`, `-spawn` | start a child process running a trivial target with one argument, join it for its value | `mp_processes::Process` with that start method; bare `fork`+`_exit`+`waitpid` (fork, forkserver) or a bare re-exec of the bench binary that exits before `main` (spawn), `procspawn::spawn`; `multiprocessing.Process` with the same start method |
//! | `process-start-join-100` | one child of a wave of 100 started before any is joined | `mp_processes::Process` (forkserver, fork, spawn); bare `fork`+`waitpid`; `multiprocessing.Process` (forkserver, fork) |
//! | `process-start-join-big-parent` | start+join of one child from a parent holding 1 GiB of written heap | `mp_processes::Process` (forkserver, spawn, fork); bare `fork`+`waitpid`; `multiprocessing.Process` (forkserver, spawn, fork) |
//! | `process-args-16mib` | start a child (default start method) with a 16 MiB `Vec<u8>` argument, join it for a 16 MiB `Vec<u8>` | `mp_processes::Process`; the same start with a `u64` plus two 16 MiB `memcpy`s (the bound); `multiprocessing.Process` (forkserver, fork) with a `bytearray` in and a `Pipe` out |
//! | `pool-map-trivial` | one item of a map of a trivial function over up to 100000 items, on a warm pool of 2 workers | `mp_processes::Pool::map`; `procspawn::Pool` (one task per item, 64 in flight), rayon `par_iter` on 2 threads (the floor, no process boundary); `multiprocessing.Pool.map`, `ProcessPoolExecutor.map` |
//! | `pool-apply-async` | one `apply_async` + `get` round trip on a warm pool of 2 workers | `Pool::apply_async`; `procspawn::Pool::spawn` + `join`; `multiprocessing.Pool.apply_async` |
//! | `pool-cpu-scaling` | one item of a map of 400 000 dependent additions each; the 1-worker line's ratio is the speedup | `mp_processes::Pool` with every core, 2 (when that differs) and 1 worker; rayon `par_iter` on every core |
//! | `cluster-map-trivial` | one item of a map of a trivial function through a loopback `redis-server`, default chunking, 1 worker process of 2 local processes | `mp_cluster::Pool::map`, `mp_processes::Pool::map` (no Redis); Ray's `Pool.map`, RQ |
//! | `cluster-map-cpu` | one item of a map of 400 000 dependent additions by 2, 1 and 3 worker processes of 1 local process, in maps of at least 2000 items; the 1w line's ratio is the speedup | `mp_cluster::Pool` (2w, 1w, 3w), `mp_processes::Pool` of 2 (no Redis); Ray's `Pool(2).map` |
//! | `cluster-apply-async` | one `apply_async` round trip through a loopback `redis-server` | `mp_cluster::Pool::apply_async`, `mp_processes::Pool::apply_async` (no Redis); Ray's `apply_async`, RQ |
//! | `cluster-queue-1x1` | one 16-byte message from one thread to another through a loopback `redis-server` | `mp_cluster::Queue`, `JoinableQueue` (get + `task_done`) |
//!
//! The `cluster` rows start a `redis-server` of their own (and worker processes: this
//! executable again) for each measurement; without `redis-server` they are skipped, as
//! Python lines whose modules (Ray, RQ) are not installed are: a skipped line is not a
//! failure.
//!
//! # Adding a row
//!
//! One contender function per side in `bench/src/rows/<family>.rs`, a [`Row`]
//! listing them, a case in `bench/python/<family>.py`: the checklist is the [`rows`]
//! module's docs. `cargo test -p mp-bench` then runs every contender briefly.

mod error;
mod fork;
mod futex;
mod measure;
mod python;
mod report;
mod row;
mod rows;
mod stats;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::measure::Settings;
use crate::python::Python;
use crate::report::{Report, RowReport};
use crate::row::{How, Row, Side};

/// Side-by-side figures of mp against Python and the Rust crates a user would
/// otherwise pick. Ratios are their time / our time: above 1, ours is faster.
#[derive(Debug, Parser)]
#[command(name = "mp-bench", version)]
struct Args {
    /// Print the results as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Only rows whose name or family contains SUBSTR (repeatable, or comma-separated).
    #[arg(long, short, value_name = "SUBSTR", value_delimiter = ',')]
    filter: Vec<String>,
    /// List the rows and their contenders; measure nothing.
    #[arg(long)]
    list: bool,
    /// Rounds per row; each figure is the median over them.
    #[arg(long, default_value_t = 11, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Target length of one measurement of one contender, in milliseconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    target_ms: u64,
    /// A first look: 3 rounds of about 10 ms (instead of --rounds and --target-ms).
    #[arg(long, conflicts_with_all = ["rounds", "target_ms"])]
    quick: bool,
    /// The Python interpreter to measure.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    python: PathBuf,
    /// The folder of the Python scripts.
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/python"))]
    python_scripts: PathBuf,
    /// Do not run Python; its column says so.
    #[arg(long)]
    no_python: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    // First thing: a run of this binary started by procspawn (a peer of the process
    // rows) serves its call here and exits. In any other run it only records that
    // procspawn may be used, and every row is unaffected.
    procspawn::init();
    let args = Args::parse();
    let rows = match select(rows::all(), &args.filter) {
        Ok(rows) => rows,
        Err(message) => {
            eprintln!("mp-bench: {message}");
            return ExitCode::from(2);
        }
    };
    if args.list {
        print!("{}", list(&rows));
        return ExitCode::SUCCESS;
    }
    let (rounds, target_ms) = if args.quick {
        (3, 10)
    } else {
        (args.rounds, args.target_ms)
    };
    let python = if args.no_python {
        Err("Python not run (--no-python)".to_owned())
    } else {
        Python::find(&args.python, &args.python_scripts)
    };
    let settings = Settings {
        rounds: rounds as usize,
        target: Duration::from_millis(target_ms),
        python,
    };
    let report = run(&rows, &settings, !args.quiet);
    let rust_failed = a_rust_contender_failed(&report);
    let printed = if args.json {
        serde_json::to_string_pretty(&report)
            .map(|json| println!("{json}"))
            .map_err(|e| e.to_string())
    } else {
        print!("{}", report.to_table());
        Ok(())
    };
    if let Err(e) = printed {
        eprintln!("mp-bench: could not write the JSON: {e}");
        return ExitCode::FAILURE;
    }
    if rust_failed {
        eprintln!("mp-bench: a Rust contender failed; see its line");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// True if a Rust contender failed. A skipped one (something it needs is not
/// installed here) did not fail, and Python's lines never fail the run.
fn a_rust_contender_failed(report: &Report) -> bool {
    report
        .rows
        .iter()
        .flat_map(|r| &r.contenders)
        .any(|c| c.side != Side::Python && c.error.is_some() && !c.skipped)
}

/// The rows matching any of `filters` (all rows when there is none).
fn select(rows: Vec<Row>, filters: &[String]) -> Result<Vec<Row>, String> {
    let filters: Vec<&str> = filters
        .iter()
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
        .collect();
    if filters.is_empty() {
        return Ok(rows);
    }
    let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    let names = names.join(", ");
    let picked: Vec<Row> = rows
        .into_iter()
        .filter(|row| filters.iter().any(|f| row.matches(f)))
        .collect();
    if picked.is_empty() {
        Err(format!(
            "no row matches {}; rows: {names}",
            filters.join(", ")
        ))
    } else {
        Ok(picked)
    }
}

/// The `--list` output.
fn list(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&format!("{}  [{}]  {}\n", row.name, row.family, row.what));
        for c in &row.contenders {
            let how = match &c.how {
                How::Rust(_) => String::new(),
                How::Python { script, case } => format!("  (bench/python/{script} {case})"),
            };
            let side = match c.side {
                Side::Ours => "ours",
                Side::Peer => "peer",
                Side::Python => "python",
            };
            out.push_str(&format!("    {side:<6}  {}{how}\n", c.label));
        }
    }
    out
}

/// Measures every row, with progress on stderr.
fn run(rows: &[Row], settings: &Settings, show_progress: bool) -> Report {
    let on_terminal = std::io::stderr().is_terminal();
    let mut reports = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let started = Instant::now();
        let outcomes = measure::run_row(row, settings, |round| {
            if show_progress && on_terminal {
                let step = if round == 0 {
                    "calibrating".to_owned()
                } else {
                    format!("round {round}/{}", settings.rounds)
                };
                eprint!(
                    "\r\x1b[K[{}/{}] {}: {step}",
                    index + 1,
                    rows.len(),
                    row.name
                );
                let _ = std::io::stderr().flush();
            }
        });
        if show_progress {
            if on_terminal {
                eprint!("\r\x1b[K");
            }
            eprintln!(
                "[{}/{}] {} measured in {:.1} s",
                index + 1,
                rows.len(),
                row.name,
                started.elapsed().as_secs_f64()
            );
        }
        reports.push(RowReport::new(row, outcomes));
    }
    Report {
        ratio_definition: "their time per operation / our time per operation (= our rate / their rate); above 1 ours is faster",
        rounds: settings.rounds,
        target_ms: settings.target.as_secs_f64() * 1e3,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        python: match &settings.python {
            Ok(python) => python.version.clone(),
            Err(why) => format!("no Python ({why})"),
        },
        rows: reports,
    }
}

#[cfg(test)]
mod tests {
    use super::{a_rust_contender_failed, list, select};
    use crate::measure::Outcome;
    use crate::report::{Report, RowReport};
    use crate::row::{Contender, Row, Unit};
    use crate::rows;

    #[test]
    fn a_skipped_rust_contender_does_not_fail_the_run() {
        let row = Row {
            name: "fake",
            family: "test",
            what: "nothing",
            unit: Unit::TimePer("op"),
            goal: None,
            contenders: vec![Contender::ours("needs a server", |_| {
                Ok(std::time::Duration::ZERO)
            })],
        };
        let report_with = |skipped: bool| Report {
            ratio_definition: "",
            rounds: 1,
            target_ms: 1.0,
            cpus: 1,
            python: String::new(),
            rows: vec![RowReport::new(
                &row,
                vec![Outcome {
                    iterations: 0,
                    samples_ns: Vec::new(),
                    failure: Some("redis-server is not installed".into()),
                    skipped,
                }],
            )],
        };
        assert!(!a_rust_contender_failed(&report_with(true)));
        assert!(a_rust_contender_failed(&report_with(false)));
    }

    #[test]
    fn filters_pick_by_name_or_family_and_combine() {
        let names = |filters: &[&str]| -> Vec<&'static str> {
            let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
            select(rows::all(), &filters)
                .expect("some row matches")
                .iter()
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(names(&["lock-uncontended"]), ["lock-uncontended"]);
        assert_eq!(names(&["locks"]), ["lock-uncontended", "lock-contended"]);
        assert_eq!(
            names(&["uncontended", "pingpong"]),
            ["lock-uncontended", "event-pingpong"]
        );
        assert_eq!(names(&[""]).len(), rows::all().len());
    }

    #[test]
    fn a_filter_matching_nothing_names_the_rows() {
        let err = select(rows::all(), &["no-such-row".to_owned()])
            .err()
            .expect("nothing matches");
        assert!(err.contains("no-such-row") && err.contains("lock-uncontended"));
    }

    #[test]
    fn list_shows_every_contender() {
        let all = rows::all();
        let text = list(&all);
        for row in &all {
            for c in &row.contenders {
                assert!(text.contains(c.label));
            }
        }
        assert!(text.contains("bench/python/locks.py threading-lock"));
    }
}
