//! Getting pieces: interest, request pipelines, block arrival, verification, strikes and bans.

use std::time::Duration;

use sha1::{Digest, Sha1};

use super::{Event, Torrent};
use crate::engine::PeerKey;
use crate::engine::bitfield::Bitfield;
use crate::engine::peer::{OVERTAKE_CHECK_EVERY, Outstanding, Phase};
use crate::engine::picker::{BlockOutcome, BlockState};
use crate::wire::{BLOCK_SIZE, BlockRef, Message};

/// Before the endgame, a block waiting on one peer is asked of another only if that one would
/// deliver it this many times sooner. Measured in `make bench-swarm` (session simulator, 8
/// seeds of each scenario, × T*): asking for every such block, as the endgame does, kept
/// upload-limited leechers busy but threw away 0.13–0.34 copies of the content (both copies
/// arrived) — 1.04–1.08 (1 seeder, 4 leechers), 1.05–1.11 (8 leechers), 0.99 (seeder-bound);
/// never before the endgame: 1.05–1.11, 1.03–1.06, 1.11–1.31 (the slow seeder's queue no
/// longer moved to fast leechers); with this rule at 2: 1.01–1.05, 1.04–1.09, 0.99, and
/// 0.09–0.21 copies thrown away.
pub const OVERTAKE_FACTOR: f64 = 2.0;

impl Torrent {
    /// Sends interested / not interested when the peer's usefulness to us changed.
    ///
    /// Before the metadata, a peer that shows any piece is interesting (we can have none
    /// yet): saying so now lets it unchoke us while the metadata is still on its way, so the
    /// first piece requests leave with the metadata's arrival instead of one round trip
    /// (interested → unchoke) later. The metadata's arrival corrects this per peer.
    pub(super) fn update_interest(&mut self, peer: PeerKey) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let want = match (&self.meta, p.known_pieces()) {
            (Some(m), Some(theirs)) => m.picker.is_interesting(theirs),
            (None, _) => p.shows_pieces(),
            (Some(_), None) => return,
        };
        if want != p.am_interested {
            p.am_interested = want;
            p.send(if want {
                &Message::Interested
            } else {
                &Message::NotInterested
            });
        }
    }

    /// Requests enough blocks to cover `request_queue_time` at the peer's measured rate
    /// (`initial_pipeline` at least while none is measured).
    fn pipeline_target(&self, peer: PeerKey) -> u32 {
        let Some(p) = self.peers.get(&peer) else {
            return 0;
        };
        if p.snubbed {
            return 1;
        }
        let per_block = BLOCK_SIZE as f64;
        let wanted = (p.download.rate() * self.config.request_queue_time.as_secs_f64() / per_block)
            .ceil() as u32;
        // The peer's `reqq` caps everything, even our minimum: a peer may ask for fewer than
        // `min_pipeline` requests in flight (and clamp would panic if min > max).
        let max = self.config.max_pipeline.min(p.peer_reqq).max(1);
        let min = if p.download.rate() > 0.0 {
            self.config.min_pipeline
        } else {
            self.config.initial_pipeline.max(self.config.min_pipeline)
        };
        wanted.clamp(min.min(max), max)
    }

    /// Whether the requests in flight to `peer` keep it sending for at least `span` at its
    /// measured download rate, so a new request may wait that long without the peer running
    /// dry. False while no rate is measured (a connection's first second): the pipeline is
    /// then the configured minimum whatever the link can carry.
    pub fn pipeline_covers(&self, peer: PeerKey, span: Duration) -> bool {
        let Some(p) = self.peers.get(&peer) else {
            return false;
        };
        let rate = p.download.rate();
        let in_flight: u64 = p
            .outstanding
            .iter()
            .map(|o| u64::from(o.block.length))
            .sum();
        rate > 0.0 && in_flight as f64 >= rate * span.as_secs_f64()
    }

    /// Tops up the request pipeline to `peer`.
    pub(super) fn fill_requests(&mut self, peer: PeerKey, now: Duration) {
        if self.first_requests_due {
            // The driver has yet to place its streaming windows.
            return;
        }
        let target = self.pipeline_target(peer) as usize;
        let Some(m) = &mut self.meta else { return };
        // Storage is behind: requests in flight finish, and new ones go out only for the
        // streaming windows. A viewer that seeks while its store catches up must not wait for
        // the store (traced: 100-200 ms of a seek with ~4 MB unsaved); the windows bound what
        // this adds to memory, as they do past `max_partial_bytes`.
        let held = self.downloads_held;
        if held && !m.picker.has_windows() {
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.phase != Phase::Active || !p.am_interested || p.outstanding.len() >= target {
            return;
        }
        let Some(theirs) = p.known_pieces() else {
            return;
        };
        let allowed;
        let offered = if p.peer_choking {
            // Choked: only pieces the peer allowed us to fetch anyway (BEP 6).
            if p.allowed_fast.is_empty() {
                return;
            }
            let mut fast = Bitfield::new(theirs.len());
            for &i in &p.allowed_fast {
                if theirs.get(i) {
                    fast.set(i);
                }
            }
            allowed = fast;
            &allowed
        } else {
            theirs
        };
        let wanted = target - p.outstanding.len();
        let blocks = if held {
            m.picker.pick_in_windows(peer, offered, wanted, now)
        } else {
            m.picker.pick(peer, offered, wanted, now)
        };
        let due = p
            .overtake_checked_at
            .is_none_or(|at| now >= at + OVERTAKE_CHECK_EVERY);
        let blocks = if blocks.is_empty() && !p.peer_choking && !held && due {
            p.overtake_checked_at = Some(now);
            self.pick_overtaking(peer, target)
        } else {
            blocks
        };
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        for block in blocks {
            p.outstanding.push(Outstanding {
                block,
                sent_at: now,
            });
            p.send(&Message::Request(block));
        }
    }

    /// Blocks already requested from others that `peer` (which has nothing new for us) would
    /// deliver in well under the time they still have to wait ([`OVERTAKE_FACTOR`]): a
    /// block's wait at a peer is its place in our queue there over that peer's rate; at
    /// `peer`, the requests already queued before it. Latest first: `peer` takes the tails of
    /// slow queues, not the heads, which are about to be sent anyway (both copies would
    /// arrive: the first leaves before our cancel reaches it). The first copy to arrive
    /// cancels the other. `target`: `peer`'s pipeline target, as `fill_requests` computed it.
    fn pick_overtaking(&mut self, peer: PeerKey, target: usize) -> Vec<BlockRef> {
        // Disjoint fields: the peers are read while the picker is written.
        let (Some(m), Some(p)) = (&mut self.meta, self.peers.get(&peer)) else {
            return Vec::new();
        };
        // In the endgame proper `pick` has duplicated already; a full pipeline wants nothing.
        if m.picker.all_requested() || p.outstanding.len() >= target {
            return Vec::new();
        }
        let Some(theirs) = p.known_pieces() else {
            return Vec::new();
        };
        let block = f64::from(BLOCK_SIZE);
        // How long a request sent now would wait behind ours already queued there (nothing
        // queued: no wait; its rate so far says little, since it only sends what it has).
        let rate = p.download.rate();
        let mine = if p.outstanding.is_empty() {
            0.0
        } else if rate > 0.0 {
            p.outstanding.len() as f64 * block / rate
        } else {
            return Vec::new();
        };
        // Every other peer's queue: when each block requested there should arrive, if later
        // than `peer` could deliver it.
        let mut waiting: Vec<(f64, BlockRef)> = Vec::new();
        for (&k, q) in &self.peers {
            if k == peer {
                continue;
            }
            let r = q.download.rate();
            for (i, o) in q.outstanding.iter().enumerate() {
                let at = if r > 0.0 {
                    (i + 1) as f64 * block / r
                } else {
                    f64::INFINITY
                };
                if at > mine * OVERTAKE_FACTOR {
                    waiting.push((at, o.block));
                }
            }
        }
        waiting.sort_by(|a, b| b.0.total_cmp(&a.0));
        let count = target - p.outstanding.len();
        let mut out = Vec::new();
        for (_, b) in waiting {
            if out.len() >= count {
                break;
            }
            if m.picker.duplicate(peer, theirs, b) {
                out.push(b);
            }
        }
        out
    }

    /// Cancels every outstanding request for a piece outside the streaming windows. Blocks
    /// already on their way are still accepted if they arrive (as late arrivals).
    pub(super) fn cancel_requests_outside_windows(&mut self) {
        let Some(m) = &mut self.meta else { return };
        for (&k, p) in &mut self.peers {
            let (keep, stale): (Vec<Outstanding>, Vec<Outstanding>) = p
                .outstanding
                .iter()
                .partition(|o| m.picker.in_window(o.block.index));
            for o in stale {
                m.picker.release(k, o.block);
                Message::Cancel(o.block).encode_into(&mut p.out);
            }
            p.outstanding = keep;
        }
    }

    pub(super) fn fill_all_requests(&mut self, now: Duration) {
        self.first_requests_due = false;
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.fill_requests(k, now);
        }
    }

    pub(super) fn on_block(
        &mut self,
        peer: PeerKey,
        index: u32,
        begin: u32,
        data: Vec<u8>,
        now: Duration,
    ) {
        let Some(m) = &mut self.meta else { return };
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let block = BlockRef {
            index,
            begin,
            length: data.len() as u32,
        };
        let requested = p.take_outstanding(&block);
        p.last_block_at = now;
        p.snubbed = false;
        p.download.add(data.len() as u64);
        match m.picker.on_block(peer, index, begin, &data) {
            BlockOutcome::Unwanted => {
                // Duplicates that lost an endgame race are expected; unrequested data is not.
                self.stats.wasted += data.len() as u64;
                let _ = requested;
            }
            BlockOutcome::Accepted {
                cancel,
                piece_complete,
            } => {
                self.stats.downloaded += data.len() as u64;
                for other in cancel {
                    if let Some(o) = self.peers.get_mut(&other) {
                        if o.take_outstanding(&block) {
                            o.send(&Message::Cancel(block));
                        }
                    }
                }
                if piece_complete {
                    self.verify_piece(index, now);
                }
            }
        }
    }

    /// A piece is complete: hashed by the driver (see `hashing.rs`) or here.
    fn verify_piece(&mut self, index: u32, now: Duration) {
        if !self.request_hash(index, now) {
            self.hash_inline(index, now);
        }
    }

    /// Decides complete piece `index` by its SHA-1 `actual`: on a match stores it and tells
    /// every peer, otherwise puts the blame where it can be proven.
    pub(super) fn check_piece(&mut self, index: u32, actual: [u8; 20], now: Duration) {
        let Some(m) = &mut self.meta else { return };
        let Some(partial) = m.picker.take_complete(index) else {
            return;
        };
        let expected = m.info.piece_hash(index).copied();
        if Some(actual) != expected {
            m.picker.mark_failed(index);
            self.stats.downloaded = self
                .stats
                .downloaded
                .saturating_sub(partial.data.len() as u64);
            self.stats.wasted += partial.data.len() as u64;
            self.events.push_back(Event::PieceFailed { index });
            let contributors = partial.contributors();
            if let [only] = contributors[..] {
                self.strike(only);
            } else {
                // Remember who sent what; the good copy will tell which blocks were bad.
                let evidence = block_hashes(&partial.data, &partial.blocks);
                self.suspects.insert(index, evidence);
            }
            self.fill_all_requests(now);
            return;
        }
        if let Err(e) = self.storage.write_piece(index, &partial.data) {
            // Not stored: fetch it again later rather than advertise what we cannot serve.
            m.picker.mark_failed(index);
            self.events.push_back(Event::StorageError {
                message: format!("piece {index}: {e}"),
            });
            return;
        }
        self.store_verified(index, &partial.data, now);
    }

    /// A piece passed its hash check and is in storage (from peers or a web seed): mark it,
    /// settle earlier suspicions with the good copy, and tell the peers.
    pub(super) fn store_verified(&mut self, index: u32, data: &[u8], now: Duration) {
        let Some(m) = &mut self.meta else { return };
        m.picker.mark_have(index);
        self.events.push_back(Event::PieceVerified { index });
        // Requests still out for it (a web seed finished it first) are withdrawn.
        for p in self.peers.values_mut() {
            p.cancel_piece(index);
        }
        if let Some(evidence) = self.suspects.remove(&index) {
            let good = data
                .chunks(BLOCK_SIZE as usize)
                .map(|c| Sha1::digest(c).into());
            for ((sender, bad), ok) in evidence.iter().zip(good) {
                let ok: [u8; 20] = ok;
                if *bad != ok && self.peers.contains_key(sender) {
                    self.ban(*sender, format!("sent a corrupt block of piece {index}"));
                }
            }
        }
        self.announce_piece(index);
        if self.is_complete() && !self.completed_announced {
            self.completed_announced = true;
            self.events.push_back(Event::Completed);
            self.drop_fellow_seeds(now);
        }
    }

    fn strike(&mut self, peer: PeerKey) {
        let limit = self.config.ban_after_hash_failures;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.hash_failures += 1;
        if p.hash_failures >= limit {
            let n = p.hash_failures;
            self.ban(peer, format!("{n} pieces failed verification"));
        }
    }

    /// Tells peers about a new piece, and drops interest in peers with nothing left for us.
    fn announce_piece(&mut self, index: u32) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            let Some(p) = self.peers.get_mut(&k) else {
                continue;
            };
            if p.phase != Phase::Active {
                continue;
            }
            let has_it = p.known_pieces().is_some_and(|b| b.get(index));
            if !has_it {
                p.send(&Message::Have { index });
            }
            if has_it && p.am_interested {
                self.update_interest(k);
            }
        }
    }
}

/// Per received block: who sent it and the SHA-1 of its bytes.
fn block_hashes(data: &[u8], blocks: &[BlockState]) -> Vec<(PeerKey, [u8; 20])> {
    data.chunks(BLOCK_SIZE as usize)
        .zip(blocks)
        .map(|(chunk, state)| {
            let from = match state {
                BlockState::Received { from } => *from,
                _ => PeerKey::MAX,
            };
            (from, Sha1::digest(chunk).into())
        })
        .collect()
}
