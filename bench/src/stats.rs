//! Summary statistics of the per-round samples.
//!
//! The figure reported for a contender is the median of its rounds: one round
//! disturbed by another process on the machine moves a mean but not a median.
//! The spread is the median absolute deviation (MAD), a robust companion of the
//! median, shown relative to the median.

use serde::Serialize;

/// What the report shows for one contender: its rounds reduced to a few numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// The middle sample (the mean of the two middle ones for an even count).
    pub median: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples were summarized.
    pub count: usize,
}

impl Summary {
    /// Reduces `samples` to a summary; `None` when there is nothing to summarize or a
    /// sample is not a finite number (a broken measurement must not look like a figure).
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() || samples.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = median_of_sorted(&sorted);
        let mut deviations: Vec<f64> = sorted.iter().map(|s| (s - median).abs()).collect();
        deviations.sort_by(f64::total_cmp);
        Some(Self {
            median,
            mad: median_of_sorted(&deviations),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            count: sorted.len(),
        })
    }

    /// The spread as a fraction of the median (0.02 = 2 %); 0 when the median is 0.
    pub fn relative_mad(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            self.mad / self.median
        }
    }
}

/// The median of an already sorted, non-empty slice.
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::Summary;

    #[test]
    fn odd_count_takes_the_middle_sample() {
        let s = Summary::of(&[5.0, 1.0, 3.0]).expect("summary");
        assert_eq!(s.median, 3.0);
        assert_eq!((s.min, s.max, s.count), (1.0, 5.0, 3));
    }

    #[test]
    fn even_count_averages_the_two_middle_samples() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0]).expect("summary");
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn one_outlier_moves_neither_median_nor_mad_much() {
        // Deviations from 10: 0, 1, 1, 2, 990 -> MAD 1.
        let s = Summary::of(&[10.0, 11.0, 9.0, 12.0, 1000.0]).expect("summary");
        assert_eq!(s.median, 11.0);
        // Deviations from 11: 1, 0, 2, 1, 989 -> sorted 0, 1, 1, 2, 989 -> MAD 1.
        assert_eq!(s.mad, 1.0);
        assert!((s.relative_mad() - 1.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn single_sample_has_no_spread() {
        let s = Summary::of(&[7.5]).expect("summary");
        assert_eq!((s.median, s.mad, s.min, s.max), (7.5, 0.0, 7.5, 7.5));
    }

    #[test]
    fn nothing_to_summarize_gives_none() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[1.0, f64::NAN]), None);
        assert_eq!(Summary::of(&[f64::INFINITY]), None);
    }

    #[test]
    fn zero_median_has_zero_relative_spread() {
        let s = Summary::of(&[0.0, 0.0, 0.0]).expect("summary");
        assert_eq!(s.relative_mad(), 0.0);
    }
}
