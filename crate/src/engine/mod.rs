//! The sans-IO BitTorrent engine: state machines fed with events and polled for actions.
//!
//! No sockets, clocks, threads or global randomness: time arrives as a `Duration` argument
//! and randomness from [`Config::seed`], so the same inputs always give the same outputs —
//! which is what lets the tests simulate whole swarms deterministically. See
//! [`Torrent`] for the run-loop contract a driver follows.

pub mod bitfield;
pub mod choker;
pub mod config;
pub mod metadata_fetch;
pub mod peer;
pub mod picker;
pub mod rate;
pub mod rng;
pub mod storage;
pub mod torrent;
pub mod warm_up;

/// Identifies one connection. Chosen by the driver, unique among live connections of a torrent.
pub type PeerKey = u64;

pub use bitfield::Bitfield;
pub use config::Config;
pub use storage::{LoadQueue, MemoryStorage, Storage, StorageError, block_of};
pub use torrent::{
    Event, PeerStats, Torrent, TorrentStats, WEBSEED_CLAIM_TIMEOUT, WebSeedPieceError,
};
