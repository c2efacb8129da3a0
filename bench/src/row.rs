//! What a row of the table is: one piece of work, done by several contenders.

use std::time::Duration;

use crate::error::BenchError;

/// Runs a Rust contender's work `iterations` times and returns how long the
/// iterations took, set-up and tear-down excluded.
pub type Measure = Box<dyn Fn(u64) -> Result<Duration, BenchError>>;

/// One line of work measured side by side: ours, the Rust peers, Python.
pub struct Row {
    /// Unique, kebab-case; what `--filter` matches.
    pub name: &'static str,
    /// The family (module under `rows/`) the row belongs to; `--filter` matches it too.
    pub family: &'static str,
    /// One sentence: what one operation is.
    pub what: &'static str,
    /// How the figure is shown.
    pub unit: Unit,
    /// A goal of the design, checked against the measured ratio (reported, never enforced).
    pub goal: Option<Goal>,
    /// Everyone measured, in the order of each round: ours first, then peers, then Python.
    /// The first `Side::Ours` contender is the reference of the ratios.
    pub contenders: Vec<Contender>,
}

impl Row {
    /// The contender every ratio of the row is taken against.
    pub fn reference(&self) -> Option<&Contender> {
        self.contenders.iter().find(|c| c.side == Side::Ours)
    }

    /// True when a `--filter` substring names this row (by name or family).
    pub fn matches(&self, filter: &str) -> bool {
        self.name.contains(filter) || self.family.contains(filter)
    }
}

/// How a row's figure is shown. Whatever the unit, every measurement is a time per
/// operation underneath, and every ratio is `their time / our time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(
    dead_code,
    reason = "rates and bandwidths are for the queue and shared-memory rows; formatting them is tested"
)]
pub enum Unit {
    /// Time per operation (lower is better); names one operation, e.g. `"acquire+release"`.
    TimePer(&'static str),
    /// Operations per second (higher is better); names what is counted, e.g. `"msg"`.
    Rate(&'static str),
    /// Bytes per second (higher is better); each operation moves this many bytes.
    Bandwidth {
        /// Bytes moved by one operation.
        bytes_per_op: u64,
    },
}

/// A figure the design holds ours to: our time at most `within` times the time of
/// the contender labelled `against`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Goal {
    /// The label of the contender ours is compared with.
    pub against: &'static str,
    /// The largest acceptable `our time / their time`.
    pub within: f64,
}

impl Goal {
    /// Our time must be at most `within` times the time of `against`.
    pub const fn within(within: f64, against: &'static str) -> Self {
        Self { against, within }
    }
}

/// Whose implementation a contender is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// This project's crates.
    Ours,
    /// A Rust crate (or bare system calls) a user would otherwise pick.
    Peer,
    /// CPython, run as `python3 bench/python/<script> <case> <iterations>`.
    Python,
}

/// One implementation of a row's work.
pub struct Contender {
    /// What the table calls it, e.g. `"parking_lot::Mutex<u64>"`.
    pub label: &'static str,
    /// Whose it is.
    pub side: Side,
    /// How to run it.
    pub how: How,
}

/// How a contender's work is run.
pub enum How {
    /// In this process.
    Rust(Measure),
    /// In a Python interpreter, by a script of `bench/python/`.
    Python {
        /// The script's file name in `bench/python/`.
        script: &'static str,
        /// The case the script runs (its first argument).
        case: &'static str,
    },
}

impl Contender {
    /// A contender built on this project's crates.
    pub fn ours(
        label: &'static str,
        measure: impl Fn(u64) -> Result<Duration, BenchError> + 'static,
    ) -> Self {
        Self {
            label,
            side: Side::Ours,
            how: How::Rust(Box::new(measure)),
        }
    }

    /// A contender built on a Rust peer crate (or bare system calls).
    pub fn peer(
        label: &'static str,
        measure: impl Fn(u64) -> Result<Duration, BenchError> + 'static,
    ) -> Self {
        Self {
            label,
            side: Side::Peer,
            how: How::Rust(Box::new(measure)),
        }
    }

    /// A contender run by `python3 bench/python/<script> <case> <iterations>`.
    pub fn python(label: &'static str, script: &'static str, case: &'static str) -> Self {
        Self {
            label,
            side: Side::Python,
            how: How::Python { script, case },
        }
    }
}
