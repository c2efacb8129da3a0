//! Random choices that can be replayed: every loop draws from one seeded generator and
//! prints its seed first, so a failing run is repeated exactly by setting
//! `MP_FAULTS_SEED` to the seed it printed.

use std::time::{SystemTime, UNIX_EPOCH};

/// The variable that fixes the seed of every loop.
pub const SEED_VAR: &str = "MP_FAULTS_SEED";
/// The variable that multiplies every loop's count.
pub const SCALE_VAR: &str = "MP_FAULTS_SCALE";

/// A small, fast, seeded generator (splitmix64): good enough to place kills and mutate
/// bytes, and the same sequence for the same seed on every machine.
///
/// ```
/// let mut a = mp_faults::Rng::with_seed(7);
/// let mut b = mp_faults::Rng::with_seed(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator that starts from `seed`.
    ///
    /// ```
    /// assert_eq!(mp_faults::Rng::with_seed(1).seed(), 1);
    /// ```
    pub fn with_seed(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The generator of the loop `name`: seeded from `MP_FAULTS_SEED` if it is set,
    /// otherwise from the clock; either way the seed is printed with the loop's name.
    ///
    /// ```
    /// let mut rng = mp_faults::Rng::for_loop("doc");
    /// let _ = rng.next_u64();
    /// ```
    pub fn for_loop(name: &str) -> Self {
        let seed = std::env::var(SEED_VAR)
            .ok()
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |since| since.as_nanos() as u64)
            });
        eprintln!("fault-suite | {name} | seed {seed} (replay with {SEED_VAR}={seed})");
        Self::with_seed(seed)
    }

    /// The seed this generator started from, if it has not drawn yet.
    ///
    /// ```
    /// assert_eq!(mp_faults::Rng::with_seed(9).seed(), 9);
    /// ```
    pub fn seed(&self) -> u64 {
        self.state
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// let mut rng = mp_faults::Rng::with_seed(3);
    /// assert_ne!(rng.next_u64(), rng.next_u64());
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    ///
    /// ```
    /// let mut rng = mp_faults::Rng::with_seed(5);
    /// assert!((0..100).all(|_| rng.below(3) < 3));
    /// assert_eq!(rng.below(0), 0);
    /// ```
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// `len` random bytes.
    ///
    /// ```
    /// assert_eq!(mp_faults::Rng::with_seed(2).bytes(5).len(), 5);
    /// ```
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// `count` times the factor in `MP_FAULTS_SCALE` (1 when unset or unreadable; at least
/// 1 whatever the factor).
///
/// ```
/// assert!(mp_faults::scaled(10) >= 1);
/// ```
pub fn scaled(count: u64) -> u64 {
    let factor: f64 = std::env::var(SCALE_VAR)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .filter(|factor: &f64| factor.is_finite() && *factor > 0.0)
        .unwrap_or(1.0);
    ((count as f64 * factor) as u64).max(1)
}
