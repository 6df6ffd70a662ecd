//! The peers of one torrent.
//!
//! Peers live in two dense Vecs (leechers, seeders) so a uniformly random pick is an index draw, and removal
//! is a swap-remove. Invariant: for every entry `index[id] = Slot { seeder, pos }`, the Vec named by `seeder`
//! holds the peer `id` at `pos`; every swap-remove fixes the slot of the entry it moved.

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use tokio::time::Instant;

use crate::outbox::Outbox;
use seedcast::session::tracker_proto::Id20;
use seedcast::session::tracker_proto::SwarmCounts;

/// Identifies one WebSocket connection for the lifetime of the process.
pub type ConnId = u64;

#[derive(Debug, Clone)]
pub struct Peer {
    pub peer_id: Id20,
    /// The connection that announced this peer; only it may update or remove it.
    pub conn: ConnId,
    pub outbox: Arc<Outbox>,
    pub last_announce: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seeder: bool,
    pos: usize,
}

#[derive(Debug, Default)]
pub struct Swarm {
    leechers: Vec<Peer>,
    seeders: Vec<Peer>,
    index: HashMap<Id20, Slot>,
    /// Completed downloads reported (`event: completed`), for scrapes.
    pub downloaded: u64,
}

impl Swarm {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn counts(&self) -> SwarmCounts {
        SwarmCounts {
            complete: self.seeders.len(),
            incomplete: self.leechers.len(),
            downloaded: self.downloaded,
        }
    }

    pub fn get(&self, id: &Id20) -> Option<(&Peer, bool)> {
        let slot = *self.index.get(id)?;
        Some((&self.list(slot.seeder)[slot.pos], slot.seeder))
    }

    pub fn get_mut(&mut self, id: &Id20) -> Option<&mut Peer> {
        let slot = *self.index.get(id)?;
        Some(&mut self.list_mut(slot.seeder)[slot.pos])
    }

    /// Adds a peer that is not in the swarm yet.
    pub fn insert(&mut self, peer: Peer, seeder: bool) {
        debug_assert!(!self.index.contains_key(&peer.peer_id));
        let list = self.list_mut(seeder);
        list.push(peer);
        let pos = list.len() - 1;
        let id = list[pos].peer_id;
        self.index.insert(id, Slot { seeder, pos });
    }

    pub fn remove(&mut self, id: &Id20) -> Option<(Peer, bool)> {
        let slot = self.index.remove(id)?;
        let list = self.list_mut(slot.seeder);
        let peer = list.swap_remove(slot.pos);
        if let Some(moved) = list.get(slot.pos) {
            let moved_id = moved.peer_id;
            self.index.insert(moved_id, slot);
        }
        Some((peer, slot.seeder))
    }

    /// Moves a peer between leechers and seeders; returns false if it is not here.
    pub fn set_seeder(&mut self, id: &Id20, seeder: bool) -> bool {
        match self.index.get(id) {
            None => false,
            Some(slot) if slot.seeder == seeder => true,
            Some(_) => {
                if let Some((peer, _)) = self.remove(id) {
                    self.insert(peer, seeder);
                }
                true
            }
        }
    }

    /// Up to `n` distinct random peers other than `except`; seeders are skipped when `leechers_only`
    /// (a seeder has nothing to gain from another seeder).
    pub fn pick(
        &self,
        except: &Id20,
        n: usize,
        leechers_only: bool,
        rng: &mut impl Rng,
    ) -> Vec<&Peer> {
        let pool = if leechers_only {
            self.leechers.len()
        } else {
            self.leechers.len() + self.seeders.len()
        };
        if n == 0 || pool == 0 {
            return Vec::new();
        }
        // One extra draw in case `except` is among them.
        rand::seq::index::sample(rng, pool, (n + 1).min(pool))
            .into_iter()
            .map(|i| {
                self.leechers
                    .get(i)
                    .unwrap_or_else(|| &self.seeders[i - self.leechers.len()])
            })
            .filter(|peer| peer.peer_id != *except)
            .take(n)
            .collect()
    }

    /// Removes peers that have not announced since `deadline`; returns them.
    pub fn expire(&mut self, deadline: Instant) -> Vec<(Peer, bool)> {
        let stale: Vec<Id20> = self
            .leechers
            .iter()
            .chain(&self.seeders)
            .filter(|peer| peer.last_announce < deadline)
            .map(|peer| peer.peer_id)
            .collect();
        stale.iter().filter_map(|id| self.remove(id)).collect()
    }

    fn list(&self, seeder: bool) -> &Vec<Peer> {
        if seeder {
            &self.seeders
        } else {
            &self.leechers
        }
    }

    fn list_mut(&mut self, seeder: bool) -> &mut Vec<Peer> {
        if seeder {
            &mut self.seeders
        } else {
            &mut self.leechers
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn peer(n: u8) -> Peer {
        Peer {
            peer_id: Id20([n; 20]),
            conn: u64::from(n),
            outbox: Arc::new(Outbox::detached(1, 1024)),
            last_announce: Instant::now(),
        }
    }

    fn check_index(swarm: &Swarm) {
        for (id, slot) in &swarm.index {
            assert_eq!(swarm.list(slot.seeder)[slot.pos].peer_id, *id);
        }
        assert_eq!(
            swarm.index.len(),
            swarm.leechers.len() + swarm.seeders.len()
        );
    }

    #[test]
    fn swap_remove_keeps_index_consistent() {
        let mut swarm = Swarm::default();
        for n in 0..10 {
            swarm.insert(peer(n), n % 3 == 0);
        }
        check_index(&swarm);
        assert!(swarm.remove(&Id20([0; 20])).is_some());
        assert!(swarm.remove(&Id20([4; 20])).is_some());
        assert!(swarm.remove(&Id20([4; 20])).is_none());
        assert!(swarm.set_seeder(&Id20([5; 20]), true));
        check_index(&swarm);
        assert_eq!(swarm.counts().complete, 4);
        assert_eq!(swarm.counts().incomplete, 4);
    }

    #[test]
    fn pick_is_distinct_excludes_self_and_respects_leechers_only() {
        let mut swarm = Swarm::default();
        for n in 0..6 {
            swarm.insert(peer(n), n >= 4);
        }
        let mut rng = rand::rng();
        for _ in 0..100 {
            let picked = swarm.pick(&Id20([1; 20]), 3, false, &mut rng);
            assert_eq!(picked.len(), 3);
            let ids: HashSet<_> = picked.iter().map(|p| p.peer_id).collect();
            assert_eq!(ids.len(), 3);
            assert!(!ids.contains(&Id20([1; 20])));
        }
        let leechers = swarm.pick(&Id20([4; 20]), 10, true, &mut rng);
        assert_eq!(leechers.len(), 4);
        assert!(leechers.iter().all(|p| p.peer_id.0[0] < 4));
        // Every peer gets picked eventually: the choice is random, not a fixed prefix.
        let mut seen = HashSet::new();
        for _ in 0..200 {
            seen.extend(
                swarm
                    .pick(&Id20([9; 20]), 1, false, &mut rng)
                    .iter()
                    .map(|p| p.peer_id),
            );
        }
        assert_eq!(seen.len(), 6);
    }
}
