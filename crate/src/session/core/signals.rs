//! WebTorrent signaling: offers relayed to us (we answer), answers to our offers, and the
//! SDP the driver produced for either.
//!
//! A tracker is trusted only with the torrents announced on it: offers and answers it
//! relays for any other torrent, from ourselves, or from a peer the engine refuses are
//! ignored (counted, never answered). See `session::trackers`.

use std::time::Duration;

use super::peers::{CONNECT_TIMEOUT, Conn};
use super::{ConnId, Output, Session};
use crate::session::pairing::Origin;
use crate::session::tracker_proto::{Id20, IdBytes as Id, request_build};
use crate::session::trackers::{TorrentId, TrackerId};

/// A relayed offer or answer.
#[derive(Debug)]
pub(super) struct Signal {
    pub info_hash: TorrentId,
    pub remote: Id,
    pub offer_id: Id,
    pub sdp: String,
}

impl Session {
    /// Whether tracker `tracker` may signal for `info_hash` on behalf of `remote`: the
    /// torrent must be announced there and the peer acceptable to it.
    fn check_signal(
        &self,
        tracker: TrackerId,
        s: &Signal,
        now: Duration,
    ) -> Result<(), &'static str> {
        if !self.trackers.serves(tracker, &s.info_hash) {
            return Err("its torrent is not announced on that tracker");
        }
        let swarm = self.torrents.get(&s.info_hash).ok_or("no such torrent")?;
        if swarm.held {
            return Err("its torrent is held (storage opening)");
        }
        swarm.admit(&s.remote, &self.config.peer_id, now)
    }

    fn ignore_signal(&mut self, kind: &'static str, reason: &'static str) {
        self.ignored_signals = self.ignored_signals.saturating_add(1);
        self.last_ignored = Some((kind, reason));
    }

    pub(super) fn on_offer(&mut self, tracker: TrackerId, s: Signal, now: Duration) {
        if let Err(reason) = self.check_signal(tracker, &s, now) {
            return self.ignore_signal("offer", reason);
        }
        let max_peers = self.config.max_peers;
        if !self
            .torrents
            .get(&s.info_hash)
            .is_some_and(|swarm| swarm.has_room(max_peers))
        {
            return self.ignore_signal("offer", "no room for another peer");
        }
        let conn = self.next_conn_id();
        let Some(swarm) = self.torrents.get_mut(&s.info_hash) else {
            return;
        };
        let c = Conn::new(
            tracker,
            Origin::Theirs(s.offer_id),
            Some(s.remote),
            now + CONNECT_TIMEOUT,
        );
        swarm.insert(conn, c, &mut self.outputs);
        self.outputs
            .push_back(Output::AcceptOffer { conn, sdp: s.sdp });
    }

    /// Refused answers leave the offer pending: another peer may still answer it.
    pub(super) fn on_answer(&mut self, tracker: TrackerId, s: Signal, now: Duration) {
        if let Err(reason) = self.check_signal(tracker, &s, now) {
            return self.ignore_signal("answer", reason);
        }
        let max_peers = self.config.max_peers;
        let Some(swarm) = self.torrents.get_mut(&s.info_hash) else {
            return;
        };
        if swarm.offer_key(&s.offer_id, tracker).is_none() {
            return self.ignore_signal("answer", "not to an offer sent there");
        }
        if !swarm.has_room(max_peers) {
            // Offers answered meanwhile filled the torrent; this offer expires unused.
            return self.ignore_signal("answer", "no room for another peer");
        }
        let Some(conn) = swarm.take_offer(&s.offer_id, s.remote, now) else {
            return;
        };
        self.outputs
            .push_back(Output::AcceptAnswer { conn, sdp: s.sdp });
    }

    /// The driver's SDP for `conn`: an offer goes into its pending announce, an answer to the
    /// tracker that relayed the offer. Anything else (a second SDP, an unknown conn) is
    /// ignored.
    pub(super) fn on_local_sdp(&mut self, conn: ConnId, sdp: String, now: Duration) {
        let Some(torrent) = self.torrent_of(conn) else {
            return;
        };
        let Some(swarm) = self.torrents.get_mut(&torrent) else {
            return;
        };
        let Some(c) = swarm
            .conns
            .get_mut(&conn)
            .filter(|c| !c.local_sdp && !c.open)
        else {
            return;
        };
        match (c.origin, c.remote_id) {
            (Origin::Ours(_), _) => self.offer_sdp(&torrent, conn, sdp, now),
            (Origin::Theirs(offer_id), Some(remote)) => {
                c.local_sdp = true;
                let tracker = c.tracker;
                if !self.tracker_is_open(tracker) {
                    return; // the offerer's offer expires; ours never existed for it
                }
                let text = request_build::answer(
                    &Id20(torrent),
                    &Id20(self.config.peer_id),
                    &Id20(remote),
                    &Id20(offer_id),
                    &sdp,
                );
                self.outputs
                    .push_back(Output::SendToTracker { tracker, text });
            }
            (Origin::Theirs(_), None) => {}
        }
    }
}
