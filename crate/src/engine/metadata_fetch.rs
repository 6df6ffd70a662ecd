//! Downloading the `info` dictionary from peers (BEP 9) for a torrent started from a magnet
//! link. The assembled bytes are trusted only once their SHA-1 equals the info hash.
//!
//! Peers may disagree about the metadata size (a liar, a buggy client). Each announced size is
//! a *candidate*, fetched only from the peers that announced it, so a wrong size costs only
//! its own peers. A copy that fails the hash convicts nobody by itself: we keep the SHA-1 of
//! what each sender sent per metadata piece, and once a copy verifies, exactly the senders
//! whose bytes differ from it are named as liars (like block evidence for pieces).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sha1::{Digest, Sha1};

use super::PeerKey;
use crate::wire::{MAX_METADATA_SIZE, METADATA_PIECE_SIZE};

/// Distinct metadata sizes tracked at once. Honest peers all announce one size; each extra
/// candidate costs a slot table (at most 1,024 entries), so a flood of sizes is cut off here.
pub const MAX_SIZE_CANDIDATES: usize = 8;
/// Bytes held across all candidates (pieces received plus pieces requested): two
/// maximum-size copies, so one bogus maximum-size candidate cannot crowd out the real one.
/// Memory for a candidate is taken piece by piece, only as it is actually fetched.
pub const MAX_METADATA_BUFFER: u64 = 2 * MAX_METADATA_SIZE;
/// Failed copies one peer may send all by itself before it is dropped. It is disconnected,
/// not banned: a copy with one sender proves nothing against anyone else to compare with.
pub const MAX_LONE_FAILURES: u32 = 2;
/// (sender, SHA-1) pairs remembered per metadata piece from failed copies. Beyond this nothing
/// more is recorded: an unrecorded sender can never be convicted, which errs on innocence.
pub const MAX_EVIDENCE_PER_PIECE: usize = 32;
/// From this many failures on, a size is fetched as whole copies from one peer at a time,
/// which settles who is wrong even when per-piece source rotation cannot.
const WHOLE_COPY_AFTER: u32 = 2;
/// A peer that refused or timed out is asked again after this, doubling per refusal.
const BACKOFF_BASE: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// After its n-th failed copy a size waits (n-1) steps before it is fetched again (capped),
/// so a size that keeps failing costs bounded bandwidth yet is never given up for good.
const RETRY_STEP: Duration = Duration::from_secs(5);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("peer announced metadata size {0}, outside 1..={MAX_METADATA_SIZE}")]
    BadSize(u64),
    #[error("metadata piece {piece} has {got} bytes, expected {expected}")]
    BadPieceLength {
        piece: u32,
        got: usize,
        expected: usize,
    },
    #[error("metadata piece {0} does not exist")]
    BadPiece(u32),
    #[error("metadata total size {got} differs from the announced {expected}")]
    SizeMismatch { got: u64, expected: u64 },
}

/// What a received piece led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// More pieces are needed.
    Pending,
    /// The metadata matches the info hash. `liars` sent, in an earlier failed copy, bytes
    /// that differ from these for some piece: proven to have lied.
    Verified { bytes: Vec<u8>, liars: Vec<PeerKey> },
    /// A copy of `size` bytes failed the hash; nobody is convicted. `give_up` lists peers
    /// whose copies failed alone [`MAX_LONE_FAILURES`] times: no use to keep asking them.
    Failed { size: u64, give_up: Vec<PeerKey> },
}

/// A peer that announced a metadata size.
#[derive(Debug, Clone)]
struct Source {
    size: u64,
    /// Not asked before this (after a refusal or a timeout).
    ready_at: Duration,
    refusals: u32,
    lone_failures: u32,
    /// Times it was chosen to send a whole copy alone.
    whole_tries: u32,
}

#[derive(Debug, Clone)]
enum Slot {
    Missing,
    Requested { peer: PeerKey, at: Duration },
    Received { from: PeerKey, data: Vec<u8> },
}

/// One copy being assembled. Invariant: `slots.len() == ceil(size / 16 KiB)`.
#[derive(Debug)]
struct Attempt {
    slots: Vec<Slot>,
    /// In whole-copy mode, the one peer asked for every piece.
    whole_source: Option<PeerKey>,
}

/// Everything about one announced size.
#[derive(Debug)]
struct Candidate {
    size: u64,
    /// Allocated only while someone fetches this size.
    attempt: Option<Attempt>,
    failures: u32,
    retry_at: Duration,
    /// Per piece, from failed copies: who sent which bytes (SHA-1). Empty until a failure;
    /// only live sources appear (a departed peer's entries are dropped with it).
    evidence: Vec<BTreeSet<(PeerKey, [u8; 20])>>,
}

impl Candidate {
    fn pieces(&self) -> usize {
        self.size.div_ceil(METADATA_PIECE_SIZE as u64) as usize
    }

    fn piece_len(&self, piece: usize) -> u64 {
        let start = piece as u64 * METADATA_PIECE_SIZE as u64;
        self.size
            .saturating_sub(start)
            .min(METADATA_PIECE_SIZE as u64)
    }

    fn held(&self) -> u64 {
        let Some(a) = &self.attempt else { return 0 };
        a.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s, Slot::Missing))
            .map(|(i, _)| self.piece_len(i))
            .sum()
    }

    /// Whether `peer` sent piece `i` in some failed copy.
    fn sent_before(&self, peer: PeerKey, i: usize) -> bool {
        self.evidence.get(i).is_some_and(|e| {
            e.range((peer, [0; 20])..=(peer, [0xff; 20]))
                .next()
                .is_some()
        })
    }
}

#[derive(Debug)]
pub struct MetadataFetch {
    info_hash: [u8; 20],
    /// Bounded by the connected peers: a source leaves with its peer.
    sources: BTreeMap<PeerKey, Source>,
    /// Invariant: at most [`MAX_SIZE_CANDIDATES`], distinct sizes, each announced by a source.
    candidates: Vec<Candidate>,
}

impl MetadataFetch {
    pub fn new(info_hash: [u8; 20]) -> Self {
        MetadataFetch {
            info_hash,
            sources: BTreeMap::new(),
            candidates: Vec::new(),
        }
    }

    /// Sizes currently tracked (for diagnostics and tests).
    pub fn candidate_sizes(&self) -> Vec<u64> {
        self.candidates.iter().map(|c| c.size).collect()
    }

    /// Bytes held for copies in progress; never above [`MAX_METADATA_BUFFER`].
    pub fn held_bytes(&self) -> u64 {
        self.candidates.iter().map(Candidate::held).sum()
    }

    /// `peer` announced metadata of `size` bytes. Returns whether this changed what we knew
    /// of it (a new size drops its requests for the old one).
    pub fn add_source(
        &mut self,
        peer: PeerKey,
        size: u64,
        now: Duration,
    ) -> Result<bool, MetadataError> {
        if size == 0 || size > MAX_METADATA_SIZE {
            self.remove_source(peer);
            return Err(MetadataError::BadSize(size));
        }
        if self.sources.get(&peer).is_some_and(|s| s.size == size) {
            return Ok(false);
        }
        self.remove_source(peer);
        self.sources.insert(
            peer,
            Source {
                size,
                ready_at: now,
                refusals: 0,
                lone_failures: 0,
                whole_tries: 0,
            },
        );
        Ok(true)
    }

    /// `peer` is gone (or no longer offers metadata): its requests go back to the pool and
    /// its evidence is dropped, so a reused key can never be blamed for it.
    pub fn remove_source(&mut self, peer: PeerKey) {
        if self.sources.remove(&peer).is_none() {
            return;
        }
        for c in &mut self.candidates {
            for e in &mut c.evidence {
                e.retain(|(p, _)| *p != peer);
            }
            if let Some(a) = &mut c.attempt {
                release_slots(a, peer, None);
                if a.whole_source == Some(peer) {
                    a.whole_source = None;
                }
            }
        }
        // A size nobody announces any more is forgotten, freeing its memory and its place.
        let sources = &self.sources;
        self.candidates
            .retain(|c| sources.values().any(|s| s.size == c.size));
    }

    /// The next metadata piece to ask `peer` for, if any.
    pub fn next_request(&mut self, peer: PeerKey, now: Duration) -> Option<u32> {
        let src = self.sources.get(&peer)?;
        if now < src.ready_at {
            return None;
        }
        let size = src.size;
        let idx = match self.candidates.iter().position(|c| c.size == size) {
            Some(i) => i,
            None if self.candidates.len() < MAX_SIZE_CANDIDATES => {
                self.candidates.push(Candidate {
                    size,
                    attempt: None,
                    failures: 0,
                    retry_at: now,
                    evidence: Vec::new(),
                });
                self.candidates.len() - 1
            }
            None => return None,
        };
        let held: u64 = self.held_bytes();
        let sources = &mut self.sources;
        let c = &mut self.candidates[idx];
        if now < c.retry_at {
            return None;
        }
        let available = |s: &Source| s.size == size && now >= s.ready_at;
        let n = c.pieces();
        let mut attempt = c.attempt.take().unwrap_or_else(|| Attempt {
            slots: vec![Slot::Missing; n],
            whole_source: None,
        });
        let missing = |slot: &Slot| matches!(slot, Slot::Missing);
        let piece = if c.failures >= WHOLE_COPY_AFTER {
            // One peer sends the whole copy: it verifies, or that peer alone is wrong.
            let designated = attempt
                .whole_source
                .filter(|k| sources.get(k).is_some_and(available));
            let designated = designated.or_else(|| {
                let k = sources
                    .iter()
                    .filter(|(_, s)| available(s))
                    .min_by_key(|(k, s)| (s.lone_failures, s.whole_tries, **k))
                    .map(|(k, _)| *k)?;
                if let Some(s) = sources.get_mut(&k) {
                    s.whole_tries = s.whole_tries.saturating_add(1);
                }
                Some(k)
            });
            attempt.whole_source = designated;
            if designated == Some(peer) {
                attempt.slots.iter().position(missing)
            } else {
                None
            }
        } else if c.failures >= 1 {
            // After a failure, each piece goes preferably to a peer that has not sent it yet.
            (0..n).find(|&i| {
                missing(&attempt.slots[i])
                    && (!c.sent_before(peer, i)
                        || !sources
                            .iter()
                            .any(|(k, s)| available(s) && !c.sent_before(*k, i)))
            })
        } else {
            attempt.slots.iter().position(missing)
        };
        let need = piece.map(|i| c.piece_len(i)).unwrap_or(0);
        c.attempt = Some(attempt);
        if held + need > MAX_METADATA_BUFFER {
            self.make_room(idx, need);
        }
        let piece = piece.filter(|_| self.held_bytes() + need <= MAX_METADATA_BUFFER);
        let c = &mut self.candidates[idx];
        let mut attempt = c.attempt.take().expect("put back above");
        if let Some(i) = piece {
            attempt.slots[i] = Slot::Requested { peer, at: now };
        }
        // An attempt that holds nothing is not kept (memory only while fetching), unless it
        // names its whole-copy source: re-choosing on every call would never settle.
        if attempt.whole_source.is_some() || attempt.slots.iter().any(|s| !missing(s)) {
            c.attempt = Some(attempt);
        }
        piece.map(|i| i as u32)
    }

    /// Frees the buffers of lower-ranked candidates until `need` more bytes fit. Rank: more
    /// peers announcing the size first, then the smaller size. A lone liar can only hold the
    /// buffer against a real size announced by as many peers if it announces a smaller size,
    /// and a small size holds little. A total order, so two candidates never evict each other.
    fn make_room(&mut self, idx: usize, need: u64) {
        let rank = |c: &Candidate| {
            let peers = self.sources.values().filter(|s| s.size == c.size).count();
            (std::cmp::Reverse(peers), c.size)
        };
        let ours = rank(&self.candidates[idx]);
        let mut order: Vec<usize> = (0..self.candidates.len())
            .filter(|&j| j != idx && self.candidates[j].attempt.is_some())
            .filter(|&j| rank(&self.candidates[j]) > ours)
            .collect();
        // Worst first.
        order.sort_by_key(|&j| std::cmp::Reverse(rank(&self.candidates[j])));
        for j in order {
            if self.held_bytes() + need <= MAX_METADATA_BUFFER {
                return;
            }
            // Its in-flight replies are ignored when they come (no attempt to add to).
            self.candidates[j].attempt = None;
        }
    }

    /// `peer` refused `piece`: someone else may fetch it, and `peer` is asked again later.
    pub fn on_reject(&mut self, peer: PeerKey, piece: u32, now: Duration) {
        for c in &mut self.candidates {
            if let Some(a) = &mut c.attempt {
                release_slots(a, peer, Some(piece));
            }
        }
        self.back_off(peer, now);
    }

    fn back_off(&mut self, peer: PeerKey, now: Duration) {
        if let Some(s) = self.sources.get_mut(&peer) {
            s.refusals = s.refusals.saturating_add(1);
            let factor = 1u32 << (s.refusals - 1).min(16);
            s.ready_at = now + BACKOFF_BASE.saturating_mul(factor).min(MAX_BACKOFF);
        }
    }

    /// Frees requests older than `timeout` and backs their peers off; returns those peers.
    pub fn expire(&mut self, now: Duration, timeout: Duration) -> Vec<PeerKey> {
        let mut slow = BTreeSet::new();
        for c in &mut self.candidates {
            let Some(a) = &mut c.attempt else { continue };
            for s in &mut a.slots {
                if let Slot::Requested { peer, at } = s {
                    if now.saturating_sub(*at) >= timeout {
                        slow.insert(*peer);
                        *s = Slot::Missing;
                    }
                }
            }
        }
        for &p in &slow {
            self.back_off(p, now);
        }
        slow.into_iter().collect()
    }

    /// Stores a piece `from` sent; on the last one of a copy, checks the copy.
    pub fn on_data(
        &mut self,
        from: PeerKey,
        piece: u32,
        total: u64,
        data: &[u8],
        now: Duration,
    ) -> Result<Outcome, MetadataError> {
        let Some(src) = self.sources.get_mut(&from) else {
            return Ok(Outcome::Pending);
        };
        if total != src.size {
            return Err(MetadataError::SizeMismatch {
                got: total,
                expected: src.size,
            });
        }
        src.refusals = 0;
        let Some(idx) = self.candidates.iter().position(|c| c.size == total) else {
            return Ok(Outcome::Pending);
        };
        let c = &mut self.candidates[idx];
        let i = piece as usize;
        if i >= c.pieces() {
            return Err(MetadataError::BadPiece(piece));
        }
        let expected = c.piece_len(i) as usize;
        if data.len() != expected {
            return Err(MetadataError::BadPieceLength {
                piece,
                got: data.len(),
                expected,
            });
        }
        // No attempt: this copy was already checked (a late reply); nothing to add to.
        let Some(a) = &mut c.attempt else {
            return Ok(Outcome::Pending);
        };
        if matches!(a.slots[i], Slot::Received { .. }) {
            return Ok(Outcome::Pending);
        }
        a.slots[i] = Slot::Received {
            from,
            data: data.to_vec(),
        };
        if a.slots.iter().all(|s| matches!(s, Slot::Received { .. })) {
            let a = c.attempt.take().expect("checked above");
            return Ok(self.check(idx, a, now));
        }
        Ok(Outcome::Pending)
    }

    /// Hashes a complete copy: on success names the proven liars, on failure keeps evidence.
    fn check(&mut self, idx: usize, attempt: Attempt, now: Duration) -> Outcome {
        let pieces: Vec<(PeerKey, Vec<u8>)> = attempt
            .slots
            .into_iter()
            .map(|s| match s {
                Slot::Received { from, data } => (from, data),
                _ => unreachable!("checked only when every piece is received"),
            })
            .collect();
        let mut hasher = Sha1::new();
        for (_, d) in &pieces {
            hasher.update(d);
        }
        let hash: [u8; 20] = hasher.finalize().into();
        let c = &mut self.candidates[idx];
        if hash == self.info_hash {
            let mut liars = BTreeSet::new();
            for ((_, d), evidence) in pieces.iter().zip(&c.evidence) {
                let good: [u8; 20] = Sha1::digest(d).into();
                liars.extend(evidence.iter().filter(|(_, h)| *h != good).map(|(p, _)| *p));
            }
            let bytes = pieces.into_iter().flat_map(|(_, d)| d).collect();
            // Done: nothing more is fetched, so nothing more is held.
            self.sources.clear();
            self.candidates.clear();
            return Outcome::Verified {
                bytes,
                liars: liars.into_iter().collect(),
            };
        }
        c.failures = c.failures.saturating_add(1);
        let wait = RETRY_STEP
            .saturating_mul(c.failures - 1)
            .min(MAX_RETRY_DELAY);
        c.retry_at = now + wait;
        if c.evidence.is_empty() {
            c.evidence = vec![BTreeSet::new(); pieces.len()];
        }
        for ((from, d), evidence) in pieces.iter().zip(&mut c.evidence) {
            if self.sources.contains_key(from) && evidence.len() < MAX_EVIDENCE_PER_PIECE {
                evidence.insert((*from, Sha1::digest(d).into()));
            }
        }
        let senders: BTreeSet<PeerKey> = pieces.iter().map(|(p, _)| *p).collect();
        let mut give_up = Vec::new();
        if let [only] = senders.into_iter().collect::<Vec<_>>()[..] {
            if let Some(s) = self.sources.get_mut(&only) {
                s.lone_failures = s.lone_failures.saturating_add(1);
                if s.lone_failures >= MAX_LONE_FAILURES {
                    give_up.push(only);
                }
            }
        }
        Outcome::Failed {
            size: c.size,
            give_up,
        }
    }
}

/// Frees `peer`'s requests in `a` (all of them, or just `piece`).
fn release_slots(a: &mut Attempt, peer: PeerKey, piece: Option<u32>) {
    for (i, s) in a.slots.iter_mut().enumerate() {
        if let Slot::Requested { peer: p, .. } = s {
            if *p == peer && piece.is_none_or(|x| x as usize == i) {
                *s = Slot::Missing;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::ZERO;

    /// Metadata of `len` bytes and its SHA-1 (what the info hash would be).
    fn info(len: usize) -> (Vec<u8>, [u8; 20]) {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let hash = Sha1::digest(&bytes).into();
        (bytes, hash)
    }

    fn piece(bytes: &[u8], i: u32) -> &[u8] {
        let start = i as usize * METADATA_PIECE_SIZE as usize;
        &bytes[start..(start + METADATA_PIECE_SIZE as usize).min(bytes.len())]
    }

    fn corrupt(data: &[u8]) -> Vec<u8> {
        let mut d = data.to_vec();
        d[0] ^= 0xff;
        d
    }

    #[test]
    fn assembles_pieces_in_any_order() {
        let (bytes, hash) = info(20_000);
        let mut m = MetadataFetch::new(hash);
        m.add_source(1, 20_000, T0).unwrap();
        m.add_source(2, 20_000, T0).unwrap();
        assert_eq!(m.next_request(1, T0), Some(0));
        assert_eq!(m.next_request(2, T0), Some(1));
        assert_eq!(m.next_request(2, T0), None);
        assert_eq!(
            m.on_data(2, 1, 20_000, piece(&bytes, 1), T0),
            Ok(Outcome::Pending)
        );
        assert_eq!(
            m.on_data(1, 0, 20_000, piece(&bytes, 0), T0),
            Ok(Outcome::Verified {
                bytes: bytes.clone(),
                liars: vec![]
            })
        );
        assert_eq!(m.held_bytes(), 0, "nothing is kept once verified");
    }

    #[test]
    fn rejects_bad_sizes_and_pieces() {
        let mut m = MetadataFetch::new([0; 20]);
        assert_eq!(m.add_source(1, 0, T0), Err(MetadataError::BadSize(0)));
        assert!(m.add_source(1, MAX_METADATA_SIZE + 1, T0).is_err());
        m.add_source(1, 100, T0).unwrap();
        assert_eq!(m.next_request(1, T0), Some(0));
        assert!(matches!(
            m.on_data(1, 0, 100, &[0; 99], T0),
            Err(MetadataError::BadPieceLength { .. })
        ));
        assert!(matches!(
            m.on_data(1, 1, 100, &[0; 1], T0),
            Err(MetadataError::BadPiece(1))
        ));
        assert!(matches!(
            m.on_data(1, 0, 101, &[0; 100], T0),
            Err(MetadataError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn peers_are_asked_for_the_size_they_announced_and_a_wrong_size_costs_only_its_peers() {
        let (bytes, hash) = info(20_000);
        let mut m = MetadataFetch::new(hash);
        m.add_source(1, 5, T0).unwrap();
        m.add_source(2, 20_000, T0).unwrap();
        // Both sizes are fetched, each from its own peers.
        assert_eq!(m.next_request(1, T0), Some(0));
        assert_eq!(m.next_request(1, T0), None, "size 5 has one piece");
        assert_eq!(m.next_request(2, T0), Some(0));
        assert_eq!(m.next_request(2, T0), Some(1));
        assert_eq!(m.candidate_sizes(), vec![5, 20_000]);
        // A peer cannot answer for a size it did not announce.
        assert!(matches!(
            m.on_data(1, 0, 20_000, piece(&bytes, 0), T0),
            Err(MetadataError::SizeMismatch { .. })
        ));
        // The wrong size fails alone; the real one still completes.
        assert_eq!(
            m.on_data(1, 0, 5, &[1; 5], T0),
            Ok(Outcome::Failed {
                size: 5,
                give_up: vec![]
            })
        );
        assert_eq!(
            m.on_data(2, 0, 20_000, piece(&bytes, 0), T0),
            Ok(Outcome::Pending)
        );
        assert!(matches!(
            m.on_data(2, 1, 20_000, piece(&bytes, 1), T0),
            Ok(Outcome::Verified { liars, .. }) if liars.is_empty()
        ));
    }

    #[test]
    fn a_refusing_or_departing_peer_frees_its_pieces_and_a_refuser_is_asked_again_later() {
        let (_, hash) = info(20_000);
        let mut m = MetadataFetch::new(hash);
        m.add_source(1, 20_000, T0).unwrap();
        assert_eq!(m.next_request(1, T0), Some(0));
        assert_eq!(m.next_request(1, T0), Some(1));
        m.on_reject(1, 0, T0);
        assert_eq!(
            m.next_request(1, T0),
            None,
            "backed off right after refusing"
        );
        m.add_source(2, 20_000, T0).unwrap();
        assert_eq!(
            m.next_request(2, T0),
            Some(0),
            "another peer takes the piece"
        );
        m.remove_source(2);
        let later = BACKOFF_BASE;
        assert_eq!(
            m.next_request(1, later),
            Some(0),
            "asked again after the back-off"
        );
    }

    #[test]
    fn candidate_sizes_are_bounded_and_a_freed_place_is_reused() {
        let mut m = MetadataFetch::new([0; 20]);
        let n = MAX_SIZE_CANDIDATES as u64;
        for k in 1..=n + 1 {
            m.add_source(k, k * 1000, T0).unwrap();
            let asked = m.next_request(k, T0);
            assert_eq!(asked.is_some(), k <= n, "peer {k}");
        }
        assert_eq!(m.candidate_sizes().len(), MAX_SIZE_CANDIDATES);
        m.remove_source(1);
        assert_eq!(m.next_request(n + 1, T0), Some(0));
        assert!(m.candidate_sizes().contains(&((n + 1) * 1000)));
    }

    #[test]
    fn buffered_bytes_stay_within_the_bound() {
        let mut m = MetadataFetch::new([0; 20]);
        for k in 0..3 {
            m.add_source(k, MAX_METADATA_SIZE - 2 + k, T0).unwrap();
        }
        let mut asked = [0u32; 3];
        for (k, n) in asked.iter_mut().enumerate() {
            while m.next_request(k as u64, T0).is_some() {
                *n += 1;
            }
        }
        assert!(m.held_bytes() <= MAX_METADATA_BUFFER);
        assert_eq!(asked[2], 0, "a third maximum-size copy waits: {asked:?}");
        // A size more peers announce takes the place of the lowest-ranked one.
        m.add_source(3, 50_000, T0).unwrap();
        m.add_source(4, 50_000, T0).unwrap();
        assert_eq!(m.next_request(3, T0), Some(0));
        assert_eq!(m.next_request(4, T0), Some(1));
        assert!(m.held_bytes() <= MAX_METADATA_BUFFER);
        // The evicted size may refill what is free, but cannot push the better one out.
        while m.next_request(1, T0).is_some() {}
        assert!(m.held_bytes() <= MAX_METADATA_BUFFER);
        assert_eq!(m.next_request(3, T0), Some(2));
        assert!(m.held_bytes() <= MAX_METADATA_BUFFER);
    }

    #[test]
    fn expired_requests_are_asked_again() {
        let mut m = MetadataFetch::new([0; 20]);
        m.add_source(1, 10, T0).unwrap();
        m.add_source(2, 10, T0).unwrap();
        assert_eq!(m.next_request(1, T0), Some(0));
        let now = Duration::from_secs(11);
        assert_eq!(m.expire(now, Duration::from_secs(10)), vec![1]);
        assert_eq!(m.next_request(1, now), None, "the slow peer waits");
        assert_eq!(m.next_request(2, now), Some(0));
    }

    #[test]
    fn a_failed_copy_convicts_nobody_and_the_verified_copy_convicts_exactly_the_liar() {
        let (bytes, hash) = info(40_000); // three pieces
        let (liar, honest) = (1, 2);
        let mut m = MetadataFetch::new(hash);
        m.add_source(liar, 40_000, T0).unwrap();
        m.add_source(honest, 40_000, T0).unwrap();
        assert_eq!(m.next_request(liar, T0), Some(0));
        assert_eq!(m.next_request(honest, T0), Some(1));
        assert_eq!(m.next_request(liar, T0), Some(2));
        let bad = corrupt(piece(&bytes, 0));
        m.on_data(liar, 0, 40_000, &bad, T0).unwrap();
        m.on_data(honest, 1, 40_000, piece(&bytes, 1), T0).unwrap();
        assert_eq!(
            m.on_data(liar, 2, 40_000, piece(&bytes, 2), T0),
            Ok(Outcome::Failed {
                size: 40_000,
                give_up: vec![]
            }),
            "two senders: nobody is blamed yet"
        );
        // The re-fetch asks each piece of someone who did not send it last time.
        assert_eq!(m.next_request(liar, T0), Some(1));
        assert_eq!(m.next_request(honest, T0), Some(0));
        assert_eq!(m.next_request(honest, T0), Some(2));
        m.on_data(liar, 1, 40_000, piece(&bytes, 1), T0).unwrap();
        m.on_data(honest, 0, 40_000, piece(&bytes, 0), T0).unwrap();
        assert_eq!(
            m.on_data(honest, 2, 40_000, piece(&bytes, 2), T0),
            Ok(Outcome::Verified {
                bytes,
                liars: vec![liar]
            })
        );
    }

    #[test]
    fn whole_copies_settle_a_liar_that_source_rotation_cannot() {
        let (bytes, hash) = info(20_000); // two pieces; the liar corrupts both
        let (liar, honest) = (1, 2);
        let mut m = MetadataFetch::new(hash);
        m.add_source(liar, 20_000, T0).unwrap();
        m.add_source(honest, 20_000, T0).unwrap();
        let mut now = T0;
        let serve = |m: &mut MetadataFetch, now| {
            let mut last = Outcome::Pending;
            for peer in [liar, honest] {
                while let Some(i) = m.next_request(peer, now) {
                    let data = piece(&bytes, i);
                    let data = if peer == liar {
                        corrupt(data)
                    } else {
                        data.to_vec()
                    };
                    last = m.on_data(peer, i, 20_000, &data, now).unwrap();
                }
            }
            last
        };
        let mut outcomes = Vec::new();
        for _ in 0..6 {
            let o = serve(&mut m, now);
            let done = matches!(o, Outcome::Verified { .. });
            outcomes.push(o);
            if done {
                break;
            }
            now += MAX_RETRY_DELAY;
        }
        let Some(Outcome::Verified { liars, .. }) = outcomes.last() else {
            panic!("never verified: {outcomes:?}");
        };
        assert_eq!(liars, &vec![liar]);
        assert!(outcomes.len() <= 4, "{outcomes:?}");
    }

    #[test]
    fn a_lone_source_failing_repeatedly_is_given_up_not_convicted() {
        let (_, hash) = info(100);
        let mut m = MetadataFetch::new(hash);
        m.add_source(7, 100, T0).unwrap();
        let mut now = T0;
        let mut give_ups = Vec::new();
        for _ in 0..MAX_LONE_FAILURES {
            assert_eq!(m.next_request(7, now), Some(0));
            match m.on_data(7, 0, 100, &[0; 100], now) {
                Ok(Outcome::Failed { give_up, .. }) => give_ups.push(give_up),
                other => panic!("{other:?}"),
            }
            now += MAX_RETRY_DELAY;
        }
        assert_eq!(give_ups, vec![vec![], vec![7]]);
    }
}
