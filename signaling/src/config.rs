//! Operator-tunable limits. Every bound on client input lives here, with its default.

use std::collections::HashSet;
use std::time::Duration;

use crate::binary_id::Id20;

/// Tracker limits and timings. `Default` gives values suitable for a public tracker on one machine.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest WebSocket message (and frame) accepted; bigger ones close that connection.
    pub max_message_bytes: usize,
    /// Most offers one announce may carry; more is answered with a failure.
    pub max_offers: usize,
    /// Most peers one announce's offers are relayed to (caps the client's `numwant`).
    pub max_numwant: usize,
    /// Messages (announces, answers, scrapes) a connection may send per `rate_window`.
    pub max_messages_per_window: u32,
    pub rate_window: Duration,
    /// Swarms one connection may be a peer of at the same time.
    pub max_swarms_per_connection: usize,
    pub max_peers_per_swarm: usize,
    /// Open WebSocket connections; beyond it upgrades get HTTP 503.
    pub max_connections: usize,
    /// Info hashes one scrape may ask for, and the most swarms a "scrape all" returns.
    pub max_scrape_hashes: usize,
    /// Messages waiting to be written to one socket; a reader that falls this far behind is closed.
    pub outbound_queue: usize,
    /// Announce interval told to clients.
    pub announce_interval: Duration,
    /// A peer that has not announced in a swarm for this long is removed from it.
    pub peer_ttl: Duration,
    /// The server pings every socket this often...
    pub ping_interval: Duration,
    /// ...and closes one from which nothing (not even a pong) arrived for this long.
    pub idle_timeout: Duration,
    /// A socket that cannot take a batch of messages within this time is closed.
    pub write_timeout: Duration,
    /// Grace period for sockets to close on shutdown.
    pub shutdown_grace: Duration,
    /// Rate limits on creator channel uploads.
    pub channels: crate::channels::ChannelLimits,
}

impl Limits {
    /// Unsent bytes one socket may have waiting before it is closed as a slow reader.
    pub fn max_write_backlog(&self) -> usize {
        4 * self.max_message_bytes + 64 * 1024
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_offers: 20,
            max_numwant: 10,
            max_messages_per_window: 100,
            rate_window: Duration::from_secs(10),
            max_swarms_per_connection: 256,
            max_peers_per_swarm: 50_000,
            max_connections: 16_384,
            max_scrape_hashes: 1_000,
            outbound_queue: 256,
            announce_interval: Duration::from_secs(120),
            peer_ttl: Duration::from_secs(300),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(3),
            channels: crate::channels::ChannelLimits::default(),
        }
    }
}

/// Everything the tracker needs besides its listener.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub limits: Limits,
    /// When set, only these info hashes may be announced or scraped.
    pub allow_list: Option<HashSet<Id20>>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_proxy: bool,
    /// Directory of static files served on `/`; `None` serves none.
    pub www_dir: Option<std::path::PathBuf>,
    /// The chain the web app tips on, served as `/chain.json` (see [`crate::chain`]); `None`: BitTorrent Chain
    /// mainnet.
    pub chain: Option<crate::chain::Chain>,
    /// Directory of the channel database (`channels.sqlite3`); `None` keeps channels in memory only (tests).
    pub data_dir: Option<std::path::PathBuf>,
}

/// Errors reading an allow-list file.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    #[error("cannot read allow-list {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("allow-list {path} line {line}: expected 40 hex digits")]
    BadLine { path: String, line: usize },
}

/// Reads one hex info hash per line; blank lines and `#` comments are skipped.
pub fn load_allow_list(path: &std::path::Path) -> Result<HashSet<Id20>, AllowListError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AllowListError::Read {
        path: shown.clone(),
        source,
    })?;
    let mut set = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let id = Id20::from_hex(line).ok_or_else(|| AllowListError::BadLine {
            path: shown.clone(),
            line: i + 1,
        })?;
        set.insert(id);
    }
    Ok(set)
}
