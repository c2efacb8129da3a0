//! Wall-clock timing of a scenario or a step of it, on the monotonic clock.

use std::fmt;
use std::time::{Duration, Instant};

/// Python's `start = time.time()` ... `time.time() - start`, on the monotonic clock.
///
/// ```
/// use mp_demos::Stopwatch;
///
/// let watch = Stopwatch::start();
/// std::thread::sleep(std::time::Duration::from_millis(2));
/// assert!(watch.elapsed().as_millis() >= 2);
/// println!("took {watch}"); // "took 2.1 ms"
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch {
    started: Instant,
}

impl Stopwatch {
    /// Starts timing now.
    ///
    /// ```
    /// let watch = mp_demos::Stopwatch::start();
    /// assert!(watch.elapsed_secs() >= 0.0);
    /// ```
    pub fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    /// The time since [`Stopwatch::start`].
    ///
    /// ```
    /// let watch = mp_demos::Stopwatch::start();
    /// let first = watch.elapsed();
    /// assert!(watch.elapsed() >= first);
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The time since [`Stopwatch::start`], in seconds, as Python prints it.
    ///
    /// ```
    /// let watch = mp_demos::Stopwatch::start();
    /// println!("Task 0 runs {:.2} seconds.", watch.elapsed_secs());
    /// ```
    pub fn elapsed_secs(&self) -> f64 {
        self.elapsed().as_secs_f64()
    }
}

/// Shows the elapsed time as [`format_duration`] does.
impl fmt::Display for Stopwatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.elapsed()))
    }
}

/// A duration as a person reads it: `850 us`, `12.3 ms`, `1.25 s`, `2 min 5 s`.
///
/// ```
/// use std::time::Duration;
/// use mp_demos::format_duration;
///
/// assert_eq!(format_duration(Duration::from_micros(850)), "850 us");
/// assert_eq!(format_duration(Duration::from_micros(12_345)), "12.3 ms");
/// assert_eq!(format_duration(Duration::from_millis(1_250)), "1.25 s");
/// assert_eq!(format_duration(Duration::from_secs(125)), "2 min 5 s");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 1e-3 {
        format!("{} us", duration.as_micros())
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else if secs < 60.0 {
        format!("{secs:.2} s")
    } else {
        let whole = duration.as_secs();
        format!("{} min {} s", whole / 60, whole % 60)
    }
}
