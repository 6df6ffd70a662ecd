//! One WebRTC connection to a peer: an `RTCPeerConnection` and its single in-band, ordered,
//! reliable data channel that carries the BitTorrent byte stream.
//!
//! The connection owns every closure the browser calls for it (via [`Listener`]); dropping a
//! `PeerConn` unregisters them, closes the channel and the peer connection, and wakes anyone
//! waiting for ICE gathering. [`live_connections`] counts undropped values so tests can check
//! that hundreds of connects and disconnects leave nothing behind.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    RtcConfiguration, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelInit, RtcDataChannelState,
    RtcDataChannelType, RtcIceGatheringState, RtcPeerConnection, RtcPeerConnectionState,
    RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState,
};

use super::js_glue::{Listener, Timeout, error_text, get, pending_promise};
use crate::session::gathering::{CandidateType, Gathering, SETTLE};

/// Complete-SDP signaling waits for ICE gathering, but never longer than this (an unreachable
/// STUN server would otherwise stall the offer).
const GATHERING_CAP: Duration = Duration::from_secs(5);
/// `bufferedamountlow` fires when the send buffer drains below this (the session's).
pub const LOW_WATER: u32 = crate::session::core::LOW_WATER as u32;
/// Largest channel message we send when the remote does not say (the safe interop size).
const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;
/// Largest channel message we send at all: bigger ones gain nothing and stall the SCTP queue.
const MAX_MESSAGE: usize = 256 * 1024;
/// How long an answerer's open channel waits for the offerer's first message before it
/// sends anyway (see [`PeerConn::accept_channel`]).
const REMOTE_FIRST_GRACE: Duration = Duration::from_millis(300);

thread_local! {
    static LIVE: Cell<u32> = const { Cell::new(0) };
}

/// Peer connections created and not yet dropped, in this page.
pub fn live_connections() -> u32 {
    LIVE.with(Cell::get)
}

/// What a connection reports to its owner.
pub enum ConnEvent {
    /// The data channel opened: the BitTorrent stream can start.
    Open,
    /// One channel message (an `ArrayBuffer`, or a string from a misbehaving peer).
    Message(JsValue),
    /// The remote opened its data channel (answerer side): pass it to `accept_channel`.
    IncomingChannel(RtcDataChannel),
    /// An answerer's channel heard nothing from the offerer in [`REMOTE_FIRST_GRACE`]: it
    /// counts as open now.
    QuietOpen,
    /// The send buffer drained below [`LOW_WATER`]: transmit more.
    Writable,
    /// The channel or the connection closed or failed.
    Closed(&'static str),
}

pub type EventSink = Rc<dyn Fn(ConnEvent)>;

/// A client's ICE settings, prepared once for all its connections: the configuration every
/// `RTCPeerConnection` gets, and what an SDP must hold before it is sent (`session::gathering`).
pub struct IceConfig {
    rtc: RtcConfiguration,
    gathering: Gathering,
}

impl IceConfig {
    /// From the page's `iceServers` (an `RTCIceServer[]`, checked by the API).
    pub fn new(ice_servers: &JsValue) -> IceConfig {
        let rtc = RtcConfiguration::new();
        rtc.set_ice_servers(ice_servers);
        let urls = server_urls(ice_servers);
        IceConfig {
            rtc,
            gathering: Gathering::new(urls.iter().map(String::as_str)),
        }
    }
}

pub struct PeerConn {
    pc: RtcPeerConnection,
    channel: Option<RtcDataChannel>,
    sink: EventSink,
    pc_listeners: Vec<Listener>,
    channel_listeners: Vec<Listener>,
    /// Resolves when ICE gathering is complete (or capped, or the connection is dropped).
    gathered: Promise,
    gathered_resolve: Function,
    _gathering_cap: Timeout,
    max_message: usize,
    /// Counted by [`live_connections`] (a spare offer is not, until taken: `offer_pool`).
    counted: bool,
    offerer: bool,
    /// [`PeerConn::on_open`] ran: the owner has been told the channel is open.
    opened: bool,
    /// Answerer side: the [`ConnEvent::QuietOpen`] timer, once the channel is open.
    quiet_open: Option<Timeout>,
}

impl std::fmt::Debug for PeerConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConn")
            .field("channel", &self.channel.is_some())
            .finish_non_exhaustive()
    }
}

impl PeerConn {
    /// A new connection. The offerer creates the data channel now; the answerer gets it from
    /// the remote (`datachannel` event).
    pub fn new(ice: &IceConfig, offerer: bool, sink: EventSink) -> Result<PeerConn, String> {
        let mut conn = Self::uncounted(ice, offerer, sink)?;
        conn.count_as_live();
        Ok(conn)
    }

    /// An offerer's connection made ahead of need (`offer_pool`): not counted by
    /// [`live_connections`] until [`PeerConn::count_as_live`].
    pub fn new_spare(ice: &IceConfig, sink: EventSink) -> Result<PeerConn, String> {
        Self::uncounted(ice, true, sink)
    }

    pub fn count_as_live(&mut self) {
        if !self.counted {
            self.counted = true;
            LIVE.with(|n| n.set(n.get() + 1));
        }
    }

    fn uncounted(ice: &IceConfig, offerer: bool, sink: EventSink) -> Result<PeerConn, String> {
        let pc = RtcPeerConnection::new_with_configuration(&ice.rtc)
            .map_err(|e| format!("cannot create a WebRTC connection: {}", error_text(&e)))?;
        let (gathered, gathered_resolve) = pending_promise();
        let cap = {
            let resolve = gathered_resolve.clone();
            Timeout::new(GATHERING_CAP, move || {
                let _ = resolve.call0(&JsValue::NULL);
            })
        };
        let mut conn = PeerConn {
            pc,
            channel: None,
            sink,
            pc_listeners: Vec::new(),
            channel_listeners: Vec::new(),
            gathered,
            gathered_resolve,
            _gathering_cap: cap,
            max_message: DEFAULT_MAX_MESSAGE,
            counted: false,
            offerer,
            opened: false,
            quiet_open: None,
        };
        conn.listen_to_connection(offerer);
        conn.listen_to_candidates(ice.gathering.clone());
        if offerer {
            let init = RtcDataChannelInit::new();
            init.set_ordered(true);
            let channel = conn
                .pc
                .create_data_channel_with_data_channel_dict("bittorrent", &init);
            conn.attach_channel(channel);
        }
        Ok(conn)
    }

    /// Resolves `gathered` early once the candidates the configuration needs are in (see
    /// `session::gathering`): Chromium reports `complete` only after its TCP candidates.
    /// The settle timer lives in the listener: dropping the connection drops both.
    fn listen_to_candidates(&mut self, mut gathering: Gathering) {
        let resolve = self.gathered_resolve.clone();
        let mut settle: Option<Timeout> = None;
        self.pc_listeners
            .push(Listener::new(&self.pc, "icecandidate", move |event| {
                let candidate = get(&event, "candidate");
                if candidate.is_null() || candidate.is_undefined() {
                    return; // the end of gathering: `icegatheringstatechange` resolves
                }
                let text = |key| get(&candidate, key).as_string().unwrap_or_default();
                let kind = CandidateType::parse(&text("type"));
                if gathering.on_candidate(kind, &text("protocol")) && settle.is_none() {
                    let resolve = resolve.clone();
                    settle = Some(Timeout::new(SETTLE, move || {
                        let _ = resolve.call0(&JsValue::NULL);
                    }));
                }
            }));
    }

    fn listen_to_connection(&mut self, offerer: bool) {
        let pc = self.pc.clone();
        let resolve = self.gathered_resolve.clone();
        self.pc_listeners.push(Listener::new(
            &self.pc,
            "icegatheringstatechange",
            move |_| {
                if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            },
        ));
        let pc = self.pc.clone();
        let sink = self.sink.clone();
        self.pc_listeners.push(Listener::new(
            &self.pc,
            "connectionstatechange",
            move |_| match pc.connection_state() {
                RtcPeerConnectionState::Failed => sink(ConnEvent::Closed("connection failed")),
                RtcPeerConnectionState::Closed => sink(ConnEvent::Closed("connection closed")),
                _ => {}
            },
        ));
        if !offerer {
            let sink = self.sink.clone();
            // This closure cannot borrow the connection: the owner hands the channel back to
            // `accept_channel`.
            self.pc_listeners
                .push(Listener::new(&self.pc, "datachannel", move |event| {
                    if let Ok(event) = event.dyn_into::<RtcDataChannelEvent>() {
                        sink(ConnEvent::IncomingChannel(event.channel()));
                    }
                }));
        }
    }

    /// Takes the remote's channel (answerer side). A second channel, or one that is not
    /// ordered and reliable, is refused: the byte stream needs exactly one reliable channel.
    ///
    /// The answerer speaks second (BEP 3 lets the recipient wait for the initiator's
    /// handshake): its channel counts as open at the offerer's first message, or after
    /// [`REMOTE_FIRST_GRACE`] of silence. Chromium lost the answerer's first message, sent
    /// at once on `open` (or inside `datachannel`), in 6 of ~400 loopback connects: the
    /// offerer then read our second message as the handshake, dropped us, and the viewer
    /// waited for the next announce (traced 2026-12-04, both ends' messages logged). A reply
    /// to the offerer's first message was never lost.
    pub fn accept_channel(&mut self, channel: RtcDataChannel) -> Result<(), &'static str> {
        if self.channel.is_some() {
            channel.close();
            return Err("peer opened a second data channel");
        }
        let ordered = Reflect::get(&channel, &JsValue::from_str("ordered"))
            .ok()
            .and_then(|v| v.as_bool());
        if ordered != Some(true)
            || channel.max_retransmits().is_some()
            || channel.max_packet_life_time().is_some()
        {
            channel.close();
            return Err("peer's data channel is not ordered and reliable");
        }
        let already_open = channel.ready_state() == RtcDataChannelState::Open;
        self.attach_channel(channel);
        if already_open {
            self.await_remote_first();
        }
        Ok(())
    }

    /// Whether an `open` event only starts the wait for the remote's first message.
    pub fn waits_for_remote_first(&self) -> bool {
        !self.offerer && !self.opened
    }

    /// Answerer side, channel open: arms [`ConnEvent::QuietOpen`] (once).
    pub fn await_remote_first(&mut self) {
        if self.quiet_open.is_none() {
            let sink = self.sink.clone();
            self.quiet_open = Some(Timeout::new(REMOTE_FIRST_GRACE, move || {
                sink(ConnEvent::QuietOpen)
            }));
        }
    }

    /// Whether [`PeerConn::on_open`] ran.
    pub fn opened(&self) -> bool {
        self.opened
    }

    fn attach_channel(&mut self, channel: RtcDataChannel) {
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        channel.set_buffered_amount_low_threshold(LOW_WATER);
        let target: &web_sys::EventTarget = channel.as_ref();
        let sink = self.sink.clone();
        self.channel_listeners
            .push(Listener::new(target, "open", move |_| {
                sink(ConnEvent::Open)
            }));
        let sink = self.sink.clone();
        self.channel_listeners
            .push(Listener::new(target, "message", move |event| {
                if let Ok(event) = event.dyn_into::<web_sys::MessageEvent>() {
                    sink(ConnEvent::Message(event.data()));
                }
            }));
        let sink = self.sink.clone();
        self.channel_listeners
            .push(Listener::new(target, "bufferedamountlow", move |_| {
                sink(ConnEvent::Writable)
            }));
        let sink = self.sink.clone();
        self.channel_listeners
            .push(Listener::new(target, "close", move |_| {
                sink(ConnEvent::Closed("channel closed"))
            }));
        let sink = self.sink.clone();
        self.channel_listeners
            .push(Listener::new(target, "error", move |_| {
                sink(ConnEvent::Closed("channel error"))
            }));
        self.channel = Some(channel);
    }

    /// Call when the channel counts as open: learns the remote's largest message size.
    pub fn on_open(&mut self) {
        self.opened = true;
        self.quiet_open = None;
        let sctp = Reflect::get(&self.pc, &JsValue::from_str("sctp")).unwrap_or(JsValue::NULL);
        let remote_max = Reflect::get(&sctp, &JsValue::from_str("maxMessageSize"))
            .ok()
            .and_then(|v| v.as_f64());
        self.max_message = match remote_max {
            // 0 means "no limit" in the spec.
            Some(n) if n == 0.0 || n >= MAX_MESSAGE as f64 => MAX_MESSAGE,
            Some(n) if n >= 16_384.0 => n as usize,
            _ => DEFAULT_MAX_MESSAGE,
        };
    }

    /// Bytes queued in the browser and not yet sent.
    pub fn buffered(&self) -> usize {
        self.channel
            .as_ref()
            .map_or(0, |c| c.buffered_amount() as usize)
    }

    /// Sends bytes of the stream, split into messages the remote accepts.
    pub fn send(&self, bytes: &[u8]) -> Result<(), String> {
        let channel = self.channel.as_ref().ok_or("no data channel")?;
        for chunk in bytes.chunks(self.max_message) {
            // A view straight into wasm memory: `send` copies it (no intermediate JS buffer).
            channel
                .send_with_u8_array(chunk)
                .map_err(|e| format!("send failed: {}", error_text(&e)))?;
        }
        Ok(())
    }

    /// Creates our offer and waits for ICE gathering: the SDP to put in an announce.
    pub async fn create_offer(pc: RtcPeerConnection, gathered: Promise) -> Result<String, String> {
        set_implicit_local_description(&pc).await?;
        let _ = JsFuture::from(gathered).await;
        local_sdp(&pc)
    }

    /// Takes the remote's offer and produces our complete answer SDP.
    pub async fn create_answer(
        pc: RtcPeerConnection,
        gathered: Promise,
        offer_sdp: String,
    ) -> Result<String, String> {
        let offer = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        offer.set_sdp(&offer_sdp);
        JsFuture::from(pc.set_remote_description(&offer))
            .await
            .map_err(|e| error_text(&e))?;
        set_implicit_local_description(&pc).await?;
        let _ = JsFuture::from(gathered).await;
        local_sdp(&pc)
    }

    /// Applies the remote's answer to our offer.
    pub async fn accept_answer(pc: RtcPeerConnection, answer_sdp: String) -> Result<(), String> {
        let answer = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        answer.set_sdp(&answer_sdp);
        JsFuture::from(pc.set_remote_description(&answer))
            .await
            .map(drop)
            .map_err(|e| error_text(&e))
    }

    /// Handles for the async signaling steps (cheap JS reference clones).
    pub fn signaling_handles(&self) -> (RtcPeerConnection, Promise) {
        (self.pc.clone(), self.gathered.clone())
    }
}

/// The `urls` of an `RTCIceServer[]` (each a string or an array of strings).
fn server_urls(ice_servers: &JsValue) -> Vec<String> {
    let mut urls = Vec::new();
    if let Some(servers) = ice_servers.dyn_ref::<js_sys::Array>() {
        for server in servers.iter() {
            let value = get(&server, "urls");
            match value.dyn_ref::<js_sys::Array>() {
                Some(list) => urls.extend(list.iter().filter_map(|u| u.as_string())),
                None => urls.extend(value.as_string()),
            }
        }
    }
    urls
}

/// `setLocalDescription()` with no argument: the browser creates the offer or answer the
/// signaling state calls for and applies it in one step. `createOffer` then
/// `setLocalDescription(offer)` costs a hop through the page's main thread between the two,
/// and ICE gathering starts only at the second (it crosses the main thread again, for a
/// permission check): traced on a cold page, the offers' results waited 12 ms for a main
/// thread busy with the page's own work. Browsers without it (before Chromium 80, Firefox
/// 75, Safari 14.1) reject the call: then the two steps.
async fn set_implicit_local_description(pc: &RtcPeerConnection) -> Result<(), String> {
    let implicit = Reflect::get(pc, &JsValue::from_str("setLocalDescription"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call0(pc).ok())
        .and_then(|p| p.dyn_into::<Promise>().ok());
    if let Some(promise) = implicit
        && JsFuture::from(promise).await.is_ok()
    {
        return Ok(());
    }
    let description = if pc.signaling_state() == RtcSignalingState::HaveRemoteOffer {
        JsFuture::from(pc.create_answer()).await
    } else {
        JsFuture::from(pc.create_offer()).await
    }
    .map_err(|e| error_text(&e))?;
    let description: RtcSessionDescriptionInit = description.unchecked_into();
    JsFuture::from(pc.set_local_description(&description))
        .await
        .map(drop)
        .map_err(|e| error_text(&e))
}

fn local_sdp(pc: &RtcPeerConnection) -> Result<String, String> {
    pc.local_description()
        .map(|d| d.sdp())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "no local description".to_string())
}

impl Drop for PeerConn {
    fn drop(&mut self) {
        // Listeners first, so closing below cannot call back into a half-dropped owner.
        self.channel_listeners.clear();
        self.pc_listeners.clear();
        if let Some(channel) = &self.channel {
            channel.close();
        }
        self.pc.close();
        // Wake any signaling task still waiting for gathering; it will find the peer gone.
        let _ = self.gathered_resolve.call0(&JsValue::NULL);
        if self.counted {
            LIVE.with(|n| n.set(n.get().saturating_sub(1)));
        }
    }
}
