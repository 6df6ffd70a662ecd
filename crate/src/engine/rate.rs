//! Transfer-rate estimate fed by the engine's once-a-second tick (no clock of its own).

use std::time::Duration;

/// Bytes counted since the last tick are folded into an exponential moving average.
#[derive(Debug, Clone, Default)]
pub struct RateMeter {
    pending: u64,
    total: u64,
    /// Bytes per second.
    rate: f64,
}

impl RateMeter {
    pub fn add(&mut self, bytes: u64) {
        self.pending += bytes;
        self.total += bytes;
    }

    /// Folds the bytes seen over `elapsed` into the average (time constant about 4 ticks).
    pub fn tick(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 {
            return;
        }
        let sample = self.pending as f64 / secs;
        self.pending = 0;
        // A fresh meter jumps straight to its first sample so slow start is short.
        self.rate = if self.rate == 0.0 {
            sample
        } else {
            self.rate * 0.75 + sample * 0.25
        };
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}
