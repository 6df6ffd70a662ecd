//! The client's state and its event loop: every browser callback enters through
//! [`Handle::with`], feeds the client's [`Session`] an input, and then the session's outputs
//! run (`driver.rs`) and its events become notifications, delivered later.
//!
//! Ownership: `ClientInner` owns the session, the peer connections and tracker sockets it
//! asked for (each owning its closures) and the one timer. Closures hold only a `Weak`
//! handle, so there are no reference cycles and dropping the client (or `destroy`) frees
//! everything. A closure may be dropped while it runs (a `close` event removing its own
//! connection): wasm-bindgen defers the actual free until the call returns.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::Closure;

use super::js_glue::{Timeout, microtask, now};
use super::notes::Note;
use super::peer_conn::{IceConfig, PeerConn};
use super::swarm::Swarm;
use super::tracker::TrackerSocket;
use crate::engine::Config;
use crate::engine::Torrent as Engine;
use crate::session::tracker_proto::IdBytes as Id;
use crate::session::{ConnId, Output, Session, SessionConfig, TrackerId};
use crate::tip::Chain;
use crate::tip::logs::TipLedger;

pub struct ClientInner {
    pub handle: Handle,
    pub peer_id: Id,
    /// ICE settings for every peer connection, prepared once.
    pub(super) ice: IceConfig,
    pub corrupt_uploads: bool,
    /// "auto", "opfs", "indexeddb" or "memory": where downloaded pieces are kept.
    pub storage_preference: String,
    /// Where tips go (`chain`; BTTC mainnet by default). Chosen by the page, never by a link.
    pub chain: Chain,
    /// Works listed by channels verified in this client (`client.channel`): info hash → the
    /// channel's address, or `None` when two verified channels list the same work. A torrent
    /// without a creator record may be tipped to that address (see `Torrent::tip`).
    pub channel_creators: BTreeMap<[u8; 20], Option<crate::creator::Address>>,
    /// Tips counted per creator (`client.tips`), by address; at most `tips::MAX_LEDGERS`.
    pub tip_ledgers: BTreeMap<[u8; 20], TipLedger>,
    /// Torrents, trackers and connections, without I/O: it decides, this driver runs it.
    pub session: Session,
    /// The browser side of each torrent, by hex info hash.
    pub swarms: BTreeMap<String, Swarm>,
    /// The peer connections the session asked for (`CreateOffer`/`AcceptOffer`).
    pub(super) conns: BTreeMap<ConnId, PeerConn>,
    /// Offers made ahead of need (`offer_pool`), and the timer that refills them.
    pub(super) offer_pool: super::offer_pool::OfferPool,
    pub(super) pool_refill: Option<Timeout>,
    /// `offers_ready()`'s promise and its resolve, while spares are being made (resolved by
    /// `pool_settled`; a spare's gathering is capped, so it always settles).
    pub(super) pool_waiter: Option<(js_sys::Promise, Function)>,
    /// Remote peer ids of connected peers (for `peer` notes).
    pub(super) peer_ids: BTreeMap<ConnId, [u8; 20]>,
    /// The tracker sockets the session asked for, and why each last closed.
    pub(super) sockets: BTreeMap<TrackerId, TrackerSocket>,
    pub(super) close_reasons: BTreeMap<TrackerId, String>,
    /// WebCrypto, when this context has it: the engine's pieces are hashed there (`hashing`).
    pub(super) subtle: Option<web_sys::SubtleCrypto>,
    /// Pieces whose WebCrypto digest is under way, applied together (`driver::hash_piece`).
    pub(super) hash_batch: Vec<(crate::session::TorrentId, u32, u64, js_sys::Promise)>,
    /// Scratch buffer for incoming channel messages (reused).
    pub(super) inbox: Vec<u8>,
    /// The one timer, armed at the session's `poll_timeout`.
    timer: Option<(std::time::Duration, Timeout)>,
    pub(super) notes: Vec<Note>,
    flush_queued: bool,
    listener: Option<Function>,
    flush: Option<Closure<dyn FnMut()>>,
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
    /// Runs `f` on the client if it still exists, then runs the session's outputs and
    /// schedules notification delivery.
    pub fn with<R>(&self, f: impl FnOnce(&mut ClientInner) -> R) -> Option<R> {
        let rc = self.0.upgrade()?;
        let Ok(mut inner) = rc.try_borrow_mut() else {
            // Browser events are never dispatched synchronously from our own calls, so this
            // would be a driver bug; skip the event rather than panic.
            web_sys_console_error("seedcast: re-entrant callback ignored");
            return None;
        };
        let result = f(&mut inner);
        inner.run();
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
    /// Bytes per second the client may upload (`uploadLimit`); `None` = unlimited.
    pub upload_limit: Option<u64>,
    pub chain: Chain,
}

impl ClientInner {
    pub fn create(options: ClientOptions) -> Rc<RefCell<ClientInner>> {
        let now = now();
        let subtle = super::hashing::subtle();
        let config = SessionConfig {
            peer_id: options.peer_id,
            seed: super::js_glue::random_u64(),
            max_peers: options.max_peers,
            upload_limit: options.upload_limit,
            browser_limits: true,
            engine: Config {
                external_hashing: subtle.is_some(),
                ..super::api::engine_template()
            },
        };
        let mut session = Session::new(config, now);
        for url in &options.trackers {
            // The page's own list is checked (at most 10) before it gets here.
            let _ = session.pin_tracker(url, now);
        }
        let client = Rc::new_cyclic(|weak: &Weak<RefCell<ClientInner>>| {
            RefCell::new(ClientInner {
                handle: Handle(weak.clone()),
                peer_id: options.peer_id,
                ice: IceConfig::new(&options.ice_servers),
                corrupt_uploads: options.corrupt_uploads,
                storage_preference: options.storage_preference,
                chain: options.chain,
                tip_ledgers: BTreeMap::new(),
                channel_creators: BTreeMap::new(),
                session,
                swarms: BTreeMap::new(),
                conns: BTreeMap::new(),
                offer_pool: Default::default(),
                pool_refill: None,
                pool_waiter: None,
                peer_ids: BTreeMap::new(),
                sockets: BTreeMap::new(),
                close_reasons: BTreeMap::new(),
                subtle,
                hash_batch: Vec::new(),
                inbox: Vec::new(),
                timer: None,
                notes: Vec::new(),
                flush_queued: false,
                listener: None,
                flush: None,
                destroyed: false,
            })
        });
        // Wallets announce at page load: listen from the start (see wallet.rs).
        super::wallet::listen();
        let handle = client.borrow().handle.clone();
        let flush = Closure::<dyn FnMut()>::new(move || deliver_notes(&handle));
        {
            let mut inner = client.borrow_mut();
            inner.flush = Some(flush);
            // The tracker sockets first (`run` connects them), then the offers for the first
            // announce, made while the page gets to `add()`: five `RTCPeerConnection`s take
            // 15-25 ms on a page still loading (traced), which the sockets' handshakes now
            // overlap instead of following.
            inner.run();
            inner.fill_offer_pool();
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

    fn schedule_flush(&mut self) {
        if self.flush_queued || self.notes.is_empty() {
            return;
        }
        if let Some(flush) = &self.flush {
            microtask(wasm_bindgen::JsCast::unchecked_ref(flush.as_ref()));
            self.flush_queued = true;
        }
    }

    /// The engine and the browser side of torrent `hex`, together.
    pub fn parts(&mut self, hex: &str) -> Option<(&mut Engine, &mut Swarm)> {
        let swarm = self.swarms.get_mut(hex)?;
        let engine = self.session.torrent_mut(&swarm.info_hash)?;
        Some((engine, swarm))
    }

    /// The engine of torrent `hex`.
    pub fn engine(&self, hex: &str) -> Option<&Engine> {
        self.session.torrent(&self.swarms.get(hex)?.info_hash)
    }

    /// Adds a torrent: its engine goes to the session, which announces it on its trackers
    /// (those the torrent names and the page's own); `held` until its storage is open (see
    /// `resume.rs`).
    pub fn insert_swarm(&mut self, swarm: Swarm, engine: Engine, held: bool) -> Result<(), String> {
        let now = now();
        swarm.storage.set_waker(self.storage_waker(&swarm.hex));
        let added = if held {
            self.session.add_held_torrent(engine, &swarm.trackers, now)
        } else {
            self.session.add_torrent(engine, &swarm.trackers, now)
        };
        added.map_err(|e| e.to_string())?;
        self.swarms.insert(swarm.hex.clone(), swarm);
        // Called from the API, not a browser callback: run what the session wants now.
        self.run();
        Ok(())
    }

    /// Removes a torrent: the session says `stopped` to its trackers and closes its
    /// connections; its stored files are released.
    pub fn remove_swarm(&mut self, hex: &str) {
        let Some(swarm) = self.swarms.remove(hex) else {
            return;
        };
        self.session.remove_torrent(&swarm.info_hash, now());
        self.release(swarm);
        self.run();
    }

    /// Frees a removed torrent's browser side.
    pub(super) fn release(&mut self, swarm: Swarm) {
        if swarm.storage.is_persistent() {
            // The pieces stay stored (a later visit resumes); the files are released so
            // another tab can open them.
            let hex = swarm.hex.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = super::store::close(&hex).await;
            });
        }
        self.notes
            .retain(|n| n.torrent.as_deref() != Some(&swarm.hex));
    }

    /// Frees everything: torrents, sockets, connections, the timer. Pending notifications
    /// are dropped.
    pub fn destroy(&mut self) {
        let hexes: Vec<String> = self.swarms.keys().cloned().collect();
        for hex in hexes {
            self.remove_swarm(&hex);
        }
        // The `stopped` announces go out before the sockets close.
        self.run();
        self.destroyed = true;
        self.sockets.clear();
        self.conns.clear();
        self.offer_pool.clear();
        self.pool_refill = None;
        self.pool_settled();
        self.timer = None;
        self.listener = None;
        self.notes.clear();
    }

    /// After every input: tells the session what the browser side knows (storage
    /// backpressure, waiting streams), runs its outputs, and arms the timer at its next
    /// deadline.
    pub(super) fn run(&mut self) {
        if self.destroyed {
            return;
        }
        let now = now();
        for swarm in self.swarms.values() {
            let waiting = swarm.streams.waiting();
            self.session.set_stream_waiting(&swarm.info_hash, waiting);
            if let Some(engine) = self.session.torrent_mut(&swarm.info_hash) {
                // Storage backpressure: no new requests while verified pieces wait to be
                // written.
                let held = swarm.storage.should_hold_downloads(engine.downloads_held());
                engine.hold_downloads(held, now);
            }
        }
        let handle = self.handle.clone();
        for swarm in self.swarms.values_mut() {
            if let Some(engine) = self.session.torrent_mut(&swarm.info_hash) {
                let notes = super::webseed::drive(engine, swarm, &handle, now);
                self.notes.extend(notes);
            }
        }
        // After sending, the session hears the channels' real buffered amounts: it counts
        // what it sent, and `bufferedamountlow` fires only after the amount was above
        // `LOW_WATER`, so small sends (an upload limit) would otherwise add up to a full
        // channel that never drains in its eyes. Terminates: each round only sends while
        // the real amount is below the high-water mark.
        loop {
            let mut sent = std::collections::BTreeSet::new();
            while let Some(output) = self.session.poll_output() {
                if let Output::Send { conn, .. } = &output {
                    sent.insert(*conn);
                }
                self.run_output(output);
            }
            if sent.is_empty() {
                break;
            }
            for conn in sent {
                if let Some(buffered) = self.conns.get(&conn).map(PeerConn::buffered) {
                    self.session.handle_buffered(conn, buffered, now);
                }
            }
        }
        self.arm_timer();
        self.schedule_flush();
    }

    /// A web seed request of torrent `hex` finished (see `webseed.rs`).
    pub fn on_webseed(
        &mut self,
        hex: &str,
        id: u64,
        result: Result<crate::session::webseed::WebSeedResponse, String>,
    ) {
        let now = now();
        if let Some((engine, swarm)) = self.parts(hex) {
            super::webseed::on_result(engine, swarm, id, result, now);
        }
        // The engine's new pieces go out as events and `have`s.
        self.session.handle_timeout(now);
    }

    fn arm_timer(&mut self) {
        let webseeds = self
            .swarms
            .values()
            .filter_map(|s| s.webseeds.poll_timeout());
        let Some(at) = self
            .session
            .poll_timeout()
            .into_iter()
            .chain(webseeds)
            .min()
        else {
            self.timer = None;
            return;
        };
        if self.timer.as_ref().is_some_and(|(armed, _)| *armed == at) {
            return;
        }
        let handle = self.handle.clone();
        let delay = at.saturating_sub(now());
        let timeout = Timeout::new(delay, move || {
            handle.with(|c| {
                c.timer = None;
                c.session.handle_timeout(now());
            });
        });
        self.timer = Some((at, timeout));
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
