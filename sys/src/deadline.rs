//! Timeouts as deadlines, with one rule everywhere: a timeout too large for the clock
//! (`Duration::MAX` included) means "wait forever", and a zero timeout means "check once".
//!
//! A loop that sleeps in slices (interrupted by signals, woken spuriously) must not restart
//! its timeout on every slice, so every blocking call turns its timeout into a [`Deadline`]
//! once, at its start, and asks it for the time left before each sleep. Converting to the
//! kernel's forms (`timespec`, `poll`'s milliseconds) happens here too, clamped so that a
//! far deadline never becomes a negative or wrapped-around value.
//!
//! Under `--cfg loom` time does not pass between the steps of a model: every finite
//! deadline counts as passed at once (see [`Deadline::has_passed`]), which makes loom
//! models walk every timeout path.

use std::time::{Duration, Instant};

/// When a wait must end: a point on the monotonic clock, or never.
///
/// ```
/// use std::time::Duration;
/// use mp_sys::Deadline;
///
/// let soon = Deadline::after(Duration::from_secs(5));
/// assert!(!soon.has_passed());
/// assert!(soon.remaining().is_some_and(|left| left <= Duration::from_secs(5)));
///
/// assert!(Deadline::after(Duration::MAX).is_never());
/// assert!(Deadline::after(Duration::ZERO).has_passed()); // "check once"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deadline {
    at: Option<Instant>,
}

impl Deadline {
    /// No deadline: wait until woken.
    ///
    /// ```
    /// assert_eq!(mp_sys::Deadline::NEVER.remaining(), None);
    /// ```
    pub const NEVER: Deadline = Deadline { at: None };

    /// `timeout` from now; [`NEVER`](Deadline::NEVER) if that is past the end of the
    /// clock (as for `Duration::MAX`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// assert!(!Deadline::after(Duration::from_secs(1)).is_never());
    /// assert!(Deadline::after(Duration::MAX).is_never());
    /// ```
    #[inline]
    pub fn after(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now().checked_add(timeout),
        }
    }

    /// `timeout` from now, where `None` means no limit (Python's `timeout=None`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// assert!(Deadline::from_timeout(None).is_never());
    /// assert!(!Deadline::from_timeout(Some(Duration::from_secs(1))).is_never());
    /// ```
    #[inline]
    pub fn from_timeout(timeout: Option<Duration>) -> Self {
        timeout.map_or(Deadline::NEVER, Deadline::after)
    }

    /// The deadline at `instant`.
    ///
    /// ```
    /// use std::time::Instant;
    /// use mp_sys::Deadline;
    ///
    /// let now = Instant::now();
    /// assert_eq!(Deadline::at(now).instant(), Some(now));
    /// ```
    #[inline]
    pub const fn at(instant: Instant) -> Self {
        Deadline { at: Some(instant) }
    }

    /// The point in time, or `None` for [`NEVER`](Deadline::NEVER).
    ///
    /// ```
    /// assert_eq!(mp_sys::Deadline::NEVER.instant(), None);
    /// ```
    #[inline]
    pub const fn instant(self) -> Option<Instant> {
        self.at
    }

    /// Whether this is [`NEVER`](Deadline::NEVER).
    ///
    /// ```
    /// assert!(mp_sys::Deadline::NEVER.is_never());
    /// ```
    #[inline]
    pub const fn is_never(self) -> bool {
        self.at.is_none()
    }

    /// Whether the deadline has passed (never, for [`NEVER`](Deadline::NEVER)).
    ///
    /// Under `--cfg loom` every finite deadline counts as passed, as the loom stand-in of
    /// [`futex::wait`](crate::futex::wait) times out at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// assert!(Deadline::after(Duration::ZERO).has_passed());
    /// assert!(!Deadline::NEVER.has_passed());
    /// ```
    #[cfg(not(loom))]
    #[inline]
    pub fn has_passed(self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Under loom time does not pass between steps of a model: every deadline counts as
    /// already passed, matching the emulated timed wait, which times out at once.
    #[cfg(loom)]
    #[inline]
    pub fn has_passed(self) -> bool {
        self.at.is_some()
    }

    /// The time left: `None` for [`NEVER`](Deadline::NEVER), zero once passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// assert_eq!(Deadline::after(Duration::ZERO).remaining(), Some(Duration::ZERO));
    /// assert_eq!(Deadline::NEVER.remaining(), None);
    /// ```
    #[inline]
    pub fn remaining(self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The earlier of the two (a wait sliced by `other` that must still end by `self`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// let slice = Deadline::after(Duration::from_millis(100));
    /// assert_eq!(Deadline::NEVER.earlier(slice), slice);
    /// assert_eq!(slice.earlier(Deadline::NEVER), slice);
    /// ```
    #[inline]
    pub fn earlier(self, other: Deadline) -> Deadline {
        match (self.at, other.at) {
            (Some(a), Some(b)) => Deadline::at(a.min(b)),
            (Some(_), None) => self,
            (None, _) => other,
        }
    }

    /// The time left as a relative `timespec` (what `FUTEX_WAIT` takes): `None` for
    /// [`NEVER`](Deadline::NEVER), zero once passed, seconds clamped to `time_t::MAX`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// assert!(Deadline::NEVER.to_relative_timespec().is_none());
    /// let left = Deadline::after(Duration::from_secs(2)).to_relative_timespec().unwrap();
    /// assert!(left.tv_sec <= 2 && left.tv_sec >= 0);
    /// ```
    #[inline]
    pub fn to_relative_timespec(self) -> Option<libc::timespec> {
        self.remaining().map(timespec_of)
    }

    /// The deadline as an absolute `CLOCK_MONOTONIC` time (what `futex_waitv` takes):
    /// `None` for [`NEVER`](Deadline::NEVER), and for a deadline past the end of the
    /// kernel's clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// assert!(Deadline::NEVER.to_monotonic_timespec().is_none());
    /// assert!(Deadline::after(Duration::from_secs(1)).to_monotonic_timespec().is_some());
    /// ```
    pub fn to_monotonic_timespec(self) -> Option<libc::timespec> {
        let left = self.remaining()?;
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on
        // Linux, and clock_gettime writes nothing else.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
            return None;
        }
        let now = Duration::new(
            u64::try_from(now.tv_sec).ok()?,
            u32::try_from(now.tv_nsec).ok()?,
        );
        Some(timespec_of(now.checked_add(left)?))
    }

    /// The time left in milliseconds for `poll(2)`: `-1` (no limit) for
    /// [`NEVER`](Deadline::NEVER), rounded up so a wait of less than a millisecond sleeps
    /// rather than spins, clamped to `c_int::MAX` (a far deadline then takes several
    /// polls), never negative.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_sys::Deadline;
    ///
    /// assert_eq!(Deadline::NEVER.to_poll_millis(), -1);
    /// assert_eq!(Deadline::after(Duration::ZERO).to_poll_millis(), 0);
    /// assert!(Deadline::after(Duration::from_micros(10)).to_poll_millis() <= 1);
    /// let far = Deadline::after(Duration::from_secs(u64::from(u32::MAX)));
    /// assert_eq!(far.to_poll_millis(), libc::c_int::MAX);
    /// ```
    #[inline]
    pub fn to_poll_millis(self) -> libc::c_int {
        match self.remaining() {
            None => -1,
            Some(left) => libc::c_int::try_from(left.as_nanos().div_ceil(1_000_000))
                .unwrap_or(libc::c_int::MAX),
        }
    }
}

/// `timeout` as a `timeval`, as `SO_RCVTIMEO` and `SO_SNDTIMEO` take it: seconds clamped
/// to `time_t::MAX`, so a timeout too long for the clock (`Duration::MAX`) stays the
/// longest wait there is, never a wrapped-around negative value. Zero stays zero, which
/// the kernel reads as "no limit".
///
/// ```
/// use std::time::Duration;
/// use mp_sys::deadline::to_timeval;
///
/// let half = to_timeval(Duration::from_millis(1500));
/// assert_eq!((half.tv_sec, half.tv_usec), (1, 500_000));
/// assert_eq!(to_timeval(Duration::MAX).tv_sec, libc::time_t::MAX);
/// ```
pub fn to_timeval(timeout: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below one million: fits every `suseconds_t`.
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros() as i32),
    }
}

/// A `Duration` as a `timespec`, seconds clamped to `time_t::MAX`.
fn timespec_of(duration: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(duration.as_secs()).unwrap_or(libc::time_t::MAX),
        // Below one billion: fits every `c_long`.
        tv_nsec: libc::c_long::from(duration.subsec_nanos() as i32),
    }
}

impl From<Instant> for Deadline {
    /// ```
    /// use std::time::Instant;
    /// use mp_sys::Deadline;
    ///
    /// let now = Instant::now();
    /// assert_eq!(Deadline::from(now), Deadline::at(now));
    /// ```
    #[inline]
    fn from(instant: Instant) -> Self {
        Deadline::at(instant)
    }
}

impl From<Option<Instant>> for Deadline {
    /// `None` is [`Deadline::NEVER`].
    ///
    /// ```
    /// use mp_sys::Deadline;
    ///
    /// assert_eq!(Deadline::from(None::<std::time::Instant>), Deadline::NEVER);
    /// ```
    #[inline]
    fn from(instant: Option<Instant>) -> Self {
        Deadline { at: instant }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn overflow_means_never_and_zero_means_passed() {
        assert!(Deadline::after(Duration::MAX).is_never());
        assert!(Deadline::after(Duration::new(u64::MAX, 0)).is_never());
        let now = Deadline::after(Duration::ZERO);
        assert!(now.has_passed());
        assert_eq!(now.remaining(), Some(Duration::ZERO));
        assert_eq!(now.to_poll_millis(), 0);
        let zero = now.to_relative_timespec().unwrap();
        assert_eq!((zero.tv_sec, zero.tv_nsec), (0, 0));
    }

    #[test]
    fn earlier_picks_the_sooner_point() {
        let near = Deadline::after(Duration::from_secs(1));
        let far = Deadline::after(Duration::from_secs(60));
        assert_eq!(near.earlier(far), near);
        assert_eq!(far.earlier(near), near);
        assert_eq!(Deadline::NEVER.earlier(Deadline::NEVER), Deadline::NEVER);
    }

    #[test]
    fn poll_millis_round_up_and_clamp() {
        let tiny = Deadline::after(Duration::from_nanos(1));
        assert!(tiny.to_poll_millis() >= 0);
        let huge = Deadline::after(Duration::from_secs(1 << 40));
        assert_eq!(huge.to_poll_millis(), libc::c_int::MAX);
        let ts = huge.to_relative_timespec().unwrap();
        assert!(ts.tv_sec > 0 && (0..1_000_000_000).contains(&ts.tv_nsec));
    }

    #[test]
    fn monotonic_timespec_is_in_the_future() {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        assert_eq!(rc, 0);
        let at = Deadline::after(Duration::from_secs(10))
            .to_monotonic_timespec()
            .unwrap();
        assert!(at.tv_sec >= now.tv_sec + 9);
    }
}
