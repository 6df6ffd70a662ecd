//! Two seeds have nothing to trade. Once we are complete, a connection with a peer that has
//! every piece is closed (at our completion, or as soon as a later peer shows a full piece
//! list), and its id is remembered for a while so the driver spends no new connection on it
//! ([`Torrent::is_fellow_seed`]); otherwise both ends reconnect on their next announce and
//! hold a connection slot (a WebRTC connection) for nothing.
//!
//! Invariant: at most [`MAX_FELLOW_SEEDS`] ids; the memory counts only while we are complete
//! (a lost piece makes every remembered seed worth connecting to again).

use std::collections::BTreeMap;
use std::time::Duration;

use super::Torrent;
use crate::engine::PeerKey;

/// Most seed ids remembered per torrent; when full the oldest goes (it may reconnect once,
/// to be dropped and remembered again).
pub const MAX_FELLOW_SEEDS: usize = 256;
/// How long a dropped seed is not connected to again: it may lose data or restart with a
/// partial copy meanwhile, and it announces every couple of minutes.
pub const FELLOW_SEED_MEMORY: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Default)]
pub(super) struct FellowSeeds {
    /// Peer id → when we dropped it.
    dropped: BTreeMap<[u8; 20], Duration>,
}

impl FellowSeeds {
    fn remember(&mut self, id: [u8; 20], now: Duration) {
        if !self.dropped.contains_key(&id) && self.dropped.len() >= MAX_FELLOW_SEEDS {
            let oldest = self
                .dropped
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.dropped.remove(&k);
            }
        }
        self.dropped.insert(id, now);
    }

    fn recent(&self, id: &[u8; 20], now: Duration) -> bool {
        self.dropped
            .get(id)
            .is_some_and(|&at| now.saturating_sub(at) < FELLOW_SEED_MEMORY)
    }
}

impl Torrent {
    /// True if `peer_id` is a seed we dropped recently and we are still complete: a new
    /// connection to it would be closed at once. Drivers spend no offers or answers on it.
    pub fn is_fellow_seed(&self, peer_id: &[u8; 20], now: Duration) -> bool {
        self.is_complete() && self.fellow_seeds.recent(peer_id, now)
    }

    /// Closes every connection to a seed if we are complete.
    pub(super) fn drop_fellow_seeds(&mut self, now: Duration) {
        let seeds: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.is_seed())
            .map(|(&k, _)| k)
            .collect();
        for k in seeds {
            self.drop_if_fellow_seed(k, now);
        }
    }

    /// Closes the connection to `peer` if both of us have every piece.
    pub(super) fn drop_if_fellow_seed(&mut self, peer: PeerKey, now: Duration) {
        if !self.is_complete() {
            return;
        }
        let Some(p) = self.peers.get(&peer).filter(|p| p.is_seed()) else {
            return;
        };
        if let Some(id) = p.peer_id {
            self.fellow_seeds.remember(id, now);
        }
        self.disconnect(peer, "both sides are seeding");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> [u8; 20] {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(&(n as u64).to_le_bytes());
        id
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest_first() {
        let mut seeds = FellowSeeds::default();
        let at = |n: usize| Duration::from_millis(n as u64);
        for n in 0..=MAX_FELLOW_SEEDS {
            seeds.remember(id(n), at(n));
        }
        assert_eq!(seeds.dropped.len(), MAX_FELLOW_SEEDS);
        let now = at(MAX_FELLOW_SEEDS);
        assert!(!seeds.recent(&id(0), now), "the oldest made room");
        assert!(seeds.recent(&id(1), now) && seeds.recent(&id(MAX_FELLOW_SEEDS), now));
    }

    #[test]
    fn a_dropped_seed_is_worth_a_connection_again_after_a_while() {
        let mut seeds = FellowSeeds::default();
        seeds.remember(id(1), Duration::ZERO);
        assert!(seeds.recent(&id(1), FELLOW_SEED_MEMORY - Duration::from_secs(1)));
        assert!(!seeds.recent(&id(1), FELLOW_SEED_MEMORY));
    }
}
