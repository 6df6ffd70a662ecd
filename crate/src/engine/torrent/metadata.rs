//! The `info` dictionary over the wire (BEP 9): fetching it for magnet starts, serving it to
//! others, and switching the torrent on once it is known.

use std::time::Duration;

use sha1::{Digest, Sha1};

use super::receive::Violation;
use super::{Event, Meta, Torrent};
use crate::engine::PeerKey;
use crate::engine::bitfield::Bitfield;
use crate::engine::peer::PeerPieces;
use crate::engine::picker::Picker;
use crate::metainfo::Info;
use crate::wire::{METADATA_PIECE_SIZE, Message, MetadataMsg, WireError};

/// Metadata pieces asked of one peer at a time.
const METADATA_PIPELINE: usize = 2;
/// A peer may ask for the whole metadata this many times over before we stop answering.
const METADATA_REPLY_ALLOWANCE: u32 = 4;

impl Torrent {
    /// Called after a peer's extension handshake: ask it for metadata if we need some.
    pub(super) fn on_peer_metadata_support(&mut self, peer: PeerKey, now: Duration) {
        if self.meta.is_some() {
            return;
        }
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let (Some(_), Some(size)) = (p.peer_ut_metadata, p.peer_metadata_size) else {
            return;
        };
        match self.metadata_fetch.offer_size(size) {
            Ok(true) => self.request_metadata(peer, now),
            Ok(false) => {}
            Err(e) => self.disconnect(peer, e.to_string()),
        }
    }

    fn request_metadata(&mut self, peer: PeerKey, now: Duration) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(their_id) = p.peer_ut_metadata else {
            return;
        };
        if p.peer_metadata_size != self.metadata_fetch.size() {
            return;
        }
        while p.metadata_requests.len() < METADATA_PIPELINE {
            let Some(piece) = self.metadata_fetch.next_request(peer, now) else {
                break;
            };
            p.metadata_requests.push((piece, now));
            p.send(&Message::Extended {
                id: their_id,
                payload: MetadataMsg::Request { piece }.encode(),
            });
        }
    }

    pub(super) fn on_metadata_message(
        &mut self,
        peer: PeerKey,
        payload: &[u8],
        now: Duration,
    ) -> Result<(), Violation> {
        let msg = match MetadataMsg::parse(payload) {
            Ok(msg) => msg,
            // BEP 9: message types we do not know are ignored, not fatal.
            Err(WireError::UnknownMetadataMsgType { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match msg {
            MetadataMsg::Request { piece } => {
                // Each answer (data or reject) costs output: it counts like a refused request.
                self.count_refusal(peer)?;
                self.serve_metadata(peer, piece);
            }
            MetadataMsg::Reject { piece } => {
                self.metadata_fetch.release(peer, Some(piece));
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.metadata_requests.retain(|(x, _)| *x != piece);
                    // It refused once; do not ask it again right away.
                    p.peer_ut_metadata = None;
                }
            }
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
                if self.meta.is_some() {
                    return Ok(());
                }
                let Some(p) = self.peers.get_mut(&peer) else {
                    return Ok(());
                };
                let Some(pos) = p.metadata_requests.iter().position(|(x, _)| *x == piece) else {
                    return Err(Violation(format!("unrequested metadata piece {piece}")));
                };
                p.metadata_requests.swap_remove(pos);
                if let Some(whole) = self
                    .metadata_fetch
                    .on_data(peer, piece, total_size, &data)?
                {
                    self.metadata_complete(whole, now);
                }
                self.request_metadata(peer, now);
            }
        }
        Ok(())
    }

    fn serve_metadata(&mut self, peer: PeerKey, piece: u32) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(their_id) = p.peer_ut_metadata else {
            return;
        };
        let reply = match &self.meta {
            Some(m) => {
                let total = m.info_bytes.len();
                let pieces = total.div_ceil(METADATA_PIECE_SIZE as usize) as u32;
                let start = piece as usize * METADATA_PIECE_SIZE as usize;
                if piece < pieces && p.metadata_replies_sent < pieces * METADATA_REPLY_ALLOWANCE {
                    p.metadata_replies_sent += 1;
                    let end = (start + METADATA_PIECE_SIZE as usize).min(total);
                    MetadataMsg::Data {
                        piece,
                        total_size: total as u64,
                        data: m.info_bytes[start..end].to_vec(),
                    }
                } else {
                    MetadataMsg::Reject { piece }
                }
            }
            None => MetadataMsg::Reject { piece },
        };
        p.send(&Message::Extended {
            id: their_id,
            payload: reply.encode(),
        });
    }

    fn metadata_complete(&mut self, bytes: Vec<u8>, now: Duration) {
        let hash: [u8; 20] = Sha1::digest(&bytes).into();
        let parsed = if hash == self.info_hash.0 {
            Info::from_bytes(&bytes).map_err(|e| e.to_string())
        } else {
            Err("metadata does not match the info hash".to_string())
        };
        match parsed {
            Ok(info) => {
                self.install_metadata(info, bytes);
                self.events.push_back(Event::MetadataReady);
                self.fill_all_requests(now);
            }
            Err(reason) => {
                // Whoever sent pieces of a bad copy lied about the torrent.
                for peer in self.metadata_fetch.contributors() {
                    self.ban(peer, format!("bad metadata: {reason}"));
                }
                self.metadata_fetch.reset();
                let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
                for k in keys {
                    self.on_peer_metadata_support(k, now);
                }
            }
        }
    }

    pub(super) fn expire_metadata_requests(&mut self, now: Duration) {
        if self.meta.is_some() {
            return;
        }
        let timeout = self.config.metadata_request_timeout;
        for slow in self.metadata_fetch.expire(now, timeout) {
            if let Some(p) = self.peers.get_mut(&slow) {
                p.metadata_requests
                    .retain(|(_, at)| now.saturating_sub(*at) < timeout);
            }
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.request_metadata(k, now);
        }
    }

    /// Switches the torrent on: sizes every peer's piece list now that the count is known.
    pub(super) fn install_metadata(&mut self, info: Info, info_bytes: Vec<u8>) {
        let n = info.num_pieces();
        let have = match self.initial_have.take() {
            Some(b) if b.len() == n => b,
            _ => Bitfield::new(n),
        };
        let total = info.total_length;
        let mut picker = Picker::new(n, info.piece_length, total, have, &mut self.rng);
        picker.stream_deadline = self.config.stream_deadline;
        picker.max_partial_bytes = self.config.max_partial_bytes;
        self.completed_announced = picker.is_complete();
        self.meta = Some(Meta {
            info,
            info_bytes,
            picker,
        });
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            if let Err(reason) = self.size_peer_pieces(k, n) {
                self.disconnect(k, reason);
                continue;
            }
            self.update_interest(k);
        }
    }

    /// Turns what a peer announced before the metadata into a checked bitfield.
    fn size_peer_pieces(&mut self, peer: PeerKey, n: u32) -> Result<(), String> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        let PeerPieces::Pending {
            bitfield,
            all,
            haves,
        } = &mut p.pieces
        else {
            return Ok(());
        };
        let mut b = match (bitfield.take(), *all) {
            (_, true) => Bitfield::full(n),
            (Some(bytes), false) => Bitfield::from_bytes(&bytes, n).map_err(|e| e.to_string())?,
            (None, false) => Bitfield::new(n),
        };
        for &i in haves.iter() {
            if i >= n {
                return Err(format!("have for piece {i} of {n}"));
            }
            b.set(i);
        }
        if let Some(m) = &mut self.meta {
            m.picker.add_peer_pieces(&b);
        }
        p.pieces = PeerPieces::Known(b);
        Ok(())
    }
}
