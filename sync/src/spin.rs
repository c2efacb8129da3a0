//! Bounded spinning before sleeping, in the manner of parking_lot's `SpinWait`.

/// Counts a few rounds of exponentially longer busy-waits followed by a few yields.
pub(crate) struct SpinWait {
    round: u32,
}

impl SpinWait {
    pub(crate) fn new() -> Self {
        Self { round: 0 }
    }

    /// Waits a little; returns `false` once the caller should stop spinning and sleep.
    #[cfg(not(loom))]
    pub(crate) fn spin(&mut self) -> bool {
        if self.round >= 10 {
            return false;
        }
        self.round += 1;
        if self.round <= 3 {
            for _ in 0..(1u32 << self.round) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        true
    }

    /// Under loom a spin would only multiply the interleavings: go straight to sleep.
    #[cfg(loom)]
    pub(crate) fn spin(&mut self) -> bool {
        let _ = self.round;
        false
    }
}
