//! Giving pieces: the request queue, choking, and the transmit path with backpressure.
//!
//! Per-peer bounds: queued requests ≤ `max_peer_requests`; refused requests ≤ as many per
//! tick; queued rejects ≤ [`MAX_PENDING_REJECTS`]; queued bytes ≤
//! [`Torrent::queued_output_bound`]. Past any of them the peer is dropped and penalised; a
//! peer whose output waits untaken for `write_stall_timeout` is dropped as not reading.

use std::time::Duration;

use super::{Event, Torrent};
use crate::engine::peer::{MAX_PENDING_REJECTS, PeerState, Phase, REJECT_LEN};
use crate::engine::{PeerKey, StorageError};
use crate::wire::{BlockRef, Message, encode_piece_header};

use super::receive::Violation;

/// Length prefix, id, index and begin of a block message.
const PIECE_HEADER_LEN: usize = 13;

/// An unchoked peer whose output has waited untaken this long holds its upload slot for
/// nothing: a newly interested peer gets the slot at once, and at a rechoke it counts as not
/// interested. Why: a viewer that closed its tab keeps its connection, and its slot, until
/// the connection times out (~20 s in Chromium, or `write_stall_timeout`), and a newcomer
/// found every slot taken and waited for the next rechoke round (10 s). Traced in
/// bench-stream (seeder at 2 MB/s, a new viewer every ~2.5 s): with 8 departed viewers
/// still connected, a ninth waited 8.8 s for its first frame.
pub const STALLED_SLOT: Duration = Duration::from_secs(2);

impl Torrent {
    pub(super) fn on_request(&mut self, peer: PeerKey, block: BlockRef) -> Result<(), Violation> {
        let limit = self.config.max_peer_requests as usize;
        let piece_size = self
            .meta
            .as_ref()
            .filter(|m| m.picker.have().get(block.index))
            .map(|m| m.picker.piece_size(block.index));
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        let Some(piece_size) = piece_size else {
            // Asking for a piece we never announced: refuse politely when we can.
            return self.refuse(peer, block);
        };
        if block.begin as u64 + block.length as u64 > piece_size as u64 {
            return Err(Violation(format!(
                "request past the end of piece {}",
                block.index
            )));
        }
        if p.am_choking || p.requests.len() >= limit {
            return self.refuse(peer, block);
        }
        p.requests.push_back(block);
        self.storage.prefetch(block.index);
        Ok(())
    }

    /// Refuses a request: counted, then rejected if the peer speaks the fast extension.
    fn refuse(&mut self, peer: PeerKey, block: BlockRef) -> Result<(), Violation> {
        self.count_refusal(peer)?;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.send_reject(block);
        }
        Ok(())
    }

    /// Counts a request that costs us output without being served. A few are normal (a
    /// request crossing our choke); more than `max_peer_requests` in a tick is a flood.
    pub(super) fn count_refusal(&mut self, peer: PeerKey) -> Result<(), Violation> {
        let limit = self.config.max_peer_requests;
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        p.refused_requests += 1;
        if p.refused_requests > limit {
            return Err(Violation("request flood".into()));
        }
        Ok(())
    }

    /// A peer whose answers pile up unread is cut off before they cost more memory: the
    /// queued bytes are bounded by [`Torrent::queued_output_bound`], the queued rejects by
    /// [`MAX_PENDING_REJECTS`] (or twice the request queue, if configured larger).
    pub(super) fn check_output_bounds(&self, peer: PeerKey) -> Result<(), Violation> {
        let Some(p) = self.peers.get(&peer) else {
            return Ok(());
        };
        let rejects = MAX_PENDING_REJECTS.max(2 * self.config.max_peer_requests as usize);
        if p.pending_rejects > rejects {
            return Err(Violation(format!(
                "peer is not reading: {} rejects queued",
                p.pending_rejects
            )));
        }
        if p.out.len() > self.queued_output_bound() {
            return Err(Violation(format!(
                "peer is not reading: {} bytes queued",
                p.out.len()
            )));
        }
        Ok(())
    }

    /// Bytes for `peer`'s transport. Guarantee: at most `budget` bytes, except that a single
    /// block message (13-byte header + block, at most 16 KiB + 13) is returned alone when it
    /// is larger than the whole budget, so a small budget cannot stall uploads; `None` for a
    /// zero budget. Queued control messages go first (split at the budget if need be; the rest
    /// stays queued), then requested blocks read from storage, each only if it fits whole.
    pub fn poll_transmit(&mut self, peer: PeerKey, budget: usize) -> Option<Vec<u8>> {
        let p = self.peers.get_mut(&peer)?;
        if budget == 0 {
            return None;
        }
        p.polled = true;
        let mut out = take_control(p, budget);
        // Blocks only once every control byte is out: they must not overtake a choke.
        while p.out.is_empty() && !p.am_choking {
            let Some(&block) = p.requests.front() else {
                break;
            };
            let size = PIECE_HEADER_LEN + block.length as usize;
            if out.len() + size > budget && !out.is_empty() {
                break;
            }
            p.requests.pop_front();
            let mark = out.len();
            encode_piece_header(block.index, block.begin, block.length, &mut out);
            if let Err(e) =
                self.storage
                    .read_block(block.index, block.begin, block.length, &mut out)
            {
                out.truncate(mark);
                if let StorageError::Pending(_) = e {
                    // Served in order: this block stays first and the peer's output pauses
                    // until the driver calls again with the piece loaded.
                    p.requests.push_front(block);
                    break;
                }
                // Queued, so it goes out next call within that call's budget.
                p.send_reject(block);
                self.events.push_back(Event::StorageError {
                    message: e.to_string(),
                });
                continue;
            }
            p.upload.add(block.length as u64);
            self.stats.uploaded += block.length as u64;
            if out.len() >= budget {
                break;
            }
        }
        if out.is_empty() {
            return None;
        }
        p.sent_total += out.len() as u64;
        Some(out)
    }

    /// Queued protocol messages for `peer` (requests, haves, cancels, rejects…; never a
    /// block), at most `budget` bytes. What a driver sends even while an upload limit holds
    /// blocks back: its own requests must not wait behind the blocks it uploads (see the
    /// session's `transmit`).
    pub fn poll_control(&mut self, peer: PeerKey, budget: usize) -> Option<Vec<u8>> {
        let p = self.peers.get_mut(&peer)?;
        if budget == 0 || p.out.is_empty() {
            return None;
        }
        p.polled = true;
        let out = take_control(p, budget);
        p.sent_total += out.len() as u64;
        Some(out)
    }

    /// Tells storage that the pieces of `blocks` (requests just cancelled, rejected or gone with
    /// their peer, and already out of that peer's queue) need not be loaded any more, except
    /// those some peer's queued request still wants: their load must go on.
    pub(super) fn withdraw_load_hints(&mut self, blocks: &[BlockRef]) {
        let mut pieces: Vec<u32> = blocks.iter().map(|b| b.index).collect();
        pieces.sort_unstable();
        pieces.dedup();
        for index in pieces {
            let wanted = self
                .peers
                .values()
                .any(|p| p.requests.iter().any(|b| b.index == index));
            if !wanted {
                self.storage.unprefetch(index);
            }
        }
    }

    /// The transport has room for `peer` but the driver holds its bytes back for a reason of
    /// its own (an upload limit shared by every peer): the peer counts as reading. Without
    /// this a peer that waits its turn for the bucket would look stalled (`STALLED_SLOT`,
    /// `write_stall_timeout`).
    pub fn note_writable(&mut self, peer: PeerKey) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.polled = true;
        }
    }

    /// True if `peer` has bytes waiting for [`Torrent::poll_transmit`].
    pub fn wants_transmit(&self, peer: PeerKey) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|p| !p.out.is_empty() || (!p.am_choking && !p.requests.is_empty()))
    }

    pub(super) fn set_choke(&mut self, peer: PeerKey, choke: bool) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.am_choking == choke || p.phase != Phase::Active {
            return;
        }
        p.am_choking = choke;
        if choke {
            p.send(&Message::Choke);
            // BEP 6: pending requests of a choked peer are rejected explicitly; without the
            // extension the choke itself cancels them.
            let dropped: Vec<BlockRef> = p.requests.drain(..).collect();
            for b in &dropped {
                p.send_reject(*b);
            }
            self.withdraw_load_hints(&dropped);
        } else {
            p.send(&Message::Unchoke);
        }
    }

    /// A peer just became interested: unchoke it at once if a slot is free, or if a peer
    /// holding one stopped taking its data ([`STALLED_SLOT`]; that one is choked). A peer
    /// that was penalised before waits for a regular rechoke.
    pub(super) fn maybe_unchoke_now(&mut self, peer: PeerKey, now: Duration) {
        if self.peers.get(&peer).is_none_or(|p| p.probation) {
            return;
        }
        let unchoked = self.peers.values().filter(|p| !p.am_choking).count();
        if self.choker.has_free_slot(unchoked, self.is_complete()) {
            self.set_choke(peer, false);
            return;
        }
        let stalled = self
            .peers
            .iter()
            .find(|&(&k, p)| k != peer && !p.am_choking && p.stalled(now, STALLED_SLOT))
            .map(|(&k, _)| k);
        if let Some(stalled) = stalled {
            self.set_choke(stalled, true);
            self.set_choke(peer, false);
        }
    }
}

/// Takes up to `budget` bytes of `p`'s queued protocol messages (split anywhere: the channel
/// is a byte stream).
fn take_control(p: &mut PeerState, budget: usize) -> Vec<u8> {
    let out = if p.out.len() <= budget {
        std::mem::take(&mut p.out)
    } else {
        let rest = p.out.split_off(budget);
        std::mem::replace(&mut p.out, rest)
    };
    // Whatever stays queued holds at most one reject per REJECT_LEN bytes.
    p.pending_rejects = p.pending_rejects.min(p.out.len() / REJECT_LEN);
    out
}
