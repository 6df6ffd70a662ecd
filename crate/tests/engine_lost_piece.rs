//! Pieces whose stored bytes are gone (`Torrent::lose_piece`) and BEP 54 `lt_donthave`,
//! against one scripted peer speaking real wire bytes.

mod fixture;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use seedcast::engine::{Bitfield, Config, Event, MemoryStorage, Storage, StorageError, Torrent};
use seedcast::metainfo::Metainfo;
use seedcast::wire::{
    BLOCK_SIZE, BlockRef, Decoder, EXT_HANDSHAKE_ID, ExtendedHandshake, Frame, Handshake,
    LT_DONTHAVE, LT_DONTHAVE_LOCAL_ID, Message,
};

const PIECE: u32 = 2 * BLOCK_SIZE;
const PIECES: u32 = 4;
const THEM: [u8; 20] = *b"-XX0001-scriptedpeer";
const PEER: u64 = 1;
/// The id the scripted peer asks us to send lt_donthave as (any non-zero id of its choice).
const THEIR_DONTHAVE_ID: u8 = 9;

fn content() -> Vec<u8> {
    fixture::patterned(PIECE * PIECES - 1000, 7)
}

fn metainfo() -> Metainfo {
    fixture::single_file("t.bin", PIECE, &content())
}

/// Memory storage whose reads answer `Pending` while `loading` is set (a browser store
/// still loading the piece), so a peer's request stays queued.
struct Slow {
    inner: MemoryStorage,
    loading: Rc<Cell<bool>>,
}

impl Storage for Slow {
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
        if self.loading.get() {
            return Err(StorageError::Pending(index));
        }
        self.inner.read_block(index, begin, len, out)
    }
}

struct Harness {
    t: Torrent,
    m: Metainfo,
    now: Duration,
    decoder: Decoder,
    events: Vec<Event>,
    loading: Rc<Cell<bool>>,
}

impl Harness {
    fn new(seeding: bool) -> Harness {
        let m = metainfo();
        let loading = Rc::new(Cell::new(false));
        let storage = Slow {
            inner: if seeding {
                MemoryStorage::from_content(&content(), PIECE)
            } else {
                MemoryStorage::new()
            },
            loading: loading.clone(),
        };
        let t = Torrent::new(
            m.info_hash,
            m.info.clone(),
            m.info_bytes.clone(),
            Box::new(storage),
            seeding.then(|| Bitfield::full(PIECES)),
            Config::default(),
            Duration::ZERO,
        );
        Harness {
            t,
            m,
            now: Duration::ZERO,
            decoder: Decoder::new(),
            events: Vec::new(),
            loading,
        }
    }

    /// Connects with extensions and fast; `donthave` says whether the peer offers lt_donthave.
    fn connect(&mut self, donthave: bool) -> Vec<Message> {
        self.t.handle_connect(PEER, self.now);
        let mut bytes = Vec::new();
        Handshake::new(self.m.info_hash.0, THEM).encode_into(&mut bytes);
        let mut ext = ExtendedHandshake::default();
        ext.m.insert("ut_metadata".into(), 1);
        if donthave {
            ext.m.insert(LT_DONTHAVE.into(), THEIR_DONTHAVE_ID);
        }
        Message::Extended {
            id: EXT_HANDSHAKE_ID,
            payload: ext.encode(),
        }
        .encode_into(&mut bytes);
        self.t.handle_data(PEER, &bytes, self.now);
        self.recv()
    }

    fn send(&mut self, msgs: &[Message]) -> Vec<Message> {
        let mut bytes = Vec::new();
        for m in msgs {
            m.encode_into(&mut bytes);
        }
        self.t.handle_data(PEER, &bytes, self.now);
        self.recv()
    }

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
        while let Some(e) = self.t.poll_event() {
            self.events.push(e);
        }
        out
    }

    fn lose(&mut self, index: u32) -> Vec<Message> {
        self.t.lose_piece(index, self.now);
        self.recv()
    }

    /// Answers every request in `msgs` (and those the answers bring) from the real content;
    /// returns the blocks served.
    fn serve_requests(&mut self, msgs: Vec<Message>) -> Vec<BlockRef> {
        let data = content();
        let mut todo: Vec<BlockRef> = fixture::requests(&msgs);
        let mut served = Vec::new();
        while let Some(b) = todo.pop() {
            served.push(b);
            let start = (b.index * PIECE + b.begin) as usize;
            let reply = Message::Piece {
                index: b.index,
                begin: b.begin,
                data: data[start..start + b.length as usize].to_vec(),
            };
            todo.extend(fixture::requests(&self.send(&[reply])));
            assert!(served.len() < 100, "runaway requests");
        }
        served
    }

    fn disconnected(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            Event::Disconnect { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
    }
}

fn donthave(index: u32) -> Message {
    Message::Extended {
        id: LT_DONTHAVE_LOCAL_ID,
        payload: index.to_be_bytes().to_vec(),
    }
}

#[test]
fn our_extension_handshake_offers_lt_donthave() {
    let mut h = Harness::new(false);
    let msgs = h.connect(false);
    let ours = msgs
        .iter()
        .find_map(|m| match m {
            Message::Extended { id, payload } if *id == EXT_HANDSHAKE_ID => {
                ExtendedHandshake::parse(payload).ok()
            }
            _ => None,
        })
        .expect("an extension handshake");
    assert_eq!(ours.ext_id(LT_DONTHAVE), Some(LT_DONTHAVE_LOCAL_ID));
    assert_ne!(ours.ext_id(LT_DONTHAVE), ours.ext_id("ut_metadata"));
}

#[test]
fn a_lost_piece_is_announced_refused_downloaded_again_and_completes_again() {
    let mut h = Harness::new(true);
    h.connect(true);
    // The peer has every piece but the first (a fellow seed would be dropped), and wants a
    // block of piece 2 that is still loading.
    let block = BlockRef {
        index: 2,
        begin: 0,
        length: BLOCK_SIZE,
    };
    h.loading.set(true);
    let msgs = h.send(&[Message::Bitfield(vec![0x70]), Message::Interested]);
    assert!(msgs.contains(&Message::Unchoke));
    assert!(h.send(&[Message::Request(block)]).is_empty(), "queued");
    assert!(h.t.is_complete());

    let msgs = h.lose(2);
    assert!(
        msgs.contains(&Message::Extended {
            id: THEIR_DONTHAVE_ID,
            payload: vec![0, 0, 0, 2]
        }),
        "lt_donthave for piece 2 with the peer's id: {msgs:?}"
    );
    assert!(msgs.contains(&Message::Reject(block)), "{msgs:?}");
    assert!(msgs.contains(&Message::Interested), "{msgs:?}");
    assert!(!h.t.have().unwrap().get(2));
    let s = h.t.stats();
    assert_eq!(s.pieces_verified, PIECES - 1);
    assert!(!s.complete && !h.t.is_complete());
    // The queued request is gone: loading finishing serves nothing for piece 2.
    h.loading.set(false);
    assert!(h.recv().is_empty());
    // A new request for it is refused as for any piece we do not have.
    assert_eq!(
        h.send(&[Message::Request(block)]),
        vec![Message::Reject(block)]
    );

    // Picked again: once unchoked we ask for piece 2, and only for it.
    let msgs = h.send(&[Message::Unchoke]);
    assert!(!fixture::requests(&msgs).is_empty());
    assert!(
        fixture::requests(&msgs).iter().all(|b| b.index == 2),
        "{msgs:?}"
    );
    let completed_before = h.events.iter().filter(|e| **e == Event::Completed).count();
    h.serve_requests(msgs);
    assert!(h.t.is_complete());
    assert!(h.events.contains(&Event::PieceVerified { index: 2 }));
    assert_eq!(
        h.events.iter().filter(|e| **e == Event::Completed).count(),
        completed_before + 1,
        "complete again is news again"
    );
}

#[test]
fn peers_without_lt_donthave_get_no_extension_message() {
    let mut h = Harness::new(true);
    h.connect(false);
    let msgs = h.lose(0);
    assert!(
        !msgs.iter().any(|m| matches!(m, Message::Extended { .. })),
        "{msgs:?}"
    );
    assert!(!h.t.have().unwrap().get(0));
}

#[test]
fn losing_a_piece_we_do_not_have_changes_nothing() {
    let mut h = Harness::new(false);
    h.connect(true);
    assert!(h.lose(1).is_empty());
    assert!(h.lose(PIECES + 5).is_empty());
    assert_eq!(h.t.stats().pieces_verified, 0);
}

#[test]
fn a_peers_donthave_updates_its_pieces_and_what_we_ask_it_for() {
    let mut h = Harness::new(false);
    h.connect(true);
    h.send(&[Message::HaveAll]);
    assert_eq!(h.t.peer_stats(PEER).unwrap().pieces, Some(PIECES));
    let msgs = h.send(&[Message::Unchoke]);
    let asked = fixture::requests(&msgs);
    let pending_for = |i: u32| asked.iter().filter(|b| b.index == i).count();
    let gone = asked[0].index;
    assert!(pending_for(gone) > 0);

    // The peer drops piece `gone`: our requests for it are cancelled, never re-sent to it.
    let msgs = h.send(&[donthave(gone)]);
    assert_eq!(h.t.peer_stats(PEER).unwrap().pieces, Some(PIECES - 1));
    let cancelled: Vec<_> = msgs
        .iter()
        .filter(|m| matches!(m, Message::Cancel(b) if b.index == gone))
        .collect();
    assert_eq!(cancelled.len(), pending_for(gone), "{msgs:?}");
    // Everything else completes, never asking the peer for `gone`; then it has nothing for us.
    let still_asked: Vec<Message> = asked
        .iter()
        .filter(|b| b.index != gone)
        .map(|b| Message::Request(*b))
        .chain(msgs)
        .collect();
    let served = h.serve_requests(still_asked);
    assert!(served.iter().all(|b| b.index != gone), "{served:?}");
    assert!(!h.t.peer_stats(PEER).unwrap().am_interested);
    assert_eq!(h.t.stats().pieces_verified, PIECES - 1);
    assert!(!h.t.have().unwrap().get(gone));
    // A have for it again makes it wanted again.
    let msgs = h.send(&[Message::Have { index: gone }]);
    assert!(msgs.contains(&Message::Interested), "{msgs:?}");
}

#[test]
fn a_malformed_or_out_of_range_donthave_closes_only_that_connection() {
    let mut h = Harness::new(false);
    h.connect(true);
    h.send(&[Message::HaveAll]);
    h.send(&[Message::Extended {
        id: LT_DONTHAVE_LOCAL_ID,
        payload: vec![0, 0, 1],
    }]);
    assert!(
        h.disconnected().is_some_and(|r| r.contains("lt_donthave")),
        "{:?}",
        h.disconnected()
    );

    let mut h = Harness::new(false);
    h.connect(true);
    h.send(&[Message::HaveAll]);
    h.send(&[donthave(PIECES)]);
    assert!(
        h.disconnected()
            .is_some_and(|r| r.contains("lt_donthave for piece 4")),
        "{:?}",
        h.disconnected()
    );
}

#[test]
fn a_repeated_donthave_is_harmless() {
    let mut h = Harness::new(false);
    h.connect(true);
    h.send(&[Message::HaveAll]);
    h.send(&[donthave(1), donthave(1)]);
    assert_eq!(h.disconnected(), None);
    assert_eq!(h.t.peer_stats(PEER).unwrap().pieces, Some(PIECES - 1));
}
