//! The swarm registry: which peers are in which swarm, and the relaying of offers and answers between them.
//!
//! Swarms are sharded by info hash, each shard behind its own mutex. Locking rules: at most one shard lock is
//! held at a time, never across an `.await`, and never while building or sending a message (a send is a
//! system call under the target's `Outbox` lock, which is a leaf: nothing else is locked while it is held):
//! an announce copies the target outboxes (`Arc` clones) under the shard lock, then formats and sends the
//! relays after it.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use crate::config::{Config, Limits};
use crate::metrics::{Metrics, Stats, SwarmTotals};
use crate::outbox::{Outbox, Timing};
use crate::swarm::{ConnId, Peer, Swarm};
use seedcast::session::tracker_proto::Id20;
use seedcast::session::tracker_proto::request::{Announce, Answer, Event, Scrape};
use seedcast::session::tracker_proto::response::{self, SignalKind, SwarmCounts};

const SHARDS: usize = 32;

/// Why an announce or answer was refused; the text becomes the `failure reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("info_hash is not allowed on this tracker")]
    NotAllowed,
    #[error("peer_id is already used in this swarm by another connection")]
    PeerIdTaken,
    #[error("too many swarms on one connection (at most {0})")]
    TooManySwarms(usize),
    #[error("swarm is full (at most {0} peers)")]
    SwarmFull(usize),
    #[error("answer from a peer that has not announced in this swarm on this connection")]
    NotInSwarm,
}

/// One swarm a connection has joined, remembered so the connection can leave it when it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub info_hash: Id20,
    pub peer_id: Id20,
}

/// The connection-side view the tracker needs: who is asking and where replies to it go.
#[derive(Debug)]
pub struct Connection {
    pub id: ConnId,
    pub outbox: Arc<Outbox>,
    /// Swarms this connection is in. May hold stale entries for peers the expiry sweep removed;
    /// they are pruned when the per-connection limit is reached.
    pub memberships: Vec<Membership>,
}

#[derive(Debug)]
pub struct Tracker {
    shards: Box<[Mutex<HashMap<Id20, Swarm>>]>,
    shard_of: RandomState,
    limits: Limits,
    allow_list: Option<HashSet<Id20>>,
    pub metrics: Metrics,
}

impl Tracker {
    pub fn new(config: &Config) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_of: RandomState::new(),
            limits: config.limits.clone(),
            allow_list: config.allow_list.clone(),
            metrics: Metrics::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn shard(&self, info_hash: &Id20) -> MutexGuard<'_, HashMap<Id20, Swarm>> {
        let i = (self.shard_of.hash_one(info_hash) % SHARDS as u64) as usize;
        // A panic while holding a shard lock cannot leave a swarm half-updated in a way that matters more
        // than losing the whole tracker, so keep serving.
        self.shards[i]
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn check_allowed(&self, info_hash: &Id20) -> Result<(), TrackerError> {
        match &self.allow_list {
            Some(allowed) if !allowed.contains(info_hash) => Err(TrackerError::NotAllowed),
            _ => Ok(()),
        }
    }

    /// Handles an announce: joins, updates or leaves the swarm, relays the offers to random other peers,
    /// and returns the counts for the reply.
    pub fn announce(
        &self,
        conn: &mut Connection,
        a: &Announce<'_>,
    ) -> Result<SwarmCounts, TrackerError> {
        Metrics::inc(&self.metrics.announces);
        self.check_allowed(&a.info_hash)?;
        let membership = Membership {
            info_hash: a.info_hash,
            peer_id: a.peer_id,
        };

        if a.event == Event::Stopped {
            let mut shard = self.shard(&a.info_hash);
            let counts = match shard.get_mut(&a.info_hash) {
                Some(swarm) => {
                    if swarm
                        .get(&a.peer_id)
                        .is_some_and(|(peer, _)| peer.conn == conn.id)
                    {
                        swarm.remove(&a.peer_id);
                    }
                    let counts = swarm.counts();
                    if swarm.is_empty() {
                        shard.remove(&a.info_hash);
                    }
                    counts
                }
                None => SwarmCounts::default(),
            };
            drop(shard);
            conn.memberships.retain(|m| *m != membership);
            return Ok(counts);
        }

        let joining = !conn.memberships.contains(&membership);
        if joining && conn.memberships.len() >= self.limits.max_swarms_per_connection {
            self.prune_memberships(conn);
            if conn.memberships.len() >= self.limits.max_swarms_per_connection {
                return Err(TrackerError::TooManySwarms(
                    self.limits.max_swarms_per_connection,
                ));
            }
        }

        let now = Instant::now();
        let mut shard = self.shard(&a.info_hash);
        let swarm = shard.entry(a.info_hash).or_default();
        let was_seeder = match swarm
            .get(&a.peer_id)
            .map(|(peer, seeder)| (peer.conn, seeder))
        {
            Some((owner, _)) if owner != conn.id => return Err(TrackerError::PeerIdTaken),
            Some((_, seeder)) => {
                if let Some(peer) = swarm.get_mut(&a.peer_id) {
                    peer.last_announce = now;
                }
                Some(seeder)
            }
            None => None,
        };
        let seeder = a.event == Event::Completed || a.seeder.unwrap_or(was_seeder.unwrap_or(false));
        match was_seeder {
            Some(_) => {
                swarm.set_seeder(&a.peer_id, seeder);
            }
            None => {
                if swarm.len() >= self.limits.max_peers_per_swarm {
                    if swarm.is_empty() {
                        shard.remove(&a.info_hash);
                    }
                    return Err(TrackerError::SwarmFull(self.limits.max_peers_per_swarm));
                }
                let peer = Peer {
                    peer_id: a.peer_id,
                    conn: conn.id,
                    outbox: conn.outbox.clone(),
                    last_announce: now,
                };
                swarm.insert(peer, seeder);
            }
        }
        if a.event == Event::Completed && was_seeder != Some(true) {
            swarm.downloaded += 1;
        }
        let counts = swarm.counts();

        let wanted = a
            .offers
            .len()
            .min(a.numwant.unwrap_or(usize::MAX))
            .min(self.limits.max_numwant);
        let targets: Vec<Arc<Outbox>> = swarm
            .pick(&a.peer_id, wanted, seeder, &mut rand::rng())
            .into_iter()
            .map(|peer| peer.outbox.clone())
            .collect();
        drop(shard);

        if joining {
            conn.memberships.push(membership);
        }
        for (outbox, offer) in targets.iter().zip(&a.offers) {
            let message = response::relayed_signal(
                &a.info_hash,
                &a.peer_id,
                &offer.offer_id,
                SignalKind::Offer,
                offer.offer,
            );
            // Each offer goes to a different peer: nothing to batch it with.
            self.count_relay(
                outbox.relay(&message, Timing::Now),
                &self.metrics.offers_relayed,
            );
        }
        Ok(counts)
    }

    /// Forwards an answer to the offerer, if it is still in the swarm (otherwise the answer is dropped, as
    /// the offer it answers has gone stale). The answerer must be a peer of that swarm on this connection,
    /// so nobody can push answers into swarms they are not part of.
    pub fn answer(&self, conn: &Connection, a: &Answer<'_>) -> Result<(), TrackerError> {
        Metrics::inc(&self.metrics.answers);
        let shard = self.shard(&a.info_hash);
        let swarm = shard.get(&a.info_hash).ok_or(TrackerError::NotInSwarm)?;
        match swarm.get(&a.peer_id) {
            Some((peer, _)) if peer.conn == conn.id => {}
            _ => return Err(TrackerError::NotInSwarm),
        }
        let target = swarm
            .get(&a.to_peer_id)
            .map(|(peer, _)| peer.outbox.clone());
        drop(shard);
        match target {
            Some(outbox) => {
                let message = response::relayed_signal(
                    &a.info_hash,
                    &a.peer_id,
                    &a.offer_id,
                    SignalKind::Answer,
                    a.answer,
                );
                // The other answers to the same announce are on their way to the same socket.
                self.count_relay(
                    outbox.relay(&message, Timing::Batched),
                    &self.metrics.answers_relayed,
                );
            }
            None => Metrics::inc(&self.metrics.messages_dropped),
        }
        Ok(())
    }

    fn count_relay(
        &self,
        pushed: Result<(), crate::outbox::PushError>,
        counter: &std::sync::atomic::AtomicU64,
    ) {
        match pushed {
            Ok(()) => Metrics::inc(counter),
            Err(_) => Metrics::inc(&self.metrics.messages_dropped),
        }
    }

    /// Builds the scrape reply. Unknown (or disallowed) info hashes report zeros, as other trackers do.
    pub fn scrape(&self, scrape: &Scrape) -> String {
        Metrics::inc(&self.metrics.scrapes);
        match scrape {
            Scrape::Some(hashes) => response::scrape_reply(hashes.iter().map(|hash| {
                let counts = self
                    .shard(hash)
                    .get(hash)
                    .map(Swarm::counts)
                    .unwrap_or_default();
                (*hash, counts)
            })),
            Scrape::All => {
                let mut files = Vec::new();
                for shard in self.shards.iter() {
                    let shard = shard.lock().unwrap_or_else(|poison| poison.into_inner());
                    let room = self.limits.max_scrape_hashes.saturating_sub(files.len());
                    files.extend(
                        shard
                            .iter()
                            .take(room)
                            .map(|(hash, swarm)| (*hash, swarm.counts())),
                    );
                }
                response::scrape_reply(files)
            }
        }
    }

    /// Removes this connection's peers from every swarm it joined (its socket closed).
    pub fn leave_all(&self, conn: &mut Connection) {
        for m in conn.memberships.drain(..) {
            let mut shard = self.shard(&m.info_hash);
            if let Some(swarm) = shard.get_mut(&m.info_hash) {
                if swarm
                    .get(&m.peer_id)
                    .is_some_and(|(peer, _)| peer.conn == conn.id)
                {
                    swarm.remove(&m.peer_id);
                }
                if swarm.is_empty() {
                    shard.remove(&m.info_hash);
                }
            }
        }
    }

    /// Drops memberships whose peer is no longer this connection's (expired, or left with `stopped`).
    fn prune_memberships(&self, conn: &mut Connection) {
        conn.memberships.retain(|m| {
            let shard = self.shard(&m.info_hash);
            shard
                .get(&m.info_hash)
                .and_then(|swarm| swarm.get(&m.peer_id))
                .is_some_and(|(peer, _)| peer.conn == conn.id)
        });
    }

    /// Removes peers that have not announced within the peer TTL. Returns how many were removed.
    pub fn expire_stale(&self, now: Instant) -> usize {
        let Some(deadline) = now.checked_sub(self.limits.peer_ttl) else {
            return 0;
        };
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|poison| poison.into_inner());
            shard.retain(|_, swarm| {
                removed += swarm.expire(deadline).len();
                !swarm.is_empty()
            });
        }
        self.metrics
            .peers_expired
            .fetch_add(removed as u64, std::sync::atomic::Ordering::Relaxed);
        removed
    }

    pub fn totals(&self) -> SwarmTotals {
        let mut totals = SwarmTotals::default();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|poison| poison.into_inner());
            totals.swarms += shard.len();
            for swarm in shard.values() {
                let c = swarm.counts();
                totals.seeders += c.complete;
                totals.leechers += c.incomplete;
            }
        }
        totals.peers = totals.seeders + totals.leechers;
        totals
    }

    pub fn stats(&self) -> Stats {
        Stats::new(self.totals(), &self.metrics)
    }
}
