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
/// Timed-out metadata requests remembered per peer (a slow honest peer's late replies are
/// ignored, not punished; a few times the two-request pipeline is plenty).
pub const MAX_LATE_METADATA: usize = 8;
/// Most allowed-fast pieces remembered per peer (BEP 6 suggests a set of about 10).
pub const MAX_ALLOWED_FAST: usize = 64;
/// Most bytes of control messages queued for one peer (`out`), on top of one copy of our
/// metadata (see [`super::Torrent`]'s output bound). Room for our bitfield (100 KiB for the
/// largest metadata we accept), rejects of a full request queue, a pipeline of requests and
/// cancels, and haves. Beyond it the peer is not reading what it asks for: disconnected.
pub const MAX_QUEUED_OUTPUT: usize = 512 * 1024;
/// Most rejects queued and not yet taken by the driver. Choking a peer rejects its whole
/// queue at once (`max_peer_requests`, 250 by default) and a tick may add as many refusals;
/// the check uses twice the configured queue if that is larger. More is a peer that keeps
/// asking without reading the answers.
pub const MAX_PENDING_REJECTS: usize = 1024;
/// Bytes of one encoded reject (length, id, index, begin, length).
pub const REJECT_LEN: usize = 17;

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
    /// When we last asked this peer, which announced no metadata size, for metadata piece 0
    /// to learn the size from the reply (`Torrent::probe_metadata`).
    pub metadata_probe_at: Option<Duration>,
    /// That request is unanswered.
    pub metadata_probing: bool,
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
    /// Requests refused since the last tick (choked, queue full, a piece we lack, and every
    /// ut_metadata request); more than `max_peer_requests` in a tick is a flood.
    pub refused_requests: u32,
    /// Rejects queued in `out` and not taken yet (an upper bound once `out` is partly taken);
    /// bounded by [`MAX_PENDING_REJECTS`].
    pub pending_rejects: usize,
    /// The driver asked for bytes (with a non-zero budget) since the last tick: its transport
    /// has room, so the peer is reading.
    pub polled: bool,
    /// Last tick at which nothing was waiting for this peer or the driver took some; output
    /// waiting longer than `write_stall_timeout` means the peer stopped reading.
    pub last_drained_at: Duration,
    /// This id was penalised before: it earns an unchoke in a regular rechoke, never at once.
    pub probation: bool,
    /// ut_metadata pieces requested from this peer, with the time asked.
    pub metadata_requests: Vec<(u32, Duration)>,
    /// ut_metadata pieces whose request to this peer timed out: a reply may still be on its
    /// way and is ignored rather than treated as unrequested. Bounded by [`MAX_LATE_METADATA`].
    pub metadata_late: Vec<u32>,
    /// ut_metadata pieces the peer asked of us and we have not answered yet.
    pub metadata_replies_sent: u32,

    pub download: RateMeter,
    pub upload: RateMeter,
    pub snubbed: bool,
    /// Pieces that failed verification with this peer as the only contributor.
    pub hash_failures: u32,
    /// When we last looked for blocks this peer would deliver sooner than the peers they
    /// wait on (`Torrent::pick_overtaking`, which walks every queue): at most every
    /// [`OVERTAKE_CHECK_EVERY`], however often the peer's data arrives.
    pub overtake_checked_at: Option<Duration>,
}

/// See [`PeerState::overtake_checked_at`].
pub const OVERTAKE_CHECK_EVERY: Duration = Duration::from_millis(50);

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
            metadata_probe_at: None,
            metadata_probing: false,
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
            pending_rejects: 0,
            polled: false,
            last_drained_at: now,
            probation: false,
            metadata_requests: Vec::new(),
            metadata_late: Vec::new(),
            metadata_replies_sent: 0,
            download: RateMeter::default(),
            upload: RateMeter::default(),
            snubbed: false,
            hash_failures: 0,
            overtake_checked_at: None,
        }
    }

    pub fn send(&mut self, msg: &Message) {
        msg.encode_into(&mut self.out);
    }

    /// Queues a reject (BEP 6) if the peer speaks the fast extension; without it a refused
    /// request is simply dropped. Counted in `pending_rejects` until the driver takes it.
    pub fn send_reject(&mut self, block: BlockRef) {
        if self.fast {
            self.send(&Message::Reject(block));
            self.pending_rejects += 1;
        }
    }

    /// Its output has waited untaken for at least `after` (as of the last tick): it is not
    /// reading, for now or for good.
    pub fn stalled(&self, now: Duration, after: Duration) -> bool {
        self.has_output() && now.saturating_sub(self.last_drained_at) >= after
    }

    /// True if something is waiting for the driver to take (see `Torrent::wants_transmit`).
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || (!self.am_choking && !self.requests.is_empty())
    }

    pub fn known_pieces(&self) -> Option<&Bitfield> {
        match &self.pieces {
            PeerPieces::Known(b) => Some(b),
            PeerPieces::Pending { .. } => None,
        }
    }

    /// True if the peer announced any piece (known or still pending the metadata).
    pub fn shows_pieces(&self) -> bool {
        match &self.pieces {
            PeerPieces::Known(b) => b.count() > 0,
            PeerPieces::Pending {
                bitfield,
                all,
                haves,
            } => {
                *all || !haves.is_empty()
                    || bitfield.as_ref().is_some_and(|b| b.iter().any(|&x| x != 0))
            }
        }
    }

    pub fn is_seed(&self) -> bool {
        self.known_pieces().is_some_and(Bitfield::is_full)
    }

    /// Withdraws our requests for blocks of piece `index` (sending `cancel` for each) and
    /// returns them, for the picker to release.
    pub fn cancel_piece(&mut self, index: u32) -> Vec<BlockRef> {
        let stale: Vec<BlockRef> = self
            .outstanding
            .iter()
            .filter(|o| o.block.index == index)
            .map(|o| o.block)
            .collect();
        self.outstanding.retain(|o| o.block.index != index);
        for block in &stale {
            self.send(&Message::Cancel(*block));
        }
        stale
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
        if !self.has_output() || self.polled {
            self.last_drained_at = now;
        }
        self.polled = false;
        if self.sent_total != self.sent_at_last_tick {
            self.sent_at_last_tick = self.sent_total;
            self.last_sent_at = now;
        }
    }
}
