//! The client's state and its event loop: every browser callback enters through
//! [`Handle::with`], updates the state, and leaves notifications to be delivered later.
//!
//! Ownership: `ClientInner` owns the swarms, which own their connections, which own their
//! closures; the tracker sockets and timers likewise. Closures hold only a `Weak` handle, so
//! there are no reference cycles and dropping the client (or `destroy`) frees everything.
//! A closure may be dropped while it runs (a `close` event removing its own connection):
//! wasm-bindgen defers the actual free until the call returns.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use js_sys::Function;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::Closure;

use super::js_glue::{Interval, microtask, now};
use super::notes::{Note, message_detail};
use super::peer_conn::ConnEvent;
use super::swarm::{AnnounceSlot, Swarm};
use super::tracker::{SocketEvent, TrackerSocket, backoff};
use crate::engine::PeerKey;
use crate::session::tracker_proto::IdBytes as Id;
use crate::session::{TrackerId, TrackerSet};
use crate::tip::Chain;
use crate::tip::logs::TipLedger;

/// How often timers run: engine ticks, offer expiry, announces, tracker reconnects.
const TICK: Duration = Duration::from_millis(250);
/// Announce interval until the tracker tells us one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(120);
/// Bounds on the interval a tracker may ask for.
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Most tracker sockets per client: the client's own plus those torrents bring in.
pub const MAX_CLIENT_TRACKERS: usize = 16;
/// While a download has no peer, announce again this soon (new offers find new peers).
pub const LONELY_REANNOUNCE: Duration = Duration::from_secs(15);

/// The driver's side of one tracker (see [`TrackerSet`] for who uses it). Dropping it
/// closes the socket, and with the entry gone nothing reconnects.
#[derive(Default)]
pub struct TrackerState {
    pub socket: Option<TrackerSocket>,
    pub failures: u32,
    pub retry_at: Duration,
}

pub struct ClientInner {
    pub handle: Handle,
    pub peer_id: Id,
    pub ice_servers: JsValue,
    pub max_peers: usize,
    pub corrupt_uploads: bool,
    /// "auto", "opfs", "indexeddb" or "memory": where downloaded pieces are kept.
    pub storage_preference: String,
    /// Bytes per second each torrent may upload (`uploadLimit`); `None` = unlimited.
    pub upload_limit: Option<u64>,
    /// Where tips go (`chain`; BTTC mainnet by default). Chosen by the page, never by a link.
    pub chain: Chain,
    /// Works listed by channels verified in this client (`client.channel`): info hash → the
    /// channel's address, or `None` when two verified channels list the same work. A torrent
    /// without a creator record may be tipped to that address (see `Torrent::tip`).
    pub channel_creators: BTreeMap<[u8; 20], Option<crate::creator::Address>>,
    /// Tips counted per creator (`client.tips`), by address; at most `tips::MAX_LEDGERS`.
    pub tip_ledgers: BTreeMap<[u8; 20], TipLedger>,
    /// The client's own trackers (pinned: open for its lifetime) and those that torrents
    /// brought in (closed when the last torrent using them goes).
    pub trackers: TrackerSet<TrackerState>,
    /// Relayed offers and answers ignored (wrong tracker, refused peer, …): for debugging.
    pub ignored_signals: u64,
    /// By hex info hash.
    pub swarms: BTreeMap<String, Swarm>,
    next_key: PeerKey,
    pub(super) notes: Vec<Note>,
    flush_queued: bool,
    listener: Option<Function>,
    flush: Option<Closure<dyn FnMut()>>,
    ticker: Option<Interval>,
    /// Set by `destroy`: nothing may be added afterwards.
    pub destroyed: bool,
}

impl std::fmt::Debug for ClientInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInner")
            .field("swarms", &self.swarms.len())
            .finish_non_exhaustive()
    }
}

/// A weak reference to the client, captured by every callback.
#[derive(Clone, Debug)]
pub struct Handle(pub Weak<RefCell<ClientInner>>);

impl Handle {
    /// Runs `f` on the client if it still exists, then schedules notification delivery.
    pub fn with<R>(&self, f: impl FnOnce(&mut ClientInner) -> R) -> Option<R> {
        let rc = self.0.upgrade()?;
        let Ok(mut inner) = rc.try_borrow_mut() else {
            // Browser events are never dispatched synchronously from our own calls, so this
            // would be a driver bug; skip the event rather than panic.
            web_sys_console_error("seedcast: re-entrant callback ignored");
            return None;
        };
        let result = f(&mut inner);
        inner.stop_unusable();
        inner.schedule_flush();
        Some(result)
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
    #[wasm_bindgen(js_namespace = console, js_name = debug)]
    fn console_debug(message: &str);
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &JsValue, ms: i32);
}

fn web_sys_console_error(message: &str) {
    console_error(message);
}

pub fn debug_log(message: &str) {
    console_debug(message);
}

pub struct ClientOptions {
    pub trackers: Vec<String>,
    pub ice_servers: JsValue,
    pub max_peers: usize,
    pub corrupt_uploads: bool,
    pub storage_preference: String,
    pub peer_id: Id,
    /// Bytes per second each torrent may upload (`uploadLimit`); `None` = unlimited.
    pub upload_limit: Option<u64>,
    pub chain: Chain,
}

impl ClientInner {
    pub fn create(options: ClientOptions) -> Rc<RefCell<ClientInner>> {
        let client = Rc::new_cyclic(|weak: &Weak<RefCell<ClientInner>>| {
            let mut trackers = TrackerSet::new(MAX_CLIENT_TRACKERS);
            for url in &options.trackers {
                // The page's own list is checked (at most 10) before it gets here.
                let _ = trackers.pin(url);
            }
            RefCell::new(ClientInner {
                handle: Handle(weak.clone()),
                peer_id: options.peer_id,
                ice_servers: options.ice_servers,
                max_peers: options.max_peers,
                corrupt_uploads: options.corrupt_uploads,
                storage_preference: options.storage_preference,
                upload_limit: options.upload_limit,
                chain: options.chain,
                tip_ledgers: BTreeMap::new(),
                channel_creators: BTreeMap::new(),
                trackers,
                ignored_signals: 0,
                swarms: BTreeMap::new(),
                next_key: 1,
                notes: Vec::new(),
                flush_queued: false,
                listener: None,
                flush: None,
                ticker: None,
                destroyed: false,
            })
        });
        // Wallets announce at page load: listen from the start (see wallet.rs).
        super::wallet::listen();
        let handle = client.borrow().handle.clone();
        let flush_handle = handle.clone();
        let flush = Closure::<dyn FnMut()>::new(move || deliver_notes(&flush_handle));
        let ticker = Interval::new(TICK, move || {
            handle.with(|c| c.tick());
        });
        {
            let mut inner = client.borrow_mut();
            inner.flush = Some(flush);
            inner.ticker = Some(ticker);
            inner.tick();
        }
        client
    }

    pub fn set_listener(&mut self, listener: Option<Function>) {
        self.listener = listener;
    }

    pub fn notify(&mut self, note: Note) {
        self.notes.push(note);
        self.schedule_flush();
    }

    pub fn notes_mut(&mut self) -> &mut Vec<Note> {
        &mut self.notes
    }

    fn schedule_flush(&mut self) {
        if self.flush_queued || self.notes.is_empty() {
            return;
        }
        if let Some(flush) = &self.flush {
            microtask(wasm_bindgen::JsCast::unchecked_ref(flush.as_ref()));
            self.flush_queued = true;
        }
    }

    pub fn next_peer_key(&mut self) -> PeerKey {
        self.next_key += 1;
        self.next_key
    }

    /// Adds a swarm and schedules its first announce on each of its trackers. Trackers the
    /// torrent names (a magnet's `tr=`, a .torrent's announce list) that the client does not
    /// know yet are added, if they are WebSocket trackers and within [`MAX_CLIENT_TRACKERS`];
    /// each tracker then counts this torrent among its users until it is removed.
    pub fn insert_swarm(&mut self, mut swarm: Swarm) {
        let now = now();
        swarm.handle = Some(self.handle.clone());
        swarm.storage.set_waker(self.storage_waker(&swarm.hex));
        swarm.upload_limit = self.upload_limit.map(super::upload_limit::TokenBucket::new);
        for url in &swarm.trackers {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                continue;
            }
            match self.trackers.acquire(url, swarm.info_hash) {
                Ok(id) => {
                    swarm.announces.insert(id, AnnounceSlot::new(now));
                }
                Err(full) => self.notify(Note::warning(
                    &swarm.hex,
                    format!("tracker {url} is not used: {full}"),
                )),
            }
        }
        self.swarms.insert(swarm.hex.clone(), swarm);
        self.connect_due(now);
        self.announce_due(now);
    }

    /// Removes a swarm: tells its trackers we stopped, closes every connection, and closes
    /// the trackers no other torrent uses.
    pub fn remove_swarm(&mut self, hex: &str) {
        let Some(mut swarm) = self.swarms.remove(hex) else {
            return;
        };
        for &tracker in swarm.announces.keys() {
            self.send_stopped(&swarm, tracker);
        }
        // Dropping a tracker's state closes its socket (after the `stopped` just queued).
        drop(self.trackers.release(&swarm.info_hash));
        swarm.close_all(now());
        if swarm.storage.is_persistent() {
            // The pieces stay stored (a later visit resumes); the files are released so
            // another tab can open them.
            let hex = hex.to_owned();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = super::store::close(&hex).await;
            });
        }
        self.notes.retain(|n| n.torrent.as_deref() != Some(hex));
    }

    /// Stops torrents whose metadata (from peers, or stored by an older version) has pieces
    /// too large for this page to hold: the page gets an `error` event. Runs after every
    /// callback, so such a torrent never outlives the callback that taught us its metadata
    /// (and its swarm sends no requests meanwhile, see `Swarm::unusable`).
    fn stop_unusable(&mut self) {
        let unusable: Vec<(String, String)> = self
            .swarms
            .values()
            .filter_map(|s| Some((s.hex.clone(), s.unusable()?.to_string())))
            .collect();
        for (hex, reason) in unusable {
            self.remove_swarm(&hex);
            let message = format!("torrent stopped: {reason}");
            self.notes
                .push(Note::new(&hex, "error", message_detail(&message)));
        }
    }

    /// Frees everything: swarms, sockets, timers. Pending notifications are dropped.
    pub fn destroy(&mut self) {
        let hexes: Vec<String> = self.swarms.keys().cloned().collect();
        for hex in hexes {
            self.remove_swarm(&hex);
        }
        self.destroyed = true;
        drop(self.trackers.drain());
        self.ticker = None;
        self.listener = None;
        self.notes.clear();
    }

    // ---- timers -------------------------------------------------------------------------

    fn tick(&mut self) {
        let now = now();
        self.connect_due(now);
        let mut notes = std::mem::take(&mut self.notes);
        for swarm in self.swarms.values_mut() {
            swarm.tick(now, &mut notes);
            // A download with nobody to talk to goes looking again soon.
            if !swarm.engine.is_complete() && swarm.open_peers() == 0 {
                for slot in swarm.announces.values_mut() {
                    slot.next_at = slot.next_at.min(now + LONELY_REANNOUNCE);
                }
            }
        }
        self.notes = notes;
        self.announce_due(now);
    }

    // ---- trackers -----------------------------------------------------------------------

    /// (Re)connects the trackers without a socket whose retry time has come.
    fn connect_due(&mut self, now: Duration) {
        for id in self.trackers.ids() {
            let due = self
                .trackers
                .get(id)
                .is_some_and(|t| t.socket.is_none() && now >= t.retry_at);
            if due {
                self.connect_tracker(id, now);
            }
        }
    }

    fn connect_tracker(&mut self, id: TrackerId, now: Duration) {
        let handle = self.handle.clone();
        let sink = Rc::new(move |event: SocketEvent| {
            handle.with(|c| c.on_socket_event(id, event));
        });
        let url = self.trackers.url(id).unwrap_or_default().to_owned();
        let Some(tracker) = self.trackers.get_mut(id) else {
            return;
        };
        match TrackerSocket::connect(&url, sink) {
            Ok(socket) => tracker.socket = Some(socket),
            Err(message) => {
                tracker.failures += 1;
                tracker.retry_at = now + Duration::from_secs(3600);
                self.notes
                    .push(tracker_note(&url, false, Some(&message), None));
            }
        }
    }

    /// News from tracker `id`'s socket; ignored if that tracker was closed meanwhile.
    fn on_socket_event(&mut self, id: TrackerId, event: SocketEvent) {
        let now = now();
        let url = self.trackers.url(id).unwrap_or_default().to_owned();
        let Some(tracker) = self.trackers.get_mut(id) else {
            return;
        };
        match event {
            SocketEvent::Open => {
                tracker.failures = 0;
                self.notes.push(tracker_note(&url, true, None, None));
                for swarm in self.swarms.values_mut() {
                    if let Some(slot) = swarm.announces.get_mut(&id) {
                        slot.started = false;
                        slot.next_at = now;
                    }
                }
                self.announce_due(now);
            }
            SocketEvent::Text(text) => self.on_tracker_message(id, &text, now),
            SocketEvent::Closed(reason) => {
                // Dropping the socket frees its listeners (this one included, after it returns).
                tracker.socket = None;
                tracker.failures += 1;
                let delay = backoff(tracker.failures);
                tracker.retry_at = now + delay;
                let note = tracker_note(&url, false, Some(&reason), Some(delay));
                self.notes.push(note);
            }
        }
    }

    pub fn tracker_open(&self, id: TrackerId) -> Option<&TrackerSocket> {
        self.trackers
            .get(id)?
            .socket
            .as_ref()
            .filter(|s| s.is_open())
    }

    /// The cork timer of swarm `hex` fired.
    pub fn uncork(&mut self, hex: &str) {
        let now = now();
        let mut notes = std::mem::take(&mut self.notes);
        if let Some(swarm) = self.swarms.get_mut(hex) {
            swarm.uncork(now, &mut notes);
        }
        self.notes = notes;
    }

    /// A web seed request of swarm `hex` finished (see `webseed.rs`).
    pub fn on_webseed(
        &mut self,
        hex: &str,
        id: u64,
        result: Result<crate::session::webseed::WebSeedResponse, String>,
    ) {
        let mut notes = std::mem::take(&mut self.notes);
        if let Some(swarm) = self.swarms.get_mut(hex) {
            super::webseed::on_result(swarm, id, result, &mut notes);
        }
        self.notes = notes;
        self.announce_completions();
    }

    /// Routes an event of connection `key` of swarm `hex`.
    pub fn on_conn_event(&mut self, hex: &str, key: PeerKey, event: ConnEvent) {
        let now = now();
        let mut notes = std::mem::take(&mut self.notes);
        if let Some(swarm) = self.swarms.get_mut(hex) {
            swarm.on_conn_event(key, event, now, &mut notes);
        }
        self.notes = notes;
        self.announce_completions();
    }
}

/// Delivers queued notifications to the JS listener, outside any borrow.
fn deliver_notes(handle: &Handle) {
    let Some(rc) = handle.0.upgrade() else { return };
    let (notes, listener) = {
        let Ok(mut inner) = rc.try_borrow_mut() else {
            // Busy (a driver bug: microtasks run only with the JS stack empty). Without a
            // retry the notes would stay queued and `flush_queued` stay set, so no later
            // `schedule_flush` would ever deliver again. A task, not a microtask: a retry
            // from a microtask could spin before the borrow ends.
            let handle = handle.clone();
            let retry = Closure::once_into_js(move || deliver_notes(&handle));
            set_timeout(&retry, 0);
            return;
        };
        inner.flush_queued = false;
        (std::mem::take(&mut inner.notes), inner.listener.clone())
    };
    let Some(listener) = listener else { return };
    for note in notes {
        let torrent = note.torrent.map_or(JsValue::NULL, JsValue::from);
        if let Err(e) = listener.call3(
            &JsValue::NULL,
            &torrent,
            &JsValue::from_str(note.kind),
            &note.detail,
        ) {
            // A throwing listener must not stop the others.
            web_sys_console_error(&format!(
                "seedcast: event listener threw: {}",
                super::js_glue::error_text(&e)
            ));
        }
    }
}

fn tracker_note(
    url: &str,
    connected: bool,
    message: Option<&str>,
    retry: Option<Duration>,
) -> Note {
    let detail = js_sys::Object::new();
    super::js_glue::set(&detail, "url", url);
    super::js_glue::set(&detail, "connected", connected);
    if let Some(message) = message {
        super::js_glue::set(&detail, "message", message);
    }
    if let Some(retry) = retry {
        super::js_glue::set(&detail, "retryInSeconds", retry.as_secs_f64().round());
    }
    Note::client("tracker", detail.into())
}
