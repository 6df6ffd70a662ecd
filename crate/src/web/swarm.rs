//! One torrent in the browser: the engine, its storage and the WebRTC connections that feed
//! it. Follows the engine's run-loop contract: feed an input, then `pump` (drain events,
//! transmit to every open channel within its backpressure budget).
//!
//! Connection states (each `Conn` is in exactly one):
//! * offered — our offer went out in an announce and waits for an answer (`offer_id` set,
//!   listed in `offers`), expires after [`OFFER_TTL`];
//! * signaling — SDP exchanged or being exchanged, channel not open yet; must open before
//!   its `deadline`;
//! * open — the channel is open and the engine knows the peer (`handle_connect` was called).
//!
//! Invariant: the engine knows exactly the keys of the open conns, so every removal of an
//! open conn is paired with `handle_disconnect` (or came from an engine `Disconnect`).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::client::Handle;
use super::creator::CreatorView;
use super::js_glue::Timeout;
use super::notes::Note;
use super::peer_conn::{ConnEvent, PeerConn};
use super::storage::SharedStorage;
use super::stream::Streams;
use super::upload_limit::TokenBucket;
use crate::engine::{Event, PeerKey, Torrent};
pub use crate::session::pairing::Origin;
use crate::session::pairing::{keeps_new, superseded_by_new_offer, wants_signal};
use crate::session::tracker_proto::IdBytes as Id;
use crate::session::webseed::WebSeeds;
use crate::session::{PieceLengthTooLarge, TrackerId, check_browser_piece_length};

/// Unanswered offers are abandoned after this long (WebTorrent uses the same).
pub const OFFER_TTL: Duration = Duration::from_secs(50);
/// A connection whose channel has not opened this long after the SDP exchange is dropped.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most offers in one announce (WebTorrent's figure; trackers cap it too).
pub const OFFERS_PER_ANNOUNCE: usize = 5;
/// Most unanswered offers per torrent at any time: each holds a live RTCPeerConnection.
pub const MAX_PENDING_OFFERS: usize = 10;
/// Keep at most this many bytes queued in a channel. Enough to cover the bandwidth-delay
/// product of a fast link; more only adds latency to control messages, and bursts: with
/// 1 MiB a streaming seeder's channel sat full and undrained for 0.5-2 s at a time under
/// load (measured in `make bench-stream` with TRACE=1), which made seeks wait that long.
const HIGH_WATER: usize = 256 * 1024;
/// Don't bother transmitting into less free space than one block message.
const MIN_SEND: usize = 16 * 1024 + 13;
/// Room left in a channel message for the one block `poll_transmit` may add past its budget.
const BLOCK_OVERSHOOT: usize = 16 * 1024 + 13;
/// Output smaller than this (requests, haves: no block data) is corked for up to
/// [`CORK_DELAY`] so several go out in one message. A downloading page otherwise sends a few
/// requests after every incoming 240 KiB message, and each `send` there costs ~1 ms of main
/// thread (profiled, 256 MiB download). The request pipeline covers far more than the delay.
const CORK_BYTES: usize = 2048;
const CORK_DELAY: Duration = Duration::from_millis(25);
/// Corking starts once this much has arrived on a connection (blocks are flowing): the
/// handshake, metadata and first requests go out at once, as do requests while a file
/// stream waits for a piece (a video is starting or seeking).
const CORK_AFTER: u64 = 1024 * 1024;

pub struct Conn {
    pub peer: PeerConn,
    /// The tracker this connection's offer or answer went through: only it may answer our
    /// offer (see `session::trackers`).
    pub tracker: TrackerId,
    /// The remote's peer id as the tracker told us (checked again by the BitTorrent handshake).
    pub remote_id: Option<Id>,
    /// Set while our offer waits for an answer.
    pub offer_id: Option<Id>,
    /// The offer this connection is negotiated from (see [`Origin`]).
    pub origin: Origin,
    pub deadline: Duration,
    pub open: bool,
    /// Small output held back (see [`CORK_BYTES`]); always sent before anything newer.
    pub corked: Vec<u8>,
    /// Bytes received on this connection (see [`CORK_AFTER`]).
    pub received: u64,
}

/// Per tracker this torrent uses: when it announces there next.
#[derive(Debug, Clone)]
pub struct AnnounceSlot {
    pub next_at: Duration,
    pub interval: Duration,
    /// `started` was sent on the tracker's current socket.
    pub started: bool,
}

impl AnnounceSlot {
    /// Announce at once (the first announce says `started`).
    pub fn new(now: Duration) -> AnnounceSlot {
        AnnounceSlot {
            next_at: now,
            interval: super::client::DEFAULT_INTERVAL,
            started: false,
        }
    }
}

pub struct Swarm {
    pub engine: Torrent,
    pub storage: SharedStorage,
    pub info_hash: Id,
    pub hex: String,
    /// `dn` of a magnet, until the metadata gives the real name.
    pub magnet_name: Option<String>,
    /// Announce URLs written into the torrent file and magnet link.
    pub trackers: Vec<String>,
    /// The trackers this torrent announces on (each counts it as a user; see
    /// `session::TrackerSet`).
    pub announces: BTreeMap<TrackerId, AnnounceSlot>,
    conns: BTreeMap<PeerKey, Conn>,
    offers: HashMap<Id, PeerKey>,
    /// Set when the engine completes; the client sends the `completed` announces.
    pub completed_unannounced: bool,
    /// Scratch buffer for incoming channel messages (reused, never shrinks below one message).
    inbox: Vec<u8>,
    /// Set by the client: lets the cork timer call back into this swarm.
    pub handle: Option<Handle>,
    /// Armed while some connection has corked bytes; dropping it cancels the flush.
    cork_timer: Option<Timeout>,
    /// False while the browser storage is being opened: no announces until we know what
    /// is already stored (see `resume.rs`).
    pub storage_ready: bool,
    /// Where pieces persist: "opfs", "indexeddb" or "memory" (shown in stats).
    pub storage_kind: &'static str,
    /// Open file streams and their waiters (woken below on `PieceVerified`/`MetadataReady`).
    pub streams: Streams,
    /// The client's `uploadLimit`, if any (see `upload_limit.rs`).
    pub upload_limit: Option<TokenBucket>,
    /// The creator record, verified once when first asked for after the metadata arrived.
    creator: std::cell::OnceCell<Option<CreatorView>>,
    /// Which open channel is served first by the next `pump`. It moves on every pump: with an
    /// upload limit the first channel can take the whole refill, and a channel never served
    /// would be dropped by the engine as not reading.
    transmit_turn: usize,
    /// BEP 19 web seeds (a torrent's `url-list`, a magnet's `ws=`); run by `webseed.rs`.
    pub webseeds: WebSeeds,
}

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("info_hash", &self.hex)
            .field("conns", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl Swarm {
    pub fn new(
        engine: Torrent,
        storage: SharedStorage,
        magnet_name: Option<String>,
        trackers: Vec<String>,
    ) -> Swarm {
        let info_hash = engine.info_hash().0;
        let hex = engine.info_hash().to_hex();
        Swarm {
            engine,
            storage,
            info_hash,
            hex,
            magnet_name,
            trackers,
            announces: BTreeMap::new(),
            conns: BTreeMap::new(),
            offers: HashMap::new(),
            completed_unannounced: false,
            inbox: Vec::new(),
            handle: None,
            cork_timer: None,
            storage_ready: true,
            storage_kind: "memory",
            streams: Streams::default(),
            upload_limit: None,
            transmit_turn: 0,
            webseeds: WebSeeds::new(),
            creator: std::cell::OnceCell::new(),
        }
    }

    /// The torrent's creator record (`None` without one, or before the metadata).
    pub fn creator(&self) -> Option<CreatorView> {
        let info = self.engine.info()?;
        self.creator.get_or_init(|| CreatorView::of(info)).clone()
    }

    pub fn name(&self) -> Option<String> {
        self.engine
            .info()
            .map(|i| i.name.clone())
            .or_else(|| self.magnet_name.clone())
    }

    // ---- admission ----------------------------------------------------------------------

    fn peers_and_pending(&self) -> usize {
        self.conns.len()
    }

    /// How many offers the next announce should carry.
    pub fn offers_wanted(&self, max_peers: usize) -> usize {
        OFFERS_PER_ANNOUNCE
            .min(MAX_PENDING_OFFERS.saturating_sub(self.offers.len()))
            .min(max_peers.saturating_sub(self.peers_and_pending()))
    }

    /// Whether the engine will not talk to `remote` (banned, or penalised for a flood or a
    /// protocol violation): its offers and answers are ignored, not spent on. The one place
    /// that asks, so what "refused" means is the engine's decision.
    pub fn refuses_peer(&self, remote: &Id, now: Duration) -> bool {
        self.engine.refuses_peer(remote, now)
    }

    /// Whether we want a connection with `remote` at all (from its offer or its answer):
    /// not if one is open already; one still being negotiated does not count (see
    /// `session::pairing`).
    pub fn admit(&self, remote: &Id, our_id: &Id, now: Duration) -> Result<(), &'static str> {
        if remote == our_id {
            return Err("our own offer");
        }
        if self.refuses_peer(remote, now) {
            return Err("peer is refused by the engine");
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

    /// Whether answering one more offer stays within `max_peers` (our own unanswered offers
    /// have their separate budget, [`MAX_PENDING_OFFERS`]).
    pub fn has_room(&self, max_peers: usize) -> bool {
        self.conns.values().filter(|c| c.offer_id.is_none()).count() < max_peers
    }

    /// Whether `key` is still the conn waiting on `offer_id` (offers expire while gathering).
    pub fn is_offering(&self, key: PeerKey, offer_id: &Id) -> bool {
        self.offers.get(offer_id) == Some(&key)
    }

    pub fn contains(&self, key: PeerKey) -> bool {
        self.conns.contains_key(&key)
    }

    /// Our unanswered offer `offer_id`, if still pending and sent through `tracker` (an
    /// answer relayed by another tracker is not for us to act on).
    pub fn offer_key(&self, offer_id: &Id, tracker: TrackerId) -> Option<PeerKey> {
        let key = *self.offers.get(offer_id)?;
        (self.conns.get(&key)?.tracker == tracker).then_some(key)
    }

    /// Set once the metadata says the pieces are too large for this page: the swarm then
    /// requests nothing and the client stops it (see `ClientInner::stop_unusable`).
    pub fn unusable(&self) -> Option<PieceLengthTooLarge> {
        check_browser_piece_length(self.engine.info()?.piece_length).err()
    }

    pub fn insert(&mut self, key: PeerKey, conn: Conn) {
        if let Some(offer_id) = conn.offer_id {
            self.offers.insert(offer_id, key);
        }
        if let (Origin::Theirs(_), Some(remote)) = (conn.origin, conn.remote_id) {
            // The remote's newer offer supersedes older ones we answered that have not opened
            // (so the engine does not know them, and no offer waits on them).
            self.conns.retain(|_, c| {
                c.remote_id != Some(remote) || !superseded_by_new_offer(c.origin, c.open)
            });
        }
        self.conns.insert(key, conn);
    }

    pub fn conn_mut(&mut self, key: PeerKey) -> Option<&mut Conn> {
        self.conns.get_mut(&key)
    }

    /// The answer to offer `offer_id` arrived from `remote`: the conn moves on to signaling.
    pub fn take_offer(&mut self, offer_id: &Id, remote: Id, now: Duration) -> Option<PeerKey> {
        let key = self.offers.remove(offer_id)?;
        let conn = self.conns.get_mut(&key)?;
        conn.offer_id = None;
        conn.remote_id = Some(remote);
        conn.deadline = now + CONNECT_TIMEOUT;
        Some(key)
    }

    pub fn open_peers(&self) -> usize {
        self.conns.values().filter(|c| c.open).count()
    }

    pub fn open_keys(&self) -> impl Iterator<Item = PeerKey> + '_ {
        self.conns.iter().filter(|(_, c)| c.open).map(|(&k, _)| k)
    }

    // ---- inputs -------------------------------------------------------------------------

    pub fn on_conn_event(
        &mut self,
        key: PeerKey,
        event: ConnEvent,
        now: Duration,
        notes: &mut Vec<Note>,
    ) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        match event {
            ConnEvent::Open => self.on_open(key, now, notes),
            ConnEvent::Message(data) => {
                let Some(buffer) = data.dyn_ref::<ArrayBuffer>() else {
                    self.remove(key, now, "peer sent text on the binary channel", notes);
                    return;
                };
                if !conn.open {
                    return;
                }
                let view = Uint8Array::new(buffer);
                conn.received += u64::from(view.length());
                super::gc_pacing::received(u64::from(view.length()));
                // One copy from the JS heap into wasm memory, into a reused buffer.
                self.inbox.resize(view.length() as usize, 0);
                view.copy_to(&mut self.inbox);
                self.engine.handle_data(key, &self.inbox, now);
            }
            ConnEvent::Writable => {}
            ConnEvent::IncomingChannel(channel) => match conn.peer.accept_channel(channel) {
                Ok(true) => self.on_open(key, now, notes),
                Ok(false) => {}
                Err(reason) => return self.remove(key, now, reason, notes),
            },
            ConnEvent::Closed(reason) => {
                self.remove(key, now, reason, notes);
            }
        }
        self.pump(now, notes);
    }

    /// The channel opened: the engine starts the BitTorrent handshake. If a connection with
    /// the same remote is open already, one of the two closes, the same one at both ends
    /// (`session::pairing::keeps_new`).
    fn on_open(&mut self, key: PeerKey, now: Duration, notes: &mut Vec<Note>) {
        let Some(conn) = self.conns.get(&key).filter(|c| !c.open) else {
            return;
        };
        let (remote, origin) = (conn.remote_id, conn.origin);
        let twin = self
            .conns
            .iter()
            .find(|(k, c)| **k != key && c.open && remote.is_some() && c.remote_id == remote)
            .map(|(&k, c)| (k, c.origin));
        if let Some((twin, twin_origin)) = twin {
            if !keeps_new(origin, twin_origin) {
                return self.remove(key, now, "duplicate connection to this peer", notes);
            }
            self.remove(twin, now, "duplicate connection to this peer", notes);
        }
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        conn.open = true;
        conn.peer.on_open();
        self.engine.handle_connect(key, now);
    }

    /// Drops a connection (closing it) and tells the engine if it knew the peer.
    pub fn remove(&mut self, key: PeerKey, now: Duration, reason: &str, notes: &mut Vec<Note>) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        if let Some(offer_id) = conn.offer_id {
            self.offers.remove(&offer_id);
        }
        if conn.open {
            self.engine.handle_disconnect(key, now);
            notes.push(self.peer_note(&conn, false, Some(reason)));
        }
        // `conn` drops here: listeners removed, channel and connection closed.
    }

    /// Drops offers nobody answered and connections that never opened.
    pub fn expire(&mut self, now: Duration, notes: &mut Vec<Note>) {
        let late: Vec<PeerKey> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.open && now >= c.deadline)
            .map(|(&k, _)| k)
            .collect();
        for key in late {
            self.remove(key, now, "connection timed out", notes);
        }
    }

    pub fn tick(&mut self, now: Duration, notes: &mut Vec<Note>) {
        if now >= self.engine.poll_timeout() {
            self.engine.handle_timeout(now);
        }
        self.expire(now, notes);
        super::webseed::drive(self, now, notes);
        self.pump(now, notes);
    }

    // ---- outputs ------------------------------------------------------------------------

    /// Drains engine events, then transmits to every open channel with room.
    pub fn pump(&mut self, now: Duration, notes: &mut Vec<Note>) {
        let mut progressed = false;
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::PeerReady { peer, .. } => {
                    if let Some(conn) = self.conns.get(&peer) {
                        notes.push(self.peer_note(conn, true, None));
                    }
                }
                Event::MetadataReady => {
                    if self.unusable().is_some() {
                        continue; // not saved, not announced to the page: it stops
                    }
                    if let Some(info) = self.engine.info() {
                        self.storage.set_layout(info);
                    }
                    self.save_info();
                    self.streams.metadata_ready();
                    let starts = self.engine.info().map(|i| self.streams.start_offsets(i));
                    for (reader, offset) in starts.unwrap_or_default() {
                        self.engine.set_reader(reader, offset, now);
                    }
                    notes.push(Note::new(&self.hex, "metadata", JsValue::UNDEFINED));
                    notes.push(Note::new(&self.hex, "ready", JsValue::UNDEFINED));
                }
                Event::PieceVerified { index } => {
                    progressed = true;
                    self.streams.piece_verified(index);
                }
                Event::PieceFailed { index } => {
                    notes.push(Note::warning(
                        &self.hex,
                        format!("piece {index} failed its hash check; fetching it again"),
                    ));
                }
                Event::Completed => {
                    progressed = true;
                    self.completed_unannounced = true;
                    notes.push(Note::new(&self.hex, "done", JsValue::UNDEFINED));
                }
                Event::PeerBanned {
                    peer_id, reason, ..
                } => {
                    // The engine remembers the id (`refuses_peer`).
                    let detail = js_sys::Object::new();
                    super::js_glue::set(&detail, "peerId", peer_id.map(|id| hex(&id)));
                    super::js_glue::set(&detail, "reason", reason.as_str());
                    notes.push(Note::new(&self.hex, "ban", detail.into()));
                }
                // The engine refuses the id until `until` (`Torrent::refuses_peer`): said out
                // loud, since meanwhile that peer's offers and answers are ignored.
                Event::PeerPenalised {
                    peer_id,
                    reason,
                    until,
                    ..
                } => notes.push(penalty_note(&self.hex, &peer_id, &reason, until, now)),
                Event::Disconnect { peer, reason } => {
                    // The engine already forgot the peer: close without `handle_disconnect`.
                    if let Some(conn) = self.conns.remove(&peer) {
                        notes.push(self.peer_note(&conn, false, Some(&reason)));
                    }
                }
                Event::StorageError { message } => notes.push(Note::warning(&self.hex, message)),
            }
        }
        if progressed {
            notes.push(Note::new(&self.hex, "progress", JsValue::UNDEFINED));
        }
        if self.unusable().is_some() {
            // Requesting would allocate piece buffers we cannot afford; stopped shortly.
            return;
        }
        // Storage backpressure: no new requests while verified pieces wait to be written.
        let held = self
            .storage
            .should_hold_downloads(self.engine.downloads_held());
        self.engine.hold_downloads(held, now);
        let mut keys: Vec<PeerKey> = self.open_keys().collect();
        if !keys.is_empty() {
            self.transmit_turn = self.transmit_turn.wrapping_add(1);
            let first = self.transmit_turn % keys.len();
            keys.rotate_left(first);
        }
        for key in keys {
            self.transmit(key, now, notes);
        }
    }

    /// Moves bytes from the engine to one channel until its buffer reaches the high-water mark.
    fn transmit(&mut self, key: PeerKey, now: Duration, notes: &mut Vec<Note>) {
        loop {
            let Some(conn) = self.conns.get(&key).filter(|c| c.open) else {
                return;
            };
            let free = HIGH_WATER.saturating_sub(conn.peer.buffered() + conn.corked.len());
            if free < MIN_SEND {
                return; // `bufferedamountlow` calls us again.
            }
            // Each poll fills about one channel message: fewer, larger sends cost less CPU.
            let mut budget = free.min(
                conn.peer
                    .max_message()
                    .saturating_sub(BLOCK_OVERSHOOT)
                    .max(MIN_SEND),
            );
            if let Some(bucket) = &mut self.upload_limit {
                let allowed = bucket.available(now);
                if allowed < MIN_SEND {
                    return; // the client's tick pumps again after a refill
                }
                budget = budget.min(allowed);
            }
            let Some(bytes) = self.engine.poll_transmit(key, budget) else {
                return;
            };
            if let Some(bucket) = &mut self.upload_limit {
                bucket.take(bytes.len());
            }
            let Some(conn) = self.conns.get_mut(&key) else {
                return;
            };
            let cork = conn.received >= CORK_AFTER && !self.streams.waiting();
            if cork && conn.corked.len() + bytes.len() < CORK_BYTES && self.handle.is_some() {
                conn.corked.extend_from_slice(&bytes);
                self.arm_cork_timer();
                return;
            }
            let out = if conn.corked.is_empty() {
                bytes
            } else {
                let mut out = std::mem::take(&mut conn.corked);
                out.extend_from_slice(&bytes);
                out
            };
            if let Err(reason) = conn.peer.send(&out) {
                self.remove(key, now, &reason, notes);
                return;
            }
        }
    }

    fn arm_cork_timer(&mut self) {
        if self.cork_timer.is_some() {
            return;
        }
        let Some(handle) = self.handle.clone() else {
            return;
        };
        let hex = self.hex.clone();
        self.cork_timer = Some(Timeout::new(CORK_DELAY, move || {
            handle.with(|c| c.uncork(&hex));
        }));
    }

    /// Sends every connection's corked bytes (the cork timer fired).
    pub fn uncork(&mut self, now: Duration, notes: &mut Vec<Note>) {
        self.cork_timer = None;
        let corked: Vec<PeerKey> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.corked.is_empty())
            .map(|(&k, _)| k)
            .collect();
        for key in corked {
            let Some(conn) = self.conns.get_mut(&key) else {
                continue;
            };
            let out = std::mem::take(&mut conn.corked);
            if let Err(reason) = conn.peer.send(&out) {
                self.remove(key, now, &reason, notes);
            }
        }
    }

    /// Keeps the `info` dictionary beside stored pieces, so a reload can resume from a
    /// magnet link without asking peers for the metadata again.
    pub fn save_info(&self) {
        let (Some(info), Some(bytes)) = (self.engine.info(), self.engine.info_bytes()) else {
            return;
        };
        if !self.storage.is_persistent() {
            return;
        }
        let (hex, bytes, name) = (self.hex.clone(), bytes.to_vec(), info.name.clone());
        let (length, piece_length) = (info.total_length, info.piece_length);
        wasm_bindgen_futures::spawn_local(async move {
            // Best effort: without it a reload asks peers for the metadata again.
            let _ = super::store::put_info(&hex, &bytes, &name, length, piece_length).await;
        });
    }

    fn peer_note(&self, conn: &Conn, connected: bool, reason: Option<&str>) -> Note {
        let detail = js_sys::Object::new();
        super::js_glue::set(&detail, "peerId", conn.remote_id.map(|id| hex(&id)));
        super::js_glue::set(&detail, "connected", connected);
        super::js_glue::set(&detail, "peers", self.open_peers() as u32);
        if let Some(reason) = reason {
            super::js_glue::set(&detail, "reason", reason);
        }
        Note::new(&self.hex, "peer", detail.into())
    }

    /// Closes every connection (the swarm is being removed).
    pub fn close_all(&mut self, now: Duration) {
        let keys: Vec<PeerKey> = self.conns.keys().copied().collect();
        let mut ignored = Vec::new();
        for key in keys {
            self.remove(key, now, "torrent removed", &mut ignored);
        }
    }
}

/// A `warning` whose detail also names the peer, the offence and how long it is refused:
/// `{ message, peerId, reason, seconds }`.
fn penalty_note(
    torrent: &str,
    peer_id: &[u8; 20],
    reason: &str,
    until: Duration,
    now: Duration,
) -> Note {
    let seconds = until.saturating_sub(now).as_secs().max(1);
    let peer = hex(peer_id);
    let detail =
        super::notes::message_detail(&format!("refusing peer {peer} for {seconds} s: {reason}"));
    let object = detail.unchecked_ref::<js_sys::Object>();
    super::js_glue::set(object, "peerId", peer.as_str());
    super::js_glue::set(object, "reason", reason);
    super::js_glue::set(object, "seconds", seconds as u32);
    Note::new(torrent, "warning", detail)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
