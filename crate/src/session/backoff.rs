//! Reconnect delays for tracker sockets: exponential with jitter, so a restarted tracker is
//! not hit by every client at the same instant.

use std::time::Duration;

const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Delay before reconnect attempt `failures` (1, 2, 4 … 60 s, ±25 % jitter from `random`).
pub fn backoff(failures: u32, random: u64) -> Duration {
    let base = FIRST_RETRY
        .saturating_mul(1 << failures.min(6))
        .min(MAX_RETRY);
    let jitter = 0.75 + (random % 1000) as f64 / 2000.0;
    base.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_a_minute_within_the_jitter() {
        assert_eq!(backoff(1, 500), Duration::from_secs(2));
        assert_eq!(backoff(2, 500), Duration::from_secs(4));
        assert_eq!(backoff(40, 500), MAX_RETRY);
        assert_eq!(backoff(1, 0), Duration::from_millis(1500));
        assert_eq!(backoff(1, 999), Duration::from_millis(2499));
    }
}
