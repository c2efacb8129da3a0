//! What every process contender of the rows shares, below them all: the limits of
//! a measurement, the exit codes of the peers' children, and the waves of the
//! `-100` row. The contenders and the row table import this; it imports none of them.

use std::time::Duration;

use crate::error::BenchError;

/// Longest any child of a measurement may take to start, run and end.
pub(super) const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// How many children the `-100` row starts before joining any.
pub(super) const WAVE: u64 = 100;

/// The exit code a peer's child `n` ends with: from 1 to 100, so never the 0 of a
/// child that exited without doing what it was asked.
pub(super) fn exit_code_for(n: u64) -> i32 {
    // n % 100 < 100, so the cast cannot truncate.
    (n % 100) as i32 + 1
}

/// The sizes of the waves that make up `iterations` children: full waves of
/// [`WAVE`], then the remainder.
pub(super) fn waves(iterations: u64) -> impl Iterator<Item = u64> {
    let full = iterations / WAVE;
    let rest = iterations % WAVE;
    std::iter::repeat_n(WAVE, full as usize).chain((rest > 0).then_some(rest))
}

/// An mp-processes or procspawn error, as the harness reports a failed child.
pub(super) fn child_error(what: &'static str) -> impl FnOnce(String) -> BenchError {
    move |reason| BenchError::Child(format!("{what}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::{WAVE, exit_code_for, waves};

    #[test]
    fn waves_add_up_to_the_iterations() {
        for iterations in [1, 99, 100, 101, 250, 1000] {
            let sizes: Vec<u64> = waves(iterations).collect();
            assert_eq!(sizes.iter().sum::<u64>(), iterations);
            assert!(sizes.iter().all(|&size| (1..=WAVE).contains(&size)));
            assert!(sizes.iter().rev().skip(1).all(|&size| size == WAVE));
        }
        assert_eq!(waves(0).count(), 0);
    }

    #[test]
    fn exit_codes_are_never_zero_and_fit_a_byte() {
        for n in 0..1000 {
            assert!((1..=100).contains(&exit_code_for(n)));
        }
        assert_ne!(exit_code_for(0), exit_code_for(1));
    }
}
