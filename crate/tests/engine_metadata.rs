//! A magnet start against several scripted peers speaking real wire bytes: peers that announce
//! a wrong metadata size, refuse, leave, or send lying metadata must not stall the download,
//! and only a peer proven to have lied is banned.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use seedcast::create::{CreateOptions, TorrentBuilder};
use seedcast::engine::{Bitfield, Config, Event, MemoryStorage, Storage, StorageError, Torrent};
use seedcast::metainfo::{Info, Metainfo};
use seedcast::wire::{
    Decoder, EXT_HANDSHAKE_ID, ExtendedHandshake, Frame, Handshake, METADATA_PIECE_SIZE, Message,
    MetadataMsg, UT_METADATA_LOCAL_ID,
};

/// The ut_metadata id every scripted peer asks us to use.
const THEIR_UT_METADATA: u8 = 9;

/// A torrent of `pieces` 16 KiB pieces (its info dictionary grows 20 bytes a piece).
fn metainfo(pieces: u32) -> Metainfo {
    let piece = 16 * 1024;
    let opts = CreateOptions {
        name: "m.bin".into(),
        piece_length: Some(piece),
        ..Default::default()
    };
    let len = u64::from(pieces) * u64::from(piece);
    let mut b = TorrentBuilder::single_file(opts, len).unwrap();
    let chunk: Vec<u8> = (0..piece).map(|i| (i % 251) as u8).collect();
    for _ in 0..pieces {
        b.update(&chunk).unwrap();
    }
    b.finish().unwrap()
}

fn peer_id(peer: u64) -> [u8; 20] {
    let mut id = *b"-XX0001-scripted0000";
    id[19] = b'0' + peer as u8;
    id
}

struct Magnet {
    t: Torrent,
    m: Metainfo,
    now: Duration,
    decoders: BTreeMap<u64, Decoder>,
    events: Vec<Event>,
    /// Metadata pieces the engine asked of each peer and that are not answered yet.
    asked: BTreeMap<u64, Vec<u32>>,
    /// Every other message the engine sent each peer, in order.
    sent: BTreeMap<u64, Vec<Message>>,
}

impl Magnet {
    fn new(m: Metainfo) -> Magnet {
        Self::with_storage(m, Box::new(MemoryStorage::new()))
    }

    fn with_storage(m: Metainfo, storage: Box<dyn Storage>) -> Magnet {
        Self::with_config(m, storage, Config::default())
    }

    fn with_config(m: Metainfo, storage: Box<dyn Storage>, config: Config) -> Magnet {
        let t = Torrent::from_info_hash(m.info_hash, storage, config, Duration::ZERO);
        Magnet {
            t,
            m,
            now: Duration::ZERO,
            decoders: BTreeMap::new(),
            events: Vec::new(),
            asked: BTreeMap::new(),
            sent: BTreeMap::new(),
        }
    }

    /// Connects `peer`, which has everything and announces metadata of `size` bytes.
    fn connect(&mut self, peer: u64, size: u64) {
        self.connect_announcing(peer, Some(size));
    }

    /// Connects `peer`, which takes ut_metadata and announces `size`; `None`: it has no
    /// metadata, and so no pieces either.
    fn connect_announcing(&mut self, peer: u64, size: Option<u64>) {
        self.t.handle_connect(peer, self.now);
        self.decoders.insert(peer, Decoder::new());
        let mut bytes = Vec::new();
        Handshake::new(self.m.info_hash.0, peer_id(peer)).encode_into(&mut bytes);
        let ext = ExtendedHandshake {
            m: [("ut_metadata".to_string(), THEIR_UT_METADATA)].into(),
            metadata_size: size,
            ..Default::default()
        };
        Message::Extended {
            id: EXT_HANDSHAKE_ID,
            payload: ext.encode(),
        }
        .encode_into(&mut bytes);
        let pieces = if size.is_some() {
            Message::HaveAll
        } else {
            Message::HaveNone
        };
        pieces.encode_into(&mut bytes);
        self.t.handle_data(peer, &bytes, self.now);
        self.pump();
    }

    fn send_message(&mut self, peer: u64, msg: Message) {
        let mut bytes = Vec::new();
        msg.encode_into(&mut bytes);
        self.t.handle_data(peer, &bytes, self.now);
        self.pump();
    }

    /// `peer` sends a later extension handshake (BEP 10).
    fn ext_handshake(&mut self, peer: u64, ext: ExtendedHandshake) {
        let mut bytes = Vec::new();
        Message::Extended {
            id: EXT_HANDSHAKE_ID,
            payload: ext.encode(),
        }
        .encode_into(&mut bytes);
        self.t.handle_data(peer, &bytes, self.now);
        self.pump();
    }

    fn send(&mut self, peer: u64, msg: MetadataMsg) {
        let mut bytes = Vec::new();
        Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: msg.encode(),
        }
        .encode_into(&mut bytes);
        self.t.handle_data(peer, &bytes, self.now);
        self.pump();
    }

    fn leave(&mut self, peer: u64) {
        self.t.handle_disconnect(peer, self.now);
        self.decoders.remove(&peer);
        self.asked.remove(&peer);
        self.pump();
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while self.t.poll_timeout() <= end {
            self.now = self.t.poll_timeout();
            self.t.handle_timeout(self.now);
        }
        self.now = end;
        self.pump();
    }

    /// Drains events and every peer's outgoing bytes, noting the metadata requests.
    fn pump(&mut self) {
        while let Some(e) = self.t.poll_event() {
            if let Event::Disconnect { peer, .. } = &e {
                self.decoders.remove(peer);
                self.asked.remove(peer);
            }
            self.events.push(e);
        }
        for (&peer, decoder) in &mut self.decoders {
            while let Some(bytes) = self.t.poll_transmit(peer, 1 << 20) {
                decoder.push(&bytes);
            }
            while let Ok(Some(frame)) = decoder.next() {
                match frame {
                    Frame::Message(Message::Extended {
                        id: THEIR_UT_METADATA,
                        payload,
                    }) => {
                        if let Ok(MetadataMsg::Request { piece }) = MetadataMsg::parse(&payload) {
                            self.asked.entry(peer).or_default().push(piece);
                        }
                    }
                    Frame::Message(msg) => self.sent.entry(peer).or_default().push(msg),
                    _ => {}
                }
            }
        }
    }

    fn take_asked(&mut self, peer: u64) -> Vec<u32> {
        self.asked.remove(&peer).unwrap_or_default()
    }

    /// The true metadata piece, or with its first byte flipped if `lie`.
    fn piece(&self, piece: u32, lie: bool) -> MetadataMsg {
        let info = &self.m.info_bytes;
        let start = piece as usize * METADATA_PIECE_SIZE as usize;
        let end = (start + METADATA_PIECE_SIZE as usize).min(info.len());
        let mut data = info[start..end].to_vec();
        if lie {
            data[0] ^= 0xff;
        }
        MetadataMsg::Data {
            piece,
            total_size: info.len() as u64,
            data,
        }
    }

    /// Answers `peer`'s pending requests truthfully (or not) until it is asked nothing more.
    fn serve(&mut self, peer: u64, lie: bool) {
        loop {
            let asked = self.take_asked(peer);
            if asked.is_empty() || !self.decoders.contains_key(&peer) {
                return;
            }
            for piece in asked {
                let msg = self.piece(piece, lie);
                self.send(peer, msg);
            }
        }
    }

    fn banned(&self) -> Vec<[u8; 20]> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::PeerBanned { peer_id, .. } => *peer_id,
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_peer_announcing_a_wrong_size_then_refusing_does_not_stall_the_magnet() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, 1);
    assert_eq!(h.take_asked(1), vec![0], "the size-1 peer is asked");
    h.connect(2, size);
    h.send(1, MetadataMsg::Reject { piece: 0 });
    h.serve(2, false);
    assert_eq!(h.t.info_bytes(), Some(&h.m.info_bytes[..]));
    assert!(h.events.contains(&Event::MetadataReady));
    assert!(h.banned().is_empty());
}

#[test]
fn a_peer_announcing_a_wrong_size_then_leaving_does_not_stall_the_magnet() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, 1);
    h.connect(2, size);
    h.leave(1);
    h.serve(2, false);
    assert_eq!(h.t.info_bytes(), Some(&h.m.info_bytes[..]));
}

#[test]
fn a_peer_that_refused_is_asked_again_after_a_while() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    assert_eq!(h.take_asked(1), vec![0]);
    // It has no metadata yet (say it is a magnet leecher itself).
    h.send(1, MetadataMsg::Reject { piece: 0 });
    assert_eq!(
        h.take_asked(1),
        Vec::<u32>::new(),
        "not hammered right away"
    );
    let mut waited = Duration::ZERO;
    while !h.asked.contains_key(&1) && waited < Duration::from_secs(120) {
        h.advance(Duration::from_secs(1));
        waited += Duration::from_secs(1);
    }
    h.serve(1, false);
    assert_eq!(
        h.t.info_bytes(),
        Some(&h.m.info_bytes[..]),
        "asked again within {waited:?}"
    );
}

#[test]
fn a_metadata_liar_mixed_with_an_honest_peer_is_banned_and_the_honest_peer_kept() {
    // 1,700 pieces: an info dictionary of three metadata pieces.
    let mut h = Magnet::new(metainfo(1700));
    let size = h.m.info_bytes.len() as u64;
    assert!(size > 2 * u64::from(METADATA_PIECE_SIZE));
    let (liar, honest) = (1, 2);
    h.connect(liar, size);
    h.connect(honest, size);
    assert!(
        !h.asked.get(&liar).is_none_or(Vec::is_empty)
            && !h.asked.get(&honest).is_none_or(Vec::is_empty),
        "both are asked for pieces of the first copy: {:?}",
        h.asked
    );
    // Answer in rounds until the metadata is in; the liar flips a byte of every piece.
    for _ in 0..20 {
        if h.t.info().is_some() {
            break;
        }
        h.serve(liar, true);
        h.serve(honest, false);
        if h.asked.values().all(Vec::is_empty) {
            h.advance(Duration::from_secs(10));
        }
    }
    assert_eq!(h.t.info_bytes(), Some(&h.m.info_bytes[..]));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::PeerBanned { peer: 1, .. })),
        "the liar is banned: {:?}",
        h.events
    );
    assert_eq!(h.banned(), vec![peer_id(liar)], "only the liar");
    assert!(!h.t.is_banned(&peer_id(honest)));
    assert!(
        h.t.peer_stats(honest).is_some(),
        "the honest peer stays connected"
    );
}

#[test]
fn a_metadata_reply_arriving_after_its_request_timed_out_is_not_punished() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    let asked = h.take_asked(1);
    assert_eq!(asked, vec![0]);
    // The peer is slow: its answer comes after the request timed out.
    h.advance(Config::default().metadata_request_timeout + Duration::from_secs(1));
    let msg = h.piece(0, false);
    h.send(1, msg);
    assert!(
        h.t.peer_stats(1).is_some(),
        "a late answer is not a protocol violation: {:?}",
        h.events
    );
    assert!(
        !h.t.refuses_peer(&peer_id(1), h.now),
        "nor a reason to penalise the peer"
    );
    // Whatever was asked again meanwhile was answered by that late reply; carry on.
    h.take_asked(1);
    for _ in 0..60 {
        if h.t.info().is_some() {
            break;
        }
        h.advance(Duration::from_secs(1));
        h.serve(1, false);
    }
    assert_eq!(h.t.info_bytes(), Some(&h.m.info_bytes[..]));
}

/// Remembers the `info` it was told about and answers that it holds `held` (files of an
/// earlier run); refuses it when `fail` (a disk that cannot hold it).
#[derive(Default)]
struct LayoutStorage {
    told: Vec<(String, Vec<u8>)>,
    held: Vec<u32>,
    fail: bool,
}

impl Storage for LayoutStorage {
    fn write_piece(&mut self, _: u32, _: &[u8]) -> Result<(), StorageError> {
        Ok(())
    }
    fn read_block(&mut self, i: u32, _: u32, _: u32, _: &mut Vec<u8>) -> Result<(), StorageError> {
        Err(StorageError::Missing(i))
    }
    fn metadata_ready(
        &mut self,
        info: &Info,
        bytes: &[u8],
    ) -> Result<Option<Bitfield>, StorageError> {
        self.told.push((info.name.clone(), bytes.to_vec()));
        if self.fail {
            return Err(StorageError::Backend("disk full".into()));
        }
        let mut have = Bitfield::new(info.num_pieces());
        for &i in &self.held {
            have.set(i);
        }
        Ok(Some(have))
    }
}

#[test]
fn a_seed_is_told_we_are_interested_before_the_metadata_so_requests_leave_with_it() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    h.connect_announcing(2, None);
    assert!(
        h.sent
            .get(&1)
            .is_some_and(|m| m.contains(&Message::Interested)),
        "a peer showing pieces is interesting before the metadata: {:?}",
        h.sent.get(&1)
    );
    assert!(
        !h.sent
            .get(&2)
            .is_some_and(|m| m.contains(&Message::Interested)),
        "a peer with nothing is not"
    );
    // The seed unchokes while the metadata is on its way; the requests then go out as soon
    // as the driver had its turn after the metadata, with no interested/unchoke round trip.
    h.send_message(1, Message::Unchoke);
    h.sent.clear();
    h.serve(1, false);
    assert!(h.events.contains(&Event::MetadataReady));
    assert!(
        !h.sent
            .get(&1)
            .is_some_and(|m| m.iter().any(|m| matches!(m, Message::Request(_)))),
        "nothing requested before the driver could place its streaming windows"
    );
    assert_eq!(
        h.t.poll_timeout(),
        h.now,
        "the driver is called back at once"
    );
    // A video opened before the metadata starts at piece 5: its window goes first.
    h.t.set_reader(1, 5 * 16 * 1024, h.now);
    h.advance(Duration::ZERO);
    let sent = h.sent.get(&1).cloned().unwrap_or_default();
    let requested: Vec<u32> = sent
        .iter()
        .filter_map(|m| match m {
            Message::Request(b) => Some(b.index),
            _ => None,
        })
        .collect();
    assert_eq!(
        requested.first(),
        Some(&5),
        "the window first: {requested:?}"
    );
    assert!(!sent.contains(&Message::Interested), "said once: {sent:?}");
}

/// A 64-piece torrent of 16 KiB pieces, streaming windows of two pieces, its metadata in
/// from peer 1, which has everything and unchoked us.
fn streaming_magnet() -> Magnet {
    let config = Config {
        stream_window_bytes: 2 * 16 * 1024,
        ..Config::default()
    };
    let mut h = Magnet::with_config(metainfo(64), Box::new(MemoryStorage::new()), config);
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    h.send_message(1, Message::Unchoke);
    h.serve(1, false);
    h
}

/// A seek whose new stream opens before the old one closes: closing the old one cancels
/// what was requested for it, so the new position's pieces are not queued behind it.
#[test]
fn closing_a_stream_while_another_reads_cancels_the_requests_only_it_wanted() {
    let mut h = streaming_magnet();
    h.t.set_reader(1, 0, h.now); // playing from the start: pieces 0 and 1 first
    h.advance(Duration::ZERO);
    h.t.set_reader(2, 40 * 16 * 1024, h.now); // the seek's stream, pieces 40 and 41
    h.advance(Duration::ZERO);
    h.sent.clear();
    h.t.remove_reader(1, h.now); // the old stream closes after the new one opened
    h.advance(Duration::ZERO);
    let cancelled: Vec<u32> = h.sent[&1]
        .iter()
        .filter_map(|m| match m {
            Message::Cancel(b) => Some(b.index),
            _ => None,
        })
        .collect();
    assert!(
        cancelled.contains(&0),
        "the old window's requests go: {cancelled:?}"
    );
    assert!(
        !cancelled.iter().any(|i| (40..42).contains(i)),
        "the new window's stay: {cancelled:?}"
    );
    // The last stream closing cancels nothing: a download with no player carries on.
    h.sent.clear();
    h.t.remove_reader(2, h.now);
    h.advance(Duration::ZERO);
    assert!(
        !h.sent
            .get(&1)
            .is_some_and(|m| m.iter().any(|m| matches!(m, Message::Cancel(_)))),
        "{:?}",
        h.sent.get(&1)
    );
}

/// Storage behind (downloads held) and a viewer seeks: the seek's window is still asked
/// for, nothing outside a window is, and releasing the hold brings the rest back.
#[test]
fn a_seek_is_fetched_while_storage_holds_other_downloads() {
    let mut h = streaming_magnet();
    h.t.set_reader(1, 0, h.now);
    h.advance(Duration::ZERO);
    let requested = |h: &Magnet| -> Vec<u32> {
        h.sent
            .get(&1)
            .map(|m| {
                m.iter()
                    .filter_map(|m| match m {
                        Message::Request(b) => Some(b.index),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    h.t.hold_downloads(true, h.now);
    h.sent.clear();
    h.t.set_reader(1, 40 * 16 * 1024, h.now); // the seek: pieces 40 and 41
    h.advance(Duration::ZERO);
    let during = requested(&h);
    assert!(
        during.contains(&40) && during.contains(&41),
        "the seek's window is asked for while held: {during:?}"
    );
    assert!(
        during.iter().all(|i| (40..42).contains(i)),
        "nothing outside it: {during:?}"
    );
    // Without a stream nothing new goes out while held.
    h.t.remove_reader(1, h.now);
    h.sent.clear();
    h.advance(Duration::from_secs(5));
    assert!(requested(&h).is_empty(), "{:?}", requested(&h));
    h.t.hold_downloads(false, h.now);
    h.advance(Duration::ZERO);
    assert!(
        !requested(&h).is_empty(),
        "released: the rest is asked for again"
    );
}

#[test]
fn without_a_window_the_first_requests_leave_on_the_next_timeout() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    h.send_message(1, Message::Unchoke);
    h.serve(1, false);
    h.advance(Duration::ZERO);
    let requests = h.sent[&1]
        .iter()
        .filter(|m| matches!(m, Message::Request(_)))
        .count();
    assert!(requests > 0, "{:?}", h.sent[&1]);
    assert!(h.t.poll_timeout() > h.now, "no busy loop after that");
}

#[test]
fn storage_learns_the_info_once_the_magnet_metadata_is_verified() {
    let storage = Rc::new(RefCell::new(LayoutStorage {
        held: vec![0, 5],
        ..Default::default()
    }));
    let mut h = Magnet::with_storage(metainfo(8), Box::new(storage.clone()));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    assert!(storage.borrow().told.is_empty(), "nothing known yet");
    h.serve(1, false);
    assert_eq!(
        storage.borrow().told,
        vec![("m.bin".to_string(), h.m.info_bytes.clone())],
        "told exactly once, with the verified bytes"
    );
    assert!(h.events.contains(&Event::MetadataReady));
    let have: Vec<u32> = h.t.have().unwrap().iter_ones().collect();
    assert_eq!(
        have,
        [0, 5],
        "what the storage already held is not downloaded"
    );
    assert!(!h.events.contains(&Event::Completed));
}

#[test]
fn a_magnet_whose_pieces_are_all_held_already_is_completed_at_once() {
    let storage = Rc::new(RefCell::new(LayoutStorage {
        held: (0..8).collect(),
        ..Default::default()
    }));
    let mut h = Magnet::with_storage(metainfo(8), Box::new(storage));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    h.serve(1, false);
    assert!(h.t.is_complete());
    assert!(h.events.contains(&Event::Completed));
}

#[test]
fn a_storage_refusing_the_info_is_reported() {
    let storage = Rc::new(RefCell::new(LayoutStorage {
        fail: true,
        ..Default::default()
    }));
    let mut h = Magnet::with_storage(metainfo(8), Box::new(storage.clone()));
    let size = h.m.info_bytes.len() as u64;
    h.connect(1, size);
    h.serve(1, false);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::StorageError { message } if message.contains("disk full")))
    );
}

#[test]
fn a_peer_announcing_the_metadata_size_in_a_later_handshake_is_asked_for_it() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    // It connected before it had the metadata: nothing to ask it for yet.
    h.connect_announcing(1, None);
    assert!(h.take_asked(1).is_empty());
    // Once it has the info it says so in a later handshake that lists only what changed:
    // BEP 10's `m` is additive, so its ut_metadata id still stands.
    h.ext_handshake(
        1,
        ExtendedHandshake {
            metadata_size: Some(size),
            ..Default::default()
        },
    );
    assert_eq!(h.take_asked(1), vec![0], "asked once it announced a size");
    h.send(1, h.piece(0, false));
    h.serve(1, false);
    assert_eq!(h.t.info_bytes(), Some(&h.m.info_bytes[..]));
    assert!(h.events.contains(&Event::MetadataReady));
}

#[test]
fn a_later_handshake_turning_ut_metadata_off_stops_the_requests() {
    let mut h = Magnet::new(metainfo(8));
    h.connect_announcing(1, None);
    h.ext_handshake(
        1,
        ExtendedHandshake {
            m: [("ut_metadata".to_string(), 0)].into(),
            ..Default::default()
        },
    );
    let size = h.m.info_bytes.len() as u64;
    h.ext_handshake(
        1,
        ExtendedHandshake {
            metadata_size: Some(size),
            ..Default::default()
        },
    );
    assert!(h.take_asked(1).is_empty(), "ut_metadata was turned off");
}

#[test]
fn peers_that_connected_before_we_had_the_metadata_are_told_its_size() {
    let mut h = Magnet::new(metainfo(8));
    let size = h.m.info_bytes.len() as u64;
    // Peer 1 has no metadata; peer 2 serves it.
    h.connect_announcing(1, None);
    // From here on, what peer 1 is sent is read here rather than by `pump`.
    let mut later = h.decoders.remove(&1).unwrap();
    h.connect(2, size);
    h.serve(2, false);
    assert!(h.events.contains(&Event::MetadataReady));
    while let Some(bytes) = h.t.poll_transmit(1, 1 << 20) {
        later.push(&bytes);
    }
    let mut sizes = Vec::new();
    while let Ok(Some(frame)) = later.next() {
        if let Frame::Message(Message::Extended {
            id: EXT_HANDSHAKE_ID,
            payload,
        }) = frame
        {
            let ext = ExtendedHandshake::parse(&payload).unwrap();
            assert_eq!(ext.m.get("ut_metadata"), Some(&UT_METADATA_LOCAL_ID));
            sizes.push(ext.metadata_size);
        }
    }
    assert_eq!(sizes, vec![Some(size)], "a later handshake with the size");
}

#[test]
fn a_peer_that_got_the_metadata_after_its_handshake_is_asked_once_it_shows_pieces() {
    let mut h = Magnet::new(metainfo(8));
    // WebTorrent announces the size only in its first extension handshake, never again.
    h.connect_announcing(1, None);
    assert!(h.take_asked(1).is_empty());
    // It cannot hold a piece without the info: ask it, and learn the size from the reply.
    h.send_message(1, Message::Have { index: 3 });
    assert_eq!(h.take_asked(1), vec![0], "asked once it showed a piece");
    h.send(1, h.piece(0, false));
    h.serve(1, false);
    assert_eq!(h.t.info_bytes(), Some(&h.m.info_bytes[..]));
    assert!(h.banned().is_empty());
}

#[test]
fn a_peer_that_refuses_the_probe_is_asked_again_only_after_a_while() {
    let mut h = Magnet::new(metainfo(8));
    h.connect_announcing(1, None);
    h.send_message(1, Message::Have { index: 3 });
    assert_eq!(h.take_asked(1), vec![0]);
    h.send(1, MetadataMsg::Reject { piece: 0 });
    h.send_message(1, Message::Have { index: 4 });
    assert!(
        h.take_asked(1).is_empty(),
        "a refusal is not asked again at once"
    );
    h.advance(Duration::from_secs(31));
    h.send_message(1, Message::Have { index: 5 });
    assert_eq!(h.take_asked(1), vec![0], "asked again later");
    assert!(h.t.peer_stats(1).is_some(), "still connected");
}

#[test]
fn a_probe_answered_after_it_timed_out_is_not_punished() {
    let mut h = Magnet::new(metainfo(8));
    h.connect_announcing(1, None);
    h.send_message(1, Message::Have { index: 3 });
    assert_eq!(h.take_asked(1), vec![0]);
    h.advance(Config::default().metadata_request_timeout + Duration::from_secs(1));
    h.send(1, h.piece(0, false));
    assert!(
        h.t.peer_stats(1).is_some(),
        "a slow reply is not a violation"
    );
    assert!(h.take_asked(1).is_empty());
}

#[test]
fn an_unanswered_probe_is_sent_again_after_a_while() {
    let mut h = Magnet::new(metainfo(8));
    h.connect_announcing(1, None);
    h.send_message(1, Message::Have { index: 3 });
    assert_eq!(h.take_asked(1), vec![0]);
    h.advance(Duration::from_secs(31));
    h.send_message(1, Message::Have { index: 4 });
    assert_eq!(
        h.take_asked(1),
        vec![0],
        "the lost probe does not block the next"
    );
}
