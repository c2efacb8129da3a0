//! The table `demos all` ends with: scenario, what it checked, pass or fail, time.

use std::fmt::Write;
use std::time::Duration;

use crate::format_duration;

/// One scenario's line in the final table.
///
/// ```
/// use std::time::Duration;
/// use mp_demos::Outcome;
///
/// let row = Outcome::new("lock-balance", "the balance ends at 0", Duration::from_millis(42), None);
/// assert!(row.passed());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// The scenario's name.
    pub scenario: String,
    /// What it checked.
    pub checked: String,
    /// How long it ran.
    pub time: Duration,
    /// Why it failed; `None` if it passed.
    pub failure: Option<String>,
}

impl Outcome {
    /// A scenario's outcome: passed when `failure` is `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let row = mp_demos::Outcome::new("pool-map", "[1, 4, 9, 16, 25]", Duration::ZERO, Some("killed by SIGSEGV".into()));
    /// assert!(!row.passed());
    /// ```
    pub fn new(
        scenario: impl Into<String>,
        checked: impl Into<String>,
        time: Duration,
        failure: Option<String>,
    ) -> Self {
        Self {
            scenario: scenario.into(),
            checked: checked.into(),
            time,
            failure,
        }
    }

    /// It passed.
    ///
    /// ```
    /// let row = mp_demos::Outcome::new("a", "b", std::time::Duration::ZERO, None);
    /// assert!(row.passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The table of outcomes, then why each failure failed, then the totals.
///
/// ```
/// use std::time::Duration;
/// use mp_demos::{Outcome, render_table};
///
/// let table = render_table(&[
///     Outcome::new("lock-counter-threads", "the counter is exactly 200000", Duration::from_millis(31), None),
///     Outcome::new("lock-balance", "the balance ends at 0", Duration::from_millis(12), Some("balance is 3, expected 0".into())),
/// ]);
/// assert!(table.contains("lock-balance          the balance ends at 0          FAIL"));
/// assert!(table.contains("lock-balance: balance is 3, expected 0"));
/// assert!(table.ends_with("1 passed, 1 failed\n"));
/// ```
pub fn render_table(outcomes: &[Outcome]) -> String {
    let headers = ["scenario", "checked", "result", "time"];
    let rows: Vec<[String; 4]> = outcomes
        .iter()
        .map(|o| {
            [
                o.scenario.clone(),
                o.checked.clone(),
                if o.passed() { "pass" } else { "FAIL" }.to_owned(),
                format_duration(o.time),
            ]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    let mut line = |cells: [&str; 4]| {
        let text = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(headers);
    let rules = widths.map(|w| "-".repeat(w));
    line([&rules[0], &rules[1], &rules[2], &rules[3]]);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3]]);
    }

    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed()).collect();
    if !failures.is_empty() {
        out.push_str("\nfailures:\n");
        for outcome in &failures {
            let why = outcome.failure.as_deref().unwrap_or_default();
            let _ = writeln!(out, "  {}: {why}", outcome.scenario);
        }
    }
    let _ = writeln!(
        out,
        "\n{} passed, {} failed",
        outcomes.len() - failures.len(),
        failures.len()
    );
    out
}
