//! Who we upload to. Tit-for-tat: while downloading, the peers that give us the most get our
//! regular upload slots; while seeding, the peers we upload to fastest do (they can take the
//! data). One more slot rotates among the rest (optimistic unchoke) so newcomers can prove
//! themselves and we discover faster peers.
//!
//! A seed has no tit-for-tat to play, and in a fresh swarm what it sends is the only source
//! of new pieces: it unchokes more peers ([`Choker::seed_slots`]) so its upload is spread
//! over them and they have different pieces to trade. Measured in `make bench-swarm` (1
//! seeder at 1.0 MB/s, 8 leechers at 0.5 MB/s, 16 MiB): with 4 seed slots the last leecher
//! finished at 1.19–1.34× the fluid bound T*, the late leechers uploading 17–37% of their
//! limit (they got the seeder's pieces last, through others); with 8, 1.11–1.20×.

use std::collections::BTreeSet;

use super::PeerKey;
use super::rng::Rng;

/// What the choker knows of one connected peer.
#[derive(Debug, Clone)]
pub struct ChokeCandidate {
    pub peer: PeerKey,
    pub interested: bool,
    /// Bytes per second it sends us.
    pub download_rate: f64,
    /// Bytes per second we send it.
    pub upload_rate: f64,
}

#[derive(Debug)]
pub struct Choker {
    /// Regular (rate-ranked) upload slots.
    pub slots: usize,
    /// The same while seeding.
    pub seed_slots: usize,
    /// Rechoke rounds between optimistic-unchoke rotations.
    pub optimistic_every: u32,
    optimistic: Option<PeerKey>,
    round: u32,
}

impl Choker {
    pub fn new(slots: usize, seed_slots: usize) -> Self {
        Choker {
            slots,
            seed_slots,
            optimistic_every: 3,
            optimistic: None,
            round: 0,
        }
    }

    /// One rechoke round: returns the set of peers to unchoke; every other peer gets choked.
    pub fn rechoke(
        &mut self,
        peers: &[ChokeCandidate],
        seeding: bool,
        rng: &mut Rng,
    ) -> BTreeSet<PeerKey> {
        let mut interested: Vec<&ChokeCandidate> = peers.iter().filter(|c| c.interested).collect();
        let rate = |c: &ChokeCandidate| {
            if seeding {
                c.upload_rate
            } else {
                c.download_rate
            }
        };
        // Ties (e.g. everyone at zero at start) are broken by a shuffle, not by peer order.
        rng.shuffle(&mut interested);
        interested.sort_by(|a, b| rate(b).total_cmp(&rate(a)));
        let mut unchoke: BTreeSet<PeerKey> = interested
            .iter()
            .take(self.slots_for(seeding))
            .map(|c| c.peer)
            .collect();

        let still_valid = self
            .optimistic
            .is_some_and(|o| interested.iter().any(|c| c.peer == o) && !unchoke.contains(&o));
        if self.round % self.optimistic_every == 0 || !still_valid {
            let rest: Vec<PeerKey> = interested
                .iter()
                .map(|c| c.peer)
                .filter(|p| !unchoke.contains(p))
                .collect();
            self.optimistic =
                (!rest.is_empty()).then(|| rest[rng.below(rest.len() as u64) as usize]);
        }
        self.round += 1;
        unchoke.extend(self.optimistic);
        unchoke
    }

    /// Whether a newly interested peer may be unchoked now, between rounds: only while a
    /// regular slot is free, so waiting 10 s for the next round is never needed to start.
    pub fn has_free_slot(&self, unchoked_now: usize, seeding: bool) -> bool {
        unchoked_now < self.slots_for(seeding) + usize::from(self.optimistic.is_none())
    }

    fn slots_for(&self, seeding: bool) -> usize {
        if seeding { self.seed_slots } else { self.slots }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(peer: PeerKey, down: f64, up: f64) -> ChokeCandidate {
        ChokeCandidate {
            peer,
            interested: true,
            download_rate: down,
            upload_rate: up,
        }
    }

    #[test]
    fn leeching_rewards_the_peers_that_give_most() {
        let mut c = Choker::new(2, 2);
        let peers: Vec<_> = (0..6).map(|i| cand(i, i as f64 * 100.0, 0.0)).collect();
        let set = c.rechoke(&peers, false, &mut Rng::new(1));
        assert!(set.contains(&5) && set.contains(&4));
        assert_eq!(set.len(), 3, "two regular slots plus one optimistic");
    }

    #[test]
    fn seeding_ranks_by_upload_rate() {
        let mut c = Choker::new(1, 1);
        let peers = vec![cand(1, 0.0, 10.0), cand(2, 0.0, 500.0), cand(3, 0.0, 20.0)];
        let set = c.rechoke(&peers, true, &mut Rng::new(1));
        assert!(set.contains(&2));
    }

    #[test]
    fn a_seed_spreads_its_upload_over_more_peers() {
        let mut c = Choker::new(2, 5);
        let peers: Vec<_> = (0..8).map(|i| cand(i, 0.0, i as f64 * 100.0)).collect();
        assert_eq!(
            c.rechoke(&peers, true, &mut Rng::new(1)).len(),
            6,
            "five plus one optimistic"
        );
        assert_eq!(c.rechoke(&peers, false, &mut Rng::new(1)).len(), 3);
        assert!(c.has_free_slot(4, true) && !c.has_free_slot(4, false));
    }

    #[test]
    fn uninterested_peers_are_never_unchoked() {
        let mut c = Choker::new(4, 4);
        let mut p = cand(1, 1e6, 1e6);
        p.interested = false;
        assert!(c.rechoke(&[p], false, &mut Rng::new(1)).is_empty());
    }

    #[test]
    fn optimistic_slot_rotates_over_rounds() {
        let mut c = Choker::new(1, 1);
        let peers: Vec<_> = (0..8)
            .map(|i| cand(i, if i == 0 { 1e6 } else { 0.0 }, 0.0))
            .collect();
        let mut rng = Rng::new(9);
        let mut seen = BTreeSet::new();
        for _ in 0..30 {
            let set = c.rechoke(&peers, false, &mut rng);
            assert!(set.contains(&0));
            seen.extend(set.into_iter().filter(|&p| p != 0));
        }
        assert!(seen.len() >= 4, "optimistic unchoke visited {seen:?}");
    }
}
