//! Which block to ask which peer for next, and the bytes of pieces still being assembled.
//!
//! Piece states (exactly one at a time):
//! * **missing** — not in `have`, no entry in `partial`;
//! * **partial** — an entry in `partial`, created when its first block is requested; holds the
//!   piece buffer (grown as blocks arrive, so a 512 MiB piece costs only what was received)
//!   and one [`BlockState`] per 16 KiB block;
//! * **complete** — every block received; the torrent takes the buffer with [`Picker::take_complete`]
//!   and verifies it, then calls [`Picker::mark_have`] or [`Picker::mark_failed`] (back to missing);
//! * **have** — verified and in storage;
//! * **claimed** — missing, not partial, and claimed by a web seed ([`Picker::claim`]): no peer
//!   is asked for it until the claim is released (fetched, failed or expired).
//!
//! Order of preference when picking for a peer: (1) pieces in a streaming window, in reading
//! order, with overdue blocks of the first pieces re-requested from a second peer (deadlines);
//! (2) partial pieces this peer started; (3) other partial pieces; (4) a new piece, rarest first
//! with a random tie-break; (5) endgame: blocks already requested from someone else, at most
//! [`MAX_DUPLICATES`] requests per block. Before the endgame the engine asks for such blocks
//! only where the second peer would overtake the first ([`Picker::duplicate`]).
//!
//! Memory bound: the partial pieces' buffers add up to at most `max_partial_bytes`, plus
//! pieces of streaming windows (bounded by the driver's window size), and always allow one
//! piece: past the bound no new piece is started outside a window ([`Picker::partial_bytes`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use super::PeerKey;
use super::bitfield::Bitfield;
use super::rng::Rng;
use crate::wire::{BLOCK_SIZE, BlockRef};

/// Most peers one block may be requested from at once (endgame and overdue stream blocks).
pub const MAX_DUPLICATES: usize = 2;

/// Whether a block already requested of the peers `by` may also be asked of `peer`.
fn may_also_ask(by: &[PeerKey], peer: PeerKey) -> bool {
    by.len() < MAX_DUPLICATES && !by.contains(&peer)
}

/// How many leading pieces of a streaming window get deadlines.
const URGENT_PIECES: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockState {
    Free,
    /// Requested from these peers (1..=MAX_DUPLICATES), first at `at`.
    Requested {
        by: Vec<PeerKey>,
        at: Duration,
    },
    /// Received from `from`; the bytes are in the piece buffer.
    Received {
        from: PeerKey,
    },
}

#[derive(Debug)]
pub struct Partial {
    pub blocks: Vec<BlockState>,
    received: u32,
    /// The peer that started the piece; after a hash failure only it may fill the piece, so
    /// the next failure has a single suspect.
    owner: PeerKey,
    exclusive: bool,
    /// The piece's bytes up to the end of the furthest block received (gaps are zeros). Full
    /// length once every block is in. Not allocated up front: pieces may be 512 MiB.
    pub data: Vec<u8>,
}

impl Partial {
    /// Whether `peer` may fill this piece (an exclusive piece is its owner's alone).
    fn open_to(&self, peer: PeerKey) -> bool {
        !self.exclusive || self.owner == peer
    }

    /// Peers that sent at least one block of this piece (deduplicated, sorted).
    pub fn contributors(&self) -> Vec<PeerKey> {
        let set: BTreeSet<PeerKey> = self
            .blocks
            .iter()
            .filter_map(|b| match b {
                BlockState::Received { from } => Some(*from),
                _ => None,
            })
            .collect();
        set.into_iter().collect()
    }
}

/// What became of a block that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// Not needed (already have it, never requested, or bad geometry); counts as waste.
    Unwanted,
    /// Stored. `cancel` lists other peers the same block was also requested from.
    Accepted {
        cancel: Vec<PeerKey>,
        piece_complete: bool,
    },
}

#[derive(Debug)]
pub struct Picker {
    piece_length: u32,
    total_length: u64,
    have: Bitfield,
    /// Number of connected peers that have each piece.
    availability: Vec<u32>,
    /// A random rank per piece, fixed at start: breaks ties between equally rare pieces so
    /// that peers spread out instead of all fetching the lowest index. Ranks run through
    /// extents of consecutive pieces ([`TIE_EXTENT_BYTES`]) in a random order, each from a
    /// random piece onward, so one peer's new pieces come in runs while different peers still
    /// start in different places.
    tiebreak: Vec<u32>,
    partial: BTreeMap<u32, Partial>,
    /// Pieces that failed verification once: re-downloaded from a single peer.
    failed_before: BTreeSet<u32>,
    /// Streaming windows by reader id: piece ranges to fetch first, in order.
    windows: BTreeMap<u64, Range<u32>>,
    /// A block requested longer ago than this in an urgent window piece may be re-requested.
    pub stream_deadline: Duration,
    /// Budget for partial pieces' buffers (see the module notes).
    pub max_partial_bytes: u64,
    /// Sum of the partial pieces' full sizes (reserved for their growing buffers). Invariant:
    /// equals the sum of `piece_size` over `partial`.
    partial_bytes: u64,
    /// Pieces a web seed is fetching, with when the claim expires. Invariant: a claimed
    /// piece is neither have nor partial.
    claimed: BTreeMap<u32, Duration>,
}

/// Bytes of consecutive pieces that equally rare new pieces are taken from together: a seed
/// that reads its pieces from a file (a browser `File`, a disk) reads a run of consecutive
/// requested pieces in one call, and each call costs a round trip whatever its size (profiled
/// in a tab: 1,022 reads of one 64 KiB piece each spent ~1.3 ms apiece in `Blob.slice`). As
/// libtorrent's piece extent affinity, for the same reason.
pub const TIE_EXTENT_BYTES: u64 = 1024 * 1024;

/// Tie-break ranks (see `Picker::tiebreak`): extents shuffled, each one entered at a random
/// piece and walked forward (wrapping inside the extent). A permutation of `0..num_pieces`.
fn extent_ranks(num_pieces: u32, piece_length: u32, rng: &mut Rng) -> Vec<u32> {
    let extent =
        (TIE_EXTENT_BYTES / u64::from(piece_length.max(1))).clamp(1, u64::from(u32::MAX)) as u32;
    let mut extents: Vec<u32> = (0..num_pieces.div_ceil(extent)).collect();
    rng.shuffle(&mut extents);
    let mut tiebreak = vec![0; num_pieces as usize];
    let mut rank = 0u32;
    for e in extents {
        let first = e * extent;
        let len = extent.min(num_pieces - first);
        let start = rng.below(u64::from(len)) as u32;
        for k in 0..len {
            tiebreak[(first + (start + k) % len) as usize] = rank;
            rank += 1;
        }
    }
    tiebreak
}

impl Picker {
    pub fn new(
        num_pieces: u32,
        piece_length: u32,
        total_length: u64,
        have: Bitfield,
        rng: &mut Rng,
    ) -> Self {
        debug_assert_eq!(have.len(), num_pieces);
        let tiebreak = extent_ranks(num_pieces, piece_length, rng);
        Picker {
            piece_length,
            total_length,
            have,
            availability: vec![0; num_pieces as usize],
            tiebreak,
            partial: BTreeMap::new(),
            failed_before: BTreeSet::new(),
            windows: BTreeMap::new(),
            stream_deadline: Duration::from_secs(2),
            max_partial_bytes: u64::MAX,
            partial_bytes: 0,
            claimed: BTreeMap::new(),
        }
    }

    pub fn num_pieces(&self) -> u32 {
        self.have.len()
    }

    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    pub fn is_complete(&self) -> bool {
        self.have.is_full()
    }

    pub fn availability(&self, index: u32) -> u32 {
        self.availability.get(index as usize).copied().unwrap_or(0)
    }

    pub fn piece_size(&self, index: u32) -> u32 {
        let start = index as u64 * self.piece_length as u64;
        (self.total_length.saturating_sub(start)).min(self.piece_length as u64) as u32
    }

    fn block_count(&self, index: u32) -> u32 {
        self.piece_size(index).div_ceil(BLOCK_SIZE)
    }

    fn block_ref(&self, index: u32, block: u32) -> BlockRef {
        let begin = block * BLOCK_SIZE;
        let length = (self.piece_size(index) - begin).min(BLOCK_SIZE);
        BlockRef {
            index,
            begin,
            length,
        }
    }

    // ---- availability -------------------------------------------------------------------

    pub fn add_peer_pieces(&mut self, pieces: &Bitfield) {
        for i in pieces.iter_ones() {
            self.availability[i as usize] += 1;
        }
    }

    pub fn remove_peer_pieces(&mut self, pieces: &Bitfield) {
        for i in pieces.iter_ones() {
            let a = &mut self.availability[i as usize];
            *a = a.saturating_sub(1);
        }
    }

    pub fn add_have(&mut self, index: u32) {
        if let Some(a) = self.availability.get_mut(index as usize) {
            *a += 1;
        }
    }

    /// A peer no longer has piece `index` (BEP 54 lt_donthave).
    pub fn remove_have(&mut self, index: u32) {
        if let Some(a) = self.availability.get_mut(index as usize) {
            *a = a.saturating_sub(1);
        }
    }

    /// True if `peer_has` includes a piece we still need.
    pub fn is_interesting(&self, peer_has: &Bitfield) -> bool {
        peer_has
            .as_bytes()
            .iter()
            .zip(self.have.as_bytes())
            .any(|(p, h)| p & !h != 0)
    }

    // ---- streaming windows --------------------------------------------------------------

    pub fn set_window(&mut self, reader: u64, pieces: Range<u32>) {
        let end = pieces.end.min(self.num_pieces());
        self.windows.insert(reader, pieces.start.min(end)..end);
    }

    pub fn window(&self, reader: u64) -> Option<Range<u32>> {
        self.windows.get(&reader).cloned()
    }

    /// True while some reader has a streaming window.
    pub fn has_windows(&self) -> bool {
        !self.windows.is_empty()
    }

    /// True if some streaming window covers `index`.
    pub fn in_window(&self, index: u32) -> bool {
        self.windows.values().any(|w| w.contains(&index))
    }

    pub fn clear_window(&mut self, reader: u64) {
        self.windows.remove(&reader);
    }

    /// True once every piece of every streaming window is verified.
    pub fn windows_satisfied(&self) -> bool {
        self.windows
            .values()
            .all(|w| w.clone().all(|i| self.have.get(i)))
    }

    // ---- picking ------------------------------------------------------------------------

    /// Picks up to `count` blocks for `peer` (which has `peer_has`) and marks them requested.
    pub fn pick(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        count: usize,
        now: Duration,
    ) -> Vec<BlockRef> {
        // (1) streaming windows, in reading order; overdue blocks of urgent pieces may be duplicated.
        let mut out = self.pick_in_windows(peer, peer_has, count, now);
        if out.len() >= count || self.is_complete() {
            return out;
        }
        // (2) pieces this peer started, then (3) any other partial piece.
        let own: Vec<u32> = self
            .partial
            .iter()
            .filter(|(_, p)| p.owner == peer)
            .map(|(&i, _)| i)
            .collect();
        let others: Vec<u32> = self
            .partial
            .iter()
            .filter(|(_, p)| p.owner != peer)
            .map(|(&i, _)| i)
            .collect();
        for index in own.into_iter().chain(others) {
            self.take_from_piece(peer, peer_has, index, count, now, false, &mut out);
            if out.len() >= count {
                return out;
            }
        }
        // (4) new pieces, rarest first, while the memory budget allows.
        while out.len() < count && self.may_start_piece() {
            let Some(index) = self.rarest_new_piece(peer_has) else {
                break;
            };
            self.take_from_piece(peer, peer_has, index, count, now, false, &mut out);
        }
        // (5) endgame: everything is requested already; double up on what others are slow to
        //     send. (Before it, the engine does this only where it pays: `duplicate`.)
        if out.is_empty() && self.all_requested() {
            let indices: Vec<u32> = self.partial.keys().copied().collect();
            for index in indices {
                self.take_duplicates(peer, peer_has, index, count, &|_, _, _| true, &mut out);
                if out.len() >= count {
                    break;
                }
            }
        }
        out
    }

    /// Picks up to `count` blocks for `peer` from the streaming windows only (step 1 of
    /// [`Picker::pick`]): what a torrent still asks for while its storage holds every other
    /// download back. Bounded like the windows themselves, by the readers' window sizes.
    pub fn pick_in_windows(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        count: usize,
        now: Duration,
    ) -> Vec<BlockRef> {
        let mut out = Vec::new();
        if count == 0 || self.is_complete() {
            return out;
        }
        let windows: Vec<Range<u32>> = self.windows.values().cloned().collect();
        for w in windows {
            for (n, index) in w.enumerate() {
                let urgent = (n as u32) < URGENT_PIECES;
                self.take_from_piece(peer, peer_has, index, count, now, urgent, &mut out);
                if out.len() >= count {
                    return out;
                }
            }
        }
        out
    }

    fn rarest_new_piece(&self, peer_has: &Bitfield) -> Option<u32> {
        let mut best: Option<(u32, u32, u32)> = None; // (availability, tiebreak, index)
        for (byte_index, (&p, &h)) in peer_has
            .as_bytes()
            .iter()
            .zip(self.have.as_bytes())
            .enumerate()
        {
            let mut candidates = p & !h;
            while candidates != 0 {
                let bit = candidates.leading_zeros();
                candidates &= !(0x80 >> bit);
                let index = byte_index as u32 * 8 + bit;
                if self.partial.contains_key(&index) || self.claimed.contains_key(&index) {
                    continue;
                }
                let key = (
                    self.availability[index as usize],
                    self.tiebreak[index as usize],
                    index,
                );
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
        }
        best.map(|(_, _, index)| index)
    }

    #[allow(clippy::too_many_arguments)]
    fn take_from_piece(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        index: u32,
        count: usize,
        now: Duration,
        urgent: bool,
        out: &mut Vec<BlockRef>,
    ) {
        if self.have.get(index) || !peer_has.get(index) || self.claimed.contains_key(&index) {
            return;
        }
        let size = self.piece_size(index);
        if !self.partial.contains_key(&index) {
            if !self.may_start_piece() && !self.in_window(index) {
                return;
            }
            let blocks = self.block_count(index) as usize;
            // Reserved at full size: the buffer grows as blocks arrive, up to the piece size.
            self.partial_bytes += u64::from(size);
            let exclusive = self.failed_before.contains(&index);
            self.partial.insert(
                index,
                Partial {
                    blocks: vec![BlockState::Free; blocks],
                    received: 0,
                    owner: peer,
                    exclusive,
                    data: Vec::new(),
                },
            );
        }
        let Some(p) = self.partial.get_mut(&index).filter(|p| p.open_to(peer)) else {
            return;
        };
        for (b, state) in p.blocks.iter_mut().enumerate() {
            if out.len() >= count {
                return;
            }
            if *state == BlockState::Free {
                *state = BlockState::Requested {
                    by: vec![peer],
                    at: now,
                };
                let begin = b as u32 * BLOCK_SIZE;
                let length = (size - begin).min(BLOCK_SIZE);
                out.push(BlockRef {
                    index,
                    begin,
                    length,
                });
            }
        }
        // Before the deadline has had time to pass, nothing can be overdue.
        if let (true, Some(deadline)) = (urgent, now.checked_sub(self.stream_deadline)) {
            let overdue = |_, _: &[PeerKey], at: Duration| at <= deadline;
            self.take_duplicates(peer, peer_has, index, count, &overdue, out);
        }
    }

    /// Adds `peer` to blocks of `index` already requested from others that `allow` accepts
    /// (given the block, the peers asked and when it was first asked), at most
    /// [`MAX_DUPLICATES`] peers per block.
    fn take_duplicates(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        index: u32,
        count: usize,
        allow: &dyn Fn(BlockRef, &[PeerKey], Duration) -> bool,
        out: &mut Vec<BlockRef>,
    ) {
        let size = self.piece_size(index);
        let Some(p) = self.duplicable_piece(peer, peer_has, index) else {
            return;
        };
        for (b, state) in p.blocks.iter_mut().enumerate() {
            if out.len() >= count {
                return;
            }
            if let BlockState::Requested { by, at } = state {
                let begin = b as u32 * BLOCK_SIZE;
                let block = BlockRef {
                    index,
                    begin,
                    length: (size - begin).min(BLOCK_SIZE),
                };
                if may_also_ask(by, peer) && allow(block, by, *at) {
                    by.push(peer);
                    out.push(block);
                }
            }
        }
    }

    // ---- arrivals and releases ----------------------------------------------------------

    /// Records a block from `peer`. Geometry is checked here: a block must match the piece's
    /// block grid exactly.
    pub fn on_block(&mut self, peer: PeerKey, index: u32, begin: u32, data: &[u8]) -> BlockOutcome {
        if index >= self.num_pieces() || self.have.get(index) || begin % BLOCK_SIZE != 0 {
            return BlockOutcome::Unwanted;
        }
        let piece_size = self.piece_size(index) as usize;
        // Checked before block_ref, which needs `begin` inside the piece.
        if begin as usize >= piece_size {
            return BlockOutcome::Unwanted;
        }
        if data.len() as u32 != self.block_ref(index, begin / BLOCK_SIZE).length {
            return BlockOutcome::Unwanted;
        }
        let Some(p) = self.partial.get_mut(&index).filter(|p| p.open_to(peer)) else {
            return BlockOutcome::Unwanted;
        };
        let b = (begin / BLOCK_SIZE) as usize;
        let cancel = match &p.blocks[b] {
            BlockState::Received { .. } => return BlockOutcome::Unwanted,
            BlockState::Requested { by, .. } => by.iter().copied().filter(|&k| k != peer).collect(),
            // Late arrival after we released the request: still useful.
            BlockState::Free => Vec::new(),
        };
        p.blocks[b] = BlockState::Received { from: peer };
        p.received += 1;
        let (start, end) = (begin as usize, begin as usize + data.len());
        if p.data.len() < end {
            // Doubling keeps in-order arrival amortized O(1); never past the piece size.
            let target = end.max(p.data.capacity().saturating_mul(2)).min(piece_size);
            p.data.reserve_exact(target - p.data.len());
            p.data.resize(end, 0);
        }
        p.data[start..end].copy_from_slice(data);
        let piece_complete = p.received as usize == p.blocks.len();
        BlockOutcome::Accepted {
            cancel,
            piece_complete,
        }
    }

    /// The bytes of piece `index` if every block of it is in (it waits for its hash check:
    /// it stays a partial piece with no free block, so nothing is requested for it, and its
    /// buffer still counts in `partial_bytes`).
    pub fn complete_data(&self, index: u32) -> Option<&[u8]> {
        self.partial
            .get(&index)
            .filter(|p| p.received as usize == p.blocks.len())
            .map(|p| p.data.as_slice())
    }

    /// Removes a complete piece for verification. The piece is missing again until
    /// [`Picker::mark_have`] is called; the torrent decides at once (the hash is known when
    /// it takes the piece), so nothing can be requested for it meanwhile.
    pub fn take_complete(&mut self, index: u32) -> Option<Partial> {
        match self.partial.get(&index) {
            Some(p) if p.received as usize == p.blocks.len() => self.remove_partial(index),
            _ => None,
        }
    }

    pub fn mark_have(&mut self, index: u32) {
        self.have.set(index);
        self.remove_partial(index);
        self.failed_before.remove(&index);
        self.claimed.remove(&index);
    }

    /// A verified piece's stored bytes are gone: it is missing again (and picked again).
    /// Returns false if it was not "have".
    pub fn mark_lost(&mut self, index: u32) -> bool {
        index < self.num_pieces() && self.have.clear(index)
    }

    pub fn mark_failed(&mut self, index: u32) {
        self.remove_partial(index);
        self.failed_before.insert(index);
    }

    /// The only way out of `partial`: keeps `partial_bytes` equal to the sizes reserved
    /// (each partial piece's buffer grows up to its piece size).
    fn remove_partial(&mut self, index: u32) -> Option<Partial> {
        let p = self.partial.remove(&index)?;
        self.partial_bytes -= u64::from(self.piece_size(index));
        Some(p)
    }

    /// True once every block we lack is requested from someone (the endgame): every missing
    /// piece is being assembled and none has a free block.
    pub fn all_requested(&self) -> bool {
        self.have.count() as usize + self.partial.len() >= self.num_pieces() as usize
            && self
                .partial
                .values()
                .all(|p| p.blocks.iter().all(|b| !matches!(b, BlockState::Free)))
    }

    /// Before the endgame, for a `peer` with nothing new to send us: requests `block`, already
    /// requested from someone else, of `peer` too. True if taken: the block still waits, has
    /// fewer than [`MAX_DUPLICATES`] requests and none to `peer`, `peer` has its piece, and
    /// the piece is not another peer's exclusive one. The first copy to arrive cancels the
    /// others.
    pub fn duplicate(&mut self, peer: PeerKey, peer_has: &Bitfield, block: BlockRef) -> bool {
        if block.begin % BLOCK_SIZE != 0 {
            return false;
        }
        let Some(p) = self.duplicable_piece(peer, peer_has, block.index) else {
            return false;
        };
        match p.blocks.get_mut((block.begin / BLOCK_SIZE) as usize) {
            Some(BlockState::Requested { by, .. }) if may_also_ask(by, peer) => {
                by.push(peer);
                true
            }
            _ => false,
        }
    }

    /// Partial piece `index`, if its requested blocks may also be asked of `peer`: `peer`
    /// has it, and it is not another peer's exclusive piece.
    fn duplicable_piece(
        &mut self,
        peer: PeerKey,
        peer_has: &Bitfield,
        index: u32,
    ) -> Option<&mut Partial> {
        self.partial
            .get_mut(&index)
            .filter(|p| peer_has.get(index) && p.open_to(peer))
    }

    /// True while a new piece fits the partial-piece budget (the first always does).
    fn may_start_piece(&self) -> bool {
        self.partial.is_empty()
            || self.partial_bytes + self.piece_length as u64 <= self.max_partial_bytes
    }

    /// Bytes reserved for the buffers of pieces being assembled (each at its full size).
    pub fn partial_bytes(&self) -> u64 {
        self.partial_bytes
    }

    /// Sum over pieces of how many connected peers have each (for invariant checks).
    pub fn availability_total(&self) -> u64 {
        self.availability.iter().map(|&a| a as u64).sum()
    }

    /// Forgets one outstanding request (rejected, cancelled or timed out).
    pub fn release(&mut self, peer: PeerKey, block: BlockRef) {
        let Some(p) = self.partial.get_mut(&block.index) else {
            return;
        };
        let Some(state) = p.blocks.get_mut((block.begin / BLOCK_SIZE) as usize) else {
            return;
        };
        if let BlockState::Requested { by, .. } = state {
            by.retain(|&k| k != peer);
            if by.is_empty() {
                *state = BlockState::Free;
            }
        }
    }

    /// Forgets every request to `peer` (it choked us or left). An exclusive piece it owned is
    /// opened to others again so a departed peer cannot pin it.
    pub fn release_peer(&mut self, peer: PeerKey, gone: bool) {
        for p in self.partial.values_mut() {
            for state in &mut p.blocks {
                if let BlockState::Requested { by, .. } = state {
                    by.retain(|&k| k != peer);
                    if by.is_empty() {
                        *state = BlockState::Free;
                    }
                }
            }
            if gone && p.owner == peer {
                p.exclusive = false;
            }
        }
    }

    // ---- web seed claims -----------------------------------------------------------------

    /// True if nobody is fetching `index` and we lack it: not have, not partial, not claimed.
    pub fn is_free(&self, index: u32) -> bool {
        index < self.num_pieces()
            && !self.have.get(index)
            && !self.partial.contains_key(&index)
            && !self.claimed.contains_key(&index)
    }

    /// The first free piece a web seed should fetch: the streaming windows' pieces in reading
    /// order, then the lowest free index (web seeds serve long contiguous runs best).
    pub fn first_free(&self) -> Option<u32> {
        self.first_free_in_windows()
            .or_else(|| (0..self.num_pieces()).find(|&i| self.is_free(i)))
    }

    /// The first free piece of the streaming windows, in reading order.
    pub fn first_free_in_windows(&self) -> Option<u32> {
        self.windows
            .values()
            .flat_map(|w| w.clone())
            .find(|&i| self.is_free(i))
    }

    /// Claims a free piece for a web seed until `expires`. Returns false if it was not free.
    pub fn claim(&mut self, index: u32, expires: Duration) -> bool {
        if !self.is_free(index) {
            return false;
        }
        self.claimed.insert(index, expires);
        true
    }

    /// Releases a claim (fetched, failed or given up). Returns whether it was claimed.
    pub fn unclaim(&mut self, index: u32) -> bool {
        self.claimed.remove(&index).is_some()
    }

    pub fn is_claimed(&self, index: u32) -> bool {
        self.claimed.contains_key(&index)
    }

    /// Releases every claim that expired at or before `now`; returns how many.
    pub fn expire_claims(&mut self, now: Duration) -> usize {
        let before = self.claimed.len();
        self.claimed.retain(|_, expires| *expires > now);
        before - self.claimed.len()
    }

    /// Claimed pieces, in order (for invariant checks and stats).
    pub fn claimed(&self) -> impl Iterator<Item = u32> + '_ {
        self.claimed.keys().copied()
    }

    /// True if some claimed piece is also partial or have (the invariant says never).
    pub fn claims_overlap(&self) -> bool {
        self.claimed
            .keys()
            .any(|i| self.have.get(*i) || self.partial.contains_key(i))
    }

    /// Number of pieces being assembled (each holds the bytes received so far).
    pub fn partial_count(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(pieces: u32, piece_len: u32) -> Picker {
        let total = pieces as u64 * piece_len as u64;
        Picker::new(
            pieces,
            piece_len,
            total,
            Bitfield::new(pieces),
            &mut Rng::new(7),
        )
    }

    #[test]
    fn a_huge_piece_costs_memory_only_for_the_blocks_received() {
        let mut p = picker(2, crate::metainfo::MAX_PIECE_LENGTH);
        let all = Bitfield::full(2);
        p.add_peer_pieces(&all);
        let got = p.pick(1, &all, 4, Duration::ZERO);
        assert_eq!(got.len(), 4);
        for block in got.iter().rev() {
            let data = vec![1; block.length as usize];
            let outcome = p.on_block(1, block.index, block.begin, &data);
            assert!(matches!(outcome, BlockOutcome::Accepted { .. }));
        }
        let held = p.partial[&got[0].index].data.capacity();
        assert!(held <= 4 * BLOCK_SIZE as usize, "holds {held} bytes");
    }

    #[test]
    fn blocks_arriving_out_of_order_assemble_the_piece() {
        let mut p = picker(1, 4 * BLOCK_SIZE);
        let all = Bitfield::full(1);
        p.add_peer_pieces(&all);
        let got = p.pick(1, &all, 4, Duration::ZERO);
        for b in [2, 0, 3, 1] {
            let block = got[b];
            let data = vec![b as u8; block.length as usize];
            p.on_block(1, block.index, block.begin, &data);
        }
        let piece = p.take_complete(0).expect("complete");
        let expected: Vec<u8> = (0..4u8)
            .flat_map(|b| vec![b; BLOCK_SIZE as usize])
            .collect();
        assert!(piece.data == expected);
    }

    #[test]
    fn a_block_past_the_end_of_its_piece_is_unwanted() {
        let mut p = picker(1, BLOCK_SIZE);
        let all = Bitfield::full(1);
        p.add_peer_pieces(&all);
        p.pick(1, &all, 1, Duration::ZERO);
        let outcome = p.on_block(1, 0, 4 * BLOCK_SIZE, &[0; BLOCK_SIZE as usize]);
        assert_eq!(outcome, BlockOutcome::Unwanted);
    }

    #[test]
    fn rarest_piece_is_picked_first() {
        let mut p = picker(8, BLOCK_SIZE);
        let all = Bitfield::full(8);
        p.add_peer_pieces(&all);
        p.add_peer_pieces(&all);
        let mut only3 = Bitfield::new(8);
        only3.set(3);
        p.remove_peer_pieces(&only3); // piece 3 is now the rarest
        let got = p.pick(1, &all, 1, Duration::ZERO);
        assert_eq!(
            got,
            vec![BlockRef {
                index: 3,
                begin: 0,
                length: BLOCK_SIZE
            }]
        );
    }

    #[test]
    fn ties_are_broken_randomly_but_deterministically() {
        let all = Bitfield::full(64);
        let first = |seed| {
            let mut p = Picker::new(
                64,
                BLOCK_SIZE,
                64 * BLOCK_SIZE as u64,
                Bitfield::new(64),
                &mut Rng::new(seed),
            );
            p.add_peer_pieces(&all);
            p.pick(1, &all, 1, Duration::ZERO)[0].index
        };
        let picks: BTreeSet<u32> = (0..16).map(first).collect();
        assert!(
            picks.len() > 4,
            "different seeds spread the first pick: {picks:?}"
        );
        assert_eq!(first(3), first(3));
    }

    #[test]
    fn equally_rare_new_pieces_come_in_runs_from_a_random_place() {
        // 64 pieces of 64 KiB: four extents of 16. Picking one new piece at a time (each
        // completed before the next), a peer walks one extent before starting another.
        let all = Bitfield::full(64);
        let order = |seed| {
            let mut p = Picker::new(
                64,
                4 * BLOCK_SIZE,
                64 * 4 * BLOCK_SIZE as u64,
                Bitfield::new(64),
                &mut Rng::new(seed),
            );
            p.add_peer_pieces(&all);
            let mut order = Vec::new();
            for _ in 0..64 {
                let index = p.rarest_new_piece(&all).expect("a missing piece");
                p.have.set(index);
                order.push(index);
            }
            order
        };
        let a = order(7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..64).collect::<Vec<_>>(), "every piece once");
        for run in a.chunks(16) {
            let extent = run[0] / 16;
            assert!(
                run.iter().all(|&i| i / 16 == extent),
                "one extent at a time: {run:?}"
            );
            let steps = run.windows(2).filter(|w| w[1] == w[0] + 1).count();
            assert!(
                steps >= 14,
                "consecutive inside the extent (one wrap at most): {run:?}"
            );
        }
        let firsts: BTreeSet<u32> = (0..16).map(|seed| order(seed)[0]).collect();
        assert!(
            firsts.len() > 4,
            "peers start in different places: {firsts:?}"
        );
    }

    #[test]
    fn short_last_piece_and_block() {
        let mut p = Picker::new(
            2,
            2 * BLOCK_SIZE,
            2 * BLOCK_SIZE as u64 + 100,
            Bitfield::new(2),
            &mut Rng::new(1),
        );
        let all = Bitfield::full(2);
        p.add_peer_pieces(&all);
        let mut got = p.pick(1, &all, 10, Duration::ZERO);
        got.sort_by_key(|b| (b.index, b.begin));
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[2],
            BlockRef {
                index: 1,
                begin: 0,
                length: 100
            }
        );
    }

    #[test]
    fn streaming_window_comes_first_in_order() {
        let mut p = picker(100, BLOCK_SIZE);
        let all = Bitfield::full(100);
        p.add_peer_pieces(&all);
        p.set_window(1, 50..54);
        let got: Vec<u32> = p
            .pick(1, &all, 4, Duration::ZERO)
            .iter()
            .map(|b| b.index)
            .collect();
        assert_eq!(got, vec![50, 51, 52, 53]);
    }

    #[test]
    fn overdue_urgent_blocks_go_to_a_second_peer() {
        let mut p = picker(10, BLOCK_SIZE);
        let all = Bitfield::full(10);
        p.add_peer_pieces(&all);
        p.set_window(1, 0..4);
        assert_eq!(p.pick(1, &all, 1, Duration::ZERO)[0].index, 0);
        // Before the deadline the second peer gets the next piece, not a duplicate.
        assert_eq!(p.pick(2, &all, 1, Duration::from_millis(500))[0].index, 1);
        // After it, the overdue block of piece 0 is requested again from peer 3.
        assert_eq!(p.pick(3, &all, 1, Duration::from_secs(3))[0].index, 0);
    }

    #[test]
    fn before_the_endgame_only_overtaking_duplicates_are_taken() {
        // Two pieces; peer 1 has both, peer 2 only piece 0.
        let mut p = picker(2, BLOCK_SIZE);
        let both = Bitfield::full(2);
        let mut only_first = Bitfield::new(2);
        only_first.set(0);
        assert_eq!(p.pick(1, &only_first, 1, Duration::ZERO).len(), 1);
        // Piece 1 is still free: no endgame, so peer 2 (which lacks it) gets no duplicate.
        assert!(!p.all_requested());
        assert!(p.pick(2, &only_first, 5, Duration::ZERO).is_empty());
        // Only when asked: a block requested of peer 1 is asked of peer 2 too, once.
        let block = BlockRef {
            index: 0,
            begin: 0,
            length: BLOCK_SIZE,
        };
        assert!(p.duplicate(2, &only_first, block));
        assert!(
            !p.duplicate(2, &only_first, block),
            "already asked of peer 2"
        );
        // Never beyond MAX_DUPLICATES, never for a piece the peer lacks or a free block.
        assert!(!p.duplicate(3, &both, block));
        let mut p2 = picker(2, BLOCK_SIZE);
        assert!(
            !p2.duplicate(1, &both, block),
            "a free block is not a duplicate"
        );
        assert!(!p2.duplicate(1, &Bitfield::new(2), BlockRef { index: 1, ..block }));
        // Piece 1 requested too: the endgame, where `pick` duplicates by itself.
        assert_eq!(p.pick(1, &both, 1, Duration::ZERO).len(), 1);
        assert!(p.all_requested());
        assert_eq!(p.pick(3, &both, 5, Duration::ZERO).len(), 1);
    }

    #[test]
    fn endgame_duplicates_are_bounded() {
        let mut p = picker(1, BLOCK_SIZE);
        let all = Bitfield::full(1);
        assert_eq!(p.pick(1, &all, 5, Duration::ZERO).len(), 1);
        assert_eq!(
            p.pick(2, &all, 5, Duration::ZERO).len(),
            1,
            "endgame duplicate"
        );
        assert!(
            p.pick(3, &all, 5, Duration::ZERO).is_empty(),
            "at most MAX_DUPLICATES"
        );
        let outcome = p.on_block(2, 0, 0, &[0; BLOCK_SIZE as usize]);
        assert_eq!(
            outcome,
            BlockOutcome::Accepted {
                cancel: vec![1],
                piece_complete: true
            }
        );
    }

    #[test]
    fn wrong_geometry_and_unrequested_blocks_are_unwanted() {
        let mut p = picker(4, 2 * BLOCK_SIZE);
        let all = Bitfield::full(4);
        let got = p.pick(1, &all, 1, Duration::ZERO);
        let b = got[0];
        assert_eq!(
            p.on_block(1, b.index, b.begin + 1, &[0; 16]),
            BlockOutcome::Unwanted
        );
        assert_eq!(
            p.on_block(1, b.index, b.begin, &[0; 10]),
            BlockOutcome::Unwanted
        );
        assert_eq!(p.on_block(1, 99, 0, &[0; 10]), BlockOutcome::Unwanted);
        let other = (b.index + 1) % 4;
        assert_eq!(
            p.on_block(1, other, 0, &[0; BLOCK_SIZE as usize]),
            BlockOutcome::Unwanted
        );
    }

    #[test]
    fn failed_piece_is_refetched_from_one_peer_only() {
        let mut p = picker(1, 2 * BLOCK_SIZE);
        let all = Bitfield::full(1);
        for b in p.pick(1, &all, 2, Duration::ZERO) {
            p.on_block(1, b.index, b.begin, &vec![0; b.length as usize]);
        }
        assert!(p.take_complete(0).is_some());
        p.mark_failed(0);
        assert_eq!(
            p.pick(2, &all, 1, Duration::ZERO).len(),
            1,
            "peer 2 now owns the retry"
        );
        assert!(
            p.pick(3, &all, 5, Duration::ZERO).is_empty(),
            "no one else may join it"
        );
        p.release_peer(2, true);
        assert_eq!(
            p.pick(3, &all, 5, Duration::ZERO).len(),
            2,
            "opened again when the owner left"
        );
    }

    #[test]
    fn partial_pieces_stay_within_the_memory_budget() {
        let piece = 4 * BLOCK_SIZE;
        let mut p = picker(20, piece);
        p.max_partial_bytes = 3 * piece as u64;
        // Ten peers, each with a piece nobody else has: each would start its own piece.
        for peer in 0..10u32 {
            let mut only = Bitfield::new(20);
            only.set(peer);
            p.add_peer_pieces(&only);
            p.pick(peer as PeerKey, &only, 4, Duration::ZERO);
            assert!(p.partial_bytes() <= p.max_partial_bytes, "peer {peer}");
        }
        assert_eq!(p.partial_count(), 3);
        // A streaming window is the reader's choice and bounded by its size: it still starts.
        let mut piece12 = Bitfield::new(20);
        piece12.set(12);
        p.set_window(1, 12..13);
        assert_eq!(p.pick(12, &piece12, 1, Duration::ZERO).len(), 1);
        assert_eq!(p.partial_count(), 4);
        // Finishing a piece frees its share of the budget.
        let mut only0 = Bitfield::new(20);
        only0.set(0);
        p.release_peer(0, true);
        for b in p.pick(0, &only0, 4, Duration::ZERO) {
            p.on_block(0, b.index, b.begin, &vec![0; b.length as usize]);
        }
        assert!(p.take_complete(0).is_some());
        p.mark_have(0);
        p.clear_window(1);
        assert_eq!(p.partial_bytes(), 3 * piece as u64);
        let mut piece15 = Bitfield::new(20);
        piece15.set(15);
        assert!(
            p.pick(15, &piece15, 1, Duration::ZERO).is_empty(),
            "still full"
        );
    }

    #[test]
    fn interest_follows_what_we_lack() {
        let mut p = picker(9, BLOCK_SIZE);
        let mut theirs = Bitfield::new(9);
        assert!(!p.is_interesting(&theirs));
        theirs.set(8);
        assert!(p.is_interesting(&theirs));
        p.mark_have(8);
        assert!(!p.is_interesting(&theirs));
    }
}
