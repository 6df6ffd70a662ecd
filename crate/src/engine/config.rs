//! Engine tunables. Defaults follow what mature clients use (libtorrent, WebTorrent), scaled
//! for browser peers that hold tens of connections, not thousands.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Our 20-byte peer id (Azureus style, e.g. `-SC0100-` + 12 random bytes).
    pub peer_id: [u8; 20],
    /// Seed for tie-breaks and optimistic unchokes; fixed seeds make simulations replay exactly.
    pub seed: u64,
    /// Client name sent in the BEP 10 handshake (`v`).
    pub client_name: String,
    /// Regular upload slots (plus one optimistic).
    pub upload_slots: usize,
    /// The same while seeding: more, so a seed's upload reaches more peers at once (see
    /// `choker.rs` for the measurement).
    pub seed_upload_slots: usize,
    pub tick_interval: Duration,
    pub rechoke_interval: Duration,
    pub handshake_timeout: Duration,
    /// No block for this long while requests are outstanding: the peer is snubbing us and
    /// its requests go to others.
    pub request_timeout: Duration,
    pub keepalive_interval: Duration,
    /// Nothing received for this long: the connection is dead.
    pub idle_timeout: Duration,
    /// Output waiting for a peer and not taken by the driver (its transport stayed full) for
    /// this long: the peer stopped reading and is disconnected. A slow but live link drains a
    /// little every few seconds; a driver that rate-limits uploads must poll within this.
    pub write_stall_timeout: Duration,
    /// Pipeline depth: enough requests to cover this much time at the peer's measured rate,
    /// within `min_pipeline..=max_pipeline`.
    pub request_queue_time: Duration,
    pub min_pipeline: u32,
    pub max_pipeline: u32,
    /// Pipeline depth while no rate is measured from the peer (a connection's first second,
    /// or a peer that sent nothing lately): at least this many requests in flight. Once a
    /// rate is measured it alone decides: a deep queue at a slow peer only makes its blocks
    /// wait, so others take them over as duplicates, and both copies often arrive.
    pub initial_pipeline: u32,
    /// Most requests we queue from one peer (advertised as `reqq`); more are refused.
    pub max_peer_requests: u32,
    /// A peer that was the only source of this many bad pieces is banned.
    pub ban_after_hash_failures: u32,
    /// Bytes ahead of a streaming reader fetched before anything else.
    pub stream_window_bytes: u64,
    /// An urgent stream block requested longer ago than this may be asked of a second peer.
    pub stream_deadline: Duration,
    pub metadata_request_timeout: Duration,
    /// Memory for pieces being assembled (each partial piece holds a piece-sized buffer): no
    /// new piece is started past it, except pieces in a streaming window (bounded by
    /// `stream_window_bytes` per reader) and always at least one.
    pub max_partial_bytes: u64,
    /// Complete pieces are hashed by the driver, not inline: the engine asks with
    /// [`Event::HashPiece`](super::Event::HashPiece) and is answered with
    /// [`Torrent::handle_piece_hash`](super::Torrent::handle_piece_hash). The browser driver
    /// sets it to use WebCrypto (SHA-NI in the browser: ~0.6 ms per MiB, against ~1.4 for
    /// SHA-1 in optimised wasm and ~12 before V8 has optimised it, which is when a cold
    /// viewer's first pieces arrive).
    pub external_hashing: bool,
}

/// `initial_pipeline` over WebRTC data channels (the browser's engine): a data channel
/// buffers generously and its first rate sample comes only after a second, so a connection
/// starts with 1 MiB of requests in flight instead of 64 KiB (measured: 64 MiB between two
/// pages went from ~11 to ~20 MB/s). Applied to every later moment as well (as a floor), it
/// queued 2 s of blocks at a leecher uploading 0.5 MB/s: the 8-leecher swarm simulation threw
/// away 0.37–0.62 copies of the content (duplicates that lost their race) against 0.11–0.28
/// as a starting depth only, and took 1.08–1.12× T* against 1.05–1.10 (8 seeds each).
pub const DATA_CHANNEL_INITIAL_PIPELINE: u32 = 64;

impl Default for Config {
    fn default() -> Self {
        let mut peer_id = *b"-SC0100-000000000000";
        peer_id[8..].copy_from_slice(b"seedcastpeer");
        Config {
            peer_id,
            seed: 0x5eed_ca57,
            client_name: concat!("Seedcast ", env!("CARGO_PKG_VERSION")).to_string(),
            upload_slots: 4,
            seed_upload_slots: 8,
            tick_interval: Duration::from_secs(1),
            rechoke_interval: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            keepalive_interval: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(180),
            write_stall_timeout: Duration::from_secs(30),
            request_queue_time: Duration::from_secs(1),
            min_pipeline: 4,
            max_pipeline: 250,
            initial_pipeline: 4,
            max_peer_requests: 250,
            ban_after_hash_failures: 2,
            stream_window_bytes: 4 * 1024 * 1024,
            stream_deadline: Duration::from_secs(2),
            metadata_request_timeout: Duration::from_secs(10),
            // Room for 8 pieces of 4 MiB, or 128 of 256 KiB: plenty of parallelism, and a
            // browser tab's memory stays bounded even with huge pieces.
            max_partial_bytes: 32 * 1024 * 1024,
            external_hashing: false,
        }
    }
}

impl Config {
    /// A peer id with the Seedcast prefix and 12 bytes derived from `seed`.
    pub fn peer_id_from_seed(seed: u64) -> [u8; 20] {
        let mut id = *b"-SC0100-000000000000";
        let mut rng = super::rng::Rng::new(seed);
        for b in &mut id[8..] {
            // Printable characters, as most clients use.
            *b = b"0123456789abcdefghijklmnopqrstuvwxyz"[rng.below(36) as usize];
        }
        id
    }
}
