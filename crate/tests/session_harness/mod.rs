//! An in-memory world for `seedcast::session::Session`s (like quinn's `Pair`): a WebTorrent
//! tracker relay per URL that reads announces with `tracker_proto` and forwards offers and
//! answers between sessions, "peer connections" whose SDP names the two ends, data channels
//! that deliver every `Send` in order and then report the sender's buffer empty, and a
//! virtual clock that jumps to the earliest `poll_timeout`. A whole download over the
//! tracker protocol runs in milliseconds and replays exactly.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use seedcast::create::{CreateOptions, TorrentBuilder};
use seedcast::engine::config::DATA_CHANNEL_INITIAL_PIPELINE;
use seedcast::engine::rng::Rng;
use seedcast::engine::{Bitfield, Config, MemoryStorage, Torrent};
use seedcast::metainfo::Metainfo;
use seedcast::session::tracker_proto::request::{self, Request};
use seedcast::session::tracker_proto::response::{self, SignalKind, SwarmCounts};
use seedcast::session::tracker_proto::{Event, Id20, ParseLimits};
use seedcast::session::{
    ConnId, Output, Session, SessionConfig, SessionEvent, TorrentId, TrackerId,
};
use sha1::{Digest, Sha1};

pub type NodeId = usize;
pub type SharedStorage = Rc<RefCell<MemoryStorage>>;

pub const TRACKER: &str = "wss://tracker.test";

/// What a relay was told: by whom, when, and the announce's event and offers.
#[derive(Debug, Clone)]
pub struct Heard {
    pub at: Duration,
    pub node: NodeId,
    pub info_hash: [u8; 20],
    /// `None` for an answer.
    pub event: Option<Event>,
    pub offer_ids: Vec<[u8; 20]>,
    /// `left` was 0 (`None`: no `left`, or an answer).
    pub seeder: Option<bool>,
}

/// A swarm at a relay: peer id → the socket it announced on.
type Peers = BTreeMap<[u8; 20], (NodeId, TrackerId)>;

/// A WebTorrent tracker at one URL.
#[derive(Debug)]
pub struct Relay {
    pub up: bool,
    /// The `interval` its announce replies carry.
    pub interval: u64,
    /// Offers are held until [`Net::release_offers`] (to cross them on purpose).
    pub hold_offers: bool,
    /// Connects are never answered (a black-holed host): the socket neither opens nor closes.
    pub silent: bool,
    /// Announces are heard but dropped, with no reply and no offer relayed (a socket over the
    /// tracker's rate limit).
    pub drop_announces: bool,
    held: Vec<(NodeId, TrackerId, String)>,
    /// Swarm → peer id → the socket it announced on.
    swarms: BTreeMap<[u8; 20], Peers>,
    pub heard: Vec<Heard>,
    /// Sockets connected: (node, the node's tracker id).
    sockets: BTreeSet<(NodeId, TrackerId)>,
}

impl Relay {
    fn new() -> Relay {
        Relay {
            up: true,
            interval: 120,
            hold_offers: false,
            silent: false,
            drop_announces: false,
            held: Vec::new(),
            swarms: BTreeMap::new(),
            heard: Vec::new(),
            sockets: BTreeSet::new(),
        }
    }

    pub fn announces_from(&self, node: NodeId) -> Vec<&Heard> {
        self.heard
            .iter()
            .filter(|h| h.node == node && h.event.is_some())
            .collect()
    }
}

pub struct Node {
    pub session: Session,
    pub storage: Option<SharedStorage>,
    pub events: Vec<(Duration, SessionEvent)>,
    /// Every output the node produced, with its time.
    pub outputs: Vec<(Duration, Output)>,
    /// Data channels that opened here.
    pub opened: Vec<ConnId>,
    /// Bytes this node's session sent on data channels: (time, conn, length).
    pub sent: Vec<(Duration, ConnId, usize)>,
    /// The node's tracker ids by URL (as the session named them in `ConnectTracker`).
    pub tracker_ids: BTreeMap<String, TrackerId>,
}

/// One end of a fake peer connection.
#[derive(Debug, Clone, Copy)]
struct Pc {
    /// The other end, once the SDP exchange named it.
    remote: Option<(NodeId, ConnId)>,
    /// The channel's `open` was delivered: data arrives only after it, as in a browser.
    open: bool,
}

#[derive(Debug)]
enum Input {
    TrackerOpen(NodeId, TrackerId),
    TrackerClosed(NodeId, TrackerId),
    TrackerText(NodeId, TrackerId, String),
    LocalSdp(NodeId, ConnId, String),
    ConnFailed(NodeId, ConnId),
    ChannelOpen(NodeId, ConnId),
    Data(NodeId, ConnId, Vec<u8>),
    Buffered(NodeId, ConnId),
    ChannelClosed(NodeId, ConnId),
    /// The SHA-1 a node's `Output::HashPiece` asked for (computed when asked, delivered in
    /// queue order like the browser's WebCrypto promise).
    Hashed(NodeId, TorrentId, u32, u64, [u8; 20]),
    /// Goes to the back of the queue once: happens after what is queued now.
    Later(Box<Input>),
}

pub struct Net {
    pub now: Duration,
    pub nodes: Vec<Node>,
    pub relays: BTreeMap<String, Relay>,
    pcs: BTreeMap<(NodeId, ConnId), Pc>,
    /// Data sent to an end whose channel has not opened yet, delivered right after it opens.
    early: BTreeMap<(NodeId, ConnId), Vec<Vec<u8>>>,
    queue: VecDeque<Input>,
    pub metainfo: Metainfo,
    pub content: Vec<u8>,
    /// Keep every output for `outputs_where` (off for long benchmark runs).
    pub record_outputs: bool,
    /// Nodes that vanished without closing anything (a closed tab): what is sent to them is
    /// lost and the sender's channel never drains.
    pub vanished: BTreeSet<NodeId>,
}

/// Deterministic pseudo-random content.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn make_torrent(data: &[u8], piece_length: u32) -> Metainfo {
    let opts = CreateOptions {
        name: "session.bin".into(),
        piece_length: Some(piece_length),
        ..Default::default()
    };
    let mut b = TorrentBuilder::single_file(opts, data.len() as u64).expect("builder");
    b.update(data).expect("hash");
    b.finish().expect("finish")
}

pub fn session_config(node: NodeId) -> SessionConfig {
    SessionConfig {
        peer_id: Config::peer_id_from_seed(node as u64 + 1),
        seed: node as u64 * 7919 + 1,
        max_peers: 20,
        upload_limit: None,
        browser_limits: true,
        // As the browser's engine (web/api.rs `engine_template`): the swarm bench measures it.
        engine: Config {
            initial_pipeline: DATA_CHANNEL_INITIAL_PIPELINE,
            // The page hashes with WebCrypto: pieces wait for `Input::Hashed`.
            external_hashing: true,
            ..Config::default()
        },
    }
}

impl Net {
    pub fn new(content_len: usize, piece_length: u32) -> Net {
        let content = content(content_len, 7);
        let metainfo = make_torrent(&content, piece_length);
        let mut relays = BTreeMap::new();
        relays.insert(TRACKER.to_owned(), Relay::new());
        Net {
            now: Duration::ZERO,
            nodes: Vec::new(),
            relays,
            pcs: BTreeMap::new(),
            early: BTreeMap::new(),
            queue: VecDeque::new(),
            metainfo,
            content,
            record_outputs: true,
            vanished: BTreeSet::new(),
        }
    }

    pub fn info_hash(&self) -> [u8; 20] {
        self.metainfo.info_hash.0
    }

    pub fn relay(&mut self, url: &str) -> &mut Relay {
        self.relays.entry(url.to_owned()).or_insert_with(Relay::new)
    }

    /// A node with an empty session (add torrents through [`Net::add_torrent`]).
    pub fn add_node(&mut self, config: SessionConfig) -> NodeId {
        let session = Session::new(config, self.now);
        self.nodes.push(Node {
            session,
            storage: None,
            events: Vec::new(),
            outputs: Vec::new(),
            opened: Vec::new(),
            sent: Vec::new(),
            tracker_ids: BTreeMap::new(),
        });
        self.nodes.len() - 1
    }

    pub fn add_seeder(&mut self, config: SessionConfig) -> NodeId {
        let node = self.add_node(config);
        let info = &self.metainfo.info;
        let engine_config = self.nodes[node].session.engine_config(&self.info_hash());
        let engine = Torrent::new(
            self.metainfo.info_hash,
            info.clone(),
            self.metainfo.info_bytes.clone(),
            Box::new(MemoryStorage::from_content(
                &self.content,
                info.piece_length,
            )),
            Some(Bitfield::full(info.num_pieces())),
            engine_config,
            self.now,
        );
        self.add_torrent(node, engine, &[TRACKER]);
        node
    }

    /// An engine for `node` that knows only the info hash (a magnet link), in memory.
    pub fn magnet_engine(&self, node: NodeId) -> Torrent {
        let config = self.nodes[node].session.engine_config(&self.info_hash());
        Torrent::from_info_hash(
            self.metainfo.info_hash,
            Box::new(MemoryStorage::new()),
            config,
            self.now,
        )
    }

    /// A node that knows only the info hash (a magnet link).
    pub fn add_magnet_leecher(&mut self, config: SessionConfig) -> NodeId {
        let node = self.add_node(config);
        let storage = SharedStorage::default();
        let engine_config = self.nodes[node].session.engine_config(&self.info_hash());
        let engine = Torrent::from_info_hash(
            self.metainfo.info_hash,
            Box::new(storage.clone()),
            engine_config,
            self.now,
        );
        self.nodes[node].storage = Some(storage);
        self.add_torrent(node, engine, &[TRACKER]);
        node
    }

    /// A node that has the .torrent but no data.
    pub fn add_leecher(&mut self, config: SessionConfig) -> NodeId {
        let node = self.add_node(config);
        let storage = SharedStorage::default();
        let engine_config = self.nodes[node].session.engine_config(&self.info_hash());
        let engine = Torrent::new(
            self.metainfo.info_hash,
            self.metainfo.info.clone(),
            self.metainfo.info_bytes.clone(),
            Box::new(storage.clone()),
            None,
            engine_config,
            self.now,
        );
        self.nodes[node].storage = Some(storage);
        self.add_torrent(node, engine, &[TRACKER]);
        node
    }

    pub fn add_torrent(&mut self, node: NodeId, engine: Torrent, trackers: &[&str]) {
        let trackers: Vec<String> = trackers.iter().map(|t| t.to_string()).collect();
        let now = self.now;
        self.nodes[node]
            .session
            .add_torrent(engine, &trackers, now)
            .expect("torrent added");
        self.drain(node);
    }

    /// Runs `f` on a node's session at the current time, then collects its outputs.
    pub fn with<R>(&mut self, node: NodeId, f: impl FnOnce(&mut Session, Duration) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[node].session, now);
        self.drain(node);
        r
    }

    /// The relay at `url` drops every socket (the tracker restarts); while `up` is false it
    /// refuses connections.
    pub fn drop_tracker(&mut self, url: &str, up: bool) {
        let relay = self.relay(url);
        relay.up = up;
        relay.swarms.clear();
        let sockets = std::mem::take(&mut relay.sockets);
        for (node, tracker) in sockets {
            self.queue.push_back(Input::TrackerClosed(node, tracker));
        }
    }

    /// Relays the offers held by `url` (see [`Relay::hold_offers`]) to the peers there now.
    pub fn release_offers(&mut self, url: &str) {
        let held = std::mem::take(&mut self.relay(url).held);
        for (node, tracker, text) in held {
            self.relay_offers(url, node, tracker, &text);
        }
    }

    // ---- the run loop -------------------------------------------------------------------

    /// Delivers queued inputs and fires timers until `done` or `limit` (virtual time).
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Net) -> bool) -> bool {
        let mut steps: u64 = 0;
        loop {
            for node in 0..self.nodes.len() {
                self.drain(node);
            }
            if done(self) {
                return true;
            }
            steps += 1;
            assert!(steps < 20_000_000, "the session never settles");
            if let Some(input) = self.queue.pop_front() {
                self.deliver(input);
                continue;
            }
            let Some(next) = self.next_timer() else {
                return false;
            };
            if next > limit {
                self.now = limit;
                return done(self);
            }
            // A timer in the past fires now; time never goes backwards.
            self.now = self.now.max(next);
            let now = self.now;
            for node in 0..self.nodes.len() {
                if !self.vanished.contains(&node)
                    && self.nodes[node]
                        .session
                        .poll_timeout()
                        .is_some_and(|t| t <= now)
                {
                    self.nodes[node].session.handle_timeout(now);
                    self.drain(node);
                }
            }
            // A session asking for a timer it does not act on would spin here.
            if self.queue.is_empty() && self.next_timer().is_some_and(|t| t <= now) {
                self.now += Duration::from_millis(1);
            }
        }
    }

    /// The earliest timer of a node still there (a vanished one does nothing more).
    fn next_timer(&self) -> Option<Duration> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.vanished.contains(i))
            .filter_map(|(_, n)| n.session.poll_timeout())
            .min()
    }

    pub fn run_for(&mut self, duration: Duration) {
        let until = self.now + duration;
        self.run_until(until, |_| false);
    }

    fn deliver(&mut self, input: Input) {
        let input = match input {
            Input::Later(input) => return self.queue.push_back(*input),
            input => input,
        };
        let now = self.now;
        let node = match &input {
            Input::TrackerOpen(n, _)
            | Input::TrackerClosed(n, _)
            | Input::TrackerText(n, _, _)
            | Input::LocalSdp(n, _, _)
            | Input::ConnFailed(n, _)
            | Input::ChannelOpen(n, _)
            | Input::Data(n, _, _)
            | Input::Buffered(n, _)
            | Input::ChannelClosed(n, _)
            | Input::Hashed(n, ..) => *n,
            Input::Later(_) => return,
        };
        if self.vanished.contains(&node) {
            return;
        }
        let n = &mut self.nodes[node];
        let s = &mut n.session;
        match input {
            Input::TrackerOpen(_, t) => s.handle_tracker_open(t, now),
            Input::TrackerClosed(_, t) => s.handle_tracker_closed(t, now),
            Input::TrackerText(_, t, text) => s.handle_tracker_message(t, &text, now),
            Input::LocalSdp(_, c, sdp) => s.handle_local_sdp(c, sdp, now),
            Input::ConnFailed(_, c) => s.handle_conn_failed(c, "bad SDP", now),
            Input::ChannelOpen(_, c) => {
                n.opened.push(c);
                s.handle_channel_open(c, now);
                if let Some(pc) = self.pcs.get_mut(&(node, c)) {
                    pc.open = true;
                }
                for bytes in self
                    .early
                    .remove(&(node, c))
                    .unwrap_or_default()
                    .into_iter()
                    .rev()
                {
                    self.queue.push_front(Input::Data(node, c, bytes));
                }
            }
            Input::Data(_, c, bytes) => s.handle_channel_data(c, &bytes, now),
            Input::Buffered(_, c) => s.handle_buffered(c, 0, now),
            Input::ChannelClosed(_, c) => s.handle_channel_closed(c, now),
            Input::Hashed(_, t, index, token, digest) => {
                s.handle_piece_hash(&t, index, token, digest, now)
            }
            Input::Later(_) => {}
        }
        self.drain(node);
    }

    /// Runs every output of `node`'s session.
    fn drain(&mut self, node: NodeId) {
        if self.vanished.contains(&node) {
            return;
        }
        while let Some(output) = self.nodes[node].session.poll_output() {
            if self.record_outputs {
                self.nodes[node].outputs.push((self.now, output.clone()));
            }
            self.run_output(node, output);
        }
    }

    fn run_output(&mut self, node: NodeId, output: Output) {
        match output {
            Output::HashPiece {
                torrent,
                index,
                token,
            } => {
                let session = &self.nodes[node].session;
                if let Some(data) = session.piece_to_hash(&torrent, index, token) {
                    let digest: [u8; 20] = Sha1::digest(data).into();
                    self.queue
                        .push_back(Input::Hashed(node, torrent, index, token, digest));
                }
            }
            Output::ConnectTracker { tracker, url } => {
                self.nodes[node].tracker_ids.insert(url.clone(), tracker);
                let relay = self.relay(&url);
                if relay.silent {
                    // Nothing comes back.
                } else if relay.up {
                    relay.sockets.insert((node, tracker));
                    self.queue.push_back(Input::TrackerOpen(node, tracker));
                } else {
                    self.queue.push_back(Input::TrackerClosed(node, tracker));
                }
            }
            Output::CloseTracker { tracker } => {
                for relay in self.relays.values_mut() {
                    if relay.sockets.remove(&(node, tracker)) {
                        for swarm in relay.swarms.values_mut() {
                            swarm.retain(|_, v| *v != (node, tracker));
                        }
                    }
                }
            }
            Output::SendToTracker { tracker, text } => {
                let url = self
                    .relays
                    .iter()
                    .find(|(_, r)| r.sockets.contains(&(node, tracker)))
                    .map(|(u, _)| u.clone());
                if let Some(url) = url {
                    self.tracker_receives(&url, node, tracker, &text);
                }
            }
            Output::CreateOffer { conn } => {
                self.pcs.insert(
                    (node, conn),
                    Pc {
                        remote: None,
                        open: false,
                    },
                );
                let sdp = format!("v=0\r\ns=harness offer {node} {conn}\r\n");
                self.queue.push_back(Input::LocalSdp(node, conn, sdp));
            }
            Output::AcceptOffer { conn, sdp } => match parse_sdp(&sdp, "offer") {
                Some(remote) => {
                    self.pcs.insert(
                        (node, conn),
                        Pc {
                            remote: Some(remote),
                            open: false,
                        },
                    );
                    let answer = format!("v=0\r\ns=harness answer {node} {conn}\r\n");
                    self.queue.push_back(Input::LocalSdp(node, conn, answer));
                }
                None => {
                    self.pcs.insert(
                        (node, conn),
                        Pc {
                            remote: None,
                            open: false,
                        },
                    );
                    self.queue.push_back(Input::ConnFailed(node, conn));
                }
            },
            Output::AcceptAnswer { conn, sdp } => {
                let remote = parse_sdp(&sdp, "answer");
                let Some(pc) = self.pcs.get_mut(&(node, conn)) else {
                    return;
                };
                pc.remote = remote;
                // ICE succeeds when the other end still holds the matching connection.
                let linked = remote.is_some_and(|r| {
                    self.pcs
                        .get(&r)
                        .is_some_and(|p| p.remote == Some((node, conn)))
                });
                match remote {
                    // The offerer's channel opens first, the answerer's a moment later, so
                    // two crossed connections open in opposite orders at the two ends.
                    Some(r) if linked => {
                        self.queue.push_back(Input::ChannelOpen(node, conn));
                        let later = Input::ChannelOpen(r.0, r.1);
                        self.queue.push_back(Input::Later(Box::new(later)));
                    }
                    _ => self.queue.push_back(Input::ConnFailed(node, conn)),
                }
            }
            Output::Send { conn, bytes } => {
                self.nodes[node].sent.push((self.now, conn, bytes.len()));
                if let Some(remote) = self.linked(node, conn) {
                    if self.vanished.contains(&remote.0) {
                        return; // lost, and the channel stays full
                    }
                    if self.pcs.get(&remote).is_some_and(|p| p.open) {
                        self.queue.push_back(Input::Data(remote.0, remote.1, bytes));
                    } else {
                        self.early.entry(remote).or_default().push(bytes);
                    }
                }
                self.queue.push_back(Input::Buffered(node, conn));
            }
            Output::Close { conn } => {
                if let Some(remote) = self.linked(node, conn) {
                    self.queue
                        .push_back(Input::ChannelClosed(remote.0, remote.1));
                }
                self.pcs.remove(&(node, conn));
                self.early.remove(&(node, conn));
            }
            Output::Event(event) => self.nodes[node].events.push((self.now, event)),
        }
    }

    /// The other end of `node`'s connection `conn`, if both ends hold each other.
    fn linked(&self, node: NodeId, conn: ConnId) -> Option<(NodeId, ConnId)> {
        let remote = self.pcs.get(&(node, conn))?.remote?;
        (self.pcs.get(&remote)?.remote == Some((node, conn))).then_some(remote)
    }

    // ---- the tracker relay --------------------------------------------------------------

    fn send_to(&mut self, node: NodeId, tracker: TrackerId, text: String) {
        self.queue
            .push_back(Input::TrackerText(node, tracker, text));
    }

    fn tracker_receives(&mut self, url: &str, node: NodeId, tracker: TrackerId, text: &str) {
        let limits = ParseLimits {
            max_offers: 10,
            max_scrape_hashes: 10,
        };
        let now = self.now;
        let (reply, relay_offers, answer) = {
            let relay = self.relay(url);
            match request::parse(text, limits) {
                Ok(Request::Announce(a)) => {
                    relay.heard.push(Heard {
                        at: now,
                        node,
                        info_hash: a.info_hash.0,
                        event: Some(a.event),
                        offer_ids: a.offers.iter().map(|o| o.offer_id.0).collect(),
                        seeder: a.seeder,
                    });
                    if relay.drop_announces {
                        return;
                    }
                    let swarm = relay.swarms.entry(a.info_hash.0).or_default();
                    if a.event == Event::Stopped {
                        swarm.remove(&a.peer_id.0);
                    } else {
                        swarm.insert(a.peer_id.0, (node, tracker));
                    }
                    let reply = response::announce_reply(
                        &a.info_hash,
                        relay.interval,
                        SwarmCounts::default(),
                    );
                    (Some(reply), !a.offers.is_empty(), None)
                }
                Ok(Request::Answer(a)) => {
                    relay.heard.push(Heard {
                        at: now,
                        node,
                        info_hash: a.info_hash.0,
                        event: None,
                        offer_ids: vec![a.offer_id.0],
                        seeder: None,
                    });
                    let to = relay
                        .swarms
                        .get(&a.info_hash.0)
                        .and_then(|s| s.get(&a.to_peer_id.0))
                        .copied();
                    let text = response::relayed_signal(
                        &a.info_hash,
                        &a.peer_id,
                        &a.offer_id,
                        SignalKind::Answer,
                        a.answer,
                    );
                    (None, false, to.map(|to| (to, text)))
                }
                _ => (None, false, None),
            }
        };
        if let Some(reply) = reply {
            self.send_to(node, tracker, reply);
        }
        if let Some(((to_node, to_tracker), text)) = answer {
            self.send_to(to_node, to_tracker, text);
        }
        if relay_offers {
            if self.relay(url).hold_offers {
                self.relay(url).held.push((node, tracker, text.to_owned()));
            } else {
                self.relay_offers(url, node, tracker, text);
            }
        }
    }

    /// Each offer of the announce `text` goes to a different other peer of the swarm.
    fn relay_offers(&mut self, url: &str, node: NodeId, tracker: TrackerId, text: &str) {
        let limits = ParseLimits {
            max_offers: 10,
            max_scrape_hashes: 10,
        };
        let Ok(Request::Announce(a)) = request::parse(text, limits) else {
            return;
        };
        let targets: Vec<(NodeId, TrackerId)> = self
            .relay(url)
            .swarms
            .get(&a.info_hash.0)
            .map(|s| {
                s.iter()
                    .filter(|(id, v)| **id != a.peer_id.0 && **v != (node, tracker))
                    .map(|(_, v)| *v)
                    .collect()
            })
            .unwrap_or_default();
        for (offer, (to_node, to_tracker)) in a.offers.iter().zip(targets) {
            let text = response::relayed_signal(
                &a.info_hash,
                &a.peer_id,
                &offer.offer_id,
                SignalKind::Offer,
                offer.offer,
            );
            self.send_to(to_node, to_tracker, text);
        }
    }

    // ---- queries ------------------------------------------------------------------------

    pub fn is_complete(&self, node: NodeId) -> bool {
        let hash = self.info_hash();
        self.nodes[node]
            .session
            .torrent(&hash)
            .is_some_and(|t| t.is_complete())
    }

    /// The node's stored content, if every piece is there.
    pub fn stored_content(&self, node: NodeId) -> Option<Vec<u8>> {
        let storage = self.nodes[node].storage.as_ref()?;
        storage.borrow().content(self.metainfo.info.num_pieces())
    }

    pub fn events_where(
        &self,
        node: NodeId,
        f: impl Fn(&SessionEvent) -> bool,
    ) -> Vec<SessionEvent> {
        self.nodes[node]
            .events
            .iter()
            .filter(|(_, e)| f(e))
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub fn outputs_where(
        &self,
        node: NodeId,
        f: impl Fn(&Output) -> bool,
    ) -> Vec<(Duration, Output)> {
        self.nodes[node]
            .outputs
            .iter()
            .filter(|(_, o)| f(o))
            .cloned()
            .collect()
    }

    /// The node's tracker id for `url`.
    pub fn tracker_id(&self, node: NodeId, url: &str) -> TrackerId {
        self.nodes[node].tracker_ids[url]
    }

    /// The other end of an open connection.
    pub fn remote_of(&self, node: NodeId, conn: ConnId) -> Option<(NodeId, ConnId)> {
        self.linked(node, conn)
    }
}

/// `(node, conn)` from a harness SDP of `kind`.
fn parse_sdp(sdp: &str, kind: &str) -> Option<(NodeId, ConnId)> {
    let line = sdp.lines().find_map(|l| l.strip_prefix("s=harness "))?;
    let mut words = line.split(' ');
    (words.next()? == kind).then_some(())?;
    let node = words.next()?.parse().ok()?;
    let conn = words.next()?.parse().ok()?;
    Some((node, conn))
}

/// The `Id20` form of a peer id, for building tracker messages in tests.
pub fn id20(bytes: [u8; 20]) -> Id20 {
    Id20(bytes)
}
