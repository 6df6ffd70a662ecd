//! Web seed claims (`Torrent::webseed_claim` / `webseed_piece`) against one scripted peer
//! speaking real wire bytes: claimed pieces are never requested from peers, bad data is
//! refused and its claim released, and claims expire.

mod fixture;

use std::time::Duration;

use seedcast::engine::{
    Bitfield, Config, Event, MemoryStorage, Torrent, WEBSEED_CLAIM_TIMEOUT, WebSeedPieceError,
};
use seedcast::metainfo::Metainfo;
use seedcast::wire::{BLOCK_SIZE, Decoder, Frame, Handshake, Message};

const PIECE: u32 = 2 * BLOCK_SIZE;
const PIECES: u32 = 6;
const THEM: [u8; 20] = *b"-XX0001-scriptedpeer";
const PEER: u64 = 1;

fn content() -> Vec<u8> {
    fixture::patterned(PIECE * PIECES - 1000, 11)
}

fn metainfo() -> Metainfo {
    fixture::single_file("w.bin", PIECE, &content())
}

fn piece(index: u32) -> Vec<u8> {
    let data = content();
    let start = (index * PIECE) as usize;
    data[start..(start + PIECE as usize).min(data.len())].to_vec()
}

struct Harness {
    t: Torrent,
    m: Metainfo,
    decoder: Decoder,
    events: Vec<Event>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(Config::default())
    }

    fn with_config(config: Config) -> Harness {
        let m = metainfo();
        let t = Torrent::new(
            m.info_hash,
            m.info.clone(),
            m.info_bytes.clone(),
            Box::new(MemoryStorage::new()),
            None,
            config,
            Duration::ZERO,
        );
        Harness {
            t,
            m,
            decoder: Decoder::new(),
            events: Vec::new(),
        }
    }

    /// A seeding peer that has unchoked us; returns the pieces we requested from it.
    fn connect_seed(&mut self, now: Duration) -> Vec<u32> {
        self.t.handle_connect(PEER, now);
        let mut bytes = Vec::new();
        Handshake::new(self.m.info_hash.0, THEM).encode_into(&mut bytes);
        Message::Bitfield(Bitfield::full(PIECES).as_bytes().to_vec()).encode_into(&mut bytes);
        Message::Unchoke.encode_into(&mut bytes);
        self.t.handle_data(PEER, &bytes, now);
        self.requested()
    }

    fn requested(&mut self) -> Vec<u32> {
        while let Some(bytes) = self.t.poll_transmit(PEER, 1 << 20) {
            self.decoder.push(&bytes);
        }
        let mut out = Vec::new();
        while let Ok(Some(frame)) = self.decoder.next() {
            if let Frame::Message(Message::Request(b)) = frame {
                out.push(b.index);
            }
        }
        while let Some(e) = self.t.poll_event() {
            self.events.push(e);
        }
        out.dedup();
        out
    }
}

#[test]
fn a_claim_is_a_contiguous_run_within_the_byte_budget() {
    let mut h = Harness::new();
    let run = h.t.webseed_claim(3 * PIECE as u64, Duration::ZERO);
    assert_eq!(run, Some(0..3));
    // The next claim starts after it; a budget smaller than a piece still claims one.
    assert_eq!(h.t.webseed_claim(1, Duration::ZERO), Some(3..4));
    assert_eq!(h.t.webseed_claimed(), vec![0, 1, 2, 3]);
}

#[test]
fn claimed_pieces_are_never_requested_from_peers() {
    let mut h = Harness::new();
    let run = h.t.webseed_claim(4 * PIECE as u64, Duration::ZERO).unwrap();
    assert_eq!(run, 0..4);
    let asked = h.connect_seed(Duration::ZERO);
    assert!(!asked.is_empty(), "the peer is asked for the rest");
    assert!(
        asked.iter().all(|i| !run.contains(i)),
        "asked the peer for claimed pieces: {asked:?}"
    );
    // And a claim never takes what a peer is already downloading.
    let next = h.t.webseed_claim(u64::MAX, Duration::ZERO);
    assert!(next.is_none(), "pieces 4 and 5 are with the peer: {next:?}");
}

#[test]
fn verified_pieces_are_stored_and_reported_like_a_peers() {
    let mut h = Harness::new();
    let run = h.t.webseed_claim(u64::MAX, Duration::ZERO).unwrap();
    assert_eq!(run, 0..PIECES);
    for i in run {
        h.t.webseed_piece(i, &piece(i), Duration::ZERO).unwrap();
    }
    h.requested();
    let verified: Vec<u32> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PieceVerified { index } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(verified, (0..PIECES).collect::<Vec<_>>());
    assert!(h.events.contains(&Event::Completed));
    assert!(h.t.is_complete());
    assert_eq!(h.t.stats().downloaded, content().len() as u64);
    assert!(h.t.webseed_claimed().is_empty());
}

#[test]
fn a_bad_piece_is_refused_and_its_claim_goes_back_to_the_peers() {
    let mut h = Harness::new();
    h.t.webseed_claim(2 * PIECE as u64, Duration::ZERO).unwrap();
    let mut bad = piece(0);
    bad[5] ^= 1;
    assert_eq!(
        h.t.webseed_piece(0, &bad, Duration::ZERO),
        Err(WebSeedPieceError::HashMismatch { index: 0 })
    );
    assert_eq!(
        h.t.webseed_piece(1, &[0; 3], Duration::ZERO),
        Err(WebSeedPieceError::WrongLength {
            index: 1,
            expected: PIECE,
            got: 3
        })
    );
    assert!(!h.t.have().unwrap().get(0));
    assert!(h.t.webseed_claimed().is_empty());
    assert_eq!(
        h.t.webseed_claim(2 * PIECE as u64, Duration::ZERO),
        Some(0..2),
        "both pieces are free again"
    );
    assert_eq!(
        h.t.webseed_piece(PIECES, &[], Duration::ZERO),
        Err(WebSeedPieceError::OutOfRange { index: PIECES })
    );
}

#[test]
fn released_and_expired_claims_are_free_again() {
    let mut h = Harness::new();
    assert_eq!(
        h.t.webseed_claim(2 * PIECE as u64, Duration::ZERO),
        Some(0..2)
    );
    h.t.webseed_release(0..1, Duration::ZERO);
    assert_eq!(h.t.webseed_claimed(), vec![1]);
    // Piece 1's claim expires on the engine's own timer.
    let mut now = Duration::ZERO;
    while now <= WEBSEED_CLAIM_TIMEOUT {
        now = h.t.poll_timeout();
        h.t.handle_timeout(now);
    }
    assert!(h.t.webseed_claimed().is_empty());
    assert_eq!(h.t.webseed_claim(2 * PIECE as u64, now), Some(0..2));
}

#[test]
fn a_claim_starts_where_a_reader_needs_data() {
    let mut h = Harness::new();
    h.t.set_reader(1, 3 * PIECE as u64 + 10, Duration::ZERO);
    let run = h.t.webseed_claim(2 * PIECE as u64, Duration::ZERO).unwrap();
    assert_eq!(run.start, 3);
}

#[test]
fn a_piece_the_web_seed_finishes_first_cancels_the_peers_requests() {
    let mut h = Harness::new();
    let asked = h.connect_seed(Duration::ZERO);
    let first = asked[0];
    // The claim expired or was never made: the data is still good and taken.
    h.t.webseed_piece(first, &piece(first), Duration::ZERO)
        .unwrap();
    while let Some(bytes) = h.t.poll_transmit(PEER, 1 << 20) {
        h.decoder.push(&bytes);
    }
    let mut cancelled = false;
    while let Ok(Some(frame)) = h.decoder.next() {
        if let Frame::Message(Message::Cancel(b)) = frame {
            cancelled |= b.index == first;
        }
    }
    assert!(cancelled, "requests for piece {first} were not cancelled");
    assert!(h.t.have().unwrap().get(first));
    assert!(!h.t.debug_claims_overlap());
}

#[test]
fn while_downloads_are_held_only_a_streaming_window_is_claimed() {
    let mut h = Harness::with_config(Config {
        stream_window_bytes: 2 * PIECE as u64,
        ..Config::default()
    });
    h.t.hold_downloads(true, Duration::ZERO);
    h.t.set_reader(1, 3 * PIECE as u64, Duration::ZERO); // a seek: pieces 3 and 4
    assert_eq!(
        h.t.webseed_claim(u64::MAX, Duration::ZERO),
        Some(3..5),
        "the window, and nothing past it"
    );
    assert_eq!(h.t.webseed_claim(u64::MAX, Duration::ZERO), None);
    h.t.hold_downloads(false, Duration::ZERO);
    assert_eq!(h.t.webseed_claim(u64::MAX, Duration::ZERO), Some(0..3));
}

#[test]
fn no_claims_while_downloads_are_held_or_when_complete() {
    let mut h = Harness::new();
    h.t.hold_downloads(true, Duration::ZERO);
    assert_eq!(h.t.webseed_claim(u64::MAX, Duration::ZERO), None);
    h.t.hold_downloads(false, Duration::ZERO);
    for i in 0..PIECES {
        h.t.webseed_piece(i, &piece(i), Duration::ZERO).unwrap();
    }
    assert_eq!(h.t.webseed_claim(u64::MAX, Duration::ZERO), None);
}
