//! The session's events as the notes the page listens to (`metadata`, `ready`, `progress`,
//! `peer`, `done`, `ban`, `warning`, `error`, `tracker`), plus what the browser side does
//! on them (storage layout, saved metadata, waking streams).

use std::time::Duration;

use wasm_bindgen::JsValue;

use super::client::ClientInner;
use super::js_glue::{now, set};
use super::notes::{Note, message_detail};
use super::swarm::hex;
use crate::session::{SessionEvent, TorrentId, TrackerState};

impl ClientInner {
    pub(super) fn on_session_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::MetadataReady { torrent } => self.metadata_ready(&torrent),
            SessionEvent::PieceVerified { torrent, index } => {
                if let Some(swarm) = self.swarms.get_mut(&hex(&torrent)) {
                    swarm.streams.piece_verified(index);
                }
                self.progress(&torrent);
            }
            SessionEvent::Completed { torrent } => {
                self.progress(&torrent);
                self.notes
                    .push(Note::new(&hex(&torrent), "done", JsValue::UNDEFINED));
            }
            SessionEvent::PeerConnected {
                torrent,
                conn,
                peer_id,
            } => {
                self.peer_ids.insert(conn, peer_id);
                let note = self.peer_note(&torrent, Some(peer_id), true, None);
                self.notes.push(note);
            }
            SessionEvent::PeerDisconnected {
                torrent,
                conn,
                reason,
            } => {
                let peer_id = self.peer_ids.remove(&conn);
                let note = self.peer_note(&torrent, peer_id, false, Some(&reason));
                self.notes.push(note);
            }
            SessionEvent::PeerPenalised {
                torrent,
                peer_id,
                reason,
                seconds,
            } => self
                .notes
                .push(penalty_note(&hex(&torrent), &peer_id, &reason, seconds)),
            SessionEvent::PeerBanned {
                torrent,
                peer_id,
                reason,
            } => {
                // The engine remembers the id (`refuses_peer`).
                let detail = js_sys::Object::new();
                set(&detail, "peerId", peer_id.map(|id| hex(&id)));
                set(&detail, "reason", reason.as_str());
                self.notes
                    .push(Note::new(&hex(&torrent), "ban", detail.into()));
            }
            SessionEvent::Tracker {
                tracker,
                url,
                state,
            } => {
                let note = match state {
                    TrackerState::Connecting => return,
                    TrackerState::Open => tracker_note(&url, true, None, None),
                    TrackerState::Closed { retry_in } => {
                        let reason = self.close_reasons.get(&tracker).map(String::as_str);
                        tracker_note(&url, false, reason, Some(retry_in))
                    }
                    TrackerState::Failed(message) => {
                        tracker_note(&url, false, Some(&message), None)
                    }
                };
                self.notes.push(note);
            }
            SessionEvent::Warning {
                torrent: Some(torrent),
                message,
            } => self.notes.push(Note::warning(&hex(&torrent), message)),
            SessionEvent::Warning {
                torrent: None,
                message,
            } => {
                // News of a tracker about no torrent of ours: "tracker {url}: {message}".
                let url = message
                    .strip_prefix("tracker ")
                    .and_then(|m| m.split_once(": "))
                    .map_or("", |(url, _)| url);
                self.notes
                    .push(tracker_note(url, true, Some(&message), None));
            }
            SessionEvent::StorageError { torrent, message } => {
                self.notes.push(Note::warning(&hex(&torrent), message))
            }
            SessionEvent::TorrentStopped { torrent, reason } => {
                let hex = hex(&torrent);
                if let Some(swarm) = self.swarms.remove(&hex) {
                    self.release(swarm);
                }
                // The only cause today: pieces too large for a browser tab.
                self.notes
                    .push(Note::error(&hex, "unsupported-torrent", &reason, true));
            }
        }
    }

    /// The metadata arrived from peers: storage learns the layout, it is saved for a reload,
    /// and streams opened before it start their windows.
    fn metadata_ready(&mut self, torrent: &TorrentId) {
        let hex = hex(torrent);
        let now = now();
        let Some((engine, swarm)) = self.parts(&hex) else {
            return;
        };
        if let Some(info) = engine.info() {
            swarm.storage.set_layout(info);
        }
        swarm.save_info(engine);
        swarm.streams.metadata_ready();
        let starts = engine.info().map(|i| swarm.streams.start_offsets(i));
        for (reader, offset) in starts.unwrap_or_default() {
            engine.set_reader(reader, offset, now);
        }
        self.notes
            .push(Note::new(&hex, "metadata", JsValue::UNDEFINED));
        self.notes
            .push(Note::new(&hex, "ready", JsValue::UNDEFINED));
    }

    /// One `progress` note per torrent among the notes not yet delivered.
    fn progress(&mut self, torrent: &TorrentId) {
        let hex = hex(torrent);
        let queued = self
            .notes
            .iter()
            .any(|n| n.kind == "progress" && n.torrent.as_deref() == Some(&hex));
        if !queued {
            self.notes
                .push(Note::new(&hex, "progress", JsValue::UNDEFINED));
        }
    }

    fn peer_note(
        &self,
        torrent: &TorrentId,
        peer_id: Option<[u8; 20]>,
        connected: bool,
        reason: Option<&str>,
    ) -> Note {
        let detail = js_sys::Object::new();
        set(&detail, "peerId", peer_id.map(|id| hex(&id)));
        set(&detail, "connected", connected);
        set(
            &detail,
            "peers",
            self.session.open_conns(torrent).len() as u32,
        );
        if let Some(reason) = reason {
            set(&detail, "reason", reason);
        }
        Note::new(&hex(torrent), "peer", detail.into())
    }
}

/// A `warning` whose detail also names the peer, the offence and how long it is refused:
/// `{ message, peerId, reason, seconds }`.
fn penalty_note(torrent: &str, peer_id: &[u8; 20], reason: &str, seconds: u64) -> Note {
    let peer = hex(peer_id);
    let detail = message_detail(&format!("refusing peer {peer} for {seconds} s: {reason}"));
    set(&detail, "peerId", peer.as_str());
    set(&detail, "reason", reason);
    set(&detail, "seconds", seconds as u32);
    Note::new(torrent, "warning", detail.into())
}

fn tracker_note(
    url: &str,
    connected: bool,
    message: Option<&str>,
    retry: Option<Duration>,
) -> Note {
    let detail = js_sys::Object::new();
    set(&detail, "url", url);
    set(&detail, "connected", connected);
    if let Some(message) = message {
        set(&detail, "message", message);
    }
    if let Some(retry) = retry {
        set(&detail, "retryInSeconds", retry.as_secs_f64().round());
    }
    Note::client("tracker", detail.into())
}
