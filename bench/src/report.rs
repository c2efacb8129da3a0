//! Turning outcomes into the table (for people) or JSON (for machines).
//!
//! Every ratio is `their time per operation / our time per operation`, where
//! "our" is the row's reference (its first contender, one of ours). For a rate or a
//! bandwidth that is the same number as `our rate / their rate`. So whatever the
//! unit, a ratio above 1 means ours is better (faster), below 1 means theirs is.

use serde::Serialize;

use crate::measure::Outcome;
use crate::row::{Row, Side, Unit};
use crate::stats::Summary;

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    /// What a ratio means, spelled out for readers of the JSON.
    pub ratio_definition: &'static str,
    /// Rounds per row.
    pub rounds: usize,
    /// Target length of one measurement, in milliseconds.
    pub target_ms: f64,
    /// CPUs available to the run.
    pub cpus: usize,
    /// The Python version used, or why Python was not measured.
    pub python: String,
    /// One entry per measured row.
    pub rows: Vec<RowReport>,
}

/// One row's results.
#[derive(Debug, Serialize)]
pub struct RowReport {
    /// The row's name.
    pub name: &'static str,
    /// Its family.
    pub family: &'static str,
    /// What one operation is.
    pub what: &'static str,
    /// How figures are shown, e.g. `"time per round trip (lower is better)"`.
    pub unit: String,
    /// Label of the contender the ratios are taken against.
    pub reference: &'static str,
    /// Every contender, in round order.
    pub contenders: Vec<ContenderReport>,
    /// The design's goal for this row, checked against the medians.
    pub goal: Option<GoalReport>,
}

/// One contender's results.
#[derive(Debug, Serialize)]
pub struct ContenderReport {
    /// The contender's label.
    pub label: &'static str,
    /// Whose implementation it is.
    pub side: Side,
    /// Iterations per round.
    pub iterations: u64,
    /// Nanoseconds per operation over the rounds (absent if nothing was measured).
    pub ns_per_op: Option<Summary>,
    /// The median in the row's unit, as the table shows it.
    pub figure: Option<String>,
    /// `their time / reference time`: above 1 the reference (ours) is faster.
    pub ratio: Option<f64>,
    /// Why this contender has no figure, or stopped early.
    pub error: Option<String>,
    /// The error is a skip: something it needs is not installed (or Python not run).
    pub skipped: bool,
}

/// A goal of the design, checked.
#[derive(Debug, Serialize)]
pub struct GoalReport {
    /// The contender ours is held to.
    pub against: &'static str,
    /// Largest acceptable `our time / their time`.
    pub within: f64,
    /// One verdict per contender of ours.
    pub verdicts: Vec<GoalVerdict>,
}

/// Whether one of ours met a goal.
#[derive(Debug, Serialize)]
pub struct GoalVerdict {
    /// Which of ours.
    pub ours: &'static str,
    /// `our time / their time` (the inverse of the table's ratio).
    pub ours_over_theirs: Option<f64>,
    /// `Some(true)` if within the goal; `None` if either side has no figure.
    pub met: Option<bool>,
}

impl RowReport {
    /// Builds a row's report from its outcomes (one per contender, same order).
    pub fn new(row: &Row, outcomes: Vec<Outcome>) -> Self {
        let reference_median = row
            .contenders
            .iter()
            .zip(&outcomes)
            .find(|(c, _)| c.side == Side::Ours)
            .and_then(|(_, o)| o.summary())
            .map(|s| s.median);
        let contenders: Vec<ContenderReport> = row
            .contenders
            .iter()
            .zip(outcomes)
            .map(|(c, outcome)| {
                let summary = outcome.summary();
                ContenderReport {
                    label: c.label,
                    side: c.side,
                    iterations: outcome.iterations,
                    ns_per_op: summary,
                    figure: summary.map(|s| format_figure(row.unit, s.median)),
                    ratio: match (summary, reference_median) {
                        (Some(s), Some(r)) if r > 0.0 => Some(s.median / r),
                        _ => None,
                    },
                    error: outcome.failure,
                    skipped: outcome.skipped,
                }
            })
            .collect();
        let goal = row.goal.map(|goal| {
            let theirs = median_of(&contenders, goal.against);
            GoalReport {
                against: goal.against,
                within: goal.within,
                verdicts: contenders
                    .iter()
                    .filter(|c| c.side == Side::Ours)
                    .map(|c| {
                        let ours_over_theirs = match (c.ns_per_op, theirs) {
                            (Some(ours), Some(theirs)) if theirs > 0.0 => {
                                Some(ours.median / theirs)
                            }
                            _ => None,
                        };
                        GoalVerdict {
                            ours: c.label,
                            ours_over_theirs,
                            met: ours_over_theirs.map(|r| r <= goal.within),
                        }
                    })
                    .collect(),
            }
        });
        Self {
            name: row.name,
            family: row.family,
            what: row.what,
            unit: describe_unit(row.unit),
            reference: row.reference().map_or("", |c| c.label),
            contenders,
            goal,
        }
    }
}

fn median_of(contenders: &[ContenderReport], label: &str) -> Option<f64> {
    contenders
        .iter()
        .find(|c| c.label == label)
        .and_then(|c| c.ns_per_op)
        .map(|s| s.median)
}

/// What the figures of a row are, in words.
pub fn describe_unit(unit: Unit) -> String {
    match unit {
        Unit::TimePer(op) => format!("time per {op} (lower is better)"),
        Unit::Rate(item) => format!("{item}/s (higher is better)"),
        Unit::Bandwidth { .. } => "bytes/s (higher is better)".to_owned(),
    }
}

/// A median (nanoseconds per operation) shown in the row's unit.
pub fn format_figure(unit: Unit, ns_per_op: f64) -> String {
    match unit {
        Unit::TimePer(_) => format_time(ns_per_op),
        Unit::Rate(item) => format!("{} {item}/s", format_si(1e9 / ns_per_op)),
        Unit::Bandwidth { bytes_per_op } => {
            format!("{}B/s", format_si(bytes_per_op as f64 * 1e9 / ns_per_op))
        }
    }
}

/// Nanoseconds as `12.3 ns`, `8.51 us`, `1.93 ms` or `1.20 s`.
pub fn format_time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A count with a decimal SI prefix: `85.0 k`, `10.2 M`, `8.50 G`.
pub fn format_si(value: f64) -> String {
    if value >= 1e9 {
        format!("{:.2} G", value / 1e9)
    } else if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.1} ")
    }
}

/// A ratio with three significant digits or so: `357.6`, `1.04`, `0.014`.
pub fn format_ratio(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.1}")
    } else if ratio >= 0.1 {
        format!("{ratio:.2}")
    } else {
        format!("{ratio:.3}")
    }
}

/// A ratio in words, from the reference's point of view.
pub fn describe_ratio(ratio: f64) -> String {
    if (ratio - 1.0).abs() < 0.005 {
        "ours the same".to_owned()
    } else if ratio > 1.0 {
        format!("ours {}x faster", format_ratio(ratio))
    } else {
        format!("ours {}x slower", format_ratio(1.0 / ratio))
    }
}

impl Report {
    /// The table, as printed on stdout.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "mp-bench: {} CPUs, {}, {} interleaved rounds of ~{} ms per contender; figures are medians, ± is the median absolute deviation\n",
            self.cpus, self.python, self.rounds, self.target_ms
        ));
        out.push_str(
            "ratio = their time / our time (for rates: our rate / theirs), taken against the first line of each row:\n\
             above 1 ours is faster, below 1 theirs is. Python figures exclude interpreter start-up.\n",
        );
        let label_width = self
            .rows
            .iter()
            .flat_map(|r| r.contenders.iter().map(|c| c.label.len()))
            .max()
            .unwrap_or(0);
        for row in &self.rows {
            out.push_str(&format!("\n{}  {}  [{}]\n", row.name, row.what, row.unit));
            for c in &row.contenders {
                let side = match c.side {
                    Side::Ours => "ours",
                    Side::Peer => "peer",
                    Side::Python => "python",
                };
                let body = match (&c.figure, c.ns_per_op) {
                    (Some(figure), Some(summary)) => {
                        let ratio = if c.label == row.reference {
                            "reference".to_owned()
                        } else {
                            c.ratio
                                .map_or("no ratio: reference failed".to_owned(), |r| {
                                    format!("{:>6}  {}", format_ratio(r), describe_ratio(r))
                                })
                        };
                        let tail = c
                            .error
                            .as_ref()
                            .map_or(String::new(), |e| format!("  (stopped early: {e})"));
                        format!(
                            "{figure:>14} {:>7}  {ratio}{tail}",
                            format!("±{:.1}%", summary.relative_mad() * 100.0)
                        )
                    }
                    _ => format!(
                        "{:>14}  {}",
                        "n/a",
                        c.error.as_deref().unwrap_or("no measurement")
                    ),
                };
                out.push_str(&format!("  {side:<6}  {:<label_width$}  {body}\n", c.label));
            }
            if let Some(goal) = &row.goal {
                let verdicts: Vec<String> = goal
                    .verdicts
                    .iter()
                    .map(|v| match (v.ours_over_theirs, v.met) {
                        (Some(r), Some(met)) => format!(
                            "{} at {}x: {}",
                            v.ours,
                            format_ratio(r),
                            if met { "met" } else { "MISSED" }
                        ),
                        _ => format!("{}: not measured", v.ours),
                    })
                    .collect();
                out.push_str(&format!(
                    "  goal    our time within {}x of {}: {}\n",
                    goal.within,
                    goal.against,
                    verdicts.join("; ")
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{describe_ratio, format_figure, format_ratio, format_time};
    use crate::row::Unit;

    #[test]
    fn times_pick_a_readable_unit() {
        assert_eq!(format_time(14.23), "14.2 ns");
        assert_eq!(format_time(8_512.0), "8.51 us");
        assert_eq!(format_time(1_930_000.0), "1.93 ms");
        assert_eq!(format_time(2.5e9), "2.50 s");
    }

    #[test]
    fn rates_and_bandwidths_invert_the_time() {
        assert_eq!(format_figure(Unit::Rate("msg"), 100.0), "10.00 M msg/s");
        assert_eq!(
            format_figure(
                Unit::Bandwidth {
                    bytes_per_op: 1 << 16
                },
                6_553.6
            ),
            "10.00 GB/s"
        );
    }

    #[test]
    fn ratios_read_from_our_side() {
        assert_eq!(describe_ratio(2.0), "ours 2.00x faster");
        assert_eq!(describe_ratio(0.5), "ours 2.00x slower");
        assert_eq!(describe_ratio(1.001), "ours the same");
        assert_eq!(describe_ratio(72.17), "ours 72.2x faster");
        assert_eq!(format_ratio(0.0138), "0.014");
    }
}
