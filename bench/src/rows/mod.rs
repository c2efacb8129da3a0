//! The rows of the table, one module per family.
//!
//! # Adding a row
//!
//! 1. In the family's module (`rows/<family>.rs`; create it for a new family),
//!    write one function per contender with the signature
//!    `fn(iterations: u64) -> Result<Duration, BenchError>`. It sets up, then times
//!    exactly `iterations` operations with `Instant`, tears down (outside the
//!    timing), checks the outcome (a lost increment or message is an error, never
//!    a figure) and returns the timed duration. Every wait in it is bounded;
//!    threads are joined and children reaped (see [`crate::fork`]) before it
//!    returns, on the error paths too.
//! 2. Add a [`Row`] to the family's `rows()` list: a unique kebab-case `name`,
//!    the `family`, one sentence on what one operation is, a [`Unit`](crate::row::Unit),
//!    an optional [`Goal`](crate::row::Goal) from the design, and the contenders
//!    in round order: [`Contender::ours`](crate::row::Contender::ours) first (the
//!    first one is the reference of the ratios), then
//!    [`Contender::peer`](crate::row::Contender::peer), then
//!    [`Contender::python`](crate::row::Contender::python).
//! 3. For Python, add a case to `bench/python/<family>.py` (create it with
//!    `benchlib.main({...})`, as `locks.py` does): a function that takes the
//!    iteration count, sets up, times its loop with `time.perf_counter()`, checks
//!    the outcome and returns the seconds. Standard library only.
//! 4. A new family adds one `mod` line and one entry to [`FAMILIES`] below.
//!
//! The tests below run every Rust contender briefly and every Python case once,
//! so a broken row fails `cargo test -p mp-bench`.

use crate::row::Row;

mod awaiting;
mod cluster;
mod events;
mod ipc_queue;
mod locks;
mod pipe;
mod pool;
mod processes;
mod shared_mem;
mod threads;

/// Each family's list of rows, in table order. One line per family.
const FAMILIES: &[fn() -> Vec<Row>] = &[
    locks::rows,      // Lock, Mutex: uncontended and contended
    events::rows,     // Event between processes
    shared_mem::rows, // Array, Value, segments, codec
    threads::rows,    // Thread, ThreadPool, thread queues
    ipc_queue::rows,  // mp-ipc Queue between processes, 1x1 and 2x2
    awaiting::rows,   // Event::wait_async, ThreadPool futures, process joins awaited
    pipe::rows,       // Pipe round trip, 1 MiB send_bytes
    processes::rows,  // Process start+join by start method, 100 at once
    pool::rows,       // process Pool: trivial map, apply_async, CPU-bound scaling
    cluster::rows,    // mp-cluster Pool and Queue through a loopback redis-server
];

/// Every row, in table order.
pub fn all() -> Vec<Row> {
    FAMILIES.iter().flat_map(|family| family()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use super::all;
    use crate::error::BenchError;
    use crate::python::Python;
    use crate::row::{How, Side};

    fn scripts_dir() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
    }

    #[test]
    fn rows_are_well_formed() {
        let rows = all();
        assert!(!rows.is_empty());
        let mut names = HashSet::new();
        for row in &rows {
            assert!(names.insert(row.name), "duplicate row name {}", row.name);
            assert!(
                row.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "row name {} is not kebab-case",
                row.name
            );
            assert_eq!(
                row.contenders.first().map(|c| c.side),
                Some(Side::Ours),
                "row {} must start with one of ours",
                row.name
            );
            let mut labels = HashSet::new();
            for c in &row.contenders {
                assert!(
                    labels.insert(c.label),
                    "{}: duplicate label {}",
                    row.name,
                    c.label
                );
            }
            let sides: Vec<Side> = row.contenders.iter().map(|c| c.side).collect();
            let order = |s: &Side| match s {
                Side::Ours => 0,
                Side::Peer => 1,
                Side::Python => 2,
            };
            assert!(
                sides.windows(2).all(|w| order(&w[0]) <= order(&w[1])),
                "{}: contenders must go ours, peers, Python",
                row.name
            );
            if let Some(goal) = row.goal {
                assert!(
                    labels.contains(goal.against),
                    "{}: goal names unknown contender {}",
                    row.name,
                    goal.against
                );
                assert!(goal.within > 0.0);
            }
        }
    }

    #[test]
    fn python_cases_exist_in_their_scripts() {
        for row in all() {
            for c in &row.contenders {
                if let How::Python { script, case } = c.how {
                    let path = scripts_dir().join(script);
                    let text = std::fs::read_to_string(&path)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert!(
                        text.contains(&format!("\"{case}\"")),
                        "{} does not define case {case}",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn every_rust_contender_runs_and_checks_its_outcome() {
        for row in all() {
            for c in &row.contenders {
                if let How::Rust(measure) = &c.how {
                    for iterations in [1, 200] {
                        let result = measure(iterations);
                        if let Err(BenchError::Unavailable(why)) = &result {
                            eprintln!("skipped {} / {}: {why}", row.name, c.label);
                            break;
                        }
                        assert!(
                            result.is_ok(),
                            "{} / {} x{iterations}: {:?}",
                            row.name,
                            c.label,
                            result.err()
                        );
                    }
                }
            }
        }
    }

    /// Runs every Python case once with a few iterations. Needs `python3`; where
    /// there is none, the harness reports that in its Python column, and so does
    /// this test on stderr.
    #[test]
    fn every_python_case_runs_and_reports_its_time() {
        let python = match Python::find(Path::new("python3"), scripts_dir()) {
            Ok(python) => python,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        };
        for row in all() {
            for c in &row.contenders {
                if let How::Python { script, case } = c.how {
                    let result = python.measure(script, case, 20);
                    if let Err(BenchError::Unavailable(why)) = &result {
                        eprintln!("skipped {} / {}: {why}", row.name, c.label);
                        continue;
                    }
                    assert!(
                        result.is_ok(),
                        "{} / {}: {:?}",
                        row.name,
                        c.label,
                        result.err()
                    );
                }
            }
        }
    }

    #[test]
    fn python_reports_bad_cases_as_errors() {
        let Ok(python) = Python::find(Path::new("python3"), scripts_dir()) else {
            return;
        };
        let unknown = python.measure("locks.py", "no-such-case", 10);
        assert!(unknown.is_err());
        let missing = python.measure("no-such-script.py", "x", 10);
        assert!(missing.is_err());
    }

    #[test]
    fn a_missing_interpreter_is_a_clear_error() {
        let found = Python::find(Path::new("/nonexistent/python3"), scripts_dir());
        assert!(found.is_err_and(|why| why.contains("not available")));
    }
}
