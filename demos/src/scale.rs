//! The time scale: every sleep of the Python originals, multiplied by one factor.
//!
//! By default the scenarios sleep as long as the originals do. `demos --scale 0.01` (or the
//! environment variable [`SCALE_ENV`]) shrinks every sleep a hundredfold, so that tests and
//! `demos all --scale 0.01` are fast. Only sleeps scale: work (counting, hashing) does not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::DemoError;

/// The environment variable that sets the scale when `--scale` is not given.
///
/// `demos all` also sets it for every scenario it starts, so a process that a scenario
/// starts by re-executing the binary sleeps at the same scale.
///
/// ```
/// assert_eq!(mp_demos::SCALE_ENV, "MP_DEMO_SCALE");
/// ```
pub const SCALE_ENV: &str = "MP_DEMO_SCALE";

/// The bits of the scale in force; `UNSET` until [`set_scale`] runs (no valid scale has
/// these bits: they are a NaN).
static SCALE_BITS: AtomicU64 = AtomicU64::new(UNSET);
const UNSET: u64 = u64::MAX;

/// Parses a scale: a finite number, at least 0.
///
/// ```
/// use mp_demos::parse_scale;
///
/// assert_eq!(parse_scale("0.01").unwrap(), 0.01);
/// assert_eq!(parse_scale(" 2 ").unwrap(), 2.0);
/// assert!(parse_scale("-1").is_err());
/// assert!(parse_scale("fast").is_err());
/// assert!(parse_scale("inf").is_err());
/// ```
pub fn parse_scale(text: &str) -> Result<f64, DemoError> {
    match text.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale >= 0.0 => Ok(scale),
        _ => Err(DemoError::InvalidScale(text.to_owned())),
    }
}

/// Sets the scale for the rest of the process (the `demos` binary does, from `--scale`).
///
/// ```
/// mp_demos::set_scale(0.5).unwrap();
/// assert_eq!(mp_demos::scale(), 0.5);
/// assert!(mp_demos::set_scale(f64::NAN).is_err());
/// assert_eq!(mp_demos::scale(), 0.5);
/// ```
pub fn set_scale(scale: f64) -> Result<(), DemoError> {
    if !(scale.is_finite() && scale >= 0.0) {
        return Err(DemoError::InvalidScale(scale.to_string()));
    }
    SCALE_BITS.store(scale.to_bits(), Ordering::Relaxed);
    Ok(())
}

/// The scale in force: the one [`set_scale`] set, else [`SCALE_ENV`] if it holds a valid
/// scale, else 1.
///
/// ```
/// mp_demos::set_scale(0.01).unwrap();
/// assert_eq!(mp_demos::scale(), 0.01);
/// ```
pub fn scale() -> f64 {
    match SCALE_BITS.load(Ordering::Relaxed) {
        UNSET => scale_from_env(),
        bits => f64::from_bits(bits),
    }
}

fn scale_from_env() -> f64 {
    let Some(text) = std::env::var_os(SCALE_ENV) else {
        return 1.0;
    };
    match text.to_str().map(parse_scale) {
        Some(Ok(scale)) => scale,
        _ => {
            tracing::warn!(value = ?text, "{SCALE_ENV} is not a valid scale; using 1");
            1.0
        }
    }
}

/// `seconds` of the original, at the scale in force.
///
/// ```
/// use std::time::Duration;
///
/// mp_demos::set_scale(0.01).unwrap();
/// assert_eq!(mp_demos::scaled(2.0), Duration::from_millis(20));
/// ```
pub fn scaled(seconds: f64) -> Duration {
    // Negative or absurd durations of a caller's own making become 0 or the maximum,
    // rather than a panic in `Duration`.
    Duration::try_from_secs_f64(seconds * scale()).unwrap_or(if seconds > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// Python's `time.sleep(seconds)`, at the scale in force.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// mp_demos::set_scale(0.001).unwrap();
/// let start = Instant::now();
/// mp_demos::sleep_scaled(1.0); // sleeps 1 ms
/// assert!(start.elapsed() >= Duration::from_millis(1));
/// ```
pub fn sleep_scaled(seconds: f64) {
    std::thread::sleep(scaled(seconds));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_scales_are_clear_errors() {
        for text in ["", "x", "-0.5", "NaN", "inf", "1e400"] {
            let err = parse_scale(text).unwrap_err();
            assert!(err.to_string().contains("invalid scale"), "{text:?}: {err}");
        }
        assert_eq!(parse_scale("0").unwrap(), 0.0);
    }
}
