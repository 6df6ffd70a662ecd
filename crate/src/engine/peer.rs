//! Everything the engine knows about one connection. Protocol decisions live in the torrent
//! module; this is state plus the small helpers that keep its invariants.
//!
//! Lifecycle: `Handshaking` (our handshake is queued at connect) → `Active` once the peer's
//! handshake names our info hash → removed from the torrent on close. No message other than
//! the handshake is accepted before `Active`.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use super::bitfield::Bitfield;
use super::rate::RateMeter;
use crate::wire::{BlockRef, Decoder, Message};

/// Most `have` indices remembered from a peer before we know the piece count (magnet start).
pub const MAX_PENDING_HAVES: usize = 1 << 16;
/// Most allowed-fast pieces remembered per peer (BEP 6 suggests a set of about 10).
pub const MAX_ALLOWED_FAST: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Handshaking,
    Active,
}

/// The peer's pieces. Before we have the metadata we cannot size a bitfield, so what the peer
/// announces is kept raw (bounded) and checked once the piece count is known.
#[derive(Debug)]
pub enum PeerPieces {
    Pending {
        bitfield: Option<Vec<u8>>,
        all: bool,
        haves: BTreeSet<u32>,
    },
    Known(Bitfield),
}

/// One request we sent and have not had answered.
#[derive(Debug, Clone, Copy)]
pub struct Outstanding {
    pub block: BlockRef,
    pub sent_at: Duration,
}

#[derive(Debug)]
pub struct PeerState {
    pub phase: Phase,
    pub decoder: Decoder,
    /// Control messages waiting for the driver (coalesced into one buffer); block data is
    /// appended only in `poll_transmit`, so this stays small.
    pub out: Vec<u8>,
    pub peer_id: Option<[u8; 20]>,
    pub connected_at: Duration,
    pub last_received_at: Duration,
    pub last_sent_at: Duration,
    pub last_block_at: Duration,
    pub sent_total: u64,
    sent_at_last_tick: u64,

    // Negotiated features.
    pub fast: bool,
    pub extended: bool,
    pub peer_ut_metadata: Option<u8>,
    pub peer_metadata_size: Option<u64>,
    /// The id the peer wants BEP 54 `lt_donthave` messages sent as, if it offered it.
    pub peer_lt_donthave: Option<u8>,
    /// How many requests the peer says it queues (BEP 10 `reqq`).
    pub peer_reqq: u32,
    pub client: Option<String>,

    // BEP 3 flags. Invariant: every connection starts choked and not interested both ways.
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    pub got_bitfield: bool,
    pub pieces: PeerPieces,
    pub allowed_fast: BTreeSet<u32>,

    /// Requests we sent; bounded by the pipeline target.
    pub outstanding: Vec<Outstanding>,
    /// Requests the peer sent us, served in order by `poll_transmit`; bounded by `max_peer_requests`.
    pub requests: VecDeque<BlockRef>,
    /// Requests refused (choked or queue full) since the last tick; too many is a flood.
    pub refused_requests: u32,
    /// ut_metadata pieces requested from this peer, with the time asked.
    pub metadata_requests: Vec<(u32, Duration)>,
    /// ut_metadata pieces the peer asked of us and we have not answered yet.
    pub metadata_replies_sent: u32,

    pub download: RateMeter,
    pub upload: RateMeter,
    pub snubbed: bool,
    /// Pieces that failed verification with this peer as the only contributor.
    pub hash_failures: u32,
}

impl PeerState {
    pub fn new(now: Duration) -> Self {
        PeerState {
            phase: Phase::Handshaking,
            decoder: Decoder::new(),
            out: Vec::new(),
            peer_id: None,
            connected_at: now,
            last_received_at: now,
            last_sent_at: now,
            last_block_at: now,
            sent_total: 0,
            sent_at_last_tick: 0,
            fast: false,
            extended: false,
            peer_ut_metadata: None,
            peer_metadata_size: None,
            peer_lt_donthave: None,
            peer_reqq: 250,
            client: None,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            got_bitfield: false,
            pieces: PeerPieces::Pending {
                bitfield: None,
                all: false,
                haves: BTreeSet::new(),
            },
            allowed_fast: BTreeSet::new(),
            outstanding: Vec::new(),
            requests: VecDeque::new(),
            refused_requests: 0,
            metadata_requests: Vec::new(),
            metadata_replies_sent: 0,
            download: RateMeter::default(),
            upload: RateMeter::default(),
            snubbed: false,
            hash_failures: 0,
        }
    }

    pub fn send(&mut self, msg: &Message) {
        msg.encode_into(&mut self.out);
    }

    pub fn known_pieces(&self) -> Option<&Bitfield> {
        match &self.pieces {
            PeerPieces::Known(b) => Some(b),
            PeerPieces::Pending { .. } => None,
        }
    }

    pub fn is_seed(&self) -> bool {
        self.known_pieces().is_some_and(Bitfield::is_full)
    }

    pub fn take_outstanding(&mut self, block: &BlockRef) -> bool {
        match self.outstanding.iter().position(|o| o.block == *block) {
            Some(i) => {
                self.outstanding.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Called once a second: folds rates and notes whether anything went out.
    pub fn tick(&mut self, now: Duration, elapsed: Duration) {
        self.download.tick(elapsed);
        self.upload.tick(elapsed);
        self.refused_requests = 0;
        if self.sent_total != self.sent_at_last_tick {
            self.sent_at_last_tick = self.sent_total;
            self.last_sent_at = now;
        }
    }
}
