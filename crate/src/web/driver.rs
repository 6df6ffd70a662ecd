//! Runs the session's outputs in the browser: WebSockets for trackers, RTCPeerConnections
//! for offers and answers, sends and closes; and feeds what they report back as inputs.
//!
//! Each step that awaits the browser (SDP creation, ICE gathering) runs as a local task that
//! holds only a weak client handle and the connection's id; the session ignores news of a
//! connection it already closed.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};

use super::client::{ClientInner, Handle};
use super::hashing;
use super::js_glue::{Timeout, now, pending_promise};
use super::notes::Note;
use super::offer_pool::{REFILL_DELAY, SPARES, Spare, Taken, Target};
use super::peer_conn::{ConnEvent, EventSink, PeerConn};
use super::tracker::{SocketEvent, TrackerSocket};
use crate::session::{ConnId, Output, TorrentId, TrackerId};

fn conn_sink(handle: &Handle, conn: ConnId) -> EventSink {
    let handle = handle.clone();
    Rc::new(move |event: ConnEvent| {
        handle.with(|c| c.on_conn_event(conn, event));
    })
}

/// A spare offer's events go to the connection that took it (none while it is spare).
fn spare_sink(handle: &Handle, target: Target) -> EventSink {
    let handle = handle.clone();
    Rc::new(move |event: ConnEvent| {
        if let Some(conn) = target.get() {
            handle.with(|c| c.on_conn_event(conn, event));
        }
    })
}

impl ClientInner {
    /// Makes spare offers until the pool holds [`SPARES`] (see `offer_pool`). Where
    /// WebRTC is unavailable this makes none; `CreateOffer` then reports why.
    pub(super) fn fill_offer_pool(&mut self) {
        self.pool_refill = None;
        while !self.destroyed && self.offer_pool.len() < SPARES {
            let target: Target = Rc::new(Cell::new(None));
            let sink = spare_sink(&self.handle, target.clone());
            let Ok(peer) = PeerConn::new_spare(&self.ice, sink) else {
                return;
            };
            let id = self.offer_pool.next_id();
            let (pc, gathered) = peer.signaling_handles();
            self.offer_pool.push(Spare {
                id,
                peer,
                target: target.clone(),
                sdp: None,
                made_at: now(),
            });
            let handle = self.handle.clone();
            spawn_local(async move {
                let result = PeerConn::create_offer(pc, gathered).await;
                handle.with(|c| c.spare_offer_done(id, &target, result));
            });
        }
    }

    /// Resolves once no spare is still making its offer (at once when none is: all ready,
    /// or WebRTC unavailable). `SeedcastPlayer.prepare()` waits for it, so a `src` set right
    /// after announces at once instead of waiting for the rest of their gathering (traced in
    /// bench-stream's warm views, 2 cores: `prepare()` had resolved 10–70 ms before the spares
    /// were ready, and the announce then left 27–90 ms after `src` instead of 16–25).
    pub(super) fn offers_ready(&mut self) -> Promise {
        if self.offer_pool.making() == 0 {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        if let Some((promise, _)) = &self.pool_waiter {
            return promise.clone();
        }
        let (promise, resolve) = pending_promise();
        self.pool_waiter = Some((promise.clone(), resolve));
        promise
    }

    /// Resolves `offers_ready`'s promise if no spare is making its offer any more.
    pub(super) fn pool_settled(&mut self) {
        if self.offer_pool.making() == 0
            && let Some((_, resolve)) = self.pool_waiter.take()
        {
            let _ = resolve.call0(&JsValue::NULL);
        }
    }

    fn spare_offer_done(&mut self, id: u64, target: &Target, result: Result<String, String>) {
        let now = now();
        // Still spare: kept for later. Taken meanwhile: the session waits for this SDP.
        let done = self.offer_pool.offer_done(id, result, now);
        self.pool_settled();
        let (Some(result), Some(conn)) = (done, target.get()) else {
            return;
        };
        match result {
            Ok(sdp) => self.session.handle_local_sdp(conn, sdp, now),
            Err(e) => {
                let reason = format!("could not create an offer: {e}");
                self.session.handle_conn_failed(conn, &reason, now);
            }
        }
    }

    fn schedule_pool_refill(&mut self) {
        if self.pool_refill.is_none() {
            let handle = self.handle.clone();
            self.pool_refill = Some(Timeout::new(REFILL_DELAY, move || {
                handle.with(|c| c.fill_offer_pool());
            }));
        }
    }

    pub(super) fn run_output(&mut self, output: Output) {
        match output {
            Output::ConnectTracker { tracker, url } => self.connect_tracker(tracker, &url),
            Output::CloseTracker { tracker } => {
                // Dropping the socket closes it (after anything already sent).
                self.sockets.remove(&tracker);
                self.close_reasons.remove(&tracker);
            }
            Output::SendToTracker { tracker, text } => {
                if let Some(socket) = self.sockets.get(&tracker) {
                    socket.send(&text);
                }
            }
            Output::CreateOffer { conn } => self.create_offer(conn),
            Output::AcceptOffer { conn, sdp } => self.accept_offer(conn, sdp),
            Output::AcceptAnswer { conn, sdp } => {
                let Some(peer) = self.conns.get(&conn) else {
                    return;
                };
                let (pc, _) = peer.signaling_handles();
                let handle = self.handle.clone();
                spawn_local(async move {
                    if let Err(e) = PeerConn::accept_answer(pc, sdp).await {
                        let reason = format!("peer's answer was refused: {e}");
                        handle.with(|c| c.session.handle_conn_failed(conn, &reason, now()));
                    }
                });
            }
            Output::Send { conn, bytes } => {
                let sent = self.conns.get(&conn).map(|p| p.send(&bytes));
                if let Some(Err(reason)) = sent {
                    self.session.handle_conn_failed(conn, &reason, now());
                }
            }
            Output::Close { conn } => {
                // Dropping it removes its listeners and closes channel and connection.
                self.conns.remove(&conn);
            }
            Output::HashPiece {
                torrent,
                index,
                token,
            } => self.hash_piece(torrent, index, token),
            Output::Event(event) => self.on_session_event(event),
        }
    }

    /// Hashes a complete piece with WebCrypto (see `hashing.rs`); where that is missing or
    /// the call throws, in wasm at once. The digests of one run are applied together, once
    /// the first has resolved (a microtask later: Chromium hashes inside the call, and every
    /// piece of this run is in the batch by then), so their haves and the stream's wake-ups
    /// go out in one pass, as when pieces were hashed inline.
    fn hash_piece(&mut self, torrent: TorrentId, index: u32, token: u64) {
        let Some(data) = self.session.piece_to_hash(&torrent, index, token) else {
            return;
        };
        let Some(promise) = self.subtle.as_ref().and_then(|s| hashing::start(s, data)) else {
            let digest = hashing::inline(data);
            self.session
                .handle_piece_hash(&torrent, index, token, digest, now());
            return;
        };
        let first = self.hash_batch.is_empty();
        self.hash_batch
            .push((torrent, index, token, promise.clone()));
        if !first {
            return;
        }
        let handle = self.handle.clone();
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
            let Some(batch) = handle.with(|c| std::mem::take(&mut c.hash_batch)) else {
                return;
            };
            let mut digests = Vec::with_capacity(batch.len());
            for (torrent, index, token, promise) in batch {
                let digest = JsFuture::from(promise)
                    .await
                    .ok()
                    .and_then(|v| hashing::digest_of(&v));
                digests.push((torrent, index, token, digest));
            }
            handle.with(|c| {
                let now = now();
                let answers: Vec<_> = digests
                    .into_iter()
                    .filter_map(|(torrent, index, token, digest)| {
                        // A rejected digest: hashed here instead (the piece is still waiting).
                        let digest = digest.or_else(|| {
                            c.session
                                .piece_to_hash(&torrent, index, token)
                                .map(hashing::inline)
                        })?;
                        Some((torrent, index, token, digest))
                    })
                    .collect();
                c.session.handle_piece_hashes(&answers, now);
            });
        });
    }

    fn connect_tracker(&mut self, tracker: TrackerId, url: &str) {
        let handle = self.handle.clone();
        let sink = Rc::new(move |event: SocketEvent| {
            handle.with(|c| c.on_socket_event(tracker, event));
        });
        match TrackerSocket::connect(url, sink) {
            Ok(socket) => {
                self.sockets.insert(tracker, socket);
            }
            Err(message) => {
                // The session retries after its backoff; the page hears why.
                self.close_reasons.insert(tracker, message);
                self.session.handle_tracker_closed(tracker, now());
            }
        }
    }

    /// News from tracker `id`'s socket; the session ignores it if it closed that tracker.
    fn on_socket_event(&mut self, tracker: TrackerId, event: SocketEvent) {
        let now = now();
        match event {
            SocketEvent::Open => self.session.handle_tracker_open(tracker, now),
            SocketEvent::Text(text) => {
                let before = self.session.ignored_signals();
                self.session.handle_tracker_message(tracker, &text, now);
                let after = self.session.ignored_signals();
                if let Some((kind, reason)) = self.session.last_ignored_signal()
                    && after > before
                {
                    let url = self
                        .session
                        .tracker_url(tracker)
                        .unwrap_or("a closed tracker");
                    super::client::debug_log(&format!(
                        "seedcast: ignored an {kind} relayed by {url}: {reason} ({after} ignored so far)"
                    ));
                }
            }
            SocketEvent::Closed(reason) => {
                // Dropping the socket frees its listeners (this one included, after it returns).
                self.sockets.remove(&tracker);
                self.close_reasons.insert(tracker, reason);
                self.session.handle_tracker_closed(tracker, now);
            }
        }
    }

    fn new_peer(&mut self, conn: ConnId, offerer: bool) -> Option<&PeerConn> {
        match PeerConn::new(&self.ice, offerer, conn_sink(&self.handle, conn)) {
            Ok(peer) => {
                self.conns.insert(conn, peer);
                self.conns.get(&conn)
            }
            Err(message) => {
                if let Some(torrent) = self.session.conn_torrent(conn) {
                    self.notes
                        .push(Note::warning(&super::swarm::hex(&torrent), message.clone()));
                }
                self.session.handle_conn_failed(conn, &message, now());
                None
            }
        }
    }

    fn create_offer(&mut self, conn: ConnId) {
        if let Some(taken) = self.offer_pool.take(conn, now()) {
            self.schedule_pool_refill();
            self.pool_settled();
            match taken {
                Taken::Ready(peer, sdp) => {
                    self.conns.insert(conn, peer);
                    self.session.handle_local_sdp(conn, sdp, now());
                }
                // Its SDP reaches the session when done (`spare_offer_done`).
                Taken::Making(peer) => {
                    self.conns.insert(conn, peer);
                }
            }
            return;
        }
        let Some(peer) = self.new_peer(conn, true) else {
            return;
        };
        let (pc, gathered) = peer.signaling_handles();
        let handle = self.handle.clone();
        spawn_local(async move {
            match PeerConn::create_offer(pc, gathered).await {
                Ok(sdp) => handle.with(|c| c.session.handle_local_sdp(conn, sdp, now())),
                Err(e) => {
                    let reason = format!("could not create an offer: {e}");
                    handle.with(|c| c.session.handle_conn_failed(conn, &reason, now()))
                }
            };
        });
    }

    fn accept_offer(&mut self, conn: ConnId, sdp: String) {
        let Some(peer) = self.new_peer(conn, false) else {
            return;
        };
        let (pc, gathered) = peer.signaling_handles();
        let handle = self.handle.clone();
        spawn_local(async move {
            match PeerConn::create_answer(pc, gathered, sdp).await {
                Ok(answer) => handle.with(|c| c.session.handle_local_sdp(conn, answer, now())),
                Err(e) => {
                    let reason = format!("could not answer an offer: {e}");
                    handle.with(|c| c.session.handle_conn_failed(conn, &reason, now()))
                }
            };
        });
    }

    /// An event of connection `conn` (ignored once the session closed it).
    fn on_conn_event(&mut self, conn: ConnId, event: ConnEvent) {
        let now = now();
        let Some(peer) = self.conns.get_mut(&conn) else {
            return;
        };
        match event {
            ConnEvent::Open | ConnEvent::QuietOpen if peer.opened() => {}
            ConnEvent::Open if peer.waits_for_remote_first() => peer.await_remote_first(),
            ConnEvent::Open | ConnEvent::QuietOpen => {
                peer.on_open();
                self.session.handle_channel_open(conn, now);
            }
            ConnEvent::Message(data) => {
                if !peer.opened() {
                    // The offerer's first message (see `PeerConn::accept_channel`); the
                    // session drops data of a connection it does not know to be open.
                    peer.on_open();
                    self.session.handle_channel_open(conn, now);
                }
                let Some(buffer) = data.dyn_ref::<ArrayBuffer>() else {
                    let reason = "peer sent text on the binary channel";
                    return self.session.handle_conn_failed(conn, reason, now);
                };
                let view = Uint8Array::new(buffer);
                super::gc_pacing::received(u64::from(view.length()));
                // One copy from the JS heap into wasm memory, into a reused buffer.
                self.inbox.resize(view.length() as usize, 0);
                view.copy_to(&mut self.inbox);
                self.session.handle_channel_data(conn, &self.inbox, now);
            }
            ConnEvent::Writable => {
                let buffered = peer.buffered();
                self.session.handle_buffered(conn, buffered, now);
            }
            ConnEvent::IncomingChannel(channel) => {
                if let Err(reason) = peer.accept_channel(channel) {
                    self.session.handle_conn_failed(conn, reason, now);
                }
            }
            ConnEvent::Closed(reason) => self.session.handle_conn_failed(conn, reason, now),
        }
    }
}
