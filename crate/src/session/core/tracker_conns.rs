//! Tracker sockets: connect when a torrent first brings a tracker in, reconnect with a
//! backoff after it closes, start every torrent's announces over when it opens. Which
//! torrents a tracker may act for is the `TrackerSet`'s job.

use std::time::Duration;

use super::{Output, Session, SessionEvent, TrackerState};
use crate::session::backoff::backoff;
use crate::session::trackers::TrackerId;

/// A socket that has not opened this long after `ConnectTracker` is given up (closed, then
/// retried with the backoff): a black-holed host can keep a browser or native connect
/// pending for minutes, and meanwhile its torrents would announce nowhere.
pub const TRACKER_OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// The session's side of one tracker socket.
#[derive(Debug, Default)]
pub(in crate::session) struct TrackerConn {
    phase: Phase,
    /// Closes since the last open: the backoff grows with them.
    failures: u32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// New: connect now.
    #[default]
    Idle,
    Connecting {
        /// Given up then (see [`TRACKER_OPEN_TIMEOUT`]).
        deadline: Duration,
    },
    Open,
    Waiting {
        retry_at: Duration,
    },
}

impl Session {
    /// (Re)connects the trackers whose time has come.
    pub(super) fn connect_due(&mut self, now: Duration) {
        for id in self.trackers.ids() {
            let due = self.trackers.get(id).is_some_and(|t| match t.phase {
                Phase::Idle => true,
                Phase::Waiting { retry_at } => now >= retry_at,
                Phase::Connecting { .. } | Phase::Open => false,
            });
            if !due {
                continue;
            }
            if let Some(t) = self.trackers.get_mut(id) {
                t.phase = Phase::Connecting {
                    deadline: now + TRACKER_OPEN_TIMEOUT,
                };
            }
            let url = self.trackers.url(id).unwrap_or_default().to_owned();
            self.outputs.push_back(Output::ConnectTracker {
                tracker: id,
                url: url.clone(),
            });
            self.tracker_event(id, TrackerState::Connecting);
        }
    }

    pub(super) fn tracker_opened(&mut self, id: TrackerId, now: Duration) {
        let Some(t) = self
            .trackers
            .get_mut(id)
            .filter(|t| matches!(t.phase, Phase::Connecting { .. }))
        else {
            return; // late news from a socket we closed, or a second `open`
        };
        t.phase = Phase::Open;
        t.failures = 0;
        self.tracker_event(id, TrackerState::Open);
        // A new socket is a new session at the tracker: announce `started` again, now —
        // except where an announce prepared while connecting (saying `started`) waits.
        let mut prepared = Vec::new();
        for swarm in self.torrents.values_mut() {
            if swarm.pending.iter().any(|p| p.tracker == id) {
                prepared.push(swarm.id);
            } else if let Some(slot) = swarm.announces.get_mut(&id) {
                slot.started = false;
                slot.awaiting_reply = None;
                slot.next_at = now;
            }
        }
        self.announce_due(now);
        for torrent in prepared {
            self.send_ready_announces(&torrent, now);
        }
    }

    pub(super) fn tracker_closed(&mut self, id: TrackerId, now: Duration) {
        let random = self.rng.next_u64();
        let Some(t) = self
            .trackers
            .get_mut(id)
            .filter(|t| matches!(t.phase, Phase::Connecting { .. } | Phase::Open))
        else {
            return;
        };
        t.failures = t.failures.saturating_add(1);
        let delay = backoff(t.failures, random);
        t.phase = Phase::Waiting {
            retry_at: now + delay,
        };
        self.tracker_event(id, TrackerState::Closed { retry_in: delay });
        // Announces waiting on offers for this socket can no longer be sent; their offers
        // would only hold connections until they expire.
        self.abort_pending(id, now);
    }

    /// Gives up sockets that did not open in time: closed, then retried like any close.
    pub(super) fn expire_connecting(&mut self, now: Duration) {
        for id in self.trackers.ids() {
            let late = self.trackers.get(id).is_some_and(
                |t| matches!(t.phase, Phase::Connecting { deadline } if now >= deadline),
            );
            if late {
                self.outputs.push_back(Output::CloseTracker { tracker: id });
                self.tracker_closed(id, now);
            }
        }
    }

    pub(super) fn tracker_is_open(&self, id: TrackerId) -> bool {
        self.trackers
            .get(id)
            .is_some_and(|t| t.phase == Phase::Open)
    }

    /// Whether announces may be prepared for `id` (their offers made): when it is open, and
    /// while its first socket connects, so offers and socket get ready side by side instead
    /// of one after the other (both take tens of milliseconds). Not while a tracker that
    /// failed reconnects: offers for a socket that keeps failing would be made for nothing.
    pub(super) fn tracker_takes_announces(&self, id: TrackerId) -> bool {
        self.trackers.get(id).is_some_and(|t| {
            t.phase == Phase::Open
                || (matches!(t.phase, Phase::Connecting { .. }) && t.failures == 0)
        })
    }

    /// When closed trackers reconnect, and when pending connects are given up.
    pub(super) fn reconnect_times(&self) -> impl Iterator<Item = Duration> + '_ {
        self.trackers
            .ids()
            .into_iter()
            .filter_map(|id| match self.trackers.get(id)?.phase {
                Phase::Waiting { retry_at } => Some(retry_at),
                Phase::Connecting { deadline } => Some(deadline),
                _ => None,
            })
    }

    fn tracker_event(&mut self, tracker: TrackerId, state: TrackerState) {
        let url = self.trackers.url(tracker).unwrap_or_default().to_owned();
        self.outputs.push_back(Output::Event(SessionEvent::Tracker {
            tracker,
            url,
            state,
        }));
    }

    /// A tracker message to show: on the torrent when it is announced there (a tracker may not
    /// post on, or probe for, the others), else as news of the tracker.
    pub(super) fn tracker_warning(
        &mut self,
        tracker: TrackerId,
        torrent: Option<[u8; 20]>,
        message: &str,
    ) {
        let url = self.trackers.url(tracker).unwrap_or_default();
        let message = format!("tracker {url}: {message}");
        let torrent = torrent
            .filter(|t| self.trackers.serves(tracker, t))
            .filter(|t| self.torrents.contains_key(t));
        self.event(SessionEvent::Warning { torrent, message });
    }
}
