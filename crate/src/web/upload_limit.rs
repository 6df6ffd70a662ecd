//! The `uploadLimit` client option: a token bucket that caps the bytes a swarm writes to its
//! channels per second (everything: blocks and protocol messages).
//!
//! `Swarm::transmit` asks for [`TokenBucket::available`] before polling the engine, never
//! polls with less than one block message of room, and charges what it got with
//! [`TokenBucket::take`] (a block may overshoot by one message: the bucket then goes
//! negative and the next refills pay it back). The client's 250 ms tick pumps every swarm,
//! which refills the bucket, so no timer of its own is needed. The burst is a quarter of a
//! second of rate (at least two block messages), so the average stays at the limit.

use std::time::Duration;

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
        let burst = (rate / 4.0).max(2.0 * (16.0 * 1024.0 + 13.0));
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
}
