//! The `info` dictionary over the wire (BEP 9): fetching it for magnet starts, serving it to
//! others, and switching the torrent on once it is known.

use std::time::Duration;

use super::receive::Violation;
use super::{Event, Meta, Torrent};
use crate::engine::PeerKey;
use crate::engine::bitfield::Bitfield;
use crate::engine::metadata_fetch::Outcome;
use crate::engine::peer::{MAX_LATE_METADATA, PeerPieces, Phase};
use crate::engine::picker::Picker;
use crate::metainfo::Info;
use crate::wire::{EXT_HANDSHAKE_ID, METADATA_PIECE_SIZE, Message, MetadataMsg, WireError};

/// Metadata pieces asked of one peer at a time.
const METADATA_PIPELINE: usize = 2;
/// A peer may ask for the whole metadata this many times over before we stop answering.
const METADATA_REPLY_ALLOWANCE: u32 = 4;
/// A peer that shows pieces but announced no metadata size is asked for it at most this
/// often (a refusal costs it one small message per interval).
const METADATA_PROBE_INTERVAL: Duration = Duration::from_secs(30);

impl Torrent {
    /// Called after a peer's extension handshake: ask it for metadata if we need some.
    pub(super) fn on_peer_metadata_support(&mut self, peer: PeerKey, now: Duration) {
        if self.meta.is_some() {
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let (Some(_), Some(size)) = (p.peer_ut_metadata, p.peer_metadata_size) else {
            // It no longer offers metadata (a second extension handshake).
            p.metadata_requests.clear();
            self.metadata_fetch.remove_source(peer);
            return;
        };
        match self.metadata_fetch.add_source(peer, size, now) {
            Ok(changed) => {
                if changed {
                    // Requests for a size it no longer announces were dropped with it.
                    p.metadata_requests.clear();
                }
                self.request_metadata(peer, now);
            }
            Err(e) => self.disconnect(peer, e.to_string()),
        }
    }

    /// `peer` announced no metadata size yet shows pieces, which it cannot hold without the
    /// info: it got the metadata after its extension handshake. WebTorrent never sends a
    /// second handshake, so, as libtorrent does, ask it for piece 0: the reply's
    /// `total_size` is the size it would have announced.
    pub(super) fn probe_metadata(&mut self, peer: PeerKey, now: Duration) {
        if self.meta.is_some() {
            return;
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(their_id) = p.peer_ut_metadata else {
            return;
        };
        let recent = p
            .metadata_probe_at
            .is_some_and(|at| now.saturating_sub(at) < METADATA_PROBE_INTERVAL);
        if p.peer_metadata_size.is_some() || p.metadata_probing || recent || !p.shows_pieces() {
            return;
        }
        p.metadata_probing = true;
        p.metadata_probe_at = Some(now);
        p.send(&Message::Extended {
            id: their_id,
            payload: MetadataMsg::Request { piece: 0 }.encode(),
        });
    }

    fn request_metadata(&mut self, peer: PeerKey, now: Duration) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        let Some(their_id) = p.peer_ut_metadata else {
            return;
        };
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

    fn request_metadata_from_all(&mut self, now: Duration) {
        if self.meta.is_some() {
            return;
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.request_metadata(k, now);
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
                if let Some(p) = self.peers.get_mut(&peer)
                    && p.metadata_probing
                    && piece == 0
                {
                    // It has no metadata to give after all; asked again after an interval.
                    p.metadata_probing = false;
                    return Ok(());
                }
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.metadata_requests.retain(|(x, _)| *x != piece);
                }
                // It is asked again after a back-off; others may take the piece now.
                self.metadata_fetch.on_reject(peer, piece, now);
                self.request_metadata_from_all(now);
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
                if p.metadata_probing && piece == 0 {
                    // The answer to a probe: its size as if announced. The bytes are fetched
                    // again like any source's, so the size checks and blame stay in one place.
                    p.metadata_probing = false;
                    if p.peer_metadata_size.is_none() {
                        p.peer_metadata_size = Some(total_size);
                        self.on_peer_metadata_support(peer, now);
                    }
                    return Ok(());
                }
                let Some(pos) = p.metadata_requests.iter().position(|(x, _)| *x == piece) else {
                    if let Some(late) = p.metadata_late.iter().position(|x| *x == piece) {
                        // The answer to a request that timed out: slow, not hostile.
                        p.metadata_late.swap_remove(late);
                        return Ok(());
                    }
                    return Err(Violation(format!("unrequested metadata piece {piece}")));
                };
                p.metadata_requests.swap_remove(pos);
                match self
                    .metadata_fetch
                    .on_data(peer, piece, total_size, &data, now)?
                {
                    Outcome::Pending => self.request_metadata(peer, now),
                    Outcome::Verified { bytes, liars } => {
                        for liar in liars {
                            self.ban(liar, "sent metadata that differs from the verified copy");
                        }
                        self.metadata_verified(bytes, now);
                    }
                    Outcome::Failed { size, give_up } => {
                        for k in give_up {
                            self.disconnect(
                                k,
                                format!("its {size}-byte metadata keeps failing the info hash"),
                            );
                        }
                        self.request_metadata_from_all(now);
                    }
                }
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

    /// Installs metadata whose SHA-1 matched the info hash.
    fn metadata_verified(&mut self, bytes: Vec<u8>, now: Duration) {
        match Info::from_bytes(&bytes) {
            Ok(info) => {
                match self.storage.metadata_ready(&info, &bytes) {
                    // Checked against the piece count by install_metadata.
                    Ok(have) => self.initial_have = have,
                    Err(e) => self.events.push_back(Event::StorageError {
                        message: e.to_string(),
                    }),
                }
                self.install_metadata(info, bytes);
                self.announce_metadata_size();
                self.events.push_back(Event::MetadataReady);
                if self.is_complete() {
                    // Everything was already in storage: nothing will verify later to say so.
                    self.events.push_back(Event::Completed);
                    self.drop_fellow_seeds(now);
                }
                // Requests wait for the driver's windows (or `handle_timeout`, due at once).
                self.first_requests_due = true;
                self.timeout_now = Some(now);
            }
            // The magnet names bytes that are not a valid info dictionary: every sender was
            // truthful, and there is nothing to download.
            Err(e) => self.events.push_back(Event::StorageError {
                message: format!("the metadata matching the info hash is invalid: {e}"),
            }),
        }
    }

    /// Our first extension handshake said nothing of the metadata: we had none. Peers that
    /// connected meanwhile and still lack it would never ask us (WebTorrent and our own
    /// engine fetch only from peers that announced `metadata_size`), so a later handshake
    /// (BEP 10 allows one) now tells them its size. Peers that announced a size have it.
    fn announce_metadata_size(&mut self) {
        let payload = self.our_ext_handshake().encode();
        for p in self.peers.values_mut() {
            if p.phase == Phase::Active && p.extended && p.peer_metadata_size.is_none() {
                p.send(&Message::Extended {
                    id: EXT_HANDSHAKE_ID,
                    payload: payload.clone(),
                });
            }
        }
    }

    pub(super) fn expire_metadata_requests(&mut self, now: Duration) {
        if self.meta.is_some() {
            return;
        }
        let timeout = self.config.metadata_request_timeout;
        self.metadata_fetch.expire(now, timeout);
        // Every peer's list, not only the slow ones: a request whose slot went elsewhere
        // (a size dropped, a copy checked) must not hold a pipeline place forever.
        for p in self.peers.values_mut() {
            let late = &mut p.metadata_late;
            if p.metadata_probing
                && p.metadata_probe_at
                    .is_some_and(|at| now.saturating_sub(at) >= timeout)
            {
                p.metadata_probing = false;
                if late.len() == MAX_LATE_METADATA {
                    late.remove(0);
                }
                late.push(0);
            }
            p.metadata_requests.retain(|&(piece, at)| {
                let fresh = now.saturating_sub(at) < timeout;
                if !fresh {
                    if late.len() == MAX_LATE_METADATA {
                        late.remove(0);
                    }
                    late.push(piece);
                }
                fresh
            });
        }
        self.request_metadata_from_all(now);
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
