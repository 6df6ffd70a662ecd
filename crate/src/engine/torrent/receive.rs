//! Bytes in: framing, the handshake, and dispatch of each message. Any protocol violation
//! ends the connection with a one-line reason; nothing a peer sends can panic the engine.

use std::time::Duration;

use super::{Event, Torrent};
use crate::engine::PeerKey;
use crate::engine::bitfield::Bitfield;
use crate::engine::peer::{MAX_ALLOWED_FAST, MAX_PENDING_HAVES, PeerPieces, Phase};
use crate::engine::picker::Picker;
use crate::wire::{
    EXT_HANDSHAKE_ID, ExtendedHandshake, Frame, Handshake, LT_DONTHAVE, LT_DONTHAVE_LOCAL_ID,
    MAX_METADATA_SIZE, Message, UT_METADATA_LOCAL_ID,
};

/// A protocol violation: the connection is closed with this reason.
pub(super) struct Violation(pub String);

impl<T: std::fmt::Display> From<T> for Violation {
    fn from(e: T) -> Self {
        Violation(e.to_string())
    }
}

impl Torrent {
    /// Bytes arrived from `peer`, split anywhere.
    pub fn handle_data(&mut self, peer: PeerKey, bytes: &[u8], now: Duration) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.last_received_at = now;
        p.decoder.push(bytes);
        loop {
            let Some(p) = self.peers.get_mut(&peer) else {
                return;
            };
            let frame = match p.decoder.next() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    self.penalise(peer, format!("protocol error: {e}"), now);
                    return;
                }
            };
            let result = match frame {
                Frame::Handshake(h) => self.on_handshake(peer, h, now),
                Frame::Message(m) => self.on_message(peer, m, now),
            };
            // Checked after every message: one chunk of requests must not queue unbounded
            // answers before the check.
            let result = result.and_then(|()| self.check_output_bounds(peer));
            if let Err(Violation(reason)) = result {
                self.penalise(peer, reason, now);
                return;
            }
        }
        self.fill_requests(peer, now);
    }

    fn on_handshake(
        &mut self,
        peer: PeerKey,
        h: Handshake,
        now: Duration,
    ) -> Result<(), Violation> {
        if h.info_hash != self.info_hash.0 {
            return Err(Violation("handshake for another torrent".into()));
        }
        if h.peer_id == self.config.peer_id {
            return Err(Violation("connected to ourselves".into()));
        }
        // The id is not recorded until the checks pass, so a refused handshake does not
        // extend the penalty.
        if self.penalties.is_banned(&h.peer_id) {
            return Err(Violation("peer is banned".into()));
        }
        if let Some(until) = self.penalties.penalised_until(&h.peer_id, now) {
            let left = until.saturating_sub(now).as_secs().max(1);
            return Err(Violation(format!("peer is penalised for {left} s more")));
        }
        let probation = self.penalties.on_record(&h.peer_id);
        if self
            .peers
            .iter()
            .any(|(&k, p)| k != peer && p.peer_id == Some(h.peer_id))
        {
            return Err(Violation("already connected to this peer id".into()));
        }
        let our_ext_handshake = self.our_ext_handshake();
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        let ours = Handshake::new(self.info_hash.0, self.config.peer_id);
        p.phase = Phase::Active;
        p.peer_id = Some(h.peer_id);
        p.probation = probation;
        p.fast = h.supports_fast() && ours.supports_fast();
        p.extended = h.supports_extensions() && ours.supports_extensions();
        if p.extended {
            p.send(&Message::Extended {
                id: EXT_HANDSHAKE_ID,
                payload: our_ext_handshake.encode(),
            });
        }
        // Our pieces: the bitfield must be the first message after the handshake.
        match self.meta.as_ref().map(|m| m.picker.have()) {
            Some(have) if have.is_full() && p.fast => p.send(&Message::HaveAll),
            Some(have) if have.count() > 0 => p.send(&Message::Bitfield(have.as_bytes().to_vec())),
            _ if p.fast => p.send(&Message::HaveNone),
            _ => {}
        }
        self.events.push_back(Event::PeerReady {
            peer,
            peer_id: h.peer_id,
        });
        Ok(())
    }

    fn on_message(&mut self, peer: PeerKey, msg: Message, now: Duration) -> Result<(), Violation> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        if p.phase != Phase::Active {
            return Err(Violation("message before handshake".into()));
        }
        let fast = p.fast;
        // BEP 3 wants the piece list first, but real clients send the extension handshake
        // before it; what matters is that there is at most one.
        let first = !p.got_bitfield;
        let piece_list = matches!(
            msg,
            Message::Have { .. } | Message::Bitfield(_) | Message::HaveAll
        );
        match msg {
            Message::KeepAlive
            | Message::Port(_)
            | Message::Suggest { .. }
            | Message::Unknown { .. } => {}
            Message::Choke => {
                p.peer_choking = true;
                // Without the fast extension a choke drops every pending request; with it
                // the peer rejects them explicitly, but releasing now lets others serve them.
                let allowed = p.allowed_fast.clone();
                let dropped: Vec<_> = p
                    .outstanding
                    .iter()
                    .filter(|o| !allowed.contains(&o.block.index))
                    .map(|o| o.block)
                    .collect();
                p.outstanding.retain(|o| allowed.contains(&o.block.index));
                if let Some(m) = &mut self.meta {
                    for b in dropped {
                        m.picker.release(peer, b);
                    }
                }
            }
            Message::Unchoke => p.peer_choking = false,
            Message::Interested => {
                p.peer_interested = true;
                self.maybe_unchoke_now(peer, now);
            }
            Message::NotInterested => p.peer_interested = false,
            Message::Have { index } => self.on_have(peer, index)?,
            Message::Bitfield(bytes) => {
                if !first {
                    return Err(Violation("second bitfield".into()));
                }
                self.on_bitfield(peer, bytes)?;
            }
            Message::HaveAll | Message::HaveNone => {
                if !fast {
                    return Err(Violation("have-all/none without the fast extension".into()));
                }
                if !first {
                    return Err(Violation("second piece list (have-all/none)".into()));
                }
                if msg == Message::HaveAll {
                    self.on_have_all(peer)?;
                } else if let Some(p) = self.peers.get_mut(&peer) {
                    p.got_bitfield = true;
                }
            }
            Message::Request(block) => self.on_request(peer, block)?,
            Message::Cancel(block) => {
                p.requests.retain(|b| *b != block);
                self.withdraw_load_hints(&[block]);
            }
            Message::Piece { index, begin, data } => self.on_block(peer, index, begin, data, now),
            Message::Reject(block) => {
                if !fast {
                    return Err(Violation("reject without the fast extension".into()));
                }
                if p.take_outstanding(&block) {
                    if let Some(m) = &mut self.meta {
                        m.picker.release(peer, block);
                    }
                }
            }
            Message::AllowedFast { index } => {
                if !fast {
                    return Err(Violation("allowed-fast without the fast extension".into()));
                }
                if p.allowed_fast.len() < MAX_ALLOWED_FAST {
                    p.allowed_fast.insert(index);
                }
            }
            Message::Extended { id, payload } => self.on_extended(peer, id, &payload, now)?,
        }
        if piece_list {
            self.drop_if_fellow_seed(peer, now);
            self.probe_metadata(peer, now);
        }
        Ok(())
    }

    fn on_have(&mut self, peer: PeerKey, index: u32) -> Result<(), Violation> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        match &mut p.pieces {
            PeerPieces::Known(b) => {
                if index >= b.len() {
                    return Err(Violation(format!("have for piece {index} of {}", b.len())));
                }
                if b.set(index) {
                    if let Some(m) = &mut self.meta {
                        m.picker.add_have(index);
                    }
                }
            }
            PeerPieces::Pending { haves, .. } => {
                if haves.len() >= MAX_PENDING_HAVES {
                    return Err(Violation("too many have messages before metadata".into()));
                }
                haves.insert(index);
            }
        }
        self.update_interest(peer);
        Ok(())
    }

    fn on_bitfield(&mut self, peer: PeerKey, bytes: Vec<u8>) -> Result<(), Violation> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        p.got_bitfield = true;
        match (&mut p.pieces, &mut self.meta) {
            (PeerPieces::Known(old), Some(m)) => {
                let mut b = Bitfield::from_bytes(&bytes, m.picker.num_pieces())?;
                // Haves that came first still stand, and were counted once already.
                for i in old.iter_ones() {
                    b.set(i);
                }
                replace_peer_pieces(&mut m.picker, old, b);
            }
            (PeerPieces::Pending { bitfield, .. }, None) => {
                // Sized later; the codec already capped the length.
                if bytes.len() as u64 > MAX_METADATA_SIZE {
                    return Err(Violation("bitfield too large".into()));
                }
                *bitfield = Some(bytes);
            }
            _ => {}
        }
        self.update_interest(peer);
        Ok(())
    }

    fn on_have_all(&mut self, peer: PeerKey) -> Result<(), Violation> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        p.got_bitfield = true;
        match (&mut p.pieces, &mut self.meta) {
            (PeerPieces::Known(old), Some(m)) => {
                let all = Bitfield::full(m.picker.num_pieces());
                replace_peer_pieces(&mut m.picker, old, all);
            }
            (PeerPieces::Pending { all, .. }, None) => *all = true,
            _ => {}
        }
        self.update_interest(peer);
        Ok(())
    }

    fn on_extended(
        &mut self,
        peer: PeerKey,
        id: u8,
        payload: &[u8],
        now: Duration,
    ) -> Result<(), Violation> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        if !p.extended {
            return Err(Violation(
                "extension message without the extension protocol".into(),
            ));
        }
        match id {
            EXT_HANDSHAKE_ID => {
                let h = ExtendedHandshake::parse(payload)?;
                // BEP 10: `m` in a later handshake is additive. A name with id 0 turns that
                // extension off; a name left out keeps its id. A later handshake may also add
                // `metadata_size` (a peer that got the info after we connected).
                if let Some(&id) = h.m.get("ut_metadata") {
                    p.peer_ut_metadata = (id != 0).then_some(id);
                }
                if let Some(&id) = h.m.get(LT_DONTHAVE) {
                    p.peer_lt_donthave = (id != 0).then_some(id);
                }
                if h.metadata_size.is_some() {
                    p.peer_metadata_size = h.metadata_size;
                }
                if let Some(q) = h.reqq {
                    // max/min rather than clamp: clamp panics if a config ever made min > max.
                    p.peer_reqq = q.max(1).min(self.config.max_pipeline.max(1));
                }
                if h.client.is_some() {
                    p.client = h.client.clone();
                }
                self.on_peer_metadata_support(peer, now);
            }
            UT_METADATA_LOCAL_ID => self.on_metadata_message(peer, payload, now)?,
            LT_DONTHAVE_LOCAL_ID => self.on_donthave(peer, payload)?,
            // Extensions we did not offer (e.g. ut_pex): ignore.
            _ => {}
        }
        Ok(())
    }
}

/// Swaps a peer's piece list for `new`, keeping the picker's availability equal to the sum of
/// the connected peers' pieces (a Have before the Bitfield/HaveAll must not count twice).
fn replace_peer_pieces(picker: &mut Picker, old: &mut Bitfield, new: Bitfield) {
    picker.remove_peer_pieces(old);
    picker.add_peer_pieces(&new);
    *old = new;
}

impl Torrent {
    /// Our extension handshake (BEP 10): the extensions we take and, once we have the info,
    /// its size (BEP 9), so a peer that needs the metadata knows it may ask us for it.
    pub(super) fn our_ext_handshake(&self) -> ExtendedHandshake {
        ExtendedHandshake {
            m: [
                ("ut_metadata".to_string(), UT_METADATA_LOCAL_ID),
                (LT_DONTHAVE.to_string(), LT_DONTHAVE_LOCAL_ID),
            ]
            .into(),
            metadata_size: self.meta.as_ref().map(|m| m.info_bytes.len() as u64),
            reqq: Some(self.config.max_peer_requests),
            client: Some(self.config.client_name.clone()),
            ..Default::default()
        }
    }
}
