//! Time-driven work: rate ticks, timeouts, keep-alives and the periodic rechoke.

use std::time::Duration;

use super::Torrent;
use super::receive::Violation;
use crate::engine::PeerKey;
use crate::engine::choker::ChokeCandidate;
use crate::engine::peer::Phase;
use crate::wire::Message;

impl Torrent {
    /// Runs whatever timers are due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.timeout_now = None;
        if self.first_requests_due {
            self.fill_all_requests(now);
        }
        self.expire_hashes(now);
        if now >= self.next_tick {
            let elapsed = now.saturating_sub(self.last_tick);
            self.last_tick = now;
            self.next_tick = now + self.config.tick_interval;
            self.tick(now, elapsed);
        }
        if now >= self.next_rechoke {
            self.next_rechoke = now + self.config.rechoke_interval;
            self.rechoke(now);
        }
    }

    fn tick(&mut self, now: Duration, elapsed: Duration) {
        let cfg = self.config.clone();
        let mut dead: Vec<(PeerKey, &'static str)> = Vec::new();
        let mut snubbed: Vec<PeerKey> = Vec::new();
        for (&k, p) in &mut self.peers {
            p.tick(now, elapsed);
            if p.phase == Phase::Handshaking
                && now.saturating_sub(p.connected_at) >= cfg.handshake_timeout
            {
                dead.push((k, "handshake timed out"));
            } else if now.saturating_sub(p.last_received_at) >= cfg.idle_timeout {
                dead.push((k, "peer went silent"));
            } else if now.saturating_sub(p.last_drained_at) >= cfg.write_stall_timeout {
                // Sending to us is not enough: a peer that never takes its answers would hold
                // our memory for as long as it keeps talking.
                dead.push((k, "peer stopped reading"));
            } else if !p.outstanding.is_empty()
                && now.saturating_sub(p.last_block_at) >= cfg.request_timeout
                && p.outstanding
                    .iter()
                    .all(|o| now.saturating_sub(o.sent_at) >= cfg.request_timeout)
            {
                snubbed.push(k);
            }
            if p.phase == Phase::Active
                && now.saturating_sub(p.last_sent_at) >= cfg.keepalive_interval
                && p.out.is_empty()
            {
                p.send(&Message::KeepAlive);
                p.last_sent_at = now;
            }
        }
        for (k, reason) in dead {
            self.disconnect(k, reason);
        }
        // Output added outside `handle_data` (a choke's rejects, haves) is checked here.
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            if let Err(Violation(reason)) = self.check_output_bounds(k) {
                self.penalise(k, reason, now);
            }
        }
        // A snubbing peer keeps its connection but its requests go back to the pool.
        for k in snubbed {
            if let Some(p) = self.peers.get_mut(&k) {
                p.snubbed = true;
                p.outstanding.clear();
            }
            if let Some(m) = &mut self.meta {
                m.picker.release_peer(k, false);
            }
        }
        self.expire_metadata_requests(now);
        // A web seed that never answered cannot pin its pieces.
        if let Some(m) = &mut self.meta {
            m.picker.expire_claims(now);
        }
        self.fill_all_requests(now);
    }

    fn rechoke(&mut self, now: Duration) {
        let seeding = self.is_complete();
        let candidates: Vec<ChokeCandidate> = self
            .peers
            .iter()
            .filter(|(_, p)| p.phase == Phase::Active)
            .map(|(&peer, p)| ChokeCandidate {
                peer,
                // A peer not taking its data ranks with the uninterested (see
                // `STALLED_SLOT`): its slot would only hold it up.
                interested: p.peer_interested && !p.stalled(now, super::upload::STALLED_SLOT),
                download_rate: p.download.rate(),
                upload_rate: p.upload.rate(),
            })
            .collect();
        let unchoke = self.choker.rechoke(&candidates, seeding, &mut self.rng);
        for c in candidates {
            self.set_choke(c.peer, !unchoke.contains(&c.peer));
        }
    }
}
