//! A deterministic swarm simulator: many engines in one process, a virtual clock, and
//! simulated links with bandwidth, latency, loss and disconnects.
//!
//! Model: each node has one uplink (bytes/s) shared by all its connections, like a home
//! connection; a connection direction behaves like a reliable ordered data channel — bytes
//! are delivered in order after the uplink serialises them plus the link latency, and a lost
//! packet costs a retransmission delay (head-of-line blocking) rather than data. Each
//! direction has a send buffer; the engine is polled only while that buffer is below
//! `HIGH_WATER` (the analogue of `bufferedAmount` backpressure).
//!
//! Everything is ordered by (time, sequence number) and all randomness comes from seeds,
//! so a run replays exactly.
#![allow(dead_code, unused_imports)]

pub mod storage;

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;
use std::time::Duration;

use seedcast::create::{CreateOptions, TorrentBuilder};
use seedcast::engine::rng::Rng;
use seedcast::engine::{Bitfield, Config, Event, MemoryStorage, Storage, Torrent};
use seedcast::metainfo::Metainfo;

pub use storage::{CorruptingStorage, SharedStorage};

/// Bytes a connection direction may have queued before the engine is asked for more.
pub const HIGH_WATER: usize = 256 * 1024;
/// The simulated data channel delivers at most this many bytes per message.
pub const CHUNK: usize = 16 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct LinkSpec {
    pub latency: Duration,
    /// Probability that a chunk is lost once and retransmitted.
    pub loss: f64,
    pub retransmit_delay: Duration,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            latency: Duration::from_millis(25),
            loss: 0.0,
            retransmit_delay: Duration::from_millis(200),
        }
    }
}

pub type NodeId = usize;
type ConnId = u64;

pub struct Node {
    pub torrent: Torrent,
    pub storage: SharedStorage,
    pub uplink: u64,
    uplink_free_at: Duration,
    pub alive: bool,
    timer_at: Option<Duration>,
    /// Connection id → peer key on this node (we use the connection id as key).
    conns: BTreeMap<ConnId, NodeId>,
    pub events: Vec<(Duration, Event)>,
    pub completed_at: Option<Duration>,
    pub metadata_at: Option<Duration>,
    /// False for a node that never reads its connections: its receive windows stay closed,
    /// so what others send it stays in their send buffers (see [`Sim::add_non_reader`]).
    pub reading: bool,
}

struct Direction {
    buffered: usize,
    last_arrival: Duration,
}

struct Conn {
    a: NodeId,
    b: NodeId,
    link: LinkSpec,
    open: bool,
    /// Index 0: a → b, index 1: b → a.
    dirs: [Direction; 2],
}

enum Ev {
    Deliver {
        conn: ConnId,
        to: NodeId,
        data: Vec<u8>,
    },
    Drained {
        conn: ConnId,
        from: NodeId,
        len: usize,
    },
    Timer {
        node: NodeId,
    },
    Closed {
        conn: ConnId,
        to: NodeId,
    },
    Kill {
        node: NodeId,
    },
    Reader {
        node: NodeId,
        reader: u64,
        offset: u64,
    },
}

struct Scheduled {
    at: Duration,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

pub struct Sim {
    pub now: Duration,
    pub nodes: Vec<Node>,
    conns: BTreeMap<ConnId, Conn>,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    next_conn: ConnId,
    rng: Rng,
    pub metainfo: Metainfo,
    pub content: Rc<Vec<u8>>,
    /// Events processed, a cheap measure of simulation work.
    pub steps: u64,
    /// Payload-carrying bytes moved over all links.
    pub bytes_moved: u64,
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

/// A single-file torrent of `data`.
pub fn make_torrent(data: &[u8], piece_length: Option<u32>) -> Metainfo {
    let opts = CreateOptions {
        name: "sim.bin".into(),
        piece_length,
        ..Default::default()
    };
    let mut b = TorrentBuilder::single_file(opts, data.len() as u64).expect("builder");
    b.update(data).expect("hash");
    b.finish().expect("finish")
}

impl Sim {
    pub fn new(content_len: usize, piece_length: Option<u32>, seed: u64) -> Sim {
        let data = content(content_len, seed);
        let metainfo = make_torrent(&data, piece_length);
        Sim {
            now: Duration::ZERO,
            nodes: Vec::new(),
            conns: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            next_conn: 1,
            rng: Rng::new(seed ^ 0xabcdef),
            metainfo,
            content: Rc::new(data),
            steps: 0,
            bytes_moved: 0,
        }
    }

    fn config(&self, id: NodeId) -> Config {
        Config {
            peer_id: Config::peer_id_from_seed(id as u64 + 1),
            seed: id as u64 * 7919 + 1,
            ..Config::default()
        }
    }

    fn add_node(&mut self, torrent: Torrent, storage: SharedStorage, uplink: u64) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            torrent,
            storage,
            uplink,
            uplink_free_at: self.now,
            alive: true,
            timer_at: None,
            conns: BTreeMap::new(),
            events: Vec::new(),
            completed_at: None,
            metadata_at: None,
            reading: true,
        });
        self.pump(id);
        id
    }

    /// A node holding the whole content. `storage` wraps it, e.g. to corrupt what it serves.
    pub fn add_seeder_with(
        &mut self,
        uplink: u64,
        wrap: impl FnOnce(MemoryStorage) -> Box<dyn Storage>,
    ) -> NodeId {
        let id = self.nodes.len();
        let info = &self.metainfo.info;
        let mem = MemoryStorage::from_content(&self.content, info.piece_length);
        let shared = SharedStorage::default();
        let have = Bitfield::full(info.num_pieces());
        let t = Torrent::new(
            self.metainfo.info_hash,
            info.clone(),
            self.metainfo.info_bytes.clone(),
            wrap(mem),
            Some(have),
            self.config(id),
            self.now,
        );
        self.add_node(t, shared, uplink)
    }

    /// A seeder that serves (and announces the size of) `info_bytes` as its metadata
    /// instead of the real info dictionary: a metadata liar, or one with a wrong size.
    pub fn add_seeder_with_info(&mut self, uplink: u64, info_bytes: Vec<u8>) -> NodeId {
        let id = self.nodes.len();
        let info = &self.metainfo.info;
        let mem = MemoryStorage::from_content(&self.content, info.piece_length);
        let t = Torrent::new(
            self.metainfo.info_hash,
            info.clone(),
            info_bytes,
            Box::new(mem),
            Some(Bitfield::full(info.num_pieces())),
            self.config(id),
            self.now,
        );
        self.add_node(t, SharedStorage::default(), uplink)
    }

    pub fn add_seeder(&mut self, uplink: u64) -> NodeId {
        self.add_seeder_with(uplink, |m| Box::new(m))
    }

    /// A node that knows the .torrent but has no data.
    pub fn add_leecher(&mut self, uplink: u64) -> NodeId {
        let id = self.nodes.len();
        let storage = SharedStorage::default();
        let t = Torrent::new(
            self.metainfo.info_hash,
            self.metainfo.info.clone(),
            self.metainfo.info_bytes.clone(),
            Box::new(storage.clone()),
            None,
            self.config(id),
            self.now,
        );
        self.add_node(t, storage, uplink)
    }

    /// A node that only has the info hash (a magnet link).
    pub fn add_magnet_leecher(&mut self, uplink: u64) -> NodeId {
        let id = self.nodes.len();
        let storage = SharedStorage::default();
        let t = Torrent::from_info_hash(
            self.metainfo.info_hash,
            Box::new(storage.clone()),
            self.config(id),
            self.now,
        );
        self.add_node(t, storage, uplink)
    }

    pub fn connect(&mut self, a: NodeId, b: NodeId, link: LinkSpec) {
        let id = self.next_conn;
        self.next_conn += 1;
        let dir = || Direction {
            buffered: 0,
            last_arrival: Duration::ZERO,
        };
        self.conns.insert(
            id,
            Conn {
                a,
                b,
                link,
                open: true,
                dirs: [dir(), dir()],
            },
        );
        for n in [a, b] {
            self.nodes[n].conns.insert(id, if n == a { b } else { a });
            let now = self.now;
            self.nodes[n].torrent.handle_connect(id, now);
        }
        self.pump(a);
        self.pump(b);
    }

    pub fn kill_at(&mut self, node: NodeId, at: Duration) {
        self.schedule(at, Ev::Kill { node });
    }

    pub fn set_reader_at(&mut self, node: NodeId, reader: u64, offset: u64, at: Duration) {
        self.schedule(
            at,
            Ev::Reader {
                node,
                reader,
                offset,
            },
        );
    }

    fn schedule(&mut self, at: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// Runs until `done` holds or virtual time passes `limit`; returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        while let Some(s) = self.queue.pop() {
            if s.at > limit {
                self.queue.push(s);
                return done(self);
            }
            self.now = s.at;
            self.steps += 1;
            self.dispatch(s.ev);
            if done(self) {
                return true;
            }
        }
        done(self)
    }

    /// Runs until every live node has every piece.
    pub fn run_to_completion(&mut self, limit: Duration) -> bool {
        self.run_until(limit, |s| {
            s.nodes
                .iter()
                .filter(|n| n.alive)
                .all(|n| n.torrent.is_complete())
        })
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { conn, to, data } => {
                if self.conns.get(&conn).is_some_and(|c| c.open) && self.nodes[to].alive {
                    let now = self.now;
                    self.nodes[to].torrent.handle_data(conn, &data, now);
                    self.pump(to);
                }
            }
            Ev::Drained { conn, from, len } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    let d = if c.a == from { 0 } else { 1 };
                    c.dirs[d].buffered -= len;
                }
                self.pump(from);
            }
            Ev::Timer { node } => {
                let n = &mut self.nodes[node];
                if n.alive && n.timer_at == Some(self.now) {
                    n.timer_at = None;
                    n.torrent.handle_timeout(self.now);
                    self.pump(node);
                }
            }
            Ev::Closed { conn, to } => {
                if self.nodes[to].alive {
                    let now = self.now;
                    self.nodes[to].torrent.handle_disconnect(conn, now);
                    self.nodes[to].conns.remove(&conn);
                    self.pump(to);
                }
            }
            Ev::Kill { node } => {
                self.nodes[node].alive = false;
                let conns: Vec<ConnId> = self.nodes[node].conns.keys().copied().collect();
                for c in conns {
                    self.close(c, node);
                }
            }
            Ev::Reader {
                node,
                reader,
                offset,
            } => {
                let now = self.now;
                self.nodes[node].torrent.set_reader(reader, offset, now);
                self.pump(node);
            }
        }
    }

    /// `by` closes connection `conn`; the other side learns of it one latency later.
    fn close(&mut self, conn: ConnId, by: NodeId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.open {
            return;
        }
        c.open = false;
        let other = if c.a == by { c.b } else { c.a };
        let at = self.now + c.link.latency;
        self.nodes[by].conns.remove(&conn);
        self.schedule(at, Ev::Closed { conn, to: other });
    }

    /// Lets a node act: records its events, closes what it asked to close, sends what its
    /// links can take, and arms its timer.
    fn pump(&mut self, id: NodeId) {
        if !self.nodes[id].alive {
            return;
        }
        while let Some(ev) = self.nodes[id].torrent.poll_event() {
            let now = self.now;
            match &ev {
                Event::Disconnect { peer, .. } => self.close(*peer, id),
                Event::Completed => self.nodes[id].completed_at = Some(now),
                Event::MetadataReady => self.nodes[id].metadata_at = Some(now),
                _ => {}
            }
            self.nodes[id].events.push((now, ev));
        }
        let conns: Vec<ConnId> = self.nodes[id].conns.keys().copied().collect();
        for conn in conns {
            self.transmit(id, conn);
        }
        let t = self.nodes[id].torrent.poll_timeout().max(self.now);
        if self.nodes[id].timer_at != Some(t) {
            self.nodes[id].timer_at = Some(t);
            self.schedule(t, Ev::Timer { node: id });
        }
    }

    fn transmit(&mut self, from: NodeId, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get(&conn) else {
                return;
            };
            if !c.open {
                return;
            }
            let d = if c.a == from { 0 } else { 1 };
            let room = HIGH_WATER.saturating_sub(c.dirs[d].buffered);
            if room == 0 {
                return;
            }
            let Some(data) = self.nodes[from].torrent.poll_transmit(conn, room) else {
                return;
            };
            for chunk in data.chunks(CHUNK) {
                self.send_chunk(from, conn, d, chunk.to_vec());
            }
        }
    }

    fn send_chunk(&mut self, from: NodeId, conn: ConnId, d: usize, data: Vec<u8>) {
        let len = data.len();
        let to = {
            let c = &self.conns[&conn];
            if d == 0 { c.b } else { c.a }
        };
        if !self.nodes[to].reading {
            // The receiver's window is closed: the bytes never leave the sender's buffer.
            if let Some(c) = self.conns.get_mut(&conn) {
                c.dirs[d].buffered += len;
            }
            return;
        }
        let node = &mut self.nodes[from];
        let start = node.uplink_free_at.max(self.now);
        let on_wire = Duration::from_nanos((len as u64 * 1_000_000_000) / node.uplink.max(1));
        node.uplink_free_at = start + on_wire;
        let sent = start + on_wire;
        let lost = {
            let c = &self.conns[&conn];
            c.link.loss > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < c.link.loss
        };
        let c = self.conns.get_mut(&conn).expect("open connection");
        let mut arrive = sent + c.link.latency;
        if lost {
            arrive += c.link.retransmit_delay;
        }
        // Reliable and ordered: nothing overtakes an earlier chunk of the same direction.
        arrive = arrive.max(c.dirs[d].last_arrival);
        c.dirs[d].last_arrival = arrive;
        c.dirs[d].buffered += len;
        let to = if d == 0 { c.b } else { c.a };
        self.bytes_moved += len as u64;
        self.schedule(sent, Ev::Drained { conn, from, len });
        self.schedule(arrive, Ev::Deliver { conn, to, data });
    }

    /// The content a node has verified, if complete.
    pub fn node_content(&self, id: NodeId) -> Option<Vec<u8>> {
        self.nodes[id]
            .storage
            .borrow()
            .content(self.metainfo.info.num_pieces())
    }

    /// True if the node verified exactly the torrent's content (never print the bytes).
    pub fn has_content(&self, id: NodeId) -> bool {
        self.node_content(id)
            .is_some_and(|c| c[..] == self.content[..])
    }

    pub fn uploaded(&self, id: NodeId) -> u64 {
        self.nodes[id].torrent.stats().uploaded
    }

    pub fn banned_by(&self, id: NodeId) -> Vec<String> {
        self.nodes[id]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::PeerBanned { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// Order in which a node verified pieces.
    pub fn verified_order(&self, id: NodeId) -> Vec<u32> {
        self.nodes[id]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::PieceVerified { index } => Some(*index),
                _ => None,
            })
            .collect()
    }
}

// ---- hostile nodes ---------------------------------------------------------------------

impl Sim {
    /// A node that knows the torrent, sends its handshake and never reads anything: peers'
    /// send buffers towards it fill and stay full. Its own timeouts are off so it keeps its
    /// connections; what it says beyond the handshake comes from [`Sim::inject`].
    pub fn add_non_reader(&mut self, uplink: u64) -> NodeId {
        let id = self.nodes.len();
        let storage = SharedStorage::default();
        let config = Config {
            handshake_timeout: Duration::from_secs(1 << 30),
            idle_timeout: Duration::from_secs(1 << 30),
            write_stall_timeout: Duration::from_secs(1 << 30),
            ..self.config(id)
        };
        let t = Torrent::new(
            self.metainfo.info_hash,
            self.metainfo.info.clone(),
            self.metainfo.info_bytes.clone(),
            Box::new(storage.clone()),
            None,
            config,
            self.now,
        );
        let node = self.add_node(t, storage, uplink);
        self.nodes[node].reading = false;
        node
    }

    /// A node that reads normally but whose engine never gives up on a connection, so a
    /// test can script what it sends with [`Sim::inject`] (e.g. a request flood).
    pub fn add_scripted_leecher(&mut self, uplink: u64) -> NodeId {
        let node = self.add_non_reader(uplink);
        self.nodes[node].reading = true;
        node
    }

    /// The newest open connection between `a` and `b` (its id is the peer key on both).
    pub fn conn_between(&self, a: NodeId, b: NodeId) -> Option<u64> {
        self.conns
            .iter()
            .rev()
            .find(|(_, c)| c.open && ((c.a, c.b) == (a, b) || (c.a, c.b) == (b, a)))
            .map(|(&id, _)| id)
    }

    /// Sends raw wire bytes from `from` to `to` over their open connection, bypassing
    /// `from`'s engine (a scripted or hostile peer). Returns false if there is none.
    pub fn inject(&mut self, from: NodeId, to: NodeId, bytes: &[u8]) -> bool {
        let Some(conn) = self.conn_between(from, to) else {
            return false;
        };
        let d = if self.conns[&conn].a == from { 0 } else { 1 };
        for chunk in bytes.chunks(CHUNK) {
            self.send_chunk(from, conn, d, chunk.to_vec());
        }
        true
    }

    /// Events of `node` matching `f`, with their times.
    pub fn events_where(&self, node: NodeId, f: impl Fn(&Event) -> bool) -> Vec<(Duration, Event)> {
        self.nodes[node]
            .events
            .iter()
            .filter(|(_, e)| f(e))
            .cloned()
            .collect()
    }
}
