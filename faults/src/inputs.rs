//! The inputs of the bounded stable fuzz run: random bytes, and valid inputs mutated the
//! way a coverage-guided fuzzer would (bit flips, boundary bytes, cuts, duplications),
//! drawn from one seeded [`Rng`] so a failing input can be regenerated.

use crate::Rng;
use crate::decode_targets::MAX_INPUT;

/// Bytes that sit on the edges decoders check (signs, lengths, varint continuation).
const BOUNDARY_BYTES: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x0a, 0x3a];

/// An endless supply of inputs around `samples`.
///
/// ```
/// let mut inputs = mp_faults::Inputs::new(mp_faults::Rng::with_seed(1), vec![b"abc".to_vec()]);
/// let first = inputs.next_input();
/// assert!(first.len() <= mp_faults::decode_targets::MAX_INPUT);
/// ```
#[derive(Clone, Debug)]
pub struct Inputs {
    rng: Rng,
    samples: Vec<Vec<u8>>,
}

impl Inputs {
    /// Inputs drawn with `rng`, mutating `samples` (random bytes only if empty).
    ///
    /// ```
    /// let _ = mp_faults::Inputs::new(mp_faults::Rng::with_seed(1), Vec::new());
    /// ```
    pub fn new(rng: Rng, samples: Vec<Vec<u8>>) -> Self {
        Self { rng, samples }
    }

    /// The next input: a quarter are random bytes, the rest a sample with one to four
    /// mutations.
    ///
    /// ```
    /// let mut inputs = mp_faults::Inputs::new(mp_faults::Rng::with_seed(4), vec![vec![1, 2, 3]]);
    /// let all: Vec<Vec<u8>> = (0..50).map(|_| inputs.next_input()).collect();
    /// assert!(all.iter().any(|input| input != &vec![1, 2, 3]));
    /// ```
    pub fn next_input(&mut self) -> Vec<u8> {
        if self.samples.is_empty() || self.rng.below(4) == 0 {
            let len = match self.rng.below(8) {
                0 => self.rng.below(MAX_INPUT as u64),
                _ => self.rng.below(64),
            };
            return self.rng.bytes(len as usize);
        }
        let pick = self.rng.below(self.samples.len() as u64) as usize;
        let mut input = self.samples[pick].clone();
        for _ in 0..=self.rng.below(4) {
            self.mutate(&mut input);
        }
        input.truncate(MAX_INPUT);
        input
    }

    fn mutate(&mut self, input: &mut Vec<u8>) {
        let at = self.rng.below(input.len() as u64 + 1) as usize;
        match self.rng.below(6) {
            0 if at < input.len() => input[at] ^= 1 << self.rng.below(8),
            1 if at < input.len() => {
                input[at] = BOUNDARY_BYTES[self.rng.below(BOUNDARY_BYTES.len() as u64) as usize];
            }
            2 => input.truncate(at),
            3 => {
                let extra_len = 1 + self.rng.below(8) as usize;
                let extra = self.rng.bytes(extra_len);
                input.splice(at..at, extra);
            }
            4 if at < input.len() => {
                let end = (at + 1 + self.rng.below(16) as usize).min(input.len());
                let copy = input[at..end].to_vec();
                input.splice(at..at, copy);
            }
            _ => {
                if at < input.len() {
                    input.remove(at);
                }
            }
        }
    }
}
