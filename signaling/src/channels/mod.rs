//! Creator channels: `PUT`/`GET /api/channels/<address>`, stored in SQLite under `--data`.
//!
//! A channel is a creator's signed list of works (`seedcast::channel`). The server checks every upload with
//! the same Rust code the page runs in wasm — size, shape, bounds, the EIP-712 signature by the address in
//! the URL — and keeps, per address, only the highest sequence. The signature is the authentication: there
//! are no accounts, cookies or credentials, so reads are open to every origin and writes need none.

mod api;
pub mod db;
pub mod rate_limit;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;

pub use api::{get_channel, preflight, put_channel};
use db::Db;
use rate_limit::{Rate, RateLimiter};
use store::{Store, StoreError};

use crate::config::Config;

/// The data directory when `--data` is not given: `seedcast-data` in the current directory (next to the
/// default `--www www`), so a checkout runs without setup and `git status` ignores it.
pub const DEFAULT_DATA_DIR: &str = "seedcast-data";

/// Uploads read, parsed and verified at once; more wait their turn before their body is read. With
/// [`seedcast::channel::MAX_MANIFEST_BYTES`] (2 MiB) per body this bounds upload memory to ~32 MiB and the
/// verifying threads to 16, however many clients upload.
pub const MAX_CONCURRENT_UPLOADS: usize = 16;

/// Time to receive a whole upload body once its turn came: 2 MiB at 1 Mbit/s takes 17 s. A client that
/// trickles slower gets 408 and frees its place.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(20);

/// Rate limits on channel uploads.
#[derive(Debug, Clone)]
pub struct ChannelLimits {
    /// PUTs per client IP (IPv6: per /64), counted for every attempt.
    pub per_ip: Rate,
    /// PUTs per creator address, counted only for uploads whose signature verified: only the creator can use
    /// up their own address's allowance, nobody can lock them out with junk.
    pub per_address: Rate,
    /// Buckets each limiter keeps (memory bound; see [`RateLimiter`]).
    pub max_tracked: usize,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        Self {
            per_ip: Rate {
                burst: 10,
                per: Duration::from_secs(60),
            },
            per_address: Rate {
                burst: 30,
                per: Duration::from_secs(3600),
            },
            max_tracked: 65_536,
        }
    }
}

/// Upload outcomes, for `/metrics` and `/stats`.
#[derive(Debug, Default)]
pub struct ChannelMetrics {
    pub stored: AtomicU64,
    pub invalid: AtomicU64,
    pub stale: AtomicU64,
    pub too_large: AtomicU64,
    pub rate_limited: AtomicU64,
    pub timeout: AtomicU64,
    pub error: AtomicU64,
    /// Channels in the database (a gauge, counted at start and on each new address).
    pub channels: AtomicU64,
}

/// The `channels` part of `/stats`.
#[derive(Debug, Serialize)]
pub struct ChannelStats {
    pub channels: u64,
    pub puts: PutCounts,
}

#[derive(Debug, Serialize)]
pub struct PutCounts {
    pub stored: u64,
    pub invalid: u64,
    pub stale: u64,
    pub too_large: u64,
    pub rate_limited: u64,
    pub timeout: u64,
    pub error: u64,
}

impl ChannelMetrics {
    pub fn stats(&self) -> ChannelStats {
        ChannelStats {
            channels: self.channels.load(Relaxed),
            puts: PutCounts {
                stored: self.stored.load(Relaxed),
                invalid: self.invalid.load(Relaxed),
                stale: self.stale.load(Relaxed),
                too_large: self.too_large.load(Relaxed),
                rate_limited: self.rate_limited.load(Relaxed),
                timeout: self.timeout.load(Relaxed),
                error: self.error.load(Relaxed),
            },
        }
    }

    /// Prometheus text exposition, appended to the tracker's `/metrics`.
    pub fn to_prometheus(&self) -> String {
        let s = self.stats();
        let p = &s.puts;
        let mut out = String::from(
            "# HELP seedcast_signal_channels Creator channels stored.\n\
             # TYPE seedcast_signal_channels gauge\n",
        );
        out.push_str(&format!("seedcast_signal_channels {}\n", s.channels));
        out.push_str(
            "# HELP seedcast_signal_channel_puts_total Channel uploads by result.\n\
             # TYPE seedcast_signal_channel_puts_total counter\n",
        );
        for (result, n) in [
            ("stored", p.stored),
            ("invalid", p.invalid),
            ("stale", p.stale),
            ("too_large", p.too_large),
            ("rate_limited", p.rate_limited),
            ("timeout", p.timeout),
            ("error", p.error),
        ] {
            out.push_str(&format!(
                "seedcast_signal_channel_puts_total{{result=\"{result}\"}} {n}\n"
            ));
        }
        out
    }
}

/// Everything the channel routes share.
#[derive(Debug)]
pub struct Channels {
    db: Db,
    per_ip: RateLimiter<std::net::IpAddr>,
    per_address: RateLimiter<[u8; 20]>,
    uploads: Semaphore,
    trust_proxy: bool,
    pub metrics: ChannelMetrics,
}

impl Channels {
    /// Opens the database in `config.data_dir` (in memory without one: nothing persists) and starts its
    /// thread. Blocking: call once at startup.
    pub fn open(config: &Config) -> Result<Arc<Channels>, StoreError> {
        let store = match &config.data_dir {
            Some(dir) => Store::open(dir)?,
            None => Store::open_in_memory()?,
        };
        let count = store.count()?;
        let db = Db::start(store).map_err(StoreError::Thread)?;
        let limits = &config.limits.channels;
        let metrics = ChannelMetrics::default();
        metrics.channels.store(count, Relaxed);
        Ok(Arc::new(Channels {
            db,
            per_ip: RateLimiter::new(limits.per_ip, limits.max_tracked),
            per_address: RateLimiter::new(limits.per_address, limits.max_tracked),
            uploads: Semaphore::new(MAX_CONCURRENT_UPLOADS),
            trust_proxy: config.trust_proxy,
            metrics,
        }))
    }
}

/// The database file a `--data` directory holds.
pub fn database_path(dir: &std::path::Path) -> PathBuf {
    dir.join(store::DB_FILE)
}
