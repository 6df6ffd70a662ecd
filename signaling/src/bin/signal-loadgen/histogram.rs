//! A lock-free latency histogram: log-scale buckets (16 per power of two, ≤ 4.5% error), microseconds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB_BUCKETS: u32 = 16;
const BUCKETS: usize = 40 * SUB_BUCKETS as usize;

pub struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros).min(BUCKETS - 1)].fetch_add(1, Relaxed);
    }

    pub fn reset(&self) {
        self.buckets.iter().for_each(|b| b.store(0, Relaxed));
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in microseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= rank {
                return upper_bound(i);
            }
        }
        upper_bound(BUCKETS - 1)
    }
}

fn bucket_of(micros: u64) -> usize {
    let v = micros.max(1);
    let power = 63 - v.leading_zeros(); // floor(log2 v)
    let fraction = if power >= 4 {
        (v >> (power - 4)) & 0xf
    } else {
        (v << (4 - power)) & 0xf
    };
    (power * SUB_BUCKETS + fraction as u32) as usize
}

fn upper_bound(bucket: usize) -> u64 {
    let power = bucket as u32 / SUB_BUCKETS;
    let fraction = u64::from(bucket as u32 % SUB_BUCKETS);
    let base = 1u64 << power;
    base + ((fraction + 1) * base) / 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_close() {
        let h = Histogram::new();
        for v in 1..=10_000 {
            h.record(v);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 5_000.0 - 1.0).abs() < 0.07, "p50 {p50}");
        assert!((p99 / 9_900.0 - 1.0).abs() < 0.07, "p99 {p99}");
    }
}
