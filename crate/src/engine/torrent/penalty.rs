//! Memory of misbehaving peer ids: bans (bad data, forever) and penalties (a flood, a protocol
//! violation, not reading: for a while, doubling with each offence). A penalised or banned id
//! is refused at the handshake, and once its penalty is over it is never unchoked at once.
//!
//! Invariant: both maps stay within their bounds; when full, the entry that matters least
//! (the oldest ban, the penalty that expires first) makes room.

use std::collections::BTreeMap;
use std::time::Duration;

/// First penalty: long enough that a reconnect loop (the observed one retried every 2 s)
/// gains nothing, short enough that a peer on a flaky link is back soon.
pub const PENALTY_BASE: Duration = Duration::from_secs(60);
/// Penalties double per offence up to this.
pub const PENALTY_MAX: Duration = Duration::from_secs(60 * 60);
/// Most penalised ids remembered. Ids are free to make, so this is a bound on memory, not a
/// defence against a peer that changes id (the driver's admission limits handle that).
pub const MAX_PENALISED: usize = 1024;
/// Most banned ids remembered; each ban needed evidence (bad data), so this fills slowly.
pub const MAX_BANNED: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Penalty {
    until: Duration,
    offences: u32,
}

#[derive(Debug, Default)]
pub(super) struct Penalties {
    penalised: BTreeMap<[u8; 20], Penalty>,
    /// Banned id → ban order (a counter), to evict the oldest ban first.
    banned: BTreeMap<[u8; 20], u64>,
    bans: u64,
}

impl Penalties {
    /// Records an offence by `id` at `now`; returns how long it is refused.
    pub fn penalise(&mut self, id: [u8; 20], now: Duration) -> Duration {
        let offences = self.penalised.get(&id).map_or(0, |p| p.offences) + 1;
        let length = PENALTY_BASE
            .saturating_mul(1 << (offences - 1).min(16))
            .min(PENALTY_MAX);
        if !self.penalised.contains_key(&id) && self.penalised.len() >= MAX_PENALISED {
            let first_to_expire = self
                .penalised
                .iter()
                .min_by_key(|(_, p)| p.until)
                .map(|(k, _)| *k);
            if let Some(k) = first_to_expire {
                self.penalised.remove(&k);
            }
        }
        self.penalised.insert(
            id,
            Penalty {
                until: now + length,
                offences,
            },
        );
        length
    }

    pub fn ban(&mut self, id: [u8; 20]) {
        if !self.banned.contains_key(&id) && self.banned.len() >= MAX_BANNED {
            let oldest = self.banned.iter().min_by_key(|(_, n)| **n).map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.banned.remove(&k);
            }
        }
        self.bans += 1;
        self.banned.insert(id, self.bans);
    }

    pub fn is_banned(&self, id: &[u8; 20]) -> bool {
        self.banned.contains_key(id)
    }

    /// When `id`'s current penalty ends, if it has one at `now`.
    pub fn penalised_until(&self, id: &[u8; 20], now: Duration) -> Option<Duration> {
        self.penalised
            .get(id)
            .map(|p| p.until)
            .filter(|&until| until > now)
    }

    /// True if `id` was ever penalised (and not forgotten): it earns its unchoke in a rechoke.
    pub fn on_record(&self, id: &[u8; 20]) -> bool {
        self.penalised.contains_key(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> [u8; 20] {
        let mut id = [0; 20];
        id[..4].copy_from_slice(&n.to_be_bytes());
        id
    }

    #[test]
    fn penalties_double_and_expire() {
        let mut p = Penalties::default();
        let t = Duration::from_secs(100);
        assert_eq!(p.penalise(id(1), t), PENALTY_BASE);
        assert!(p.penalised_until(&id(1), t + PENALTY_BASE / 2).is_some());
        assert!(p.penalised_until(&id(1), t + PENALTY_BASE).is_none());
        assert_eq!(p.penalise(id(1), t), 2 * PENALTY_BASE);
        for _ in 0..40 {
            p.penalise(id(1), t);
        }
        assert_eq!(p.penalised_until(&id(1), t), Some(t + PENALTY_MAX));
        assert!(p.on_record(&id(1)));
    }

    #[test]
    fn memory_is_bounded_and_evicts_what_matters_least() {
        let mut p = Penalties::default();
        for n in 0..(MAX_PENALISED as u32 + 10) {
            p.penalise(id(n), Duration::from_secs(n as u64));
            p.ban(id(n));
        }
        assert_eq!(p.penalised.len(), MAX_PENALISED);
        assert_eq!(p.banned.len(), MAX_BANNED);
        // The first penalties to expire and the oldest bans went.
        assert!(!p.on_record(&id(0)) && !p.is_banned(&id(0)));
        let last = id(MAX_PENALISED as u32 + 9);
        assert!(p.on_record(&last) && p.is_banned(&last));
    }
}
