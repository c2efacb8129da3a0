//! mp-bench: this project's figures side by side with Python's and with the Rust
//! crates a user would otherwise pick, measured in one run.
//!
//! ```text
//! cargo run --release -p mp-bench                  # every row, as a table
//! cargo run --release -p mp-bench -- --filter lock # rows whose name or family contains "lock"
//! cargo run --release -p mp-bench -- --json        # the same, as JSON on stdout
//! cargo run --release -p mp-bench -- --list        # rows and contenders, nothing measured
//! cargo run --release -p mp-bench -- --quick       # 3 short rounds, for a first look
//! ```
//!
//! Each row is one piece of work (a lock acquire+release, an event round trip
//! between processes...) done by several contenders: ours (this project's crates),
//! peers (other Rust crates, or the bare system calls), and Python (a script of
//! `bench/python/`, run by `python3` in the same run). The figure of each is the
//! median over interleaved rounds (see [`measure`]); the ratio of each to ours is
//! `their time / our time`, so above 1 ours is faster (see [`report`]).
//!
//! How to add a row: see the [`rows`] module.

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
    let rust_failed = report
        .rows
        .iter()
        .flat_map(|r| &r.contenders)
        .any(|c| c.side != Side::Python && c.error.is_some());
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
    use super::{list, select};
    use crate::rows;

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
