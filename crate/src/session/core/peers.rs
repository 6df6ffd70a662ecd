//! One torrent's connections and who may join. Each `Conn` is in exactly one state:
//! * offered — our offer goes out (or went out) in an announce and waits for an answer
//!   (`offer_id` set, listed in `offers`); expires after [`OFFER_TTL`];
//! * signaling — SDP exchanged or being exchanged, channel not open yet; must open before
//!   its `deadline` ([`CONNECT_TIMEOUT`]);
//! * open — the channel is open and the engine knows the peer (`handle_connect` was called).
//!
//! Invariant: the engine knows exactly the keys of the open conns, so every removal of an
//! open conn is paired with `handle_disconnect` (or came from an engine `Disconnect`), and
//! every removal queues the conn's one `Close`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::announce::{AnnounceSlot, PendingAnnounce};
use super::{ConnId, Output, SessionEvent};
use crate::engine::Torrent;
use crate::session::pairing::{Origin, keeps_new, superseded_by_new_offer, wants_signal};
use crate::session::tracker_proto::IdBytes as Id;
use crate::session::trackers::{TorrentId, TrackerId};

/// Unanswered offers are abandoned after this long (WebTorrent uses the same).
pub const OFFER_TTL: Duration = Duration::from_secs(50);
/// A connection whose channel has not opened this long after the SDP exchange is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most offers in one announce (WebTorrent's figure; trackers cap it too).
pub const OFFERS_PER_ANNOUNCE: usize = 5;
/// Most unanswered offers per torrent at any time: each holds a live peer connection.
pub const MAX_PENDING_OFFERS: usize = 10;

#[derive(Debug)]
pub(super) struct Conn {
    /// The tracker this connection's offer or answer went through: only it may answer our
    /// offer (see `session::trackers`).
    pub tracker: TrackerId,
    /// The remote's peer id as the tracker told us (checked again by the BitTorrent handshake).
    pub remote_id: Option<Id>,
    /// Set while our offer waits for an answer.
    pub offer_id: Option<Id>,
    /// The offer this connection is negotiated from (see `session::pairing`).
    pub origin: Origin,
    pub deadline: Duration,
    pub open: bool,
    /// Our SDP (offer or answer) arrived; a second one is ignored.
    pub local_sdp: bool,
    /// Small output held back (see `CORK_BYTES`); always sent before anything newer.
    pub corked: Vec<u8>,
    /// Bytes received on this connection (see `CORK_AFTER`).
    pub received: u64,
    /// Bytes handed to the driver for this connection (see `message_cap`).
    pub sent: u64,
    /// Bytes queued in the channel: as the driver last reported, plus what we sent since.
    pub buffered: usize,
}

impl Conn {
    pub fn new(
        tracker: TrackerId,
        origin: Origin,
        remote_id: Option<Id>,
        deadline: Duration,
    ) -> Conn {
        Conn {
            tracker,
            remote_id,
            offer_id: match origin {
                Origin::Ours(id) => Some(id),
                Origin::Theirs(_) => None,
            },
            origin,
            deadline,
            open: false,
            local_sdp: false,
            corked: Vec::new(),
            received: 0,
            sent: 0,
            buffered: 0,
        }
    }
}

#[derive(Debug)]
pub(super) struct Swarm {
    pub id: TorrentId,
    pub engine: Torrent,
    /// The trackers this torrent announces on (each counts it as a user in the `TrackerSet`).
    pub announces: BTreeMap<TrackerId, AnnounceSlot>,
    pub conns: BTreeMap<ConnId, Conn>,
    /// Our unanswered offers.
    pub offers: BTreeMap<Id, ConnId>,
    /// Announces waiting for their offers' SDP.
    pub pending: Vec<PendingAnnounce>,
    /// Which open channel is served first by the next transmit round. It moves every round:
    /// with an upload limit the first channel can take the whole refill, and a channel never
    /// served would be dropped by the engine as not reading.
    pub transmit_turn: usize,
    /// A file stream waits for a piece: nothing is corked.
    pub stream_waiting: bool,
    /// Set by the driver while it opens the torrent's storage: no announces and no answers
    /// until it knows what is stored (a resumed torrent announces as such).
    pub held: bool,
    /// When this torrent first announced, and whether a channel of it ever opened: a download
    /// whose first announce found nobody gets one quick retry (see `FIRST_LONELY_RETRY`).
    pub first_announce_at: Option<Duration>,
    pub ever_connected: bool,
    /// Since when (as `handle_timeout` saw it) no channel of this torrent is open.
    pub lonely_since: Option<Duration>,
}

impl Swarm {
    pub fn new(id: TorrentId, engine: Torrent) -> Swarm {
        Swarm {
            id,
            engine,
            announces: BTreeMap::new(),
            conns: BTreeMap::new(),
            offers: BTreeMap::new(),
            pending: Vec::new(),
            transmit_turn: 0,
            stream_waiting: false,
            held: false,
            first_announce_at: None,
            ever_connected: false,
            lonely_since: None,
        }
    }

    pub fn add_slot(&mut self, tracker: TrackerId, now: Duration) {
        self.announces.insert(tracker, AnnounceSlot::new(now));
    }

    // ---- admission ----------------------------------------------------------------------

    /// How many offers the next announce should carry.
    pub fn offers_wanted(&self, max_peers: usize) -> usize {
        OFFERS_PER_ANNOUNCE
            .min(MAX_PENDING_OFFERS.saturating_sub(self.offers.len()))
            .min(max_peers.saturating_sub(self.conns.len()))
    }

    /// Whether we want a connection with `remote` at all (from its offer or its answer):
    /// not ourselves, not a peer the engine refuses (banned, or penalised: its signals are
    /// ignored, not spent on) or would drop as a fellow seed, not one we have an open
    /// connection with; one still being negotiated does not count (see `session::pairing`).
    pub fn admit(&self, remote: &Id, our_id: &Id, now: Duration) -> Result<(), &'static str> {
        if remote == our_id {
            return Err("our own offer");
        }
        if self.engine.refuses_peer(remote, now) {
            return Err("peer is refused by the engine");
        }
        if self.engine.is_fellow_seed(remote, now) {
            return Err("both sides are seeding");
        }
        let links = self
            .conns
            .values()
            .filter(|c| c.remote_id.as_ref() == Some(remote));
        if !wants_signal(links.map(|c| c.open)) {
            return Err("already connected to this peer");
        }
        Ok(())
    }

    /// Whether one more connection (answering an offer, or applying an answer to ours) stays
    /// within `max_peers` open or signaling (our own unanswered offers have their separate
    /// budget, [`MAX_PENDING_OFFERS`]).
    pub fn has_room(&self, max_peers: usize) -> bool {
        self.conns.values().filter(|c| c.offer_id.is_none()).count() < max_peers
    }

    /// Our unanswered offer `offer_id`, if still pending, announced (its SDP went out) and
    /// sent through `tracker` (an answer relayed by another tracker is not for us to act on).
    pub fn offer_key(&self, offer_id: &Id, tracker: TrackerId) -> Option<ConnId> {
        let key = *self.offers.get(offer_id)?;
        let conn = self.conns.get(&key)?;
        (conn.tracker == tracker && conn.local_sdp).then_some(key)
    }

    pub fn is_offering(&self, key: ConnId, offer_id: &Id) -> bool {
        self.offers.get(offer_id) == Some(&key)
    }

    /// Adds a connection. The remote's newer offer supersedes older ones we answered that
    /// have not opened (so the engine does not know them, and no offer waits on them).
    pub fn insert(&mut self, key: ConnId, conn: Conn, out: &mut VecDeque<Output>) {
        if let (Origin::Theirs(_), Some(remote)) = (conn.origin, conn.remote_id) {
            let stale: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| {
                    c.remote_id == Some(remote) && superseded_by_new_offer(c.origin, c.open)
                })
                .map(|(&k, _)| k)
                .collect();
            for key in stale {
                self.conns.remove(&key);
                out.push_back(Output::Close { conn: key });
            }
        }
        if let Some(offer_id) = conn.offer_id {
            self.offers.insert(offer_id, key);
        }
        self.conns.insert(key, conn);
    }

    /// The answer to offer `offer_id` arrived from `remote`: the conn moves on to signaling.
    pub fn take_offer(&mut self, offer_id: &Id, remote: Id, now: Duration) -> Option<ConnId> {
        let key = self.offers.remove(offer_id)?;
        let conn = self.conns.get_mut(&key)?;
        conn.offer_id = None;
        conn.remote_id = Some(remote);
        conn.deadline = now + CONNECT_TIMEOUT;
        Some(key)
    }

    pub fn open_keys(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.iter().filter(|(_, c)| c.open).map(|(&k, _)| k)
    }

    // ---- inputs -------------------------------------------------------------------------

    /// The channel opened: the engine starts the BitTorrent handshake. If a connection with
    /// the same remote is open already, one of the two closes, the same one at both ends
    /// (`session::pairing::keeps_new`). A channel that opens before its answer was applied
    /// (a hostile or confused driver) is not a connection yet and is ignored.
    pub fn on_open(&mut self, key: ConnId, now: Duration, out: &mut VecDeque<Output>) {
        let Some(conn) = self
            .conns
            .get(&key)
            .filter(|c| !c.open && c.offer_id.is_none())
        else {
            return;
        };
        let (remote, origin) = (conn.remote_id, conn.origin);
        self.ever_connected = true;
        let twin = self
            .conns
            .iter()
            .find(|(k, c)| **k != key && c.open && remote.is_some() && c.remote_id == remote)
            .map(|(&k, c)| (k, c.origin));
        if let Some((twin, twin_origin)) = twin {
            if !keeps_new(origin, twin_origin) {
                return self.remove(key, now, "duplicate connection to this peer", out);
            }
            self.remove(twin, now, "duplicate connection to this peer", out);
        }
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        conn.open = true;
        self.engine.handle_connect(key, now);
    }

    pub fn on_data(&mut self, key: ConnId, bytes: &[u8], now: Duration) {
        let Some(conn) = self.conns.get_mut(&key).filter(|c| c.open) else {
            return;
        };
        conn.received = conn.received.saturating_add(bytes.len() as u64);
        self.engine.handle_data(key, bytes, now);
    }

    /// Drops a connection (queuing its `Close`) and tells the engine if it knew the peer.
    pub fn remove(&mut self, key: ConnId, now: Duration, reason: &str, out: &mut VecDeque<Output>) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        if let Some(offer_id) = conn.offer_id {
            self.offers.remove(&offer_id);
        }
        if conn.open {
            self.engine.handle_disconnect(key, now);
            out.push_back(Output::Event(SessionEvent::PeerDisconnected {
                torrent: self.id,
                conn: key,
                reason: reason.to_owned(),
            }));
        }
        out.push_back(Output::Close { conn: key });
    }

    /// The engine dropped `key` itself (`Event::Disconnect`): close without telling it.
    pub fn forget(&mut self, key: ConnId, reason: String, out: &mut VecDeque<Output>) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        if let Some(offer_id) = conn.offer_id {
            self.offers.remove(&offer_id);
        }
        if conn.open {
            out.push_back(Output::Event(SessionEvent::PeerDisconnected {
                torrent: self.id,
                conn: key,
                reason,
            }));
        }
        out.push_back(Output::Close { conn: key });
    }

    /// Drops offers nobody answered and connections that never opened.
    pub fn expire(&mut self, now: Duration, out: &mut VecDeque<Output>) {
        let late: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.open && now >= c.deadline)
            .map(|(&k, _)| k)
            .collect();
        for key in late {
            let reason = if self.conns.get(&key).is_some_and(|c| c.offer_id.is_some()) {
                "offer expired unanswered"
            } else {
                "connection timed out"
            };
            self.remove(key, now, reason, out);
        }
    }

    /// Closes our offers sent through `trackers` and still unanswered: those trackers dropped
    /// the announce that carried them, so nobody will answer, and they would hold offer slots
    /// ([`MAX_PENDING_OFFERS`]) until they expire.
    pub fn drop_unanswered_offers(
        &mut self,
        trackers: &[TrackerId],
        now: Duration,
        out: &mut VecDeque<Output>,
    ) {
        let dead: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.offer_id.is_some() && c.local_sdp && trackers.contains(&c.tracker))
            .map(|(&k, _)| k)
            .collect();
        for key in dead {
            self.remove(key, now, "the tracker dropped its announce", out);
        }
    }

    /// Closes every connection (the torrent is being removed).
    pub fn close_all(&mut self, now: Duration, out: &mut VecDeque<Output>) {
        let keys: Vec<ConnId> = self.conns.keys().copied().collect();
        for key in keys {
            self.remove(key, now, "torrent removed", out);
        }
    }
}
