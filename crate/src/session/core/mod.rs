//! The sans-IO session: many torrents, the WebTorrent trackers they announce on, and the
//! WebRTC data-channel connections that feed their engines. A driver (browser or native)
//! owns sockets, peer connections, timers and files; it feeds inputs (`handle_*`, each with
//! `now`), runs every [`Output`] from [`Session::poll_output`] and calls
//! [`Session::handle_timeout`] at [`Session::poll_timeout`]. Everything a test would want to
//! check is decided here.
//!
//! A driver's loop, in short:
//!
//! ```text
//! session.add_torrent(engine, &trackers, now)?;
//! loop {
//!     while let Some(output) = session.poll_output() { run(output) } // sockets, SDP, sends
//!     wait for I/O or session.poll_timeout();
//!     feed it: handle_tracker_*, handle_local_sdp, handle_channel_*, handle_buffered, or
//!     handle_timeout(now) once the timeout has come
//! }
//! ```
//!
//! Time is a `Duration` since any origin the driver picks; it must not go backwards. No
//! clocks and no randomness of its own: offer ids and backoff jitter come from
//! [`SessionConfig::seed`].
//!
//! Parts: `tracker_conns` (sockets and reconnects), `announce` (when and what to
//! announce, tracker replies), `signals` (relayed offers and answers, our SDP), `peers`
//! (one torrent's connections and admission), `transmit` (the engine run loop: events out,
//! bytes out within backpressure, corking, the upload limit), `upload_order` (who is offered
//! upload first).

mod announce;
mod events;
mod peers;
mod signals;
mod tracker_conns;
mod transmit;
mod upload_order;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::engine::rng::Rng;
use crate::engine::{self, PeerKey};
use crate::session::limits::check_browser_piece_length;
use crate::session::trackers::{TorrentId, TrackerId, TrackerSet, TrackersFull};
use crate::session::upload_limit::TokenBucket;

pub use announce::{
    ANNOUNCE_REPLY_WAIT, DEFAULT_INTERVAL, FIRST_LONELY_RETRY, LONELY_REANNOUNCE, LOST_RETRY,
    MAX_INTERVAL, MAX_TORRENT_TRACKERS, MAX_TRACKER_URL_BYTES, MIN_INTERVAL, OFFER_GATHER_WAIT,
};
pub use events::{AddError, Output, SessionEvent, TrackerState};
pub use peers::{CONNECT_TIMEOUT, MAX_PENDING_OFFERS, OFFER_TTL, OFFERS_PER_ANNOUNCE};
pub use tracker_conns::TRACKER_OPEN_TIMEOUT;
pub use transmit::{
    CORK_AFTER, CORK_BYTES, CORK_DELAY, CORK_PIPELINE, HIGH_WATER, LOW_WATER, MIN_SEND, high_water,
};

use peers::Swarm;
use tracker_conns::TrackerConn;

/// One peer connection (one data channel), named by the session; unique for the session's
/// lifetime, never reused. It is the engine's `PeerKey` for that connection.
pub type ConnId = PeerKey;

/// Most tracker sockets per session: those the torrents bring in.
pub const MAX_SESSION_TRACKERS: usize = 16;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub peer_id: [u8; 20],
    /// Randomness: offer ids, backoff jitter, engine seeds ([`Session::engine_config`]).
    pub seed: u64,
    /// Connections open or being negotiated per torrent (our unanswered offers have their own
    /// budget, [`MAX_PENDING_OFFERS`]).
    pub max_peers: usize,
    /// Bytes per second the whole session may upload (token bucket); `None` = unlimited.
    pub upload_limit: Option<u64>,
    /// Refuse torrents a browser tab cannot hold (`check_browser_piece_length`).
    pub browser_limits: bool,
    /// Template for every torrent's engine (see [`Session::engine_config`]).
    pub engine: engine::Config,
}

/// The session. See the module docs.
///
/// Invariants:
/// * a connection id lives in at most one torrent's peer set, and ids are never reused;
/// * each torrent's engine knows exactly its open connections (see `peers`);
/// * a torrent has an announce slot for tracker `t` iff `trackers.serves(t, torrent)`.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    rng: Rng,
    trackers: TrackerSet<TrackerConn>,
    torrents: BTreeMap<TorrentId, Swarm>,
    next_conn: ConnId,
    outputs: VecDeque<Output>,
    upload: Option<TokenBucket>,
    /// Set while a channel waits on the upload bucket: when to transmit again.
    upload_wake: Option<Duration>,
    /// Set while some connection holds corked bytes: when they go out anyway.
    cork_at: Option<Duration>,
    /// Which torrent transmits first on the next round (the upload bucket is shared).
    torrent_turn: usize,
    ignored_signals: u64,
    /// The kind ("offer" or "answer") and reason of the last ignored signal.
    last_ignored: Option<(&'static str, &'static str)>,
}

impl Session {
    pub fn new(config: SessionConfig, _now: Duration) -> Session {
        Session {
            rng: Rng::new(config.seed ^ 0x5e55_1015),
            upload: config.upload_limit.map(TokenBucket::new),
            config,
            trackers: TrackerSet::new(MAX_SESSION_TRACKERS),
            torrents: BTreeMap::new(),
            next_conn: 1,
            outputs: VecDeque::new(),
            upload_wake: None,
            cork_at: None,
            torrent_turn: 0,
            ignored_signals: 0,
            last_ignored: None,
        }
    }

    /// The engine configuration for a torrent: the template with our peer id and a seed mixed
    /// from the session's seed and the info hash.
    pub fn engine_config(&self, info_hash: &TorrentId) -> engine::Config {
        let mut config = self.config.engine.clone();
        config.peer_id = self.config.peer_id;
        let mut seed = self.config.seed;
        for chunk in info_hash.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            seed = Rng::new(seed ^ u64::from_le_bytes(word)).next_u64();
        }
        config.seed = seed;
        config
    }

    // ---- torrents ----

    /// Takes an engine the driver built (with its storage); announces on the WebSocket
    /// trackers among `trackers` (deduplicated, at most [`MAX_TORRENT_TRACKERS`]; those past
    /// [`MAX_SESSION_TRACKERS`] are left out with a warning).
    pub fn add_torrent(
        &mut self,
        engine: engine::Torrent,
        trackers: &[String],
        now: Duration,
    ) -> Result<TorrentId, AddError> {
        self.add(engine, trackers, false, now)
    }

    /// [`Session::add_torrent`], held from the start (see [`Session::hold_torrent`]): for a
    /// driver that must first learn what its storage holds.
    pub fn add_held_torrent(
        &mut self,
        engine: engine::Torrent,
        trackers: &[String],
        now: Duration,
    ) -> Result<TorrentId, AddError> {
        self.add(engine, trackers, true, now)
    }

    fn add(
        &mut self,
        engine: engine::Torrent,
        trackers: &[String],
        held: bool,
        now: Duration,
    ) -> Result<TorrentId, AddError> {
        let id = engine.info_hash().0;
        if self.torrents.contains_key(&id) {
            return Err(AddError::Duplicate);
        }
        if self.config.browser_limits
            && let Some(info) = engine.info()
        {
            check_browser_piece_length(info.piece_length)?;
        }
        let mut swarm = Swarm::new(id, engine);
        swarm.held = held;
        let mut urls: Vec<&str> = Vec::new();
        for url in trackers.iter().map(|u| u.trim()) {
            let websocket = url.starts_with("ws://") || url.starts_with("wss://");
            let usable = websocket && url.len() <= MAX_TRACKER_URL_BYTES;
            if usable && !urls.contains(&url) && urls.len() < MAX_TORRENT_TRACKERS {
                urls.push(url);
            }
        }
        for url in urls {
            match self.trackers.acquire(url, id) {
                Ok(tracker) => swarm.add_slot(tracker, now),
                Err(full) => self.event(SessionEvent::Warning {
                    torrent: Some(id),
                    message: format!("tracker {url} is not used: {full}"),
                }),
            }
        }
        self.torrents.insert(id, swarm);
        self.connect_due(now);
        self.announce_due(now);
        Ok(id)
    }

    /// Sends `stopped` announces, closes the torrent's connections and the trackers no other
    /// torrent uses.
    pub fn remove_torrent(&mut self, id: &TorrentId, now: Duration) {
        let Some(mut swarm) = self.torrents.remove(id) else {
            return;
        };
        let slots: Vec<TrackerId> = swarm.announces.keys().copied().collect();
        for tracker in slots {
            self.send_event(
                &swarm,
                tracker,
                crate::session::tracker_proto::Event::Stopped,
            );
        }
        for (tracker, _) in self.trackers.release(id) {
            self.outputs.push_back(Output::CloseTracker { tracker });
        }
        swarm.close_all(now, &mut self.outputs);
    }

    pub fn torrent(&self, id: &TorrentId) -> Option<&engine::Torrent> {
        self.torrents.get(id).map(|s| &s.engine)
    }

    /// For readers, `hold_downloads` …; feed any input (e.g. `handle_timeout`) afterwards so
    /// the session transmits what the engine now wants.
    pub fn torrent_mut(&mut self, id: &TorrentId) -> Option<&mut engine::Torrent> {
        self.torrents.get_mut(id).map(|s| &mut s.engine)
    }

    pub fn torrents(&self) -> impl Iterator<Item = &TorrentId> {
        self.torrents.keys()
    }

    pub fn set_upload_limit(&mut self, limit: Option<u64>, now: Duration) {
        self.config.upload_limit = limit;
        self.upload = limit.map(TokenBucket::new);
        self.upload_wake = None;
        self.pump_all(now);
    }

    /// While a file stream of `torrent` waits for a piece, small output is not corked (the
    /// requests for it go out at once).
    pub fn set_stream_waiting(&mut self, torrent: &TorrentId, waiting: bool) {
        if let Some(swarm) = self.torrents.get_mut(torrent) {
            swarm.stream_waiting = waiting;
        }
    }

    /// Holds (or releases) `torrent`: while held it announces nothing and answers no offer,
    /// so it has no connections (e.g. while the driver opens its storage, before
    /// [`Session::replace_engine`]). Releasing announces at once where due.
    pub fn hold_torrent(&mut self, torrent: &TorrentId, held: bool, now: Duration) {
        if let Some(swarm) = self.torrents.get_mut(torrent) {
            swarm.held = held;
        }
        if !held {
            self.announce_due(now);
        }
    }

    /// Replaces `torrent`'s engine (e.g. with one resumed from storage). Its connections are
    /// closed first (the new engine knows none of them). An engine whose pieces are too large
    /// for a browser (with `browser_limits`) stops the torrent: `TorrentStopped`.
    pub fn replace_engine(
        &mut self,
        torrent: &TorrentId,
        engine: engine::Torrent,
        now: Duration,
    ) -> Result<(), AddError> {
        let Some(swarm) = self.torrents.get_mut(torrent) else {
            return Ok(());
        };
        swarm.close_all(now, &mut self.outputs);
        swarm.engine = engine;
        if self.config.browser_limits
            && let Some(info) = self.torrents.get(torrent).and_then(|s| s.engine.info())
            && let Err(e) = check_browser_piece_length(info.piece_length)
        {
            self.remove_torrent(torrent, now);
            self.event(SessionEvent::TorrentStopped {
                torrent: *torrent,
                reason: format!("torrent stopped: {e}"),
            });
            return Err(e.into());
        }
        self.pump(torrent, now);
        Ok(())
    }

    /// Keeps tracker `url` open for the session's lifetime, with or without torrents (a page's
    /// own trackers). Torrents naming it share the socket.
    pub fn pin_tracker(&mut self, url: &str, now: Duration) -> Result<TrackerId, TrackersFull> {
        let id = self.trackers.pin(url.trim())?;
        self.connect_due(now);
        Ok(id)
    }

    /// The pinned trackers' URLs, in the order they were pinned.
    pub fn pinned_trackers(&self) -> Vec<String> {
        self.trackers.pinned_urls()
    }

    /// Open connections of `torrent` (the data channel is open and the engine knows the peer).
    pub fn open_conns(&self, torrent: &TorrentId) -> Vec<ConnId> {
        self.torrents
            .get(torrent)
            .map(|s| s.open_keys().collect())
            .unwrap_or_default()
    }

    /// The torrent connection `conn` belongs to, while it exists.
    pub fn conn_torrent(&self, conn: ConnId) -> Option<TorrentId> {
        self.torrent_of(conn)
    }

    /// The tracker's URL while the session uses it.
    pub fn tracker_url(&self, tracker: TrackerId) -> Option<&str> {
        self.trackers.url(tracker)
    }

    // ---- inputs from the driver ----

    pub fn handle_tracker_open(&mut self, tracker: TrackerId, now: Duration) {
        self.tracker_opened(tracker, now);
    }

    /// The socket closed (or never opened): reconnect after a backoff.
    pub fn handle_tracker_closed(&mut self, tracker: TrackerId, now: Duration) {
        self.tracker_closed(tracker, now);
    }

    /// One text frame from the tracker: untrusted, never panics.
    pub fn handle_tracker_message(&mut self, tracker: TrackerId, text: &str, now: Duration) {
        self.on_tracker_text(tracker, text, now);
    }

    /// The complete SDP for `CreateOffer` (an offer) or `AcceptOffer` (an answer).
    pub fn handle_local_sdp(&mut self, conn: ConnId, sdp: String, now: Duration) {
        self.on_local_sdp(conn, sdp, now);
    }

    /// SDP or ICE failed: the connection is dropped (a `Close` follows).
    pub fn handle_conn_failed(&mut self, conn: ConnId, reason: &str, now: Duration) {
        if let Some(torrent) = self.torrent_of(conn) {
            self.drop_conn(&torrent, conn, reason, now);
        }
    }

    pub fn handle_channel_open(&mut self, conn: ConnId, now: Duration) {
        let Some(torrent) = self.torrent_of(conn) else {
            return;
        };
        if let Some(swarm) = self.torrents.get_mut(&torrent) {
            swarm.on_open(conn, now, &mut self.outputs);
        }
        self.pump(&torrent, now);
    }

    pub fn handle_channel_data(&mut self, conn: ConnId, bytes: &[u8], now: Duration) {
        let Some(torrent) = self.torrent_of(conn) else {
            return;
        };
        if let Some(swarm) = self.torrents.get_mut(&torrent) {
            swarm.on_data(conn, bytes, now);
        }
        self.pump(&torrent, now);
    }

    /// The bytes an `Output::HashPiece` asks to hash (`None` once it no longer stands).
    pub fn piece_to_hash(&self, torrent: &TorrentId, index: u32, token: u64) -> Option<&[u8]> {
        self.torrents
            .get(torrent)?
            .engine
            .piece_to_hash(index, token)
    }

    /// The driver's SHA-1 for an `Output::HashPiece`.
    pub fn handle_piece_hash(
        &mut self,
        torrent: &TorrentId,
        index: u32,
        token: u64,
        digest: [u8; 20],
        now: Duration,
    ) {
        self.handle_piece_hashes(&[(*torrent, index, token, digest)], now);
    }

    /// Several answers at once (what a driver's hashes gave in one go): each torrent is
    /// pumped once after all of its pieces, so their haves go out together.
    pub fn handle_piece_hashes(
        &mut self,
        hashes: &[(TorrentId, u32, u64, [u8; 20])],
        now: Duration,
    ) {
        let mut touched: Vec<TorrentId> = Vec::new();
        for (torrent, index, token, digest) in hashes {
            let Some(swarm) = self.torrents.get_mut(torrent) else {
                continue;
            };
            swarm.engine.handle_piece_hash(*index, *token, *digest, now);
            if !touched.contains(torrent) {
                touched.push(*torrent);
            }
        }
        for torrent in &touched {
            self.pump(torrent, now);
        }
    }

    pub fn handle_channel_closed(&mut self, conn: ConnId, now: Duration) {
        if let Some(torrent) = self.torrent_of(conn) {
            self.drop_conn(&torrent, conn, "channel closed", now);
        }
    }

    /// The channel's buffered amount is now `buffered` (after a buffered-amount-low event or
    /// periodically).
    pub fn handle_buffered(&mut self, conn: ConnId, buffered: usize, now: Duration) {
        let Some(torrent) = self.torrent_of(conn) else {
            return;
        };
        if let Some(c) = self
            .torrents
            .get_mut(&torrent)
            .and_then(|s| s.conns.get_mut(&conn))
        {
            c.buffered = buffered;
        }
        self.pump(&torrent, now);
    }

    pub fn handle_timeout(&mut self, now: Duration) {
        self.expire_connecting(now);
        self.connect_due(now);
        for swarm in self.torrents.values_mut() {
            if now >= swarm.engine.poll_timeout() {
                swarm.engine.handle_timeout(now);
            }
            swarm.expire(now, &mut self.outputs);
            // A download with nobody to talk to goes looking again soon; one that never had
            // anybody, once more right after its first announce; one without its metadata
            // that lost every connection, once more right after that (see `LOST_RETRY`).
            let lonely = !swarm.engine.is_complete() && swarm.open_keys().next().is_none();
            swarm.lonely_since = lonely.then(|| swarm.lonely_since.unwrap_or(now));
            let first = swarm
                .first_announce_at
                .map(|at| at + FIRST_LONELY_RETRY)
                .filter(|&at| !swarm.ever_connected && now < at);
            let lost = swarm
                .lonely_since
                .filter(|_| swarm.ever_connected && swarm.engine.info().is_none())
                .map(|at| at + LOST_RETRY)
                .filter(|&at| now < at);
            let quick = first.or(lost);
            // An overdue reply stops waking us (a late one no longer sets the interval), and
            // a lonely download announces again at once.
            let mut dropped = Vec::new();
            for (&tracker, slot) in swarm.announces.iter_mut() {
                if lonely {
                    slot.next_at = slot.next_at.min(quick.unwrap_or(now + LONELY_REANNOUNCE));
                }
                if slot.reply_deadline().is_some_and(|at| now >= at) {
                    slot.awaiting_reply = None;
                    dropped.push(tracker);
                    if lonely {
                        slot.next_at = now;
                    }
                }
            }
            swarm.drop_unanswered_offers(&dropped, now, &mut self.outputs);
        }
        let ids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        for id in &ids {
            self.send_ready_announces(id, now);
        }
        self.announce_due(now);
        if self.cork_at.is_some_and(|at| now >= at) {
            self.uncork();
        }
        if self.upload_wake.is_some_and(|at| now >= at) {
            self.upload_wake = None;
        }
        self.pump_all(now);
    }

    // ---- outputs ----

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest of: engine timers, announces, tracker reconnects, offer and connect
    /// expiries, announces waiting on offers, the cork flush and the upload refill.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let swarms = self.torrents.values().flat_map(|s| {
            let announces = s
                .announces
                .iter()
                // A held torrent announces nothing: its due slots wait for the release.
                .filter(|(t, _)| !s.held && self.tracker_is_open(**t))
                .flat_map(|(_, slot)| std::iter::once(slot.next_at).chain(slot.reply_deadline()));
            let conns = s.conns.values().filter(|c| !c.open).map(|c| c.deadline);
            let pending = s.pending.iter().map(|p| p.deadline);
            std::iter::once(s.engine.poll_timeout())
                .chain(announces)
                .chain(conns)
                .chain(pending)
        });
        swarms
            .chain(self.reconnect_times())
            .chain(self.cork_at)
            .chain(self.upload_wake)
            .min()
    }

    /// Relayed offers and answers ignored so far (wrong tracker, refused peer, unknown offer …).
    pub fn ignored_signals(&self) -> u64 {
        self.ignored_signals
    }

    /// The last ignored offer or answer: its kind (`"offer"`, `"answer"`) and why (for the
    /// driver's debug log).
    pub fn last_ignored_signal(&self) -> Option<(&'static str, &'static str)> {
        self.last_ignored
    }

    // ---- shared internals ----

    fn event(&mut self, event: SessionEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn next_conn_id(&mut self) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        id
    }

    /// The torrent connection `conn` belongs to (a few torrents: a scan is cheap, and there is
    /// no second map to keep in step).
    fn torrent_of(&self, conn: ConnId) -> Option<TorrentId> {
        self.torrents
            .iter()
            .find(|(_, s)| s.conns.contains_key(&conn))
            .map(|(id, _)| *id)
    }

    fn drop_conn(&mut self, torrent: &TorrentId, conn: ConnId, reason: &str, now: Duration) {
        if let Some(swarm) = self.torrents.get_mut(torrent) {
            swarm.remove(conn, now, reason, &mut self.outputs);
        }
        self.pump(torrent, now);
    }

    fn random_id(&mut self) -> [u8; 20] {
        let mut id = [0u8; 20];
        for chunk in id.chunks_mut(8) {
            let bytes = self.rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        id
    }
}
