//! The session-wide upload limit: a token bucket that caps the bytes written to all data
//! channels per second (everything: blocks and protocol messages).
//!
//! The transmit loop asks for [`TokenBucket::available`] before polling an engine, never
//! polls for blocks with less than one block message of room, and charges what it got with
//! [`TokenBucket::take`] (a block may overshoot by one message, and protocol messages go out
//! whatever the room: the bucket then goes negative and the next refills pay it back). The
//! burst is a quarter of a second of rate (at least two block messages), so the average stays
//! at the limit.

use std::time::Duration;

/// One block message: a `piece` header (13 bytes) and 16 KiB of data.
const BLOCK_MESSAGE: f64 = 16.0 * 1024.0 + 13.0;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Duration>,
}

impl TokenBucket {
    /// `rate` in bytes per second (at least 1).
    pub fn new(rate: u64) -> TokenBucket {
        let rate = rate.max(1) as f64;
        let burst = (rate / 4.0).max(2.0 * BLOCK_MESSAGE);
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Bytes that may be written now (refills first).
    pub fn available(&mut self, now: Duration) -> usize {
        if let Some(last) = self.last {
            let elapsed = now.saturating_sub(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
        self.last = Some(now);
        self.tokens.max(0.0) as usize
    }

    pub fn take(&mut self, bytes: usize) {
        self.tokens -= bytes as f64;
    }

    /// How long until `bytes` are available (from the last [`TokenBucket::available`]);
    /// at least a millisecond, so a caller waiting on it always moves time on.
    pub fn wait_for(&self, bytes: usize) -> Duration {
        let missing = (bytes as f64).min(self.burst) - self.tokens;
        Duration::from_secs_f64((missing / self.rate).max(0.001))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_at_the_rate_up_to_the_burst() {
        let mut bucket = TokenBucket::new(100_000);
        let start = Duration::from_secs(10);
        assert_eq!(bucket.available(start), 32_794, "two block messages");
        bucket.take(32_794);
        assert_eq!(bucket.available(start), 0);
        let wait = bucket.wait_for(10_000);
        assert_eq!(wait, Duration::from_millis(100));
        assert_eq!(bucket.available(start + wait), 10_000);
        assert_eq!(bucket.available(start + Duration::from_secs(60)), 32_794);
    }
}
