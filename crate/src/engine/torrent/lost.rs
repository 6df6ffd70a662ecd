//! Pieces that stop being "have": ours when storage loses their bytes (a crash, a cleared
//! or corrupted store, a shared file changed on disk), and a peer's when it says so with
//! BEP 54 `lt_donthave`.
//!
//! Invariant: a piece we cannot serve is never advertised again. Once lost it is missing in
//! the picker (picked again like any other), queued requests for it are refused, and peers
//! that speak `lt_donthave` are told; the others learn from our rejects (BEP 6).

use std::time::Duration;

use super::Torrent;
use crate::engine::PeerKey;
use crate::engine::peer::{PeerPieces, Phase};
use crate::wire::{BlockRef, EXT_HANDSHAKE_ID, Message, encode_donthave, parse_donthave};

use super::receive::Violation;

impl Torrent {
    /// The stored bytes of verified piece `index` are gone or bad: it is downloaded again.
    /// Does nothing for a piece we do not have (or before the metadata is known).
    pub fn lose_piece(&mut self, index: u32, now: Duration) {
        let Some(m) = &mut self.meta else { return };
        if !m.picker.mark_lost(index) {
            return;
        }
        // Complete again later means a new `Completed` for the driver.
        self.completed_announced = false;
        let mut dropped: Vec<BlockRef> = Vec::new();
        for p in self.peers.values_mut() {
            let (gone, keep): (Vec<BlockRef>, Vec<BlockRef>) =
                p.requests.drain(..).partition(|b| b.index == index);
            p.requests = keep.into();
            if p.fast {
                for b in &gone {
                    p.send(&Message::Reject(*b));
                }
            }
            dropped.extend(gone);
            if p.phase == Phase::Active {
                if let Some(id) = p.peer_lt_donthave.filter(|&id| id != EXT_HANDSHAKE_ID) {
                    p.send(&Message::Extended {
                        id,
                        payload: encode_donthave(index),
                    });
                }
            }
        }
        self.withdraw_load_hints(&dropped);
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.update_interest(k);
        }
        self.fill_all_requests(now);
    }

    /// BEP 54: the peer no longer has a piece. Its requests for it are given up (a peer
    /// without the fast extension would never answer them) and availability drops.
    pub(super) fn on_donthave(&mut self, peer: PeerKey, payload: &[u8]) -> Result<(), Violation> {
        let index = parse_donthave(payload)?;
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        match &mut p.pieces {
            PeerPieces::Known(b) => {
                if index >= b.len() {
                    return Err(Violation(format!(
                        "lt_donthave for piece {index} of {}",
                        b.len()
                    )));
                }
                if !b.clear(index) {
                    return Ok(());
                }
            }
            // Before the metadata only single `have`s can be taken back; a raw bitfield
            // or have-all is corrected by the peer's rejects later.
            PeerPieces::Pending { haves, .. } => {
                haves.remove(&index);
                return Ok(());
            }
        }
        let stale = p.cancel_piece(index);
        if let Some(m) = &mut self.meta {
            m.picker.remove_have(index);
            for b in stale {
                m.picker.release(peer, b);
            }
        }
        self.update_interest(peer);
        Ok(())
    }
}
