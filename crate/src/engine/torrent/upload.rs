//! Giving pieces: the request queue, choking, and the transmit path with backpressure.

use super::{Event, Torrent};
use crate::engine::peer::Phase;
use crate::engine::{PeerKey, StorageError};
use crate::wire::{BlockRef, Message, encode_piece_header};

use super::receive::Violation;

impl Torrent {
    pub(super) fn on_request(&mut self, peer: PeerKey, block: BlockRef) -> Result<(), Violation> {
        let limit = self.config.max_peer_requests as usize;
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        let piece_size = self
            .meta
            .as_ref()
            .filter(|m| m.picker.have().get(block.index))
            .map(|m| m.picker.piece_size(block.index));
        let Some(piece_size) = piece_size else {
            // Asking for a piece we never announced: refuse politely when we can.
            if p.fast {
                p.send(&Message::Reject(block));
            }
            return Ok(());
        };
        if block.begin as u64 + block.length as u64 > piece_size as u64 {
            return Err(Violation(format!(
                "request past the end of piece {}",
                block.index
            )));
        }
        if p.am_choking || p.requests.len() >= limit {
            // A few refusals are normal (a request crossing our choke); a stream of them is not.
            p.refused_requests += 1;
            if p.refused_requests as usize > limit {
                return Err(Violation("request flood".into()));
            }
            if p.fast {
                p.send(&Message::Reject(block));
            }
            return Ok(());
        }
        p.requests.push_back(block);
        self.storage.prefetch(block.index);
        Ok(())
    }

    /// Bytes for `peer`'s transport, at most about `budget` of them (one block may overshoot).
    /// Queued control messages go first, then requested blocks read from storage.
    pub fn poll_transmit(&mut self, peer: PeerKey, budget: usize) -> Option<Vec<u8>> {
        let p = self.peers.get_mut(&peer)?;
        let mut out = std::mem::take(&mut p.out);
        while out.len() < budget && !p.am_choking {
            let Some(block) = p.requests.pop_front() else {
                break;
            };
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
                if p.fast {
                    Message::Reject(block).encode_into(&mut out);
                }
                self.events.push_back(Event::StorageError {
                    message: e.to_string(),
                });
                continue;
            }
            p.upload.add(block.length as u64);
            self.stats.uploaded += block.length as u64;
        }
        if out.is_empty() {
            return None;
        }
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
            if p.fast {
                for b in &dropped {
                    p.send(&Message::Reject(*b));
                }
            }
            self.withdraw_load_hints(&dropped);
        } else {
            p.send(&Message::Unchoke);
        }
    }

    /// A peer just became interested: unchoke it at once if a slot is free.
    pub(super) fn maybe_unchoke_now(&mut self, peer: PeerKey) {
        let unchoked = self.peers.values().filter(|p| !p.am_choking).count();
        if self.choker.has_free_slot(unchoked) {
            self.set_choke(peer, false);
        }
    }
}
