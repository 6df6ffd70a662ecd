//! In which order one torrent's connections are offered upload when the upload limit cannot
//! serve them all: peers far behind the others first, so that a swarm's leechers progress
//! together.
//!
//! Why: a leecher that falls behind holds only pieces the others already have, so near the
//! end it has nothing to upload while it still downloads. Measured in `make bench-swarm`
//! (session simulator, 1 seeder at 1.0 MB/s, 8 leechers at 0.5 MB/s, 16 MiB, 8 seeds): with
//! plain rotation the first leechers finished 6–8 s before the last, which uploaded 59–80% of
//! their limit, and all were done at 1.07–1.21× the fluid bound T*; serving peers more than a
//! tenth of the pieces behind first, 1.05–1.11×, most leechers at 90–100%. Serving *every*
//! peer fewest-pieces-first evened progress out completely but left the seeder idle 10–60% of
//! the time (1.09–1.16× T*), so only clear laggards go first and the rest keep rotating.
//!
//! Trust: a peer's piece count is what it announced. A peer that hides its pieces (no HAVE
//! messages) to look behind and take our upload first is no laggard once it has received
//! more from us than its count accounts for ([`HOARD_SLACK`]): it then rotates with the rest.

/// A peer this share of the pieces (1/n) behind the most advanced incomplete peer is a laggard.
pub const LAG_DIVISOR: u32 = 10;
/// Bytes a peer may have received from us beyond what its announced pieces account for
/// (blocks in flight and pieces still being assembled) and still count as a laggard.
pub const HOARD_SLACK: u64 = 4 * 1024 * 1024;

/// What the order needs to know of one connection's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadCandidate<K> {
    pub key: K,
    /// Pieces the peer announced (0 before its bitfield).
    pub pieces: u32,
    /// Bytes of block data we sent it.
    pub received: u64,
}

/// Reorders `candidates` (already rotated for fairness): laggards first, fewest pieces first;
/// everyone else after them in the given order. `num_pieces` and `piece_length` describe the
/// torrent (0 before its metadata: the order is left as is).
pub fn laggards_first<K: Copy>(
    candidates: &[UploadCandidate<K>],
    num_pieces: u32,
    piece_length: u32,
) -> Vec<K> {
    let honest = |c: &UploadCandidate<K>| {
        c.received <= u64::from(c.pieces) * u64::from(piece_length) + HOARD_SLACK
    };
    let top = candidates
        .iter()
        .map(|c| c.pieces)
        .filter(|&p| p < num_pieces)
        .max();
    let Some(top) = top.filter(|_| num_pieces > 0) else {
        return candidates.iter().map(|c| c.key).collect();
    };
    let gap = (num_pieces / LAG_DIVISOR).max(1);
    let (mut laggards, rest): (Vec<&UploadCandidate<K>>, Vec<&UploadCandidate<K>>) = candidates
        .iter()
        .partition(|c| c.pieces + gap <= top && honest(c));
    laggards.sort_by_key(|c| c.pieces); // stable: equal counts keep the rotation
    laggards.into_iter().chain(rest).map(|c| c.key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(key: u64, pieces: u32, received: u64) -> UploadCandidate<u64> {
        UploadCandidate {
            key,
            pieces,
            received,
        }
    }

    const PIECE: u32 = 16 * 1024;

    #[test]
    fn close_peers_keep_the_rotation() {
        let peers = [c(1, 50, 0), c(2, 55, 0), c(3, 46, 0)];
        assert_eq!(laggards_first(&peers, 100, PIECE), vec![1, 2, 3]);
    }

    #[test]
    fn laggards_go_first_fewest_pieces_first() {
        let peers = [
            c(1, 60, 0),
            c(2, 10, 0),
            c(3, 58, 0),
            c(4, 30, 0),
            c(5, 51, 0),
        ];
        // The most advanced incomplete peer has 60; 10 behind or more lags.
        assert_eq!(laggards_first(&peers, 100, PIECE), vec![2, 4, 1, 3, 5]);
    }

    #[test]
    fn seeds_do_not_set_the_pace() {
        // A seed (all 100) is not what leechers are measured against.
        let peers = [c(1, 100, 0), c(2, 40, 0), c(3, 45, 0)];
        assert_eq!(laggards_first(&peers, 100, PIECE), vec![1, 2, 3]);
    }

    #[test]
    fn a_peer_hiding_its_pieces_is_no_laggard() {
        // Peer 2 announced nothing yet took 8 MiB from us: it rotates with the rest.
        let hoarder = c(2, 0, 8 * 1024 * 1024);
        let peers = [c(1, 60, 0), hoarder, c(3, 0, PIECE as u64)];
        assert_eq!(laggards_first(&peers, 100, PIECE), vec![3, 1, 2]);
    }

    #[test]
    fn nothing_known_leaves_the_order() {
        let peers = [c(1, 0, 0), c(2, 0, 0)];
        assert_eq!(laggards_first(&peers, 0, 0), vec![1, 2]);
        assert_eq!(laggards_first(&peers, 100, PIECE), vec![1, 2]);
        assert!(laggards_first::<u64>(&[], 100, PIECE).is_empty());
    }
}
