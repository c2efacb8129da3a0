//! One summary line per loop, in one format, so a run's figures can be compared and
//! tabulated without reading each loop's code.

use std::fmt;
use std::time::Duration;

/// What one loop counted. Every loop prints its tally with [`Tally::report`], which
/// also fails the loop if any count that must be zero is not.
///
/// ```
/// use std::time::Duration;
///
/// let mut tally = mp_faults::Tally::new("example");
/// tally.tries += 3;
/// tally.recovered_in(Duration::from_micros(3100));
/// assert_eq!(
///     tally.to_string(),
///     "fault-suite | example | tries 3 | lost 0 | duplicated 0 | corrupted 0 | hung 0 | leaked 0 | slowest recovery 3.1 ms"
/// );
/// tally.report();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The loop's name, as in the summary line.
    pub name: String,
    /// Kills, cycles or inputs tried.
    pub tries: u64,
    /// Items whose delivery was promised and that never arrived.
    pub lost: u64,
    /// Items that arrived more than once.
    pub duplicated: u64,
    /// Items that arrived different from what was sent, or a state that broke its
    /// invariant (a lock taken over without being told, a decoder that panicked).
    pub corrupted: u64,
    /// Waits that did not return within their bound.
    pub hung: u64,
    /// Descriptors, zombies, `/dev/shm` entries or memory left over.
    pub leaked: u64,
    /// The longest a recovery took (a takeover, a replacement, a first delivery after
    /// a kill).
    pub slowest_recovery: Duration,
}

impl Tally {
    /// An empty tally for the loop `name`.
    ///
    /// ```
    /// assert_eq!(mp_faults::Tally::new("x").tries, 0);
    /// ```
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// Records that one recovery took `took`, keeping the slowest.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut tally = mp_faults::Tally::new("x");
    /// tally.recovered_in(Duration::from_millis(2));
    /// tally.recovered_in(Duration::from_millis(1));
    /// assert_eq!(tally.slowest_recovery, Duration::from_millis(2));
    /// ```
    pub fn recovered_in(&mut self, took: Duration) {
        self.slowest_recovery = self.slowest_recovery.max(took);
    }

    /// Whether every count that must be zero is.
    ///
    /// ```
    /// let mut tally = mp_faults::Tally::new("x");
    /// assert!(tally.is_clean());
    /// tally.hung += 1;
    /// assert!(!tally.is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.corrupted == 0
            && self.hung == 0
            && self.leaked == 0
    }

    /// Prints the summary line to stderr, then panics (failing the loop) unless
    /// [`is_clean`](Self::is_clean).
    ///
    /// ```should_panic
    /// let mut tally = mp_faults::Tally::new("example-that-must-fail");
    /// tally.lost = 1;
    /// tally.report();
    /// ```
    pub fn report(&self) {
        eprintln!("{self}");
        assert!(self.is_clean(), "{self}");
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.slowest_recovery.as_secs_f64() * 1000.0;
        write!(
            f,
            "fault-suite | {} | tries {} | lost {} | duplicated {} | corrupted {} | hung {} | leaked {} | slowest recovery {millis:.1} ms",
            self.name,
            self.tries,
            self.lost,
            self.duplicated,
            self.corrupted,
            self.hung,
            self.leaked
        )
    }
}
