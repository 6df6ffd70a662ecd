//! Invariants of the engine under arbitrary input from several peers at once: not only "no
//! panic", but the bookkeeping a long-running tab depends on stays exact and bounded.
//!
//! After every step: the picker's availability equals the sum of the connected peers' known
//! pieces; each peer's queued output is within its bound; partial pieces' buffers are within
//! the configured budget; no piece claimed by a web seed is also being assembled from peers or
//! verified. Once every peer has left, availability is zero.

mod fixture;

use std::time::Duration;

use proptest::prelude::*;
use seedcast::engine::{Bitfield, Config, Event, MemoryStorage, Torrent};
use seedcast::metainfo::Metainfo;
use seedcast::wire::{
    BLOCK_SIZE, BlockRef, EXT_HANDSHAKE_ID, ExtendedHandshake, Handshake, Message, MetadataMsg,
    UT_METADATA_LOCAL_ID,
};
use sha1::{Digest, Sha1};

const PIECE: u32 = 2 * BLOCK_SIZE;
const PIECES: u32 = 8;
const PEERS: u64 = 3;
/// Small enough that random traffic reaches it: two pieces of buffers.
const PARTIAL_BUDGET: u64 = 2 * PIECE as u64;

fn content() -> Vec<u8> {
    fixture::patterned(PIECE * PIECES - 1000, 13)
}

fn metainfo() -> Metainfo {
    fixture::single_file("inv.bin", PIECE, &content())
}

#[derive(Debug, Clone)]
enum Step {
    Connect(u64),
    Disconnect(u64),
    Send(u64, Message),
    /// `n` copies of a message in one chunk: request bursts fill output fastest.
    Burst(u64, Message, usize),
    /// A block of the real content (or a corrupted one), as an honest or lying peer sends.
    Block {
        peer: u64,
        index: u32,
        block: u32,
        corrupt: bool,
    },
    /// The extension handshake offering the (correct) metadata, and the metadata itself.
    OfferMetadata(u64),
    SendMetadata(u64),
    Poll(u64, usize),
    Wait(Duration),
    /// Storage lost a piece (its stored bytes failed to load or to verify).
    Lose(u32),
    /// A web seed claims a run of up to this many bytes.
    Claim(u64),
    /// The driver answers one of the engine's hash requests (`external_hashing`): with the
    /// SHA-1 of the bytes it was given, or a wrong digest, or for a request long answered.
    Hash {
        pick: usize,
        wrong: bool,
    },
    /// A web seed answers a piece (the real one, or a corrupted one).
    WebSeedPiece {
        index: u32,
        corrupt: bool,
    },
    /// A web seed's fetch failed: its claims are released.
    Release(u32, u32),
}

fn any_message() -> impl Strategy<Value = Message> {
    let block =
        (0u32..PIECES + 1, 0u32..2, 1u32..=BLOCK_SIZE).prop_map(|(index, b, length)| BlockRef {
            index,
            begin: b * BLOCK_SIZE,
            length,
        });
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        (0u32..PIECES).prop_map(|index| Message::Have { index }),
        any::<u8>().prop_map(|b| Message::Bitfield(vec![b])),
        block.clone().prop_map(Message::Request),
        block.clone().prop_map(Message::Cancel),
        block.prop_map(Message::Reject),
        (0u32..PIECES).prop_map(|index| Message::AllowedFast { index }),
        (0u32..2).prop_map(|piece| Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: MetadataMsg::Request { piece }.encode()
        }),
    ]
}

fn any_step() -> impl Strategy<Value = Step> {
    let peer = 0..PEERS;
    prop_oneof![
        2 => peer.clone().prop_map(Step::Connect),
        1 => peer.clone().prop_map(Step::Disconnect),
        8 => (peer.clone(), any_message()).prop_map(|(p, m)| Step::Send(p, m)),
        2 => (peer.clone(), any_message(), 1usize..400).prop_map(|(p, m, n)| Step::Burst(p, m, n)),
        4 => (peer.clone(), 0u32..PIECES, 0u32..2, proptest::bool::weighted(0.2))
            .prop_map(|(peer, index, block, corrupt)| Step::Block { peer, index, block, corrupt }),
        1 => peer.clone().prop_map(Step::OfferMetadata),
        1 => peer.clone().prop_map(Step::SendMetadata),
        3 => (peer, prop_oneof![Just(0usize), 1usize..100, 1usize..70_000])
            .prop_map(|(p, b)| Step::Poll(p, b)),
        2 => (0u64..40).prop_map(|s| Step::Wait(Duration::from_millis(s * 500))),
        1 => (0u32..PIECES + 1).prop_map(Step::Lose),
        2 => (0u64..(3 * PIECE as u64)).prop_map(Step::Claim),
        2 => (0u32..PIECES + 1, proptest::bool::weighted(0.2))
            .prop_map(|(index, corrupt)| Step::WebSeedPiece { index, corrupt }),
        1 => (0u32..PIECES, 0u32..PIECES + 1).prop_map(|(a, b)| Step::Release(a, b)),
        3 => (0usize..8, proptest::bool::weighted(0.2)).prop_map(|(pick, wrong)| Step::Hash { pick, wrong }),
    ]
}

struct World {
    t: Torrent,
    m: Metainfo,
    data: Vec<u8>,
    now: Duration,
    /// Hash requests seen (`Event::HashPiece`), answered or not.
    hash_requests: Vec<(u32, u64)>,
}

impl World {
    /// `mode % 3`: seed, leecher, magnet; `mode >= 3`: pieces hashed by the "driver".
    fn new(mode: u8) -> World {
        let m = metainfo();
        let data = content();
        let config = Config {
            max_partial_bytes: PARTIAL_BUDGET,
            external_hashing: mode >= 3,
            ..Config::default()
        };
        let t = match mode % 3 {
            0 => Torrent::new(
                m.info_hash,
                m.info.clone(),
                m.info_bytes.clone(),
                Box::new(MemoryStorage::from_content(&data, PIECE)),
                Some(Bitfield::full(PIECES)),
                config,
                Duration::ZERO,
            ),
            1 => Torrent::new(
                m.info_hash,
                m.info.clone(),
                m.info_bytes.clone(),
                Box::new(MemoryStorage::new()),
                None,
                config,
                Duration::ZERO,
            ),
            _ => Torrent::from_info_hash(
                m.info_hash,
                Box::new(MemoryStorage::new()),
                config,
                Duration::ZERO,
            ),
        };
        World {
            t,
            m,
            data,
            now: Duration::ZERO,
            hash_requests: Vec::new(),
        }
    }

    fn feed(&mut self, peer: u64, msg: &Message) {
        let mut bytes = Vec::new();
        msg.encode_into(&mut bytes);
        self.t.handle_data(peer, &bytes, self.now);
    }

    fn apply(&mut self, step: &Step) {
        let connected = |w: &World, p: u64| w.t.peer_keys().any(|k| k == p);
        match step {
            Step::Connect(p) => {
                if !connected(self, *p) {
                    self.t.handle_connect(*p, self.now);
                    let mut id = *b"-XX0001-invariants00";
                    id[19] = b'0' + *p as u8;
                    let mut bytes = Vec::new();
                    Handshake::new(self.m.info_hash.0, id).encode_into(&mut bytes);
                    self.t.handle_data(*p, &bytes, self.now);
                }
            }
            Step::Disconnect(p) => self.t.handle_disconnect(*p, self.now),
            Step::Send(p, m) => self.feed(*p, m),
            Step::Burst(p, m, n) => {
                let mut one = Vec::new();
                m.encode_into(&mut one);
                self.t.handle_data(*p, &one.repeat(*n), self.now);
            }
            Step::Block {
                peer,
                index,
                block,
                corrupt,
            } => {
                let start = (index * PIECE + block * BLOCK_SIZE) as usize;
                if start < self.data.len() {
                    let end = (start + BLOCK_SIZE as usize).min(self.data.len());
                    let mut data = self.data[start..end].to_vec();
                    if *corrupt {
                        data[0] ^= 1;
                    }
                    let msg = Message::Piece {
                        index: *index,
                        begin: block * BLOCK_SIZE,
                        data,
                    };
                    self.feed(*peer, &msg);
                }
            }
            Step::OfferMetadata(p) => {
                let ext = ExtendedHandshake {
                    m: [("ut_metadata".to_string(), 9)].into(),
                    metadata_size: Some(self.m.info_bytes.len() as u64),
                    ..Default::default()
                };
                let msg = Message::Extended {
                    id: EXT_HANDSHAKE_ID,
                    payload: ext.encode(),
                };
                self.feed(*p, &msg);
            }
            Step::SendMetadata(p) => {
                let msg = Message::Extended {
                    id: UT_METADATA_LOCAL_ID,
                    payload: MetadataMsg::Data {
                        piece: 0,
                        total_size: self.m.info_bytes.len() as u64,
                        data: self.m.info_bytes.clone(),
                    }
                    .encode(),
                };
                self.feed(*p, &msg);
            }
            Step::Poll(p, budget) => {
                if let Some(bytes) = self.t.poll_transmit(*p, *budget) {
                    // The documented guarantee: the budget, or one block message alone.
                    assert!(
                        bytes.len() <= *budget || bytes.len() <= BLOCK_SIZE as usize + 13,
                        "{} bytes for a budget of {budget}",
                        bytes.len()
                    );
                }
            }
            Step::Wait(d) => {
                let end = self.now + *d;
                while self.t.poll_timeout() <= end {
                    self.now = self.t.poll_timeout();
                    self.t.handle_timeout(self.now);
                }
                self.now = end;
            }
            Step::Lose(index) => self.t.lose_piece(*index, self.now),
            Step::Claim(max) => {
                if let Some(run) = self.t.webseed_claim(*max, self.now) {
                    assert!(!run.is_empty(), "an empty claim");
                }
            }
            Step::WebSeedPiece { index, corrupt } => {
                let start = (*index * PIECE) as usize;
                let end = (start + PIECE as usize).min(self.data.len());
                let mut data = self.data.get(start..end).unwrap_or_default().to_vec();
                if *corrupt && !data.is_empty() {
                    data[0] ^= 1;
                }
                let _ = self.t.webseed_piece(*index, &data, self.now);
            }
            Step::Release(a, b) => self.t.webseed_release(*a..*b, self.now),
            Step::Hash { pick, wrong } => {
                if !self.hash_requests.is_empty() {
                    let (index, token) = self.hash_requests[pick % self.hash_requests.len()];
                    let digest: [u8; 20] = match self.t.piece_to_hash(index, token) {
                        Some(bytes) if !*wrong => Sha1::digest(bytes).into(),
                        _ => [0xee; 20],
                    };
                    self.t.handle_piece_hash(index, token, digest, self.now);
                }
            }
        }
        while let Some(event) = self.t.poll_event() {
            if let Event::HashPiece { index, token } = event {
                self.hash_requests.push((index, token));
            }
        }
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let known: u64 = self
            .t
            .peer_keys()
            .filter_map(|k| self.t.peer_stats(k)?.pieces)
            .map(u64::from)
            .sum();
        prop_assert_eq!(
            self.t.debug_availability_total(),
            known,
            "availability drifted"
        );
        let bound = self.t.queued_output_bound();
        for k in self.t.peer_keys() {
            let queued = self.t.queued_output(k).unwrap_or(0);
            prop_assert!(queued <= bound, "peer {} has {} bytes queued", k, queued);
        }
        let stats = self.t.stats();
        prop_assert_eq!(
            stats.complete,
            stats.has_metadata && stats.pieces_verified == stats.num_pieces,
            "completion disagrees with the verified count"
        );
        prop_assert!(
            !self.t.debug_claims_overlap(),
            "a web seed claim is also partial or verified"
        );
        let partial = self.t.debug_partial_bytes();
        prop_assert!(
            partial <= PARTIAL_BUDGET.max(PIECE as u64),
            "{} bytes of partial pieces",
            partial
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bookkeeping_stays_exact_and_bounded(mode in 0u8..6, steps in proptest::collection::vec(any_step(), 1..80)) {
        let mut w = World::new(mode);
        for step in &steps {
            w.apply(step);
            w.check()?;
        }
        for p in 0..PEERS {
            w.t.handle_disconnect(p, w.now);
        }
        prop_assert_eq!(w.t.debug_availability_total(), 0, "availability left after every peer left");
    }
}
