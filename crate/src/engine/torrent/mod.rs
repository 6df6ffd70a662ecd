//! One torrent's swarm: the sans-IO state machine a driver feeds and polls.
//!
//! Run-loop contract for drivers (browser, native, simulator):
//! 1. Feed inputs as they happen: [`Torrent::handle_connect`] when a transport to a peer
//!    opens, [`Torrent::handle_data`] for every chunk of bytes it delivers (any split),
//!    [`Torrent::handle_disconnect`] when it closes, and [`Torrent::handle_timeout`] once the
//!    time from [`Torrent::poll_timeout`] has come.
//! 2. Then drain outputs: [`Torrent::poll_event`] until `None` (a [`Event::Disconnect`] means
//!    "close this transport"; the engine has already forgotten the peer), and
//!    [`Torrent::poll_transmit`] for each peer whose transport can take more bytes (give it the
//!    free buffer space as the budget: that is the backpressure; it returns at most the
//!    budget, or one block message alone when that is larger than the whole budget).
//! 3. Before offering or answering a connection, ask [`Torrent::refuses_peer`]: banned and
//!    penalised ids are refused at the handshake anyway; and [`Torrent::is_fellow_seed`]:
//!    a seed dropped while we are complete would be dropped again.
//! 4. With `Config::external_hashing`, answer each [`Event::HashPiece`] with
//!    [`Torrent::handle_piece_hash`] (the SHA-1 of [`Torrent::piece_to_hash`]), at any later
//!    moment; a piece left unanswered is hashed by the engine after [`HASH_WAIT`].
//!
//! Per-peer bounds: queued output ([`Torrent::queued_output_bound`]), queued and refused
//! requests and queued rejects (`upload.rs`), output left untaken for
//! `Config::write_stall_timeout`, and the memory of partial pieces (`Config::max_partial_bytes`).
//! A peer past one is dropped; one that flooded, broke the protocol or let its answers pile
//! up past a bound is also penalised (`penalty.rs`). A stalled link alone is not penalised.
//!
//! Time is a `Duration` since any fixed origin the driver picks, and must not go backwards.

mod download;
mod fellow_seeds;
mod hashing;
mod lost;
mod metadata;
mod penalty;
mod receive;
mod timers;
mod upload;
mod webseed;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::PeerKey;
use super::bitfield::Bitfield;
use super::choker::Choker;
use super::config::Config;
use super::metadata_fetch::MetadataFetch;
use super::peer::{MAX_QUEUED_OUTPUT, PeerPieces, PeerState, Phase};
use super::picker::Picker;
use super::rng::Rng;
use super::storage::Storage;
use crate::metainfo::{Info, InfoHash};
use crate::wire::Handshake;
use fellow_seeds::FellowSeeds;
pub use fellow_seeds::{FELLOW_SEED_MEMORY, MAX_FELLOW_SEEDS};
pub use hashing::{HASH_WAIT, MAX_PIECES_HASHING};
use penalty::Penalties;
pub use penalty::{MAX_BANNED, MAX_PENALISED, PENALTY_BASE, PENALTY_MAX};
pub use webseed::{WEBSEED_CLAIM_TIMEOUT, WebSeedPieceError};

/// Something the driver should know or do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peer's handshake checked out; it is now part of the swarm.
    PeerReady {
        peer: PeerKey,
        peer_id: [u8; 20],
    },
    /// The `info` dictionary was downloaded and verified (magnet starts only).
    MetadataReady,
    PieceVerified {
        index: u32,
    },
    /// Piece `index` is complete: hash [`Torrent::piece_to_hash`]`(index, token)` and answer
    /// with [`Torrent::handle_piece_hash`] (only with `Config::external_hashing`; unanswered,
    /// the engine hashes it itself after [`HASH_WAIT`]).
    HashPiece {
        index: u32,
        token: u64,
    },
    /// A piece failed its hash check and will be downloaded again.
    PieceFailed {
        index: u32,
    },
    /// Every piece is verified.
    Completed,
    /// The peer sent bad data; the driver should not connect to this peer id again.
    PeerBanned {
        peer: PeerKey,
        peer_id: Option<[u8; 20]>,
        reason: String,
    },
    /// The peer flooded us, broke the protocol or let its answers pile up unread: its id is
    /// refused until `until` (engine time; see [`Torrent::refuses_peer`]). A `Disconnect`
    /// follows.
    PeerPenalised {
        peer: PeerKey,
        peer_id: [u8; 20],
        reason: String,
        until: Duration,
    },
    /// Close this transport. The engine has already dropped the peer's state.
    Disconnect {
        peer: PeerKey,
        reason: String,
    },
    /// A storage backend failed; the torrent keeps running without that piece.
    StorageError {
        message: String,
    },
}

/// A snapshot for progress displays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TorrentStats {
    pub num_pieces: u32,
    pub pieces_verified: u32,
    /// Payload bytes received and kept (excludes wasted and protocol bytes).
    pub downloaded: u64,
    pub uploaded: u64,
    /// Bytes received that were not needed or failed verification.
    pub wasted: u64,
    pub download_rate: f64,
    pub upload_rate: f64,
    pub peers: usize,
    pub complete: bool,
    pub has_metadata: bool,
}

/// Per-peer figures, e.g. for a peer list in the UI and for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStats {
    pub peer_id: Option<[u8; 20]>,
    pub client: Option<String>,
    pub downloaded: u64,
    pub uploaded: u64,
    pub download_rate: f64,
    pub upload_rate: f64,
    pub am_choking: bool,
    pub peer_choking: bool,
    pub am_interested: bool,
    pub peer_interested: bool,
    pub pieces: Option<u32>,
}

/// What exists only once the `info` dictionary is known.
struct Meta {
    info: Info,
    info_bytes: Vec<u8>,
    picker: Picker,
}

pub struct Torrent {
    config: Config,
    info_hash: InfoHash,
    meta: Option<Meta>,
    metadata_fetch: MetadataFetch,
    storage: Box<dyn Storage>,
    /// Pieces the storage already holds, applied when the metadata becomes known.
    initial_have: Option<Bitfield>,
    peers: BTreeMap<PeerKey, PeerState>,
    /// Banned and penalised peer ids, bounded.
    penalties: Penalties,
    /// Seeds we dropped while complete, bounded.
    fellow_seeds: FellowSeeds,
    /// Evidence for pieces that failed with several contributors: per block, who sent it and
    /// its SHA-1. When the piece later verifies, senders of differing blocks are banned.
    suspects: BTreeMap<u32, Vec<(PeerKey, [u8; 20])>>,
    /// Complete pieces waiting for the driver's hash (see `hashing.rs`).
    hashing: BTreeMap<u32, hashing::HashWait>,
    choker: Choker,
    rng: Rng,
    events: VecDeque<Event>,
    stats: TorrentStats,
    next_tick: Duration,
    next_rechoke: Duration,
    last_tick: Duration,
    completed_announced: bool,
    /// Set by the driver while its storage cannot keep up: no new block requests.
    downloads_held: bool,
    /// The metadata just arrived: no requests until the driver had its turn to place its
    /// streaming windows (`set_reader`), or the next `handle_timeout` (due at once). Without
    /// this, the first pipelines filled with pieces nobody waits for, ahead of the window a
    /// starting video needs (seen as 2 s late first frames behind a 500 kB/s seeder).
    first_requests_due: bool,
    /// `handle_timeout` is wanted at this time (when set: the moment the metadata arrived,
    /// so a clock that jumps to the next timeout never goes back), to send or fill those
    /// first requests.
    timeout_now: Option<Duration>,
}

impl std::fmt::Debug for Torrent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Torrent")
            .field("info_hash", &self.info_hash)
            .field("peers", &self.peers.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Torrent {
    /// A torrent whose `info` is known (from a .torrent file). `have` lists pieces the storage
    /// already holds verified (a seeder passes a full bitfield); `None` means nothing yet.
    pub fn new(
        info_hash: InfoHash,
        info: Info,
        info_bytes: Vec<u8>,
        storage: Box<dyn Storage>,
        have: Option<Bitfield>,
        config: Config,
        now: Duration,
    ) -> Self {
        let mut t = Torrent::from_info_hash(info_hash, storage, config, now);
        t.initial_have = have;
        t.install_metadata(info, info_bytes);
        t
    }

    /// A torrent started from a magnet link: the metadata is fetched from peers first.
    pub fn from_info_hash(
        info_hash: InfoHash,
        storage: Box<dyn Storage>,
        config: Config,
        now: Duration,
    ) -> Self {
        let rng = Rng::new(config.seed);
        let choker = Choker::new(config.upload_slots, config.seed_upload_slots);
        Torrent {
            next_tick: now + config.tick_interval,
            next_rechoke: now + config.rechoke_interval,
            first_requests_due: false,
            timeout_now: None,
            last_tick: now,
            config,
            info_hash,
            meta: None,
            metadata_fetch: MetadataFetch::new(info_hash.0),
            storage,
            initial_have: None,
            peers: BTreeMap::new(),
            penalties: Penalties::default(),
            fellow_seeds: FellowSeeds::default(),
            suspects: BTreeMap::new(),
            hashing: BTreeMap::new(),
            choker,
            rng,
            events: VecDeque::new(),
            stats: TorrentStats::default(),
            completed_announced: false,
            downloads_held: false,
        }
    }

    // ---- queries ------------------------------------------------------------------------

    pub fn info_hash(&self) -> &InfoHash {
        &self.info_hash
    }

    pub fn info(&self) -> Option<&Info> {
        self.meta.as_ref().map(|m| &m.info)
    }

    /// The raw `info` dictionary, e.g. to save a .torrent after a magnet start.
    pub fn info_bytes(&self) -> Option<&[u8]> {
        self.meta.as_ref().map(|m| m.info_bytes.as_slice())
    }

    /// Verified pieces (empty before the metadata is known).
    pub fn have(&self) -> Option<&Bitfield> {
        self.meta.as_ref().map(|m| m.picker.have())
    }

    pub fn is_complete(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.picker.is_complete())
    }

    pub fn stats(&self) -> TorrentStats {
        let mut s = self.stats.clone();
        s.peers = self
            .peers
            .values()
            .filter(|p| p.phase == Phase::Active)
            .count();
        s.download_rate = self
            .peers
            .values()
            .fold(0.0, |acc, p| acc + p.download.rate());
        s.upload_rate = self
            .peers
            .values()
            .fold(0.0, |acc, p| acc + p.upload.rate());
        s.has_metadata = self.meta.is_some();
        if let Some(m) = &self.meta {
            s.num_pieces = m.picker.num_pieces();
            s.pieces_verified = m.picker.have().count();
            s.complete = m.picker.is_complete();
        }
        s
    }

    pub fn peer_keys(&self) -> impl Iterator<Item = PeerKey> + '_ {
        self.peers.keys().copied()
    }

    /// `(number of pieces, piece length)` once the metadata is known.
    pub fn geometry(&self) -> Option<(u32, u32)> {
        self.meta
            .as_ref()
            .map(|m| (m.picker.num_pieces(), m.info.piece_length))
    }

    /// What `peer` announced it has (pieces; 0 before its bitfield) and the bytes of block
    /// data we sent it: how far along it is, and whether its announcements account for
    /// what it took.
    pub fn peer_progress(&self, peer: PeerKey) -> Option<(u32, u64)> {
        let p = self.peers.get(&peer)?;
        Some((
            p.known_pieces().map_or(0, Bitfield::count),
            p.upload.total(),
        ))
    }

    pub fn peer_stats(&self, peer: PeerKey) -> Option<PeerStats> {
        let p = self.peers.get(&peer)?;
        Some(PeerStats {
            peer_id: p.peer_id,
            client: p.client.clone(),
            downloaded: p.download.total(),
            uploaded: p.upload.total(),
            download_rate: p.download.rate(),
            upload_rate: p.upload.rate(),
            am_choking: p.am_choking,
            peer_choking: p.peer_choking,
            am_interested: p.am_interested,
            peer_interested: p.peer_interested,
            pieces: p.known_pieces().map(Bitfield::count),
        })
    }

    pub fn is_banned(&self, peer_id: &[u8; 20]) -> bool {
        self.penalties.is_banned(peer_id)
    }

    /// True if a handshake from `peer_id` would be refused at `now`: it is banned or serving
    /// a penalty. Drivers spend no offers or answers on such peers.
    pub fn refuses_peer(&self, peer_id: &[u8; 20], now: Duration) -> bool {
        self.is_banned(peer_id) || self.penalties.penalised_until(peer_id, now).is_some()
    }

    /// Most bytes queued for one peer before it is dropped as not reading: control messages
    /// plus one copy of our metadata (WebTorrent asks for every metadata piece at once).
    pub fn queued_output_bound(&self) -> usize {
        MAX_QUEUED_OUTPUT + self.meta.as_ref().map_or(0, |m| m.info_bytes.len())
    }

    /// Bytes queued for `peer` and not yet taken by [`Torrent::poll_transmit`] (blocks are
    /// read from storage only when taken, so this is what a peer that does not read costs).
    pub fn queued_output(&self, peer: PeerKey) -> Option<usize> {
        self.peers.get(&peer).map(|p| p.out.len())
    }

    /// Sum over pieces of the availability the picker uses (test invariant: it equals the
    /// sum of the connected peers' known piece counts).
    #[doc(hidden)]
    pub fn debug_availability_total(&self) -> u64 {
        self.meta
            .as_ref()
            .map_or(0, |m| m.picker.availability_total())
    }

    /// Bytes held by partial pieces' buffers.
    #[doc(hidden)]
    pub fn debug_partial_bytes(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.picker.partial_bytes())
    }

    // ---- inputs -------------------------------------------------------------------------

    /// A transport to `peer` opened (either direction). Our handshake is queued at once:
    /// on a data channel both sides send theirs on open.
    pub fn handle_connect(&mut self, peer: PeerKey, now: Duration) {
        let mut state = PeerState::new(now);
        if let Some(m) = &self.meta {
            // Invariant: once the metadata is known every peer's piece list is sized.
            state.pieces = PeerPieces::Known(Bitfield::new(m.picker.num_pieces()));
        }
        Handshake::new(self.info_hash.0, self.config.peer_id).encode_into(&mut state.out);
        if let Some(old) = self.peers.insert(peer, state) {
            // The driver reused a live key; treat the old connection as gone.
            self.forget_peer(peer, old);
        }
    }

    /// The transport to `peer` closed.
    pub fn handle_disconnect(&mut self, peer: PeerKey, _now: Duration) {
        if let Some(state) = self.peers.remove(&peer) {
            self.forget_peer(peer, state);
        }
    }

    /// A streaming reader (e.g. a video element) now reads at `byte_offset` of the torrent:
    /// the pieces just after it are fetched before anything else.
    pub fn set_reader(&mut self, reader: u64, byte_offset: u64, now: Duration) {
        let Some(m) = &mut self.meta else { return };
        let piece_length = m.info.piece_length as u64;
        let first = (byte_offset / piece_length).min(m.picker.num_pieces() as u64) as u32;
        let count = self
            .config
            .stream_window_bytes
            .div_ceil(piece_length)
            .max(2) as u32;
        let window = first..first.saturating_add(count);
        // A jump (a seek, not playback moving along) makes in-flight requests elsewhere stale:
        // cancel them so the pipelines fill with the new position at once.
        let jumped = m
            .picker
            .window(reader)
            .is_none_or(|old| !old.contains(&first));
        m.picker.set_window(reader, window);
        if jumped {
            self.cancel_requests_outside_windows();
        }
        self.fill_all_requests(now);
    }

    /// Backpressure from storage: while held, no new blocks are requested outside the
    /// streaming windows (those in flight still arrive and are verified; a window's pieces
    /// still go out, so a seek does not wait for the store, bounded by the window size). A
    /// driver whose storage writes lag behind the network holds downloads so memory stays
    /// bounded, and releases them when the writes catch up.
    pub fn hold_downloads(&mut self, held: bool, now: Duration) {
        if self.downloads_held == held {
            return;
        }
        self.downloads_held = held;
        if !held {
            self.fill_all_requests(now);
        }
    }

    /// Whether downloads are held (see [`Torrent::hold_downloads`]).
    pub fn downloads_held(&self) -> bool {
        self.downloads_held
    }

    ///
    /// While other windows remain (a seek: the new stream may open before the old one
    /// closes), requests that now lie outside every window are cancelled, as `set_reader`
    /// does on a jump: else the peers would send the old position's pipeline first (seen as
    /// ~1.3 s late seeks behind a 2 MB/s seeder).
    pub fn remove_reader(&mut self, reader: u64, now: Duration) {
        let Some(m) = &mut self.meta else { return };
        if m.picker.window(reader).is_none() {
            return;
        }
        m.picker.clear_window(reader);
        if m.picker.has_windows() {
            self.cancel_requests_outside_windows();
            self.fill_all_requests(now);
        }
    }

    // ---- outputs ------------------------------------------------------------------------

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Torrent::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Duration {
        if let Some(at) = self.timeout_now {
            return at;
        }
        let timers = self.next_tick.min(self.next_rechoke);
        self.hash_deadline().map_or(timers, |at| at.min(timers))
    }

    // ---- shared internals ---------------------------------------------------------------

    /// Drops a peer the engine decided to leave, telling the driver to close it.
    fn disconnect(&mut self, peer: PeerKey, reason: impl Into<String>) {
        if let Some(state) = self.peers.remove(&peer) {
            self.forget_peer(peer, state);
            self.events.push_back(Event::Disconnect {
                peer,
                reason: reason.into(),
            });
        }
    }

    /// Drops a peer for misbehaving (a flood, a protocol violation, not reading) and refuses
    /// its id for a while; a peer whose handshake never completed has no id to remember.
    fn penalise(&mut self, peer: PeerKey, reason: String, now: Duration) {
        if let Some(peer_id) = self.peers.get(&peer).and_then(|p| p.peer_id) {
            let length = self.penalties.penalise(peer_id, now);
            self.events.push_back(Event::PeerPenalised {
                peer,
                peer_id,
                reason: reason.clone(),
                until: now + length,
            });
        }
        self.disconnect(peer, reason);
    }

    fn ban(&mut self, peer: PeerKey, reason: impl Into<String>) {
        let reason = reason.into();
        let peer_id = self.peers.get(&peer).and_then(|p| p.peer_id);
        if let Some(id) = peer_id {
            self.penalties.ban(id);
        }
        self.events.push_back(Event::PeerBanned {
            peer,
            peer_id,
            reason: reason.clone(),
        });
        self.disconnect(peer, format!("banned: {reason}"));
    }

    /// Undoes everything a departed peer contributed to shared state.
    fn forget_peer(&mut self, peer: PeerKey, mut state: PeerState) {
        self.withdraw_load_hints(state.requests.make_contiguous());
        if let Some(m) = &mut self.meta {
            if let Some(b) = state.known_pieces() {
                m.picker.remove_peer_pieces(b);
            }
            m.picker.release_peer(peer, true);
        }
        self.metadata_fetch.remove_source(peer);
    }
}
