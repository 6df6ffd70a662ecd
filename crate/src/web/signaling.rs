//! WebTorrent-style signaling through the trackers: announces carrying complete-SDP offers,
//! answers to offers relayed to us, and answers to our own offers.
//!
//! A tracker is trusted only with the torrents announced on it: offers and answers it
//! relays for any other torrent, or from a peer the engine refuses, are ignored (counted,
//! logged at debug level, never answered). See `session::trackers`.
//!
//! Each step that awaits the browser (SDP creation, ICE gathering) runs as a local task that
//! holds only a weak client handle and the connection's key; after every await it looks the
//! connection up again, because it may have expired or been removed meanwhile.

use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen_futures::spawn_local;

use super::client::{ClientInner, Handle, MAX_INTERVAL, MIN_INTERVAL, debug_log};
use super::js_glue::{random_bytes, set};
use super::notes::Note;
use super::peer_conn::{ConnEvent, EventSink, PeerConn};
use super::swarm::{CONNECT_TIMEOUT, Conn, OFFER_TTL, Origin, Swarm, hex};
use crate::engine::PeerKey;
use crate::session::TrackerId;
use crate::session::tracker_proto::{
    AnnounceOut, Event, Id20, IdBytes as Id, OfferOut, TrackerMessage, request_build,
    response_parse,
};

fn conn_sink(handle: &Handle, swarm: &str, key: PeerKey) -> EventSink {
    let handle = handle.clone();
    let swarm = swarm.to_owned();
    Rc::new(move |event: ConnEvent| {
        handle.with(|c| c.on_conn_event(&swarm, key, event));
    })
}

/// Bytes still missing, as the `left` of an announce (`None` before the metadata).
fn bytes_left(swarm: &Swarm) -> Option<u64> {
    let info = swarm.engine.info()?;
    let have = swarm.engine.have().map_or(0, |h| {
        h.iter_ones().map(|i| u64::from(info.piece_size(i))).sum()
    });
    Some(info.total_length.saturating_sub(have))
}

impl ClientInner {
    /// Sends every announce whose time has come on an open tracker.
    pub fn announce_due(&mut self, now: Duration) {
        let due: Vec<(String, TrackerId)> = self
            .swarms
            .values()
            // Not before the storage said what we have (a resumed torrent announces as such).
            .filter(|s| s.storage_ready && s.unusable().is_none())
            .flat_map(|s| {
                s.announces
                    .iter()
                    .filter(|(_, a)| now >= a.next_at)
                    .map(|(&id, _)| (s.hex.clone(), id))
            })
            .collect();
        for (swarm, tracker) in due {
            if self.tracker_open(tracker).is_some() {
                self.announce(&swarm, tracker, now);
            }
        }
        self.announce_completions();
    }

    /// Creates offers, then (once ICE gathering finished) sends the announce carrying them.
    fn announce(&mut self, hex_id: &str, tracker: TrackerId, now: Duration) {
        let (max_peers, handle, ice) = (
            self.max_peers,
            self.handle.clone(),
            self.ice_servers.clone(),
        );
        let Some(wanted) = self.swarms.get(hex_id).map(|s| s.offers_wanted(max_peers)) else {
            return;
        };
        let keys: Vec<PeerKey> = (0..wanted).map(|_| self.next_peer_key()).collect();
        let Some(swarm) = self.swarms.get_mut(hex_id) else {
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

        let mut pending = Vec::new();
        for key in keys {
            let offer_id: Id = random_bytes();
            let peer = match PeerConn::new(&ice, true, conn_sink(&handle, hex_id, key)) {
                Ok(peer) => peer,
                Err(message) => {
                    self.notify(Note::warning(hex_id, message));
                    break;
                }
            };
            let Some(swarm) = self.swarms.get_mut(hex_id) else {
                return;
            };
            let (pc, gathered) = peer.signaling_handles();
            swarm.insert(
                key,
                Conn {
                    peer,
                    tracker,
                    remote_id: None,
                    offer_id: Some(offer_id),
                    origin: Origin::Ours(offer_id),
                    deadline: now + OFFER_TTL,
                    open: false,
                    corked: Vec::new(),
                    received: 0,
                },
            );
            pending.push((key, offer_id, pc, gathered));
        }
        let hex_id = hex_id.to_owned();
        spawn_local(async move {
            let mut offers = Vec::new();
            // Start every offer first (each gathers for ~125 ms even on loopback), then collect
            // them: awaiting one by one used to serialise the gathering (5 offers: ~650 ms).
            let started: Vec<_> = pending
                .into_iter()
                .map(|(key, offer_id, pc, gathered)| {
                    let offer = wasm_bindgen_futures::future_to_promise(async move {
                        PeerConn::create_offer(pc, gathered)
                            .await
                            .map(wasm_bindgen::JsValue::from)
                            .map_err(wasm_bindgen::JsValue::from)
                    });
                    (key, offer_id, offer)
                })
                .collect();
            for (key, offer_id, offer) in started {
                let result = wasm_bindgen_futures::JsFuture::from(offer)
                    .await
                    .map(|sdp| sdp.as_string().unwrap_or_default())
                    .map_err(|e| e.as_string().unwrap_or_default());
                match result {
                    Ok(sdp) => offers.push((key, offer_id, sdp)),
                    Err(e) => {
                        handle.with(|c| {
                            c.drop_conn(&hex_id, key, &format!("could not create an offer: {e}"))
                        });
                    }
                }
            }
            handle.with(|c| c.send_announce(&hex_id, tracker, event, offers));
        });
    }

    fn send_announce(
        &mut self,
        hex_id: &str,
        tracker: TrackerId,
        event: Event,
        offers: Vec<(PeerKey, Id, String)>,
    ) {
        let Some(swarm) = self.swarms.get(hex_id) else {
            return;
        };
        // Offers that expired while gathering are not sent.
        let offers: Vec<OfferOut<'_>> = offers
            .iter()
            .filter(|(key, id, _)| swarm.is_offering(*key, id))
            .map(|(_, id, sdp)| OfferOut {
                offer_id: Id20(*id),
                sdp,
            })
            .collect();
        let stats = swarm.engine.stats();
        let message = AnnounceOut {
            info_hash: &Id20(swarm.info_hash),
            peer_id: &Id20(self.peer_id),
            event,
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            left: bytes_left(swarm),
            offers: &offers,
        };
        if let Some(socket) = self.tracker_open(tracker) {
            socket.send(&message.to_json());
        }
    }

    pub fn send_stopped(&self, swarm: &Swarm, tracker: TrackerId) {
        self.send_event(swarm, tracker, Event::Stopped);
    }

    fn send_event(&self, swarm: &Swarm, tracker: TrackerId, event: Event) {
        let Some(socket) = self.tracker_open(tracker) else {
            return;
        };
        let stats = swarm.engine.stats();
        let message = AnnounceOut {
            info_hash: &Id20(swarm.info_hash),
            peer_id: &Id20(self.peer_id),
            event,
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            left: bytes_left(swarm),
            offers: &[],
        };
        socket.send(&message.to_json());
    }

    /// Sends `completed` for downloads that just finished.
    pub fn announce_completions(&mut self) {
        let done: Vec<String> = self
            .swarms
            .values()
            .filter(|s| s.completed_unannounced)
            .map(|s| s.hex.clone())
            .collect();
        for hex_id in done {
            let Some(swarm) = self.swarms.get(&hex_id) else {
                continue;
            };
            for (&tracker, slot) in &swarm.announces {
                // Only trackers where `started` was already sent; the others hear `started`
                // with `left: 0` on the first announce anyway.
                if slot.started {
                    self.send_event(swarm, tracker, Event::Completed);
                }
            }
            if let Some(swarm) = self.swarms.get_mut(&hex_id) {
                swarm.completed_unannounced = false;
            }
        }
    }

    pub fn drop_conn(&mut self, hex_id: &str, key: PeerKey, reason: &str) {
        let now = super::js_glue::now();
        let mut notes = std::mem::take(self.notes_mut());
        if let Some(swarm) = self.swarms.get_mut(hex_id) {
            swarm.remove(key, now, reason, &mut notes);
        }
        *self.notes_mut() = notes;
    }

    pub fn on_tracker_message(&mut self, tracker: TrackerId, text: &str, now: Duration) {
        let message = match response_parse::parse(text) {
            Ok(message) => message,
            // Unknown kinds (e.g. scrape replies) and malformed messages are ignored.
            Err(_) => return,
        };
        match message {
            TrackerMessage::Announced {
                info_hash,
                interval,
                ..
            } => {
                let Some(swarm) = self.swarms.get_mut(&hex(&info_hash.0)) else {
                    return;
                };
                // Only a torrent announced on this tracker has a slot for it.
                if let (Some(slot), Some(secs)) = (swarm.announces.get_mut(&tracker), interval) {
                    slot.interval =
                        Duration::from_secs(u64::from(secs)).clamp(MIN_INTERVAL, MAX_INTERVAL);
                    slot.next_at = now + slot.interval;
                }
            }
            TrackerMessage::Failure {
                info_hash,
                reason: message,
            }
            | TrackerMessage::Warning { info_hash, message } => {
                let url = self.trackers.url(tracker).unwrap_or_default().to_owned();
                let text = format!("tracker {url}: {message}");
                // Shown on a torrent only if it announced there: a tracker may not post on
                // (or probe for) the others.
                match info_hash
                    .map(|h| h.0)
                    .filter(|h| self.trackers.serves(tracker, h))
                    .map(|h| hex(&h))
                    .filter(|h| self.swarms.contains_key(h))
                {
                    Some(hex_id) => self.notify(Note::warning(&hex_id, text)),
                    None => {
                        let detail = js_sys::Object::new();
                        set(&detail, "url", url);
                        set(&detail, "connected", true);
                        set(&detail, "message", text);
                        self.notify(Note::client("tracker", detail.into()));
                    }
                }
            }
            TrackerMessage::Offer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            } => self.on_offer(
                tracker,
                info_hash.0,
                peer_id.0,
                offer_id.0,
                sdp.into_owned(),
                now,
            ),
            TrackerMessage::Answer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            } => self.on_answer(
                tracker,
                info_hash.0,
                peer_id.0,
                offer_id.0,
                sdp.into_owned(),
                now,
            ),
        }
    }

    /// Whether tracker `tracker` may signal for `info_hash` on behalf of `remote`: the
    /// torrent must be announced there and the peer acceptable to it.
    fn check_signal(
        &self,
        tracker: TrackerId,
        info_hash: &Id,
        remote: &Id,
        now: Duration,
    ) -> Result<(), &'static str> {
        if !self.trackers.serves(tracker, info_hash) {
            return Err("its torrent is not announced on that tracker");
        }
        let swarm = self.swarms.get(&hex(info_hash)).ok_or("no such torrent")?;
        swarm.admit(remote, &self.peer_id, now)
    }

    /// Drops a relayed offer or answer without a reply.
    fn ignore_signal(&mut self, kind: &str, tracker: TrackerId, reason: &str) {
        self.ignored_signals += 1;
        let url = self.trackers.url(tracker).unwrap_or("a closed tracker");
        debug_log(&format!(
            "seedcast: ignored an {kind} relayed by {url}: {reason} ({} ignored so far)",
            self.ignored_signals
        ));
    }

    fn on_offer(
        &mut self,
        tracker: TrackerId,
        info_hash: Id,
        remote: Id,
        offer_id: Id,
        sdp: String,
        now: Duration,
    ) {
        if let Err(reason) = self.check_signal(tracker, &info_hash, &remote, now) {
            return self.ignore_signal("offer", tracker, reason);
        }
        let hex_id = hex(&info_hash);
        let Some(swarm) = self.swarms.get(&hex_id) else {
            return;
        };
        if !swarm.has_room(self.max_peers) {
            return;
        }
        let key = self.next_peer_key();
        let handle = self.handle.clone();
        let peer = match PeerConn::new(&self.ice_servers, false, conn_sink(&handle, &hex_id, key)) {
            Ok(peer) => peer,
            Err(message) => return self.notify(Note::warning(&hex_id, message)),
        };
        let (pc, gathered) = peer.signaling_handles();
        let Some(swarm) = self.swarms.get_mut(&hex_id) else {
            return;
        };
        swarm.insert(
            key,
            Conn {
                peer,
                tracker,
                remote_id: Some(remote),
                offer_id: None,
                origin: Origin::Theirs(offer_id),
                deadline: now + CONNECT_TIMEOUT,
                open: false,
                corked: Vec::new(),
                received: 0,
            },
        );
        spawn_local(async move {
            match PeerConn::create_answer(pc, gathered, sdp).await {
                Ok(answer) => {
                    handle.with(|c| {
                        c.send_answer(tracker, &hex_id, key, &remote, &offer_id, &answer)
                    });
                }
                Err(e) => {
                    handle.with(|c| {
                        c.drop_conn(&hex_id, key, &format!("could not answer an offer: {e}"))
                    });
                }
            }
        });
    }

    fn send_answer(
        &mut self,
        tracker: TrackerId,
        hex_id: &str,
        key: PeerKey,
        remote: &Id,
        offer_id: &Id,
        sdp: &str,
    ) {
        let Some(swarm) = self.swarms.get(hex_id).filter(|s| s.contains(key)) else {
            return;
        };
        if let Some(socket) = self.tracker_open(tracker) {
            socket.send(&request_build::answer(
                &Id20(swarm.info_hash),
                &Id20(self.peer_id),
                &Id20(*remote),
                &Id20(*offer_id),
                sdp,
            ));
        }
    }

    fn on_answer(
        &mut self,
        tracker: TrackerId,
        info_hash: Id,
        remote: Id,
        offer_id: Id,
        sdp: String,
        now: Duration,
    ) {
        // Refused answers leave the offer pending: another peer may still answer it.
        if let Err(reason) = self.check_signal(tracker, &info_hash, &remote, now) {
            return self.ignore_signal("answer", tracker, reason);
        }
        let hex_id = hex(&info_hash);
        let Some(swarm) = self.swarms.get_mut(&hex_id) else {
            return;
        };
        if swarm.offer_key(&offer_id, tracker).is_none() {
            return self.ignore_signal("answer", tracker, "not to an offer sent there");
        }
        let Some(key) = swarm.take_offer(&offer_id, remote, now) else {
            return;
        };
        let Some(conn) = swarm.conn_mut(key) else {
            return;
        };
        let (pc, _) = conn.peer.signaling_handles();
        let handle = self.handle.clone();
        spawn_local(async move {
            if let Err(e) = PeerConn::accept_answer(pc, sdp).await {
                handle.with(|c| {
                    c.drop_conn(&hex_id, key, &format!("peer's answer was refused: {e}"))
                });
            }
        });
    }
}
