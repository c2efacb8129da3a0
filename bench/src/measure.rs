//! Calibration and interleaved rounds.
//!
//! Each contender is first calibrated: its iteration count grows until one
//! measurement lasts about the target round time (tens of milliseconds), so timer
//! resolution and per-measurement set-up (spawning threads, forking, starting a
//! thread pool) fade. Then round `r` measures every contender once, in the row's
//! order, before round `r + 1` starts: a drift of the machine (frequency scaling,
//! another process waking up) lands on every side instead of on whoever ran last.

use std::time::Duration;

use crate::error::BenchError;
use crate::python::Python;
use crate::row::{Contender, How, Row};
use crate::stats::Summary;

/// How hard to measure.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Rounds per row; the figure is the median over them.
    pub rounds: usize,
    /// How long one measurement of one contender should last.
    pub target: Duration,
    /// The Python interpreter, or why there is none.
    pub python: Result<Python, String>,
}

/// The outcome for one contender of a row.
#[derive(Debug)]
pub struct Outcome {
    /// Iterations of each round (after calibration); 0 if calibration failed.
    pub iterations: u64,
    /// Nanoseconds per operation, one per completed round.
    pub samples_ns: Vec<f64>,
    /// Why measuring stopped early (or never started), if it did.
    pub failure: Option<String>,
    /// The failure is that something the contender needs is not installed (or Python
    /// is not run): a skip, not a broken contender.
    pub skipped: bool,
}

impl Outcome {
    /// The median and spread of the rounds, if there is at least one.
    pub fn summary(&self) -> Option<Summary> {
        Summary::of(&self.samples_ns)
    }
}

/// No calibration step grows the iteration count by more than this factor, so a
/// first measurement dominated by set-up does not overshoot wildly.
const MAX_GROWTH: f64 = 1000.0;
/// Iteration counts stop here, whatever the calibration says.
const MAX_ITERATIONS: u64 = 1 << 40;

/// Measures every contender of `row`, calling `progress(round)` before each round
/// (round 0 is calibration).
pub fn run_row(row: &Row, settings: &Settings, mut progress: impl FnMut(usize)) -> Vec<Outcome> {
    progress(0);
    let mut outcomes: Vec<Outcome> = row
        .contenders
        .iter()
        .map(|c| match calibrate(c, settings) {
            Ok(iterations) => Outcome {
                iterations,
                samples_ns: Vec::with_capacity(settings.rounds),
                failure: None,
                skipped: false,
            },
            Err(error) => Outcome {
                iterations: 0,
                samples_ns: Vec::new(),
                failure: Some(error.to_string()),
                skipped: matches!(error, BenchError::Unavailable(_)),
            },
        })
        .collect();
    for round in 1..=settings.rounds {
        progress(round);
        for (contender, outcome) in row.contenders.iter().zip(&mut outcomes) {
            if outcome.failure.is_some() {
                continue;
            }
            match measure_once(contender, settings, outcome.iterations) {
                Ok(elapsed) => outcome
                    .samples_ns
                    .push(elapsed.as_nanos() as f64 / outcome.iterations as f64),
                Err(e) => {
                    outcome.skipped = matches!(e, BenchError::Unavailable(_));
                    outcome.failure = Some(e.to_string());
                }
            }
        }
    }
    outcomes
}

/// One measurement of `iterations` operations.
fn measure_once(
    contender: &Contender,
    settings: &Settings,
    iterations: u64,
) -> Result<Duration, BenchError> {
    match &contender.how {
        How::Rust(measure) => measure(iterations),
        How::Python { script, case } => match &settings.python {
            Ok(python) => python.measure(script, case, iterations),
            Err(why) => Err(BenchError::Python(why.clone())),
        },
    }
}

/// Finds the iteration count whose measurement lasts about `settings.target`.
fn calibrate(contender: &Contender, settings: &Settings) -> Result<u64, BenchError> {
    if let (How::Python { .. }, Err(why)) = (&contender.how, &settings.python) {
        return Err(BenchError::Unavailable(why.clone()));
    }
    // Python runs cost an interpreter start each, so begin higher and take big steps.
    let mut iterations: u64 = match contender.how {
        How::Rust(_) => 1,
        How::Python { .. } => 10,
    };
    let target = settings.target.as_secs_f64();
    loop {
        let elapsed = measure_once(contender, settings, iterations)?.as_secs_f64();
        let growth = if elapsed > 0.0 {
            target / elapsed
        } else {
            MAX_GROWTH
        };
        if elapsed >= target / 2.0 || iterations >= MAX_ITERATIONS {
            // Long enough to trust the rate: scale straight to the target.
            return Ok(scale(iterations, growth));
        }
        iterations = scale(iterations, growth.clamp(2.0, MAX_GROWTH));
    }
}

/// `iterations * factor`, rounded, at least 1 and at most [`MAX_ITERATIONS`].
fn scale(iterations: u64, factor: f64) -> u64 {
    let scaled = (iterations as f64 * factor).round();
    if scaled >= MAX_ITERATIONS as f64 {
        MAX_ITERATIONS
    } else if scaled < 1.0 {
        1
    } else {
        scaled as u64
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::{Settings, run_row, scale};
    use crate::row::{Contender, Row, Unit};

    #[test]
    fn scale_stays_within_bounds() {
        assert_eq!(scale(10, 2.5), 25);
        assert_eq!(scale(1, 0.001), 1);
        assert_eq!(scale(u64::MAX / 2, 1e9), super::MAX_ITERATIONS);
    }

    /// A fake contender whose "time" is exactly `ns_per_op` per iteration, recording
    /// the order in which it was called.
    fn fake(
        label: &'static str,
        ns_per_op: u64,
        log: Rc<std::cell::RefCell<Vec<&'static str>>>,
    ) -> Contender {
        Contender::peer(label, move |iterations| {
            log.borrow_mut().push(label);
            Ok(Duration::from_nanos(iterations * ns_per_op))
        })
    }

    #[test]
    fn rounds_are_interleaved_and_medians_are_per_operation() {
        let log = Rc::new(std::cell::RefCell::new(Vec::new()));
        let row = Row {
            name: "fake",
            family: "test",
            what: "nothing",
            unit: Unit::TimePer("op"),
            goal: None,
            contenders: vec![fake("a", 100, log.clone()), fake("b", 1_000, log.clone())],
        };
        let settings = Settings {
            rounds: 3,
            target: Duration::from_millis(1),
            python: Err("not needed".into()),
        };
        let rounds_seen = Cell::new(0);
        let outcomes = run_row(&row, &settings, |r| rounds_seen.set(r));
        assert_eq!(rounds_seen.get(), 3);
        // The last six calls are the three rounds: a, b, a, b, a, b.
        let calls = log.borrow();
        assert_eq!(&calls[calls.len() - 6..], ["a", "b", "a", "b", "a", "b"]);
        assert_eq!(outcomes[0].summary().map(|s| s.median), Some(100.0));
        assert_eq!(outcomes[1].summary().map(|s| s.median), Some(1_000.0));
        // Calibrated to about 1 ms per measurement.
        assert_eq!(outcomes[0].iterations, 10_000);
        assert_eq!(outcomes[1].iterations, 1_000);
    }

    #[test]
    fn a_failing_contender_is_reported_and_skipped() {
        let calls = Rc::new(Cell::new(0u32));
        let counted = calls.clone();
        let row = Row {
            name: "fake",
            family: "test",
            what: "nothing",
            unit: Unit::TimePer("op"),
            goal: None,
            contenders: vec![
                Contender::ours("fails", move |_| {
                    counted.set(counted.get() + 1);
                    Err(crate::error::BenchError::WrongOutcome("lost".into()))
                }),
                Contender::python("py", "none.py", "none"),
            ],
        };
        let settings = Settings {
            rounds: 5,
            target: Duration::from_millis(1),
            python: Err("python3 not found".into()),
        };
        let outcomes = run_row(&row, &settings, |_| {});
        assert_eq!(calls.get(), 1, "a contender that failed is not run again");
        assert!(
            outcomes[0]
                .failure
                .as_deref()
                .is_some_and(|f| f.contains("lost"))
        );
        assert_eq!(outcomes[1].failure.as_deref(), Some("python3 not found"));
        assert!(!outcomes[0].skipped && outcomes[1].skipped);
        assert!(outcomes.iter().all(|o| o.samples_ns.is_empty()));
    }
}
