//! Announces: when each torrent announces on each of its trackers, with how many offers,
//! what it says (`started` on a new socket, `completed`, `stopped`, `left`), and what the
//! tracker replies (interval, failures, warnings; relayed offers and answers go to
//! `signals`).
//!
//! An announce carries complete-SDP offers, so it waits until the driver produced every
//! offer's SDP (or [`OFFER_GATHER_WAIT`] passed): a [`PendingAnnounce`].

use std::time::Duration;

use super::peers::{Conn, OFFER_TTL, Swarm};
use super::{ConnId, Output, Session};
use crate::engine::Torrent;
use crate::session::pairing::Origin;
use crate::session::tracker_proto::{
    AnnounceOut, Event, Id20, IdBytes as Id, OfferOut, TrackerMessage, response_parse,
};
use crate::session::trackers::{TorrentId, TrackerId};

/// Announce interval until the tracker tells us one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(120);
/// Bounds on the interval a tracker may ask for: a hostile or broken tracker must neither
/// make us hammer it nor silence us for days.
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// While a download has no peer, announce again this soon (new offers find new peers).
pub const LONELY_REANNOUNCE: Duration = Duration::from_secs(15);
/// ... except right after its first announce: a download that never had a peer announces
/// once more this long after it. A first connection attempt sometimes never opens (seen in
/// about 1 of 10 starts on loopback, cause unknown); the peers then met only at the seeder's
/// next announce, up to a tracker interval later (minutes on public trackers).
pub const FIRST_LONELY_RETRY: Duration = Duration::from_secs(2);
/// ... and a download still without its metadata that lost every connection announces once
/// more this long after: a viewer whose only connection dropped before the metadata (1 cold
/// view in ~70 in bench-stream waited ~5 s, the bench tracker's interval) would otherwise
/// wait [`LONELY_REANNOUNCE`] with nothing to show. Once per time alone: a peer that keeps
/// connecting and dropping makes us announce at most once per connection it opens.
pub const LOST_RETRY: Duration = Duration::from_secs(2);
/// An announce without a reply this long after it went out was dropped: trackers reply to
/// every announce, but a rate-limited socket's messages are dropped after one failure reply
/// (seedcast-signal: 100 messages per 10 s). A download with no peer then announces again at
/// this pace instead of [`LONELY_REANNOUNCE`]'s: in the lifecycle browser test, a leecher
/// whose announce and quick retry were both dropped waited 17 s for its next one.
pub const ANNOUNCE_REPLY_WAIT: Duration = Duration::from_secs(5);
/// Longest an announce waits for its offers' SDP; it then goes with those ready. The browser
/// driver caps ICE gathering at 5 s, so this only matters when a driver never answers.
pub const OFFER_GATHER_WAIT: Duration = Duration::from_secs(10);
/// Most trackers one torrent announces on: each costs a socket and an announce per interval.
pub const MAX_TORRENT_TRACKERS: usize = 10;
/// Longer tracker URLs (from a torrent file or a link) are not used: real ones are short, and
/// each is kept, shown and sent to the driver.
pub const MAX_TRACKER_URL_BYTES: usize = 2048;

/// Per tracker a torrent uses: when it announces there next.
#[derive(Debug, Clone)]
pub(super) struct AnnounceSlot {
    pub next_at: Duration,
    pub interval: Duration,
    /// `started` was sent (or is pending) on the tracker's current socket.
    pub started: bool,
    /// When an announce of this slot went out whose reply has not come yet. Only such a
    /// reply sets the interval: the tracker's reply to an announce of a torrent removed and
    /// added again would otherwise push the new slot's first announce out by a whole
    /// interval (seen: a re-added download waited the lifecycle test's 5 s interval; on a
    /// public tracker it would wait minutes). No reply in [`ANNOUNCE_REPLY_WAIT`]: see there.
    pub awaiting_reply: Option<Duration>,
}

impl AnnounceSlot {
    /// Announce at once (the first announce says `started`).
    pub fn new(now: Duration) -> AnnounceSlot {
        AnnounceSlot {
            next_at: now,
            interval: DEFAULT_INTERVAL,
            started: false,
            awaiting_reply: None,
        }
    }

    /// When the awaited reply counts as dropped (see [`ANNOUNCE_REPLY_WAIT`]).
    pub fn reply_deadline(&self) -> Option<Duration> {
        self.awaiting_reply.map(|at| at + ANNOUNCE_REPLY_WAIT)
    }
}

/// An announce waiting for its offers' SDP.
#[derive(Debug)]
pub(super) struct PendingAnnounce {
    pub tracker: TrackerId,
    pub event: Event,
    /// Connection, offer id, and the SDP once the driver gave it.
    pub offers: Vec<(ConnId, Id, Option<String>)>,
    /// Sent by then with whatever offers are ready.
    pub deadline: Duration,
}

impl Session {
    /// Sends every announce whose time has come on an open tracker.
    pub(super) fn announce_due(&mut self, now: Duration) {
        let due: Vec<(TorrentId, TrackerId)> = self
            .torrents
            .values()
            .filter(|s| !s.held)
            .flat_map(|s| {
                s.announces
                    .iter()
                    .filter(|(t, a)| {
                        now >= a.next_at && !s.pending.iter().any(|p| p.tracker == **t)
                    })
                    .map(|(&t, _)| (s.id, t))
            })
            .filter(|(_, t)| self.tracker_takes_announces(*t))
            .collect();
        for (torrent, tracker) in due {
            self.announce(&torrent, tracker, now);
        }
    }

    /// Creates offers (the driver makes their SDP), then announces once they are ready.
    fn announce(&mut self, torrent: &TorrentId, tracker: TrackerId, now: Duration) {
        let max_peers = self.config.max_peers;
        let Some(wanted) = self
            .torrents
            .get(torrent)
            .map(|s| s.offers_wanted(max_peers))
        else {
            return;
        };
        let offers: Vec<(ConnId, Id)> = (0..wanted)
            .map(|_| (self.next_conn_id(), self.random_id()))
            .collect();
        let Some(swarm) = self.torrents.get_mut(torrent) else {
            return;
        };
        let Some(slot) = swarm.announces.get_mut(&tracker) else {
            return;
        };
        let event = if slot.started {
            Event::Update
        } else {
            Event::Started
        };
        slot.started = true;
        slot.next_at = now + slot.interval;
        swarm.first_announce_at.get_or_insert(now);
        for &(conn, offer_id) in &offers {
            let c = Conn::new(tracker, Origin::Ours(offer_id), None, now + OFFER_TTL);
            swarm.insert(conn, c, &mut self.outputs);
            self.outputs.push_back(Output::CreateOffer { conn });
        }
        swarm.pending.push(PendingAnnounce {
            tracker,
            event,
            offers: offers.into_iter().map(|(c, o)| (c, o, None)).collect(),
            deadline: now + super::OFFER_GATHER_WAIT,
        });
        self.send_ready_announces(torrent, now);
    }

    /// Our offer's SDP arrived; returns false if `conn` is not an offer waiting for it.
    pub(super) fn offer_sdp(
        &mut self,
        torrent: &TorrentId,
        conn: ConnId,
        sdp: String,
        now: Duration,
    ) {
        let Some(swarm) = self.torrents.get_mut(torrent) else {
            return;
        };
        for pending in &mut swarm.pending {
            for offer in &mut pending.offers {
                if offer.0 == conn && offer.2.is_none() {
                    offer.2 = Some(sdp);
                    return self.send_ready_announces(torrent, now);
                }
            }
        }
    }

    /// Sends the pending announces whose tracker is open and whose offers are all ready (or
    /// gone); out of time, they go with the offers ready (or, tracker not open, are dropped).
    pub(super) fn send_ready_announces(&mut self, torrent: &TorrentId, now: Duration) {
        let open: Vec<TrackerId> = self
            .torrents
            .get(torrent)
            .map(|s| s.pending.iter().map(|p| p.tracker))
            .into_iter()
            .flatten()
            .filter(|&t| self.tracker_is_open(t))
            .collect();
        let Some(swarm) = self.torrents.get_mut(torrent) else {
            return;
        };
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut swarm.pending)
            .into_iter()
            .partition(|p| {
                now >= p.deadline
                    || (open.contains(&p.tracker)
                        && p.offers
                            .iter()
                            .all(|(c, id, sdp)| sdp.is_some() || !swarm.is_offering(*c, id)))
            });
        swarm.pending = waiting;
        for pending in ready {
            self.send_announce(torrent, pending, now);
        }
    }

    fn send_announce(&mut self, torrent: &TorrentId, pending: PendingAnnounce, now: Duration) {
        let open = self.tracker_is_open(pending.tracker);
        let Some(swarm) = self.torrents.get_mut(torrent) else {
            return;
        };
        let mut offers = Vec::new();
        for (conn, offer_id, sdp) in &pending.offers {
            match sdp {
                // Offers that expired meanwhile are not sent.
                Some(sdp) if open && swarm.is_offering(*conn, offer_id) => {
                    if let Some(c) = swarm.conns.get_mut(conn) {
                        c.local_sdp = true;
                    }
                    offers.push(OfferOut {
                        offer_id: Id20(*offer_id),
                        sdp,
                    });
                }
                // Never sent: nobody can answer it.
                _ => swarm.remove(*conn, now, "offer not sent", &mut self.outputs),
            }
        }
        if !open {
            return;
        }
        let text = announce_json(swarm, &self.config.peer_id, pending.event, &offers);
        if let Some(slot) = swarm.announces.get_mut(&pending.tracker) {
            slot.awaiting_reply = Some(now);
        }
        self.outputs.push_back(Output::SendToTracker {
            tracker: pending.tracker,
            text,
        });
    }

    /// Tracker `tracker` closed: its pending announces are dropped with their offers.
    pub(super) fn abort_pending(&mut self, tracker: TrackerId, now: Duration) {
        for swarm in self.torrents.values_mut() {
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut swarm.pending)
                .into_iter()
                .partition(|p| p.tracker == tracker);
            swarm.pending = kept;
            for (conn, _, _) in gone.into_iter().flat_map(|p| p.offers) {
                swarm.remove(conn, now, "tracker closed", &mut self.outputs);
            }
        }
    }

    /// Sends an announce without offers (`stopped`, `completed`) if the tracker is open.
    pub(super) fn send_event(&mut self, swarm: &Swarm, tracker: TrackerId, event: Event) {
        if !self.tracker_is_open(tracker) {
            return;
        }
        let text = announce_json(swarm, &self.config.peer_id, event, &[]);
        self.outputs
            .push_back(Output::SendToTracker { tracker, text });
    }

    /// The download completed: `completed` to the trackers where `started` was sent; the
    /// others hear `started` with `left: 0` on their first announce anyway.
    pub(super) fn announce_completed(&mut self, torrent: &TorrentId) {
        let Some(swarm) = self.torrents.get(torrent) else {
            return;
        };
        let mut texts = Vec::new();
        for (&tracker, slot) in &swarm.announces {
            if slot.started && self.tracker_is_open(tracker) {
                let text = announce_json(swarm, &self.config.peer_id, Event::Completed, &[]);
                texts.push(Output::SendToTracker { tracker, text });
            }
        }
        self.outputs.extend(texts);
    }

    /// One text frame from a tracker. Malformed and unknown messages (scrape replies …) are
    /// ignored; see `tracker_proto::response_parse` for the bounds.
    pub(super) fn on_tracker_text(&mut self, tracker: TrackerId, text: &str, now: Duration) {
        if !self.tracker_is_open(tracker) {
            // A tracker we closed, or late news from its previous socket (the id stays
            // the same across reconnects).
            return;
        }
        let Ok(message) = response_parse::parse(text) else {
            return;
        };
        match message {
            TrackerMessage::Announced {
                info_hash,
                interval,
                ..
            } => {
                // Only a torrent announced on this tracker has a slot for it, and only an
                // announce it sent has a reply (see `AnnounceSlot::awaiting_reply`).
                let slot = self
                    .torrents
                    .get_mut(&info_hash.0)
                    .and_then(|s| s.announces.get_mut(&tracker))
                    .and_then(|slot| slot.awaiting_reply.take().map(|_| slot));
                if let (Some(slot), Some(secs)) = (slot, interval) {
                    slot.interval = Duration::from_secs(u64::from(secs))
                        .clamp(super::MIN_INTERVAL, super::MAX_INTERVAL);
                    slot.next_at = now + slot.interval;
                }
            }
            TrackerMessage::Failure {
                info_hash,
                reason: message,
            }
            | TrackerMessage::Warning { info_hash, message } => {
                self.tracker_warning(tracker, info_hash.map(|h| h.0), &message)
            }
            TrackerMessage::Offer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            } => self.on_offer(
                tracker,
                super::signals::Signal {
                    info_hash: info_hash.0,
                    remote: peer_id.0,
                    offer_id: offer_id.0,
                    sdp: sdp.into_owned(),
                },
                now,
            ),
            TrackerMessage::Answer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            } => self.on_answer(
                tracker,
                super::signals::Signal {
                    info_hash: info_hash.0,
                    remote: peer_id.0,
                    offer_id: offer_id.0,
                    sdp: sdp.into_owned(),
                },
                now,
            ),
        }
    }
}

fn announce_json(swarm: &Swarm, peer_id: &Id, event: Event, offers: &[OfferOut<'_>]) -> String {
    let stats = swarm.engine.stats();
    AnnounceOut {
        info_hash: &Id20(swarm.id),
        peer_id: &Id20(*peer_id),
        event,
        uploaded: stats.uploaded,
        downloaded: stats.downloaded,
        left: bytes_left(&swarm.engine),
        offers,
    }
    .to_json()
}

/// Bytes still missing, as the `left` of an announce (`None` before the metadata).
fn bytes_left(engine: &Torrent) -> Option<u64> {
    let info = engine.info()?;
    let have = engine.have().map_or(0, |h| {
        h.iter_ones().map(|i| u64::from(info.piece_size(i))).sum()
    });
    Some(info.total_length.saturating_sub(have))
}
