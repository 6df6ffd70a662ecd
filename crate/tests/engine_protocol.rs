//! The engine against one scripted peer: what it says, and how it treats a hostile peer.
//! Each test speaks real wire bytes to a `Torrent` and decodes what comes back.

mod fixture;

use std::time::Duration;

use proptest::prelude::*;
use seedcast::engine::torrent::PENALTY_BASE;
use seedcast::engine::{Bitfield, Config, Event, MemoryStorage, Storage, StorageError, Torrent};
use seedcast::metainfo::Metainfo;
use seedcast::wire::{
    BLOCK_SIZE, BlockRef, Decoder, EXT_HANDSHAKE_ID, ExtendedHandshake, Frame, Handshake, Message,
    MetadataMsg, UT_METADATA_LOCAL_ID,
};

const PIECE: u32 = 2 * BLOCK_SIZE;
const PIECES: u32 = 4;
const THEM: [u8; 20] = *b"-XX0001-scriptedpeer";
const PEER: u64 = 1;

fn content() -> Vec<u8> {
    fixture::patterned(PIECE * PIECES - 1000, 7)
}

fn metainfo() -> Metainfo {
    fixture::single_file("t.bin", PIECE, &content())
}

/// The peer's extension handshake offering ut_metadata (as id 9) with `size` bytes of metadata.
fn offers_metadata(size: u64) -> Message {
    let theirs = ExtendedHandshake {
        m: [("ut_metadata".to_string(), 9)].into(),
        metadata_size: Some(size),
        ..Default::default()
    };
    Message::Extended {
        id: EXT_HANDSHAKE_ID,
        payload: theirs.encode(),
    }
}

struct Harness {
    t: Torrent,
    m: Metainfo,
    now: Duration,
    decoder: Decoder,
    events: Vec<Event>,
}

impl Harness {
    fn new(seeding: bool) -> Harness {
        let storage = if seeding {
            MemoryStorage::from_content(&content(), PIECE)
        } else {
            MemoryStorage::new()
        };
        Harness::with_storage(Box::new(storage), seeding)
    }

    fn with_storage(storage: Box<dyn Storage>, seeding: bool) -> Harness {
        Harness::with_config(storage, seeding, Config::default())
    }

    fn with_config(storage: Box<dyn Storage>, seeding: bool, config: Config) -> Harness {
        let m = metainfo();
        let have = seeding.then(|| Bitfield::full(PIECES));
        let t = Torrent::new(
            m.info_hash,
            m.info.clone(),
            m.info_bytes.clone(),
            storage,
            have,
            config,
            Duration::ZERO,
        );
        Harness {
            t,
            m,
            now: Duration::ZERO,
            decoder: Decoder::new(),
            events: Vec::new(),
        }
    }

    fn magnet() -> Harness {
        let m = metainfo();
        let t = Torrent::from_info_hash(
            m.info_hash,
            Box::new(MemoryStorage::new()),
            Config::default(),
            Duration::ZERO,
        );
        Harness {
            t,
            m,
            now: Duration::ZERO,
            decoder: Decoder::new(),
            events: Vec::new(),
        }
    }

    /// Connects and completes the handshake with the given reserved bits.
    fn connect_with(&mut self, hs: Handshake) -> Vec<Message> {
        self.decoder = Decoder::new(); // a new connection starts with a handshake
        self.t.handle_connect(PEER, self.now);
        let mut bytes = Vec::new();
        hs.encode_into(&mut bytes);
        self.feed(&bytes);
        self.recv()
    }

    fn connect(&mut self) -> Vec<Message> {
        self.connect_with(Handshake::new(self.m.info_hash.0, THEM))
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.t.handle_data(PEER, bytes, self.now);
        self.drain_events();
    }

    fn send(&mut self, msgs: &[Message]) -> Vec<Message> {
        let mut bytes = Vec::new();
        for m in msgs {
            m.encode_into(&mut bytes);
        }
        self.feed(&bytes);
        self.recv()
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.t.poll_event() {
            self.events.push(e);
        }
    }

    /// Everything the engine wants to send to the peer, decoded.
    fn recv(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(bytes) = self.t.poll_transmit(PEER, 1 << 20) {
            self.decoder.push(&bytes);
        }
        while let Ok(Some(frame)) = self.decoder.next() {
            if let Frame::Message(m) = frame {
                out.push(m);
            }
        }
        self.drain_events();
        out
    }

    /// Runs timers up to `now + by`, taking the output after each as a driver does.
    fn advance(&mut self, by: Duration) -> Vec<Message> {
        let end = self.now + by;
        let mut msgs = Vec::new();
        while self.t.poll_timeout() <= end {
            self.now = self.t.poll_timeout();
            self.t.handle_timeout(self.now);
            msgs.extend(self.recv());
        }
        self.now = end;
        msgs.extend(self.recv());
        msgs
    }

    /// Whether an event the engine gave so far matches.
    fn saw(&self, matches: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(matches)
    }

    fn disconnected(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            Event::Disconnect { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
    }
}

fn no_fast(info_hash: [u8; 20]) -> Handshake {
    let mut h = Handshake::new(info_hash, THEM);
    h.reserved[7] &= !0x04;
    h
}

#[test]
fn seeder_announces_everything_after_the_handshake() {
    let mut h = Harness::new(true);
    let msgs = h.connect();
    assert!(matches!(
        msgs[0],
        Message::Extended {
            id: EXT_HANDSHAKE_ID,
            ..
        }
    ));
    assert!(
        msgs.contains(&Message::HaveAll),
        "fast peers get have-all: {msgs:?}"
    );
    let Message::Extended { payload, .. } = &msgs[0] else {
        unreachable!()
    };
    let ext = ExtendedHandshake::parse(payload).unwrap();
    assert_eq!(ext.metadata_size, Some(h.m.info_bytes.len() as u64));
    assert_eq!(ext.ext_id("ut_metadata"), Some(UT_METADATA_LOCAL_ID));
    assert!(matches!(h.events[0], Event::PeerReady { .. }));

    // A peer without the fast extension gets a plain bitfield instead.
    let mut h = Harness::new(true);
    let msgs = h.connect_with(no_fast(h.m.info_hash.0));
    assert!(msgs.contains(&Message::Bitfield(vec![0xf0])), "{msgs:?}");
}

#[test]
fn seeder_serves_blocks_only_after_unchoking() {
    let mut h = Harness::new(true);
    h.connect();
    let block = BlockRef {
        index: 1,
        begin: BLOCK_SIZE,
        length: BLOCK_SIZE,
    };
    let msgs = h.send(&[Message::Interested]);
    assert_eq!(
        msgs,
        vec![Message::Unchoke],
        "a free slot unchokes an interested peer at once"
    );
    let msgs = h.send(&[Message::Request(block)]);
    let data = content()[(PIECE + BLOCK_SIZE) as usize..(PIECE + 2 * BLOCK_SIZE) as usize].to_vec();
    assert_eq!(
        msgs,
        vec![Message::Piece {
            index: 1,
            begin: BLOCK_SIZE,
            data
        }]
    );
    assert_eq!(h.t.stats().uploaded, BLOCK_SIZE as u64);
    // Cancelled before it is sent: nothing goes out.
    h.t.handle_data(
        PEER,
        &{
            let mut b = Vec::new();
            Message::Request(block).encode_into(&mut b);
            Message::Cancel(block).encode_into(&mut b);
            b
        },
        h.now,
    );
    assert!(h.recv().is_empty());
}

/// An asynchronous backend as the browser has: pieces not "loaded" answer `Pending`.
#[derive(Default)]
struct LazyState {
    loaded: std::collections::HashSet<u32>,
    prefetched: Vec<u32>,
    unprefetched: Vec<u32>,
}

struct LazyStorage {
    inner: MemoryStorage,
    state: std::rc::Rc<std::cell::RefCell<LazyState>>,
}

impl Storage for LazyStorage {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        self.inner.write_piece(index, data)
    }
    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        if !self.state.borrow().loaded.contains(&index) {
            return Err(StorageError::Pending(index));
        }
        self.inner.read_block(index, begin, len, out)
    }
    fn prefetch(&mut self, index: u32) {
        self.state.borrow_mut().prefetched.push(index);
    }
    fn unprefetch(&mut self, index: u32) {
        self.state.borrow_mut().unprefetched.push(index);
    }
}

/// A connected, interested and unchoked peer of a seed whose storage has only `loaded` in
/// memory; the state tells what the engine asked of the storage.
fn unchoked_with_lazy_storage(
    loaded: &[u32],
) -> (Harness, std::rc::Rc<std::cell::RefCell<LazyState>>) {
    let state = std::rc::Rc::new(std::cell::RefCell::new(LazyState::default()));
    state.borrow_mut().loaded.extend(loaded);
    let storage = LazyStorage {
        inner: MemoryStorage::from_content(&content(), PIECE),
        state: state.clone(),
    };
    let mut h = Harness::with_storage(Box::new(storage), true);
    h.connect();
    assert_eq!(h.send(&[Message::Interested]), vec![Message::Unchoke]);
    (h, state)
}

#[test]
fn a_cancelled_request_withdraws_its_load_hint_once_nothing_else_wants_the_piece() {
    let (mut h, state) = unchoked_with_lazy_storage(&[]);
    let block = |index, begin| BlockRef {
        index,
        begin,
        length: BLOCK_SIZE,
    };
    h.send(&[
        Message::Request(block(2, 0)),
        Message::Request(block(2, BLOCK_SIZE)),
        Message::Request(block(3, 0)),
    ]);
    h.send(&[Message::Cancel(block(2, 0))]);
    assert!(
        state.borrow().unprefetched.is_empty(),
        "piece 2 is still wanted by the other request"
    );
    h.send(&[Message::Cancel(block(2, BLOCK_SIZE))]);
    assert_eq!(state.borrow().unprefetched, vec![2]);
    // A seek on the other side: all of it goes, so the backend loads nothing stale.
    h.t.handle_disconnect(PEER, h.now);
    assert_eq!(state.borrow().unprefetched, vec![2, 3]);
}

#[test]
fn a_load_hint_stays_while_another_peer_still_wants_the_piece() {
    let (mut h, state) = unchoked_with_lazy_storage(&[]);
    let block = |index, begin| BlockRef {
        index,
        begin,
        length: BLOCK_SIZE,
    };
    // A second peer, unchoked on interest, asks for the same piece.
    const OTHER: u64 = 2;
    h.t.handle_connect(OTHER, h.now);
    let mut bytes = Vec::new();
    Handshake::new(h.m.info_hash.0, [7; 20]).encode_into(&mut bytes);
    Message::Interested.encode_into(&mut bytes);
    Message::Request(block(2, 0)).encode_into(&mut bytes);
    h.t.handle_data(OTHER, &bytes, h.now);

    h.send(&[Message::Request(block(2, 0))]);
    h.send(&[Message::Cancel(block(2, 0))]);
    h.t.handle_disconnect(PEER, h.now);
    assert!(
        state.borrow().unprefetched.is_empty(),
        "the other peer still waits for piece 2: {:?}",
        state.borrow().unprefetched
    );
    h.t.handle_disconnect(OTHER, h.now);
    assert_eq!(state.borrow().unprefetched, vec![2]);
}

#[test]
fn a_block_whose_piece_is_still_loading_waits_in_order_and_is_then_served() {
    let (mut h, state) = unchoked_with_lazy_storage(&[1]);
    let b2 = BlockRef {
        index: 2,
        begin: 0,
        length: BLOCK_SIZE,
    };
    let b1 = BlockRef {
        index: 1,
        begin: 0,
        length: BLOCK_SIZE,
    };
    let msgs = h.send(&[Message::Request(b2), Message::Request(b1)]);
    assert!(
        msgs.is_empty(),
        "nothing is sent while the first requested piece loads (got {msgs:?})"
    );
    assert_eq!(
        state.borrow().prefetched,
        vec![2, 1],
        "each request tells the backend to start loading its piece"
    );
    assert!(h.t.wants_transmit(PEER), "the requests are still queued");
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::StorageError { .. })),
        "a load in progress is not a storage error"
    );
    state.borrow_mut().loaded.insert(2);
    let msgs = h.recv();
    let piece = |b: BlockRef| Message::Piece {
        index: b.index,
        begin: b.begin,
        data: content()[(b.index * PIECE + b.begin) as usize..][..b.length as usize].to_vec(),
    };
    assert_eq!(msgs.len(), 2);
    assert!(
        msgs[0] == piece(b2) && msgs[1] == piece(b1),
        "served in request order"
    );
    assert_eq!(h.t.stats().uploaded, 2 * BLOCK_SIZE as u64);
}

#[test]
fn requests_from_a_choked_peer_are_rejected_not_served() {
    let mut h = Harness::new(true);
    h.connect();
    let block = BlockRef {
        index: 0,
        begin: 0,
        length: BLOCK_SIZE,
    };
    assert_eq!(
        h.send(&[Message::Request(block)]),
        vec![Message::Reject(block)]
    );
}

#[test]
fn leecher_downloads_verifies_and_completes() {
    let mut h = Harness::new(false);
    let msgs = h.connect();
    assert!(msgs.contains(&Message::HaveNone));
    let msgs = h.send(&[Message::HaveAll]);
    assert_eq!(msgs, vec![Message::Interested]);
    let msgs = h.send(&[Message::Unchoke]);
    let requests: Vec<BlockRef> = msgs
        .iter()
        .filter_map(|m| {
            if let Message::Request(b) = m {
                Some(*b)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        requests.len(),
        4,
        "initial pipeline is min_pipeline: {msgs:?}"
    );
    let data = content();
    let mut all = requests.clone();
    let mut answered = 0;
    while let Some(b) = all.pop() {
        let start = (b.index * PIECE + b.begin) as usize;
        let reply = Message::Piece {
            index: b.index,
            begin: b.begin,
            data: data[start..start + b.length as usize].to_vec(),
        };
        for m in h.send(&[reply]) {
            if let Message::Request(next) = m {
                all.push(next);
            }
        }
        answered += 1;
        assert!(answered < 100, "runaway requests");
    }
    assert!(h.t.is_complete());
    assert_eq!(
        h.events
            .iter()
            .filter(|e| matches!(e, Event::PieceVerified { .. }))
            .count(),
        PIECES as usize
    );
    assert!(h.events.contains(&Event::Completed));
    assert_eq!(h.t.stats().downloaded, data.len() as u64);
    assert_eq!(h.t.stats().wasted, 0);
    assert_eq!(
        h.disconnected(),
        Some("both sides are seeding"),
        "two seeds have nothing to trade"
    );
}

fn piece_for(b: BlockRef) -> Message {
    let start = (b.index * PIECE + b.begin) as usize;
    Message::Piece {
        index: b.index,
        begin: b.begin,
        data: content()[start..start + b.length as usize].to_vec(),
    }
}

#[test]
fn the_initial_pipeline_fills_a_new_connection_then_the_measured_rate_decides() {
    // A slow peer must not keep a deep queue once its rate is known: its blocks would only
    // wait there, and be taken over by faster peers with both copies arriving.
    let config = Config {
        initial_pipeline: 6,
        min_pipeline: 1,
        ..Config::default()
    };
    let mut h = Harness::with_config(Box::new(MemoryStorage::new()), false, config);
    h.connect();
    h.send(&[Message::HaveAll]);
    let first = fixture::requests(&h.send(&[Message::Unchoke]));
    assert_eq!(first.len(), 6, "nothing measured yet: the initial pipeline");
    // One block in the first second: 16 KiB/s, one request's worth per second.
    assert!(fixture::requests(&h.send(&[piece_for(first[0])])).len() <= 1);
    h.advance(Duration::from_secs(1));
    let mut more = Vec::new();
    for &b in &first[1..5] {
        more.extend(fixture::requests(&h.send(&[piece_for(b)])));
    }
    assert!(
        more.is_empty(),
        "one request still in flight covers the measured second: {more:?}"
    );
}

#[test]
fn unrequested_data_is_wasted_not_stored() {
    let mut h = Harness::new(false);
    h.connect();
    h.send(&[Message::HaveAll]);
    h.send(&[Message::Piece {
        index: 3,
        begin: 0,
        data: vec![1; BLOCK_SIZE as usize],
    }]);
    assert_eq!(h.t.stats().downloaded, 0);
    assert_eq!(h.t.stats().wasted, BLOCK_SIZE as u64);
    assert!(
        h.disconnected().is_none(),
        "an unexpected block is waste, not a violation"
    );
}

#[test]
fn a_bad_piece_is_refetched_and_the_sole_sender_banned_on_repeat() {
    let mut h = Harness::new(false);
    h.connect();
    h.send(&[Message::HaveAll]);
    let mut pending: Vec<BlockRef> = h
        .send(&[Message::Unchoke])
        .iter()
        .filter_map(|m| {
            if let Message::Request(b) = m {
                Some(*b)
            } else {
                None
            }
        })
        .collect();
    let mut steps = 0;
    while let Some(b) = pending.pop() {
        // Garbage for every block.
        for m in h.send(&[Message::Piece {
            index: b.index,
            begin: b.begin,
            data: vec![0xee; b.length as usize],
        }]) {
            if let Message::Request(next) = m {
                pending.push(next);
            }
        }
        steps += 1;
        if h.disconnected().is_some() || steps > 50 {
            break;
        }
    }
    let failed = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::PieceFailed { .. }))
        .count();
    assert_eq!(failed, 2, "banned after the second bad piece");
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::PeerBanned {
            peer_id: Some(THEM),
            ..
        }
    )));
    assert!(h.t.is_banned(&THEM));
    // The banned peer id cannot come back.
    h.events.clear();
    h.decoder = Decoder::new();
    h.connect();
    assert_eq!(h.disconnected(), Some("peer is banned"));
}

#[test]
fn handshake_problems_close_the_connection() {
    let mut h = Harness::new(true);
    h.connect_with(Handshake::new([9; 20], THEM));
    assert_eq!(h.disconnected(), Some("handshake for another torrent"));

    let mut h = Harness::new(true);
    h.connect_with(Handshake::new(h.m.info_hash.0, Config::default().peer_id));
    assert_eq!(h.disconnected(), Some("connected to ourselves"));

    let mut h = Harness::new(true);
    h.t.handle_connect(PEER, h.now);
    h.feed(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n.....................................");
    assert!(
        h.disconnected().unwrap().starts_with("protocol error"),
        "{:?}",
        h.disconnected()
    );
}

#[test]
fn handshake_that_never_comes_times_out() {
    let mut h = Harness::new(true);
    h.t.handle_connect(PEER, h.now);
    h.advance(Duration::from_secs(11));
    assert_eq!(h.disconnected(), Some("handshake timed out"));
}

#[test]
fn silent_peer_gets_keepalives_then_is_dropped() {
    let mut h = Harness::new(true);
    h.connect();
    let msgs = h.advance(Duration::from_secs(61));
    assert!(msgs.contains(&Message::KeepAlive), "{msgs:?}");
    assert!(h.disconnected().is_none());
    h.advance(Duration::from_secs(120));
    assert_eq!(h.disconnected(), Some("peer went silent"));
}

#[test]
fn hostile_messages_close_only_that_connection() {
    let info_hash = metainfo().info_hash.0;
    let cases: Vec<(Handshake, Vec<u8>, &str)> = vec![
        (
            Handshake::new(info_hash, THEM),
            frame(&Message::Bitfield(vec![0xff])),
            "past the last piece",
        ),
        (
            Handshake::new(info_hash, THEM),
            frame(&Message::Bitfield(vec![0xf0, 0])),
            "bitfield is 2 bytes",
        ),
        (
            Handshake::new(info_hash, THEM),
            frame(&Message::Have { index: PIECES }),
            "have for piece 4 of 4",
        ),
        (
            no_fast(info_hash),
            frame(&Message::HaveAll),
            "without the fast extension",
        ),
        (
            Handshake::new(info_hash, THEM),
            [frame(&Message::HaveNone), frame(&Message::HaveAll)].concat(),
            "second piece list",
        ),
        (
            Handshake::new(info_hash, THEM),
            vec![0xff, 0xff, 0xff, 0xff],
            "exceeds limit",
        ),
        (
            Handshake::new(info_hash, THEM),
            frame(&Message::Request(BlockRef {
                index: 3,
                begin: PIECE - 1000 - 100,
                length: 200,
            })),
            "past the end",
        ),
    ];
    for (hs, bytes, expected) in cases {
        let mut h = Harness::new(true);
        h.connect_with(hs);
        h.feed(&bytes);
        let reason = h
            .disconnected()
            .unwrap_or_else(|| panic!("no disconnect for {expected}"));
        assert!(
            reason.contains(expected),
            "expected `{expected}` in `{reason}`"
        );
        assert!(!reason.contains('\n'), "one-line reasons");
    }
}

#[test]
fn request_flood_is_cut_off() {
    let mut h = Harness::new(true);
    h.connect();
    h.send(&[Message::Interested]);
    let block = BlockRef {
        index: 0,
        begin: 0,
        length: BLOCK_SIZE,
    };
    let mut bytes = Vec::new();
    for _ in 0..600 {
        Message::Request(block).encode_into(&mut bytes);
    }
    h.feed(&bytes);
    assert_eq!(h.disconnected(), Some("request flood"));
}

#[test]
fn metadata_is_served_in_pieces_and_bad_requests_rejected() {
    let mut h = Harness::new(true);
    h.connect();
    let ours = ExtendedHandshake {
        m: [("ut_metadata".to_string(), 7)].into(),
        ..Default::default()
    };
    h.send(&[Message::Extended {
        id: EXT_HANDSHAKE_ID,
        payload: ours.encode(),
    }]);
    let msgs = h.send(&[
        Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: MetadataMsg::Request { piece: 0 }.encode(),
        },
        Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: MetadataMsg::Request { piece: 5 }.encode(),
        },
    ]);
    let replies: Vec<MetadataMsg> = msgs
        .iter()
        .map(|m| match m {
            Message::Extended { id: 7, payload } => MetadataMsg::parse(payload).unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let total = h.m.info_bytes.len() as u64;
    assert_eq!(
        replies[0],
        MetadataMsg::Data {
            piece: 0,
            total_size: total,
            data: h.m.info_bytes.clone()
        }
    );
    assert_eq!(replies[1], MetadataMsg::Reject { piece: 5 });
}

#[test]
fn magnet_start_rejects_metadata_that_does_not_match_the_hash() {
    let mut h = Harness::magnet();
    h.connect();
    let size = h.m.info_bytes.len() as u64;
    let msgs = h.send(&[Message::HaveAll, offers_metadata(size)]);
    assert!(
        msgs.iter().any(|m| matches!(m, Message::Extended { id: 9, payload } if MetadataMsg::parse(payload) == Ok(MetadataMsg::Request { piece: 0 }))),
        "asks for metadata piece 0: {msgs:?}"
    );
    let mut forged = h.m.info_bytes.clone();
    let n = forged.len();
    forged[n - 2] ^= 1;
    let forged = Message::Extended {
        id: UT_METADATA_LOCAL_ID,
        payload: MetadataMsg::Data {
            piece: 0,
            total_size: size,
            data: forged,
        }
        .encode(),
    };
    let msgs = h.send(std::slice::from_ref(&forged));
    assert!(
        h.t.info().is_none(),
        "forged metadata must not be installed"
    );
    // A lone bad copy proves nothing against anyone (nothing to compare it with): the peer
    // is asked again, and dropped, not banned, once its copies keep failing.
    assert!(
        msgs.iter()
            .any(|m| matches!(m, Message::Extended { id: 9, .. })),
        "asks again: {msgs:?}"
    );
    h.send(&[forged]);
    assert!(h.t.info().is_none());
    assert!(
        h.disconnected()
            .is_some_and(|r| r.contains("keeps failing the info hash")),
        "{:?}",
        h.disconnected()
    );
    assert!(!h.t.is_banned(&THEM));
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::PeerBanned { .. }))
    );
}

#[test]
fn a_peer_asking_for_a_tiny_request_queue_gets_exactly_that() {
    let mut h = Harness::new(false);
    h.connect();
    // reqq 1 is below our minimum pipeline: it must cap the pipeline, not crash the engine.
    let ext = ExtendedHandshake {
        reqq: Some(1),
        ..Default::default()
    };
    h.send(&[
        Message::Extended {
            id: EXT_HANDSHAKE_ID,
            payload: ext.encode(),
        },
        Message::HaveAll,
    ]);
    let msgs = h.send(&[Message::Unchoke]);
    let requests = msgs
        .iter()
        .filter(|m| matches!(m, Message::Request(_)))
        .count();
    assert_eq!(requests, 1, "{msgs:?}");
}

#[test]
fn unknown_metadata_message_types_are_ignored() {
    let mut h = Harness::new(true);
    h.connect();
    // msg_type 7 does not exist (BEP 9 says: ignore it).
    h.send(&[Message::Extended {
        id: UT_METADATA_LOCAL_ID,
        payload: b"d8:msg_typei7e5:piecei0ee".to_vec(),
    }]);
    assert!(h.disconnected().is_none(), "{:?}", h.disconnected());
    // A malformed one is still a violation.
    h.send(&[Message::Extended {
        id: UT_METADATA_LOCAL_ID,
        payload: b"d8:msg_type".to_vec(),
    }]);
    assert!(h.disconnected().is_some());
}

fn frame(m: &Message) -> Vec<u8> {
    let mut v = Vec::new();
    m.encode_into(&mut v);
    v
}

fn any_message() -> impl Strategy<Value = Message> {
    let block = (0u32..8, 0u32..(3 * BLOCK_SIZE), 1u32..(2 * BLOCK_SIZE)).prop_map(
        |(index, begin, length)| BlockRef {
            index,
            begin,
            length,
        },
    );
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        (0u32..8).prop_map(|index| Message::Have { index }),
        proptest::collection::vec(any::<u8>(), 0..3).prop_map(Message::Bitfield),
        block.clone().prop_map(Message::Request),
        block.clone().prop_map(Message::Cancel),
        block.clone().prop_map(Message::Reject),
        (0u32..8).prop_map(|index| Message::AllowedFast { index }),
        (
            0u32..8,
            0u32..(3 * BLOCK_SIZE),
            0usize..(BLOCK_SIZE as usize + 10)
        )
            .prop_map(|(index, begin, n)| Message::Piece {
                index,
                begin,
                data: vec![7; n]
            }),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(id, payload)| Message::Extended { id, payload }),
        // Well-formed extension handshakes with arbitrary numbers: the kind of input a
        // random payload almost never produces.
        (
            proptest::option::of(prop_oneof![0u32..8, any::<u32>()]),
            proptest::option::of(0u64..100_000),
            proptest::option::of(0u8..12)
        )
            .prop_map(|(reqq, metadata_size, ut)| {
                let ext = ExtendedHandshake {
                    reqq,
                    metadata_size,
                    m: ut
                        .map(|id| [("ut_metadata".to_string(), id)].into())
                        .unwrap_or_default(),
                    ..Default::default()
                };
                Message::Extended {
                    id: EXT_HANDSHAKE_ID,
                    payload: ext.encode(),
                }
            }),
        (0u32..4).prop_map(|piece| Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: MetadataMsg::Request { piece }.encode()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever a peer sends after a valid handshake, the engine neither panics nor loses
    /// track of its own pieces, and time keeps working.
    #[test]
    fn any_message_sequence_is_survived(seeding: bool, magnet: bool, msgs in proptest::collection::vec(any_message(), 0..60)) {
        let mut h = if magnet { Harness::magnet() } else { Harness::new(seeding) };
        h.connect();
        for m in &msgs {
            h.send(std::slice::from_ref(m));
            if h.disconnected().is_some() {
                break;
            }
        }
        h.advance(Duration::from_secs(30));
        let stats = h.t.stats();
        if seeding && !magnet {
            prop_assert!(stats.complete);
        }
        prop_assert!(stats.pieces_verified <= PIECES);
    }
}

#[test]
fn held_downloads_send_no_new_requests_until_released() {
    let mut h = Harness::new(false);
    h.connect();
    h.send(&[Message::HaveAll]);
    let first = fixture::requests(&h.send(&[Message::Unchoke]));
    assert!(!first.is_empty());
    // Storage falls behind: the blocks in flight still arrive and count, nothing new is asked.
    h.t.hold_downloads(true, h.now);
    let data = content();
    for b in &first {
        let start = (b.index * PIECE + b.begin) as usize;
        let reply = Message::Piece {
            index: b.index,
            begin: b.begin,
            data: data[start..start + b.length as usize].to_vec(),
        };
        let msgs = h.send(&[reply]);
        assert!(
            fixture::requests(&msgs).is_empty(),
            "a request went out while held: {msgs:?}"
        );
    }
    assert_eq!(
        h.t.stats().downloaded,
        first.iter().map(|b| u64::from(b.length)).sum::<u64>(),
        "every block in flight counted (the last piece's last block is short)"
    );
    assert!(
        fixture::requests(&h.advance(Duration::from_secs(5))).is_empty(),
        "timers do not bypass the hold"
    );
    // Caught up: requests resume at once.
    h.t.hold_downloads(false, h.now);
    assert!(
        !fixture::requests(&h.recv()).is_empty(),
        "releasing the hold sends requests"
    );
}

impl Harness {
    /// Runs timers up to `now + by` without the driver taking any output: a peer whose
    /// transport stays full.
    fn advance_unread(&mut self, by: Duration) {
        let end = self.now + by;
        while self.t.poll_timeout() <= end {
            self.now = self.t.poll_timeout();
            self.t.handle_timeout(self.now);
        }
        self.now = end;
        self.drain_events();
    }

    fn penalised(&self) -> Option<(&str, Duration)> {
        self.events.iter().find_map(|e| match e {
            Event::PeerPenalised { reason, until, .. } => Some((reason.as_str(), *until)),
            _ => None,
        })
    }

    fn enable_metadata_exchange(&mut self) {
        let ours = ExtendedHandshake {
            m: [("ut_metadata".to_string(), 7)].into(),
            ..Default::default()
        };
        self.send(&[Message::Extended {
            id: EXT_HANDSHAKE_ID,
            payload: ours.encode(),
        }]);
    }
}

fn block0() -> BlockRef {
    BlockRef {
        index: 0,
        begin: 0,
        length: BLOCK_SIZE,
    }
}

#[test]
fn requests_for_pieces_we_lack_count_towards_the_flood_limit() {
    // A leecher has nothing: every request is refused, and every reject costs output.
    let mut h = Harness::new(false);
    h.connect();
    let mut bytes = Vec::new();
    for _ in 0..600 {
        Message::Request(block0()).encode_into(&mut bytes);
    }
    h.feed(&bytes);
    assert_eq!(h.disconnected(), Some("request flood"));
}

#[test]
fn metadata_requests_count_towards_the_flood_limit() {
    let mut h = Harness::new(true);
    h.connect();
    h.enable_metadata_exchange();
    let mut bytes = Vec::new();
    for _ in 0..600 {
        Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: MetadataMsg::Request { piece: 0 }.encode(),
        }
        .encode_into(&mut bytes);
    }
    h.feed(&bytes);
    assert_eq!(h.disconnected(), Some("request flood"));
}

#[test]
fn a_peer_that_asks_without_reading_is_cut_off_with_its_output_bounded() {
    // Just under the flood rate, every second, and never reading a reject: before, the
    // rejects piled up for as long as the peer kept talking.
    let mut h = Harness::new(true);
    h.connect();
    let bound = h.t.queued_output_bound();
    let mut bytes = Vec::new();
    for _ in 0..200 {
        Message::Request(block0()).encode_into(&mut bytes);
    }
    for _ in 0..60 {
        h.t.handle_data(PEER, &bytes, h.now);
        h.drain_events();
        if h.disconnected().is_some() {
            break;
        }
        let queued = h.t.queued_output(PEER).unwrap();
        assert!(queued <= bound, "{queued} bytes queued, bound {bound}");
        h.advance_unread(Duration::from_secs(1));
    }
    let reason = h
        .disconnected()
        .expect("a peer that does not read is dropped");
    assert!(reason.starts_with("peer is not reading"), "{reason}");
    assert!(h.now < Duration::from_secs(10), "dropped after {:?}", h.now);
    assert!(h.penalised().is_some(), "and penalised");
}

#[test]
fn a_peer_whose_transport_stays_full_is_dropped_after_the_stall_timeout() {
    let mut h = Harness::new(true);
    h.connect();
    h.send(&[Message::Interested]);
    // Unchoked; the peer asks for a block, then its transport never takes another byte while
    // it keeps the connection alive with keep-alives.
    h.t.handle_data(PEER, &frame(&Message::Request(block0())), h.now);
    for _ in 0..6 {
        h.advance_unread(Duration::from_secs(10));
        h.t.handle_data(PEER, &frame(&Message::KeepAlive), h.now);
        h.drain_events();
    }
    assert_eq!(h.disconnected(), Some("peer stopped reading"));
    let stall = Config::default().write_stall_timeout;
    let at = h.now;
    assert!(at <= stall + Duration::from_secs(30), "{at:?}");
}

#[test]
fn a_slow_reader_is_not_mistaken_for_one_that_stopped() {
    let mut h = Harness::new(true);
    h.connect();
    h.send(&[Message::Interested]);
    let mut bytes = Vec::new();
    for begin in [0, BLOCK_SIZE] {
        for index in 0..3 {
            Message::Request(BlockRef {
                index,
                begin,
                length: BLOCK_SIZE,
            })
            .encode_into(&mut bytes);
        }
    }
    h.t.handle_data(PEER, &bytes, h.now);
    // One block every 20 s: slow, but reading.
    for _ in 0..6 {
        h.advance_unread(Duration::from_secs(20));
        h.t.handle_data(PEER, &frame(&Message::KeepAlive), h.now);
        assert!(h.t.poll_transmit(PEER, BLOCK_SIZE as usize + 13).is_some());
        h.drain_events();
    }
    assert_eq!(h.disconnected(), None);
}

#[test]
fn poll_transmit_returns_at_most_its_budget() {
    let mut h = Harness::new(true);
    h.connect();
    // Interested: an unchoke (5 bytes) is queued; then two requests.
    let b1 = BlockRef {
        index: 1,
        ..block0()
    };
    let bytes = [
        frame(&Message::Interested),
        frame(&Message::Request(block0())),
        frame(&Message::Request(b1)),
    ]
    .concat();
    h.t.handle_data(PEER, &bytes, h.now);
    assert_eq!(h.t.queued_output(PEER), Some(5));
    let one_block = BLOCK_SIZE as usize + 13;
    assert_eq!(h.t.poll_transmit(PEER, 0), None);
    let got = h.t.poll_transmit(PEER, 3).unwrap();
    assert_eq!(got.len(), 3, "control bytes are split at the budget");
    assert_eq!(h.t.queued_output(PEER), Some(2));
    let got = h.t.poll_transmit(PEER, 100).unwrap();
    assert_eq!(
        got.len(),
        2,
        "the rest of the control bytes; the block does not fit"
    );
    // A block larger than the whole budget goes alone: the documented overshoot.
    assert_eq!(h.t.poll_transmit(PEER, 100).unwrap().len(), one_block);
    assert_eq!(h.t.poll_transmit(PEER, one_block).unwrap().len(), one_block);
    assert_eq!(h.t.poll_transmit(PEER, 1 << 20), None, "both blocks served");
}

#[test]
fn blocks_are_added_only_while_they_fit_the_budget() {
    let mut h = Harness::new(true);
    h.connect();
    h.send(&[Message::Interested]);
    let mut bytes = Vec::new();
    for index in 0..3 {
        Message::Request(BlockRef { index, ..block0() }).encode_into(&mut bytes);
    }
    h.t.handle_data(PEER, &bytes, h.now);
    let one_block = BLOCK_SIZE as usize + 13;
    let got =
        h.t.poll_transmit(PEER, 2 * one_block + one_block / 2)
            .unwrap();
    assert_eq!(got.len(), 2 * one_block);
    assert_eq!(h.t.poll_transmit(PEER, 1 << 20).unwrap().len(), one_block);
}

#[test]
fn a_flooding_peer_is_refused_for_its_penalty_then_earns_its_unchoke() {
    let mut h = Harness::new(true);
    let flood = |h: &mut Harness| {
        h.connect();
        h.send(&[Message::Interested]);
        let mut bytes = Vec::new();
        for _ in 0..600 {
            Message::Request(BlockRef {
                index: 9,
                ..block0()
            })
            .encode_into(&mut bytes);
        }
        h.feed(&bytes);
        assert_eq!(h.disconnected(), Some("request flood"));
    };
    flood(&mut h);
    let (_, until) = h.penalised().expect("penalty event");
    assert_eq!(until, h.now + PENALTY_BASE);
    assert!(h.t.refuses_peer(&THEM, h.now));
    assert!(!h.t.refuses_peer(b"-XX0001-anotherpeer!", h.now));
    // Reconnecting at once (the observed loop) is refused at the handshake.
    for _ in 0..3 {
        h.events.clear();
        h.advance(Duration::from_secs(2));
        h.connect();
        let reason = h.disconnected().expect("refused");
        assert!(reason.contains("penalised"), "{reason}");
    }
    // Once the penalty is over the peer may come back, but waits for a regular rechoke.
    h.advance(until.saturating_sub(h.now));
    assert!(!h.t.refuses_peer(&THEM, h.now));
    h.events.clear();
    h.connect();
    assert_eq!(h.disconnected(), None);
    let msgs = h.send(&[Message::Interested]);
    assert!(!msgs.contains(&Message::Unchoke), "not unchoked at once");
    let msgs = h.advance(Duration::from_secs(10));
    assert!(msgs.contains(&Message::Unchoke), "unchoked by the rechoke");
    // A second offence is refused twice as long.
    h.events.clear();
    let start = h.now;
    h.t.handle_disconnect(PEER, h.now);
    flood(&mut h);
    let (_, until2) = h.penalised().unwrap();
    assert_eq!(until2 - start, 2 * PENALTY_BASE);
}

#[test]
fn availability_counts_each_peer_piece_once_in_any_order() {
    let orders: Vec<Vec<Message>> = vec![
        vec![Message::Have { index: 1 }, Message::Bitfield(vec![0xf0])],
        vec![Message::Have { index: 2 }, Message::HaveAll],
        vec![Message::Have { index: 2 }, Message::Have { index: 2 }],
        vec![Message::HaveNone, Message::Have { index: 3 }],
        vec![Message::Have { index: 1 }, Message::Bitfield(vec![0x20])],
    ];
    for msgs in orders {
        let mut h = Harness::new(false);
        h.connect();
        h.send(&msgs);
        assert_eq!(h.disconnected(), None);
        let pieces = h.t.peer_stats(PEER).unwrap().pieces.unwrap() as u64;
        assert_eq!(h.t.debug_availability_total(), pieces, "{msgs:?}");
        h.t.handle_disconnect(PEER, h.now);
        assert_eq!(h.t.debug_availability_total(), 0, "{msgs:?}");
    }
}

#[test]
fn availability_is_exact_across_the_metadata_arriving() {
    // Pieces announced before the metadata are counted once when it arrives, and later
    // haves of the same pieces do not count again.
    let mut h = Harness::magnet();
    h.connect();
    let size = h.m.info_bytes.len() as u64;
    h.send(&[
        Message::Have { index: 1 },
        Message::Bitfield(vec![0b1100_0000]),
        Message::Have { index: 3 },
        offers_metadata(size),
    ]);
    assert_eq!(h.t.debug_availability_total(), 0, "nothing sized yet");
    h.send(&[Message::Extended {
        id: UT_METADATA_LOCAL_ID,
        payload: MetadataMsg::Data {
            piece: 0,
            total_size: size,
            data: h.m.info_bytes.clone(),
        }
        .encode(),
    }]);
    assert!(h.t.info().is_some(), "metadata installed");
    assert_eq!(h.t.debug_availability_total(), 3, "pieces 0, 1 and 3");
    h.send(&[Message::Have { index: 1 }, Message::Have { index: 2 }]);
    assert_eq!(h.t.debug_availability_total(), 4);
    h.t.handle_disconnect(PEER, h.now);
    assert_eq!(h.t.debug_availability_total(), 0);
}

/// Connects `THEM` on transport `key` (not the harness's own) and returns the events.
fn connect_as_them_on(h: &mut Harness, key: u64) -> Vec<Event> {
    h.t.handle_connect(key, h.now);
    let mut bytes = Vec::new();
    Handshake::new(h.m.info_hash.0, THEM).encode_into(&mut bytes);
    h.t.handle_data(key, &bytes, h.now);
    std::iter::from_fn(|| h.t.poll_event()).collect()
}

#[test]
fn an_honest_peer_that_vanishes_mid_transfer_is_not_penalised() {
    // A leecher closes its tab while blocks, metadata and rejects wait for it unread, and
    // requests are still queued: its id may connect again at once.
    let mut h = Harness::new(true);
    h.connect();
    h.enable_metadata_exchange();
    h.send(&[Message::Interested]);
    let mut bytes = Vec::new();
    for piece in 0..2 {
        Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: MetadataMsg::Request { piece }.encode(),
        }
        .encode_into(&mut bytes);
    }
    for index in 0..PIECES - 1 {
        for begin in [0, BLOCK_SIZE] {
            Message::Request(BlockRef {
                index,
                begin,
                length: BLOCK_SIZE,
            })
            .encode_into(&mut bytes);
        }
    }
    h.t.handle_data(PEER, &bytes, h.now);
    // Nothing is taken: the transport is dead but its close has not arrived yet.
    h.advance_unread(Duration::from_secs(5));
    assert!(
        h.t.queued_output(PEER).is_some_and(|n| n > 0),
        "{:?}",
        h.events
    );
    h.t.handle_disconnect(PEER, h.now);
    h.drain_events();
    assert_eq!(h.penalised(), None);
    assert!(!h.t.refuses_peer(&THEM, h.now));
    let events = connect_as_them_on(&mut h, 2);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::PeerReady { peer_id, .. } if *peer_id == THEM)),
        "{events:?}"
    );
}

#[test]
fn a_reconnect_racing_the_old_connections_close_is_not_penalised() {
    // The peer reconnects before the close of its old connection reached us (a page
    // re-adding a torrent, a restarted link): the new connection is turned away, the id
    // is not punished, and once the old close arrives the id connects again.
    let mut h = Harness::new(true);
    h.connect();
    let events = connect_as_them_on(&mut h, 2);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::PeerPenalised { .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Disconnect { peer: 2, reason } if reason.contains("already connected"))),
        "{events:?}"
    );
    assert!(!h.t.refuses_peer(&THEM, h.now));
    // The old connection is untouched.
    assert!(h.t.peer_stats(PEER).is_some());
    h.t.handle_disconnect(PEER, h.now);
    let events = connect_as_them_on(&mut h, 3);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::PeerReady { peer: 3, .. })),
        "{events:?}"
    );
}

/// Connects peer `key` with its own peer id, says interested and asks for block 0; returns
/// whether it was unchoked (its output, read once, holds an `Unchoke`).
fn interested_peer(h: &mut Harness, key: u64, read: bool) -> bool {
    let mut id = THEM;
    id[19] = key as u8;
    h.t.handle_connect(key, h.now);
    let mut bytes = Vec::new();
    Handshake::new(h.m.info_hash.0, id).encode_into(&mut bytes);
    Message::Interested.encode_into(&mut bytes);
    Message::Request(block0()).encode_into(&mut bytes);
    h.t.handle_data(key, &bytes, h.now);
    h.drain_events();
    if !read {
        return false;
    }
    let mut decoder = Decoder::new();
    while let Some(out) = h.t.poll_transmit(key, 1 << 20) {
        decoder.push(&out);
    }
    std::iter::from_fn(|| decoder.next().ok().flatten())
        .any(|f| matches!(f, Frame::Message(Message::Unchoke)))
}

#[test]
fn a_newcomer_takes_the_slot_of_a_peer_that_stopped_reading() {
    let mut h = Harness::new(true);
    // Nine peers take every upload slot of a seed (eight and the optimistic one), then stop
    // reading: closed tabs whose connections have not timed out yet.
    for key in 1..=9 {
        interested_peer(&mut h, key, false);
    }
    h.advance_unread(Duration::from_secs(3));
    assert_eq!(h.disconnected(), None, "not yet dropped as not reading");
    // A tenth arrives: it is unchoked at once, not at the next rechoke round.
    assert!(
        interested_peer(&mut h, 10, true),
        "the newcomer waits for a slot"
    );
    // A peer still reading keeps its slot: no newcomer is unchoked in its place.
    let mut fresh = Harness::new(true);
    for key in 1..=9 {
        interested_peer(&mut fresh, key, true);
    }
    fresh.advance(Duration::from_secs(3));
    assert!(
        !interested_peer(&mut fresh, 10, true),
        "a reading peer lost its slot"
    );
}

#[test]
fn a_peer_held_back_by_our_upload_limit_keeps_its_slot() {
    let mut h = Harness::new(true);
    for key in 1..=9 {
        interested_peer(&mut h, key, false);
    }
    // Their transports have room, but our upload limit gives them nothing for 5 s.
    for _ in 0..10 {
        for key in 1..=9 {
            h.t.note_writable(key);
        }
        h.advance_unread(Duration::from_millis(500));
    }
    assert!(
        !interested_peer(&mut h, 10, true),
        "a peer waiting for our bucket lost its slot"
    );
}

// ---- hashing by the driver (`Config::external_hashing`) ---------------------------------

fn external_hashing() -> Harness {
    let config = Config {
        external_hashing: true,
        ..Config::default()
    };
    Harness::with_config(Box::new(MemoryStorage::new()), false, config)
}

/// Answers requests with the content's blocks until a piece is complete; returns the engine's
/// `HashPiece` and what it asked for after it.
fn until_hash_request(h: &mut Harness) -> ((u32, u64), Vec<Message>) {
    h.connect();
    h.send(&[Message::HaveAll]);
    let mut pending = fixture::requests(&h.send(&[Message::Unchoke]));
    let mut later = Vec::new();
    while let Some(b) = pending.pop() {
        let out = h.send(&[piece_for(b)]);
        let asked = h.events.iter().find_map(|e| match e {
            Event::HashPiece { index, token } => Some((*index, *token)),
            _ => None,
        });
        if let Some(asked) = asked {
            later.extend(out);
            return (asked, later);
        }
        pending.extend(fixture::requests(&out));
    }
    panic!("no piece completed");
}

fn expected_hash(h: &Harness, index: u32) -> [u8; 20] {
    *h.m.info.piece_hash(index).unwrap()
}

#[test]
fn a_piece_hashed_by_the_driver_counts_only_once_the_right_digest_comes_back() {
    let mut h = external_hashing();
    let data = content();
    let ((index, token), after) = until_hash_request(&mut h);
    // Waiting: not verified, not announced, not asked for again, its bytes on offer.
    assert_eq!(h.t.stats().pieces_verified, 0);
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::PieceVerified { .. }))
    );
    assert!(
        !fixture::requests(&after).iter().any(|b| b.index == index),
        "{after:?}"
    );
    let start = (index * PIECE) as usize;
    assert_eq!(
        h.t.piece_to_hash(index, token),
        Some(&data[start..start + PIECE as usize])
    );
    assert_eq!(h.t.piece_to_hash(index, token + 1), None, "another token");
    // An answer with a token that does not stand is ignored.
    h.t.handle_piece_hash(index, token + 1, expected_hash(&h, index), h.now);
    h.drain_events();
    assert_eq!(h.t.stats().pieces_verified, 0);
    // The right answer: verified, and the peer hears about it.
    h.t.handle_piece_hash(index, token, expected_hash(&h, index), h.now);
    let out = h.recv();
    assert!(h.events.contains(&Event::PieceVerified { index }));
    assert_eq!(h.t.stats().pieces_verified, 1);
    assert_eq!(h.t.piece_to_hash(index, token), None, "answered");
    // A second answer changes nothing.
    h.t.handle_piece_hash(index, token, [0; 20], h.now);
    h.drain_events();
    assert!(!h.saw(|e| matches!(e, Event::PieceFailed { .. })));
    let _ = out;
}

#[test]
fn a_wrong_digest_from_the_driver_fails_the_piece_and_it_is_fetched_again() {
    let mut h = external_hashing();
    let ((index, token), after) = until_hash_request(&mut h);
    h.t.handle_piece_hash(index, token, [0xee; 20], h.now);
    let mut pending = fixture::requests(&after);
    pending.extend(fixture::requests(&h.recv()));
    assert!(h.events.contains(&Event::PieceFailed { index }));
    assert_eq!(h.t.stats().pieces_verified, 0);
    assert_eq!(h.t.piece_to_hash(index, token), None);
    // Answering what is still asked: the failed piece is asked for again.
    let mut asked_again = false;
    for _ in 0..100 {
        let Some(b) = pending.pop() else { break };
        if b.index == index {
            asked_again = true;
            break;
        }
        let next = fixture::requests(&h.send(&[piece_for(b)]));
        pending.extend(next);
    }
    assert!(asked_again, "piece {index} was not asked for again");
}

#[test]
fn a_hash_the_driver_never_answers_is_done_by_the_engine() {
    let mut h = external_hashing();
    let ((index, token), _) = until_hash_request(&mut h);
    assert!(
        h.t.poll_timeout() <= h.now + seedcast::engine::torrent::HASH_WAIT,
        "the engine wakes to hash it itself"
    );
    h.advance(seedcast::engine::torrent::HASH_WAIT);
    assert!(h.events.contains(&Event::PieceVerified { index }));
    assert_eq!(h.t.piece_to_hash(index, token), None);
    // The late answer is ignored.
    h.t.handle_piece_hash(index, token, [0; 20], h.now);
    h.drain_events();
    assert!(!h.saw(|e| matches!(e, Event::PieceFailed { .. })));
}

#[test]
fn a_piece_waiting_for_its_hash_survives_its_sender_leaving() {
    let mut h = external_hashing();
    let ((index, token), _) = until_hash_request(&mut h);
    h.t.handle_disconnect(PEER, h.now);
    h.drain_events();
    assert!(h.t.piece_to_hash(index, token).is_some());
    h.t.handle_piece_hash(index, token, expected_hash(&h, index), h.now);
    h.drain_events();
    assert!(h.events.contains(&Event::PieceVerified { index }));
}

#[test]
fn an_answer_meant_for_another_engine_of_the_same_torrent_is_ignored() {
    // A session may replace a torrent's engine; a digest still under way for the old one
    // must not decide the new one's bytes.
    let mut old = external_hashing();
    let ((index, old_token), _) = until_hash_request(&mut old);
    let mut new = external_hashing();
    let ((new_index, new_token), _) = until_hash_request(&mut new);
    assert_eq!(index, new_index, "the same piece completes first in both");
    assert_ne!(old_token, new_token);
    let digest = expected_hash(&new, index);
    new.t.handle_piece_hash(index, old_token, digest, new.now);
    new.drain_events();
    assert_eq!(new.t.stats().pieces_verified, 0);
    new.t.handle_piece_hash(index, new_token, digest, new.now);
    new.drain_events();
    assert_eq!(new.t.stats().pieces_verified, 1);
}
