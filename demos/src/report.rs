//! The table `demos all` ends with: scenario, what it checked, pass, fail or skipped, time.
//!
//! A skipped scenario is neither: it could not run here (a program it needs is not
//! installed) and said so, so it does not fail `demos all`, but the table and the totals
//! show it, with its reason, so that a green run never hides what it did not check.

use std::fmt::Write;
use std::time::Duration;

use crate::format_duration;

/// The widest the table may be: it fits a 100-column terminal.
pub const TABLE_WIDTH: usize = 100;
/// The narrowest the "checked" column gets, however wide the others are.
const MIN_CHECKED_WIDTH: usize = 24;
const COLUMN_GAP: &str = "  ";

/// `text` in lines of at most `width` characters, broken at spaces (a word longer than
/// `width` is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word = word;
        loop {
            let needed = current.chars().count() + usize::from(!current.is_empty());
            if needed + word.chars().count() <= width {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(word);
                break;
            }
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
                continue;
            }
            // A word longer than the column: cut it.
            let cut = word
                .char_indices()
                .nth(width)
                .map_or(word.len(), |(at, _)| at);
            lines.push(word[..cut].to_owned());
            word = &word[cut..];
            if word.is_empty() {
                break;
            }
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

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
    /// Why it failed; `None` if it passed (or was skipped).
    pub failure: Option<String>,
    /// Why it did not run; `None` if it ran.
    pub skipped: Option<String>,
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
            skipped: None,
        }
    }

    /// A scenario that did not run here, and `why` (it is neither passed nor failed).
    ///
    /// ```
    /// use std::time::Duration;
    /// let row = mp_demos::Outcome::skipped("cluster-pool", "every result once", Duration::ZERO, "no redis-server");
    /// assert!(!row.passed() && !row.failed());
    /// assert_eq!(row.skipped.as_deref(), Some("no redis-server"));
    /// ```
    pub fn skipped(
        scenario: impl Into<String>,
        checked: impl Into<String>,
        time: Duration,
        why: impl Into<String>,
    ) -> Self {
        Self {
            skipped: Some(why.into()),
            ..Self::new(scenario, checked, time, None)
        }
    }

    /// It ran and passed.
    ///
    /// ```
    /// let row = mp_demos::Outcome::new("a", "b", std::time::Duration::ZERO, None);
    /// assert!(row.passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.skipped.is_none()
    }

    /// It failed (a skipped scenario did not).
    ///
    /// ```
    /// let row = mp_demos::Outcome::new("a", "b", std::time::Duration::ZERO, Some("wrong".into()));
    /// assert!(row.failed());
    /// ```
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The word of the "result" column.
    fn result_word(&self) -> &'static str {
        if self.failed() {
            "FAIL"
        } else if self.skipped.is_some() {
            "skipped"
        } else {
            "pass"
        }
    }
}

/// The table of outcomes, then why each failure failed and why each skipped scenario did
/// not run, then the totals (the skipped ones counted only when there are any).
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
///
/// let table = render_table(&[
///     Outcome::skipped("cluster-pool", "every result once", Duration::ZERO, "redis-server is not installed"),
/// ]);
/// assert!(table.contains("cluster-pool  every result once  skipped"));
/// assert!(table.contains("  cluster-pool: redis-server is not installed"));
/// assert!(table.ends_with("0 passed, 0 failed, 1 skipped\n"));
/// ```
pub fn render_table(outcomes: &[Outcome]) -> String {
    let headers = ["scenario", "checked", "result", "time"];
    let rows: Vec<[String; 4]> = outcomes
        .iter()
        .map(|o| {
            [
                o.scenario.clone(),
                o.checked.clone(),
                o.result_word().to_owned(),
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
    // The "checked" column takes what the others leave of TABLE_WIDTH, its text wrapped
    // onto as many lines as it needs.
    let others = widths[0] + widths[2] + widths[3] + 3 * COLUMN_GAP.len();
    widths[1] = widths[1].min(TABLE_WIDTH.saturating_sub(others).max(MIN_CHECKED_WIDTH));

    let mut out = String::new();
    let mut line = |cells: [&str; 4]| {
        let text = format!(
            "{:<w0$}{COLUMN_GAP}{:<w1$}{COLUMN_GAP}{:<w2$}{COLUMN_GAP}{:>w3$}",
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
        let wrapped = wrap(&row[1], widths[1]);
        let mut pieces = wrapped.iter();
        let first = pieces.next().map_or("", String::as_str);
        line([&row[0], first, &row[2], &row[3]]);
        for rest in pieces {
            line(["", rest, "", ""]);
        }
    }

    let failures: Vec<(&str, &str)> = outcomes
        .iter()
        .filter_map(|o| Some((o.scenario.as_str(), o.failure.as_deref()?)))
        .collect();
    let skips: Vec<(&str, &str)> = outcomes
        .iter()
        .filter(|o| !o.failed())
        .filter_map(|o| Some((o.scenario.as_str(), o.skipped.as_deref()?)))
        .collect();
    for (title, list) in [("failures", &failures), ("skipped", &skips)] {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{title}:");
            for (scenario, why) in list.iter() {
                let _ = writeln!(out, "  {scenario}: {why}");
            }
        }
    }
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let _ = write!(out, "\n{passed} passed, {} failed", failures.len());
    if !skips.is_empty() {
        let _ = write!(out, ", {} skipped", skips.len());
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_fits_its_width_and_wraps_long_checks() {
        let long = "every item is counted exactly once although the producer is killed in the \
                    middle of a put and the consumer in the middle of a get, many times over";
        let table = render_table(&[
            Outcome::new(
                "a-rather-long-scenario-name",
                long,
                Duration::from_millis(1234),
                None,
            ),
            Outcome::new("short", "ok", Duration::ZERO, Some("broken".into())),
        ]);
        for line in table.lines() {
            assert!(line.chars().count() <= TABLE_WIDTH, "{line:?}");
        }
        let flattened: String = table.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flattened.contains("many times over"),
            "nothing of the check is lost"
        );
        assert!(table.contains("FAIL"));
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_only_overlong_words() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 10), [""]);
    }
}
