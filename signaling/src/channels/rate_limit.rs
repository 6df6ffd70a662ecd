//! Token buckets keyed by client IP or creator address, in a table of bounded size.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `burst` requests at once, then one more every `per / burst`: "10 per minute" is `Rate { burst: 10, per:
/// 60 s }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub per: Duration,
}

impl Rate {
    fn seconds_per_token(&self) -> f64 {
        self.per.as_secs_f64() / f64::from(self.burst.max(1))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per key. At most `max_keys` buckets are kept: when the table is full, buckets that have
/// refilled (they hold no information) are dropped first, then the fullest one. So memory is
/// bounded whatever the number of clients; a client with more addresses than `max_keys` can at worst reset
/// its own buckets, never take another client's tokens.
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: Rate,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(rate: Rate, max_keys: usize) -> Self {
        Self {
            rate,
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn try_take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.rate.burst);
        let per_token = self.rate.seconds_per_token();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= self.max_keys {
            evict(&mut buckets, self.max_keys, burst, per_token, now);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() / per_token;
        bucket.tokens = (bucket.tokens + refilled).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) * per_token))
        }
    }

    /// Buckets held (for tests and stats).
    pub fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room for one more bucket: drops the refilled ones, then if need be the fullest one (the one whose
/// client has been least limited lately; a drained bucket is the one worth keeping).
fn evict<K: Hash + Eq + Clone>(
    buckets: &mut HashMap<K, Bucket>,
    max_keys: usize,
    burst: f64,
    per_token: f64,
    now: Instant,
) {
    let tokens =
        |b: &Bucket| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() / per_token;
    buckets.retain(|_, b| tokens(b) < burst);
    if buckets.len() >= max_keys
        && let Some(fullest) = buckets
            .iter()
            .max_by(|(_, a), (_, b)| tokens(a).total_cmp(&tokens(b)))
            .map(|(k, _)| k.clone())
    {
        buckets.remove(&fullest);
    }
}

/// The key a client IP is limited under: an IPv4 address, or an IPv6 /64 (one host usually holds a whole
/// /64, so per-address buckets would not limit it at all).
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_MINUTE_3: Rate = Rate {
        burst: 3,
        per: Duration::from_secs(60),
    };

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(PER_MINUTE_3, 10);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.try_take(&1, t0), Ok(()));
        }
        let wait = limiter.try_take(&1, t0).unwrap_err();
        assert_eq!(wait.as_secs(), 20);
        // Another key is unaffected.
        assert_eq!(limiter.try_take(&2, t0), Ok(()));
        // One token back after 20 s, not two.
        let later = t0 + Duration::from_secs(20);
        assert_eq!(limiter.try_take(&1, later), Ok(()));
        assert!(limiter.try_take(&1, later).is_err());
    }

    #[test]
    fn the_table_is_bounded() {
        let limiter = RateLimiter::new(PER_MINUTE_3, 4);
        let t0 = Instant::now();
        for key in 0..100 {
            limiter.try_take(&key, t0).unwrap();
            assert!(limiter.len() <= 4);
        }
        // A refilled bucket goes before a drained one: key 1000 stays limited while 1001.. come and go.
        let limiter = RateLimiter::new(PER_MINUTE_3, 2);
        for _ in 0..3 {
            limiter.try_take(&1000, t0).unwrap();
        }
        let t1 = t0 + Duration::from_secs(1);
        for key in 0..10 {
            limiter.try_take(&key, t1).unwrap();
        }
        assert!(limiter.try_take(&1000, t1).is_err());
    }

    #[test]
    fn ipv6_hosts_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(ip_key(v4), v4);
    }
}
