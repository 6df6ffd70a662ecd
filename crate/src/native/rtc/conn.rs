//! One WebRTC connection to a peer: a `webrtc` peer connection and its single in-band,
//! ordered, reliable data channel carrying the BitTorrent byte stream, run by one tokio task.
//!
//! The driver holds a [`Conn`] and talks to the task over channels: commands in (the remote
//! answer, bytes to send), [`ConnEvent`]s out, tagged with the connection's id. The peer
//! connection's event handler only forwards into the task, and is owned by the peer connection;
//! dropping the `Conn` makes the task close the channel and the peer connection, which drops
//! the handler. Signaling is non-trickle: the local SDP is reported once ICE gathering is
//! complete (bounded by [`GATHERING_CAP`]), candidates included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::rtc::ice::mdns::MulticastDnsMode;
use ::rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use bytes::BytesMut;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCIceServer, RTCPeerConnectionState, RTCSessionDescription,
    SettingEngineBuilder,
};

use super::config::{Mdns, RtcConfig};
use super::sdp::{DEFAULT_MAX_MESSAGE, MAX_MESSAGE, remote_max_message};
use crate::engine::PeerKey as ConnId;

/// Complete-SDP signaling waits for ICE gathering, but never longer than this (an unreachable
/// STUN server would otherwise stall the offer past the tracker's patience).
pub const GATHERING_CAP: Duration = Duration::from_secs(5);
/// `OnBufferedAmountLow` fires when the send buffer drains below this (as the web driver).
pub const LOW_WATER: u32 = crate::session::core::LOW_WATER as u32;
/// While bytes are outstanding the task also reports the buffered amount this often, so a
/// missed low-water crossing cannot stall the session's sends.
const REPORT_EVERY: Duration = Duration::from_millis(100);
/// Channel events waiting for the task. Small and bounded: a full queue stops the data
/// channel's reader, which stops SCTP acknowledging, which slows the remote — backpressure
/// instead of memory.
const CHANNEL_EVENTS: usize = 64;

/// What a connection reports to the driver.
#[derive(Debug)]
pub enum ConnEvent {
    /// The complete local SDP (an offer for [`Conn::offer`], an answer for [`Conn::answer`]).
    LocalSdp(String),
    /// The data channel opened.
    Open,
    /// One channel message.
    Data(Vec<u8>),
    /// Bytes the channel still holds (`outstanding`) after the first `processed` bytes handed to
    /// [`Conn::send`] were queued; see [`Conn::buffered`].
    Buffered { outstanding: usize, processed: u64 },
    /// Signaling or ICE failed before the channel opened. Nothing follows.
    Failed(String),
    /// The channel or the connection closed after it opened. Nothing follows.
    Closed(String),
}

/// Where connections send their events: one queue for the driver, bounded (backpressure).
pub type EventSender = mpsc::Sender<(ConnId, ConnEvent)>;

enum Command {
    AcceptAnswer(String),
    Send(Vec<u8>),
}

/// The driver's handle on one connection. Dropping it closes the connection.
#[derive(Debug)]
pub struct Conn {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
    /// Bytes handed to [`Conn::send`] so far.
    handed: u64,
}

impl Conn {
    /// A new connection that offers: creates the data channel, then reports
    /// [`ConnEvent::LocalSdp`] with the complete offer.
    pub fn offer(conn: ConnId, config: Arc<RtcConfig>, events: EventSender) -> Conn {
        Self::spawn(conn, config, None, events)
    }

    /// A new connection from a remote offer; reports [`ConnEvent::LocalSdp`] with the answer.
    pub fn answer(
        conn: ConnId,
        config: Arc<RtcConfig>,
        offer: String,
        events: EventSender,
    ) -> Conn {
        Self::spawn(conn, config, Some(offer), events)
    }

    fn spawn(
        conn: ConnId,
        config: Arc<RtcConfig>,
        offer: Option<String>,
        events: EventSender,
    ) -> Conn {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(conn, config, offer, command_rx, events));
        Conn {
            commands,
            task,
            handed: 0,
        }
    }

    /// Applies the remote's answer (offerer side).
    pub fn accept_answer(&self, sdp: String) {
        let _ = self.commands.send(Command::AcceptAnswer(sdp));
    }

    /// Queues bytes of the stream; the task splits them at the remote's max message size.
    pub fn send(&mut self, bytes: Vec<u8>) {
        self.handed += bytes.len() as u64;
        let _ = self.commands.send(Command::Send(bytes));
    }

    /// The buffered amount a [`ConnEvent::Buffered`] report means now: what the channel holds
    /// plus what was handed to [`Conn::send`] after the report was taken.
    pub fn buffered(&self, outstanding: usize, processed: u64) -> usize {
        let in_flight = self.handed.saturating_sub(processed);
        outstanding.saturating_add(usize::try_from(in_flight).unwrap_or(usize::MAX))
    }
}

impl Conn {
    /// Closes the connection (as dropping does: the task sees its command queue close and
    /// shuts the channel and peer connection down) and returns the task to wait for.
    pub fn close(self) -> JoinHandle<()> {
        self.task
    }
}

/// What the peer connection's handler forwards to the task.
enum PcEvent {
    Gathered,
    State(RTCPeerConnectionState),
    Channel(Arc<dyn DataChannel>),
}

struct Handler {
    tx: mpsc::UnboundedSender<PcEvent>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.tx.send(PcEvent::Gathered);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(PcEvent::State(state));
    }

    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.tx.send(PcEvent::Channel(channel));
    }
}

/// Set once binding the mDNS socket failed (a host with only `lo`): later connections skip it.
static MDNS_UNAVAILABLE: AtomicBool = AtomicBool::new(false);

async fn build(
    config: &RtcConfig,
    handler: Arc<Handler>,
) -> webrtc::error::Result<impl PeerConnection> {
    let mdns = config.mdns == Mdns::Query && !MDNS_UNAVAILABLE.load(Ordering::Relaxed);
    match build_with(config, handler.clone(), mdns).await {
        Err(_) if mdns => {
            MDNS_UNAVAILABLE.store(true, Ordering::Relaxed);
            build_with(config, handler, false).await
        }
        other => other,
    }
}

async fn build_with(
    config: &RtcConfig,
    handler: Arc<Handler>,
    mdns: bool,
) -> webrtc::error::Result<impl PeerConnection> {
    let settings = SettingEngineBuilder::new()
        .with_include_loopback_candidate(config.include_loopback)
        .with_multicast_dns_mode(if mdns {
            MulticastDnsMode::QueryOnly
        } else {
            MulticastDnsMode::Disabled
        })
        .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(MAX_MESSAGE as u32))
        .build();
    let ice_servers = if config.ice_servers.is_empty() {
        Vec::new()
    } else {
        vec![RTCIceServer {
            urls: config.ice_servers.clone(),
            ..Default::default()
        }]
    };
    let udp: Vec<SocketAddr> = config.udp_bind.clone();
    PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(ice_servers)
                .build(),
        )
        .with_setting_engine(settings)
        .with_handler(handler)
        .with_udp_addrs(udp)
        .build()
        .await
}

/// WebTorrent labels its channel with random hex; any label works, this one is unique enough.
fn channel_label(conn: ConnId) -> String {
    use sha1::Digest;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = sha1::Sha1::new()
        .chain_update(conn.to_le_bytes())
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

async fn run(
    conn: ConnId,
    config: Arc<RtcConfig>,
    offer: Option<String>,
    commands: mpsc::UnboundedReceiver<Command>,
    events: EventSender,
) {
    let (pc_tx, pc_rx) = mpsc::unbounded_channel();
    let pc = match build(&config, Arc::new(Handler { tx: pc_tx })).await {
        Ok(pc) => pc,
        Err(e) => {
            let _ = events
                .send((
                    conn,
                    ConnEvent::Failed(format!("cannot create a peer connection: {e}")),
                ))
                .await;
            return;
        }
    };
    let mut task = Task {
        conn,
        events,
        channel: None,
        channel_rx: None,
        reader: None,
        open: false,
        max_message: DEFAULT_MAX_MESSAGE,
        processed: 0,
        reported: None,
    };
    let end = task.drive(&pc, offer, commands, pc_rx).await;
    if let Some(reader) = task.reader.take() {
        reader.abort();
    }
    if let Some(channel) = task.channel.take() {
        let _ = channel.close().await;
    }
    let _ = pc.close().await;
    if let Some(reason) = end {
        let event = if task.open {
            ConnEvent::Closed(reason)
        } else {
            ConnEvent::Failed(reason)
        };
        let _ = task.events.send((conn, event)).await;
    }
}

struct Task {
    conn: ConnId,
    events: EventSender,
    channel: Option<Arc<dyn DataChannel>>,
    channel_rx: Option<mpsc::Receiver<DataChannelEvent>>,
    reader: Option<JoinHandle<()>>,
    open: bool,
    max_message: usize,
    /// Bytes of [`Command::Send`] queued on the channel (or dropped) so far.
    processed: u64,
    /// The last `(outstanding, processed)` reported.
    reported: Option<(usize, u64)>,
}

impl Task {
    async fn emit(&self, event: ConnEvent) -> Result<(), String> {
        // The driver is gone (shutting down): stop quietly.
        self.events
            .send((self.conn, event))
            .await
            .map_err(|_| String::new())
    }

    /// Runs the connection until it ends; `Some(reason)` if the driver should hear why,
    /// `None` when the driver dropped it (or is gone).
    async fn drive(
        &mut self,
        pc: &impl PeerConnection,
        offer: Option<String>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut pc_rx: mpsc::UnboundedReceiver<PcEvent>,
    ) -> Option<String> {
        let offerer = offer.is_none();
        let setup = match offer {
            None => self.start_offer(pc).await,
            Some(sdp) => self.start_answer(pc, sdp).await,
        };
        if let Err(reason) = setup {
            return Some(reason);
        }
        let gathering_cap = tokio::time::sleep(GATHERING_CAP);
        tokio::pin!(gathering_cap);
        let mut sdp_sent = false;
        let mut answered = false;
        let mut ticker = tokio::time::interval(REPORT_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let step: Result<(), String> = tokio::select! {
                command = commands.recv() => match command {
                    None => return None,
                    Some(Command::AcceptAnswer(sdp)) if offerer && !answered => {
                        answered = true;
                        self.max_message = remote_max_message(&sdp);
                        match RTCSessionDescription::answer(sdp) {
                            Ok(answer) => pc.set_remote_description(answer).await
                                .map_err(|e| format!("bad answer: {e}")),
                            Err(e) => Err(format!("bad answer: {e}")),
                        }
                    }
                    Some(Command::AcceptAnswer(_)) => Err("unexpected answer".into()),
                    Some(Command::Send(bytes)) => self.send(bytes).await,
                },
                event = pc_rx.recv() => match event {
                    None => Err("connection closed".into()),
                    Some(PcEvent::Gathered) if !sdp_sent => {
                        sdp_sent = true;
                        self.report_sdp(pc).await
                    }
                    Some(PcEvent::Gathered) => Ok(()),
                    Some(PcEvent::State(RTCPeerConnectionState::Failed)) => {
                        Err("connection failed".into())
                    }
                    Some(PcEvent::State(RTCPeerConnectionState::Closed)) => {
                        Err("connection closed".into())
                    }
                    Some(PcEvent::State(_)) => Ok(()),
                    Some(PcEvent::Channel(channel)) => self.incoming_channel(channel, offerer).await,
                },
                () = &mut gathering_cap, if !sdp_sent => {
                    sdp_sent = true;
                    self.report_sdp(pc).await
                }
                event = recv_channel(&mut self.channel_rx) => self.channel_event(event).await,
                _ = ticker.tick(), if self.open => self.report_buffered(false).await,
            };
            if let Err(reason) = step {
                return (!reason.is_empty()).then_some(reason);
            }
        }
    }

    async fn start_offer(&mut self, pc: &impl PeerConnection) -> Result<(), String> {
        let init = RTCDataChannelInit {
            ordered: true,
            ..Default::default()
        };
        let channel = pc
            .create_data_channel(&channel_label(self.conn), Some(init))
            .await
            .map_err(|e| format!("cannot create the data channel: {e}"))?;
        self.attach(channel).await;
        let offer = pc
            .create_offer(None)
            .await
            .map_err(|e| format!("cannot create an offer: {e}"))?;
        pc.set_local_description(offer)
            .await
            .map_err(|e| format!("cannot apply our offer: {e}"))
    }

    async fn start_answer(&mut self, pc: &impl PeerConnection, sdp: String) -> Result<(), String> {
        self.max_message = remote_max_message(&sdp);
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| format!("bad offer: {e}"))?;
        pc.set_remote_description(offer)
            .await
            .map_err(|e| format!("bad offer: {e}"))?;
        let answer = pc
            .create_answer(None)
            .await
            .map_err(|e| format!("cannot create an answer: {e}"))?;
        pc.set_local_description(answer)
            .await
            .map_err(|e| format!("cannot apply our answer: {e}"))
    }

    async fn report_sdp(&self, pc: &impl PeerConnection) -> Result<(), String> {
        let sdp = pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .filter(|s| !s.is_empty())
            .ok_or("no local description")?;
        self.emit(ConnEvent::LocalSdp(sdp)).await
    }

    /// The remote's channel (answerer side). A second channel, or one that is not ordered and
    /// reliable, ends the connection: the byte stream needs exactly one reliable channel.
    async fn incoming_channel(
        &mut self,
        channel: Arc<dyn DataChannel>,
        offerer: bool,
    ) -> Result<(), String> {
        if offerer || self.channel.is_some() {
            let _ = channel.close().await;
            return Err("peer opened a second data channel".into());
        }
        let ordered = channel.ordered().await.unwrap_or(false);
        let retransmits = channel.max_retransmits().await.unwrap_or(Some(0));
        let lifetime = channel.max_packet_life_time().await.unwrap_or(Some(0));
        if !ordered || retransmits.is_some() || lifetime.is_some() {
            let _ = channel.close().await;
            return Err("peer's data channel is not ordered and reliable".into());
        }
        self.attach(channel).await;
        Ok(())
    }

    async fn attach(&mut self, channel: Arc<dyn DataChannel>) {
        let _ = channel.set_buffered_amount_low_threshold(LOW_WATER).await;
        let (tx, rx) = mpsc::channel(CHANNEL_EVENTS);
        let reader = channel.clone();
        self.reader = Some(tokio::spawn(async move {
            while let Some(event) = reader.poll().await {
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        }));
        self.channel = Some(channel);
        self.channel_rx = Some(rx);
    }

    async fn channel_event(&mut self, event: Option<DataChannelEvent>) -> Result<(), String> {
        match event {
            // An answerer's channel may be open before we attached: OnOpen is still queued
            // for the new handle (events are per handle), so this fires once either way.
            Some(DataChannelEvent::OnOpen) if !self.open => {
                self.open = true;
                self.emit(ConnEvent::Open).await
            }
            // The byte stream is binary; text means a confused or hostile peer (as in web/).
            Some(DataChannelEvent::OnMessage(message)) if message.is_string => {
                Err("peer sent text on the binary channel".into())
            }
            Some(DataChannelEvent::OnMessage(message)) => {
                self.emit(ConnEvent::Data(message.data.to_vec())).await
            }
            Some(DataChannelEvent::OnBufferedAmountLow) => self.report_buffered(true).await,
            Some(DataChannelEvent::OnClose) | None => Err("channel closed".into()),
            Some(DataChannelEvent::OnError) => Err("channel error".into()),
            Some(_) => Ok(()),
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        let len = bytes.len() as u64;
        if let (Some(channel), true) = (&self.channel, self.open) {
            for chunk in bytes.chunks(self.max_message) {
                channel
                    .send(BytesMut::from(chunk))
                    .await
                    .map_err(|e| format!("send failed: {e}"))?;
            }
        }
        // Before the channel opens there is nothing to send on; the session does not send then.
        self.processed += len;
        Ok(())
    }

    /// Reports the buffered amount: always after a low-water event, else only when it moved.
    async fn report_buffered(&mut self, always: bool) -> Result<(), String> {
        let Some(channel) = &self.channel else {
            return Ok(());
        };
        let outstanding = channel.outstanding_bytes().await.unwrap_or(0);
        let now = (outstanding, self.processed);
        if !always && (self.reported == Some(now) || now == (0, 0)) {
            return Ok(());
        }
        self.reported = Some(now);
        self.emit(ConnEvent::Buffered {
            outstanding,
            processed: self.processed,
        })
        .await
    }
}

async fn recv_channel(
    rx: &mut Option<mpsc::Receiver<DataChannelEvent>>,
) -> Option<DataChannelEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
