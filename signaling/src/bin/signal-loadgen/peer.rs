//! One simulated WebTorrent peer: joins its swarm, announces with offers when told to, answers every offer
//! it receives at once, and timestamps offers and answers (inside the SDP) to measure relay latency.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use seedcast::session::tracker_proto::{
    AnnounceOut, Event, Id20, OfferOut, TrackerMessage, request_build, response_parse,
};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::histogram::Histogram;

pub type Socket = WebSocketStream<TcpStream>;

/// Counters and histograms every peer task adds to.
pub struct Shared {
    pub epoch: Instant,
    pub offers_per_announce: usize,
    /// SDP filler so messages have a realistic size.
    pub padding: String,
    pub joined: AtomicU64,
    pub announces_sent: AtomicU64,
    pub offers_received: AtomicU64,
    pub answers_sent: AtomicU64,
    pub answers_received: AtomicU64,
    pub failures: AtomicU64,
    pub offer_latency: Histogram,
    pub answer_latency: Histogram,
}

pub enum Command {
    /// Announce with offers.
    Announce,
    /// Send a plain update and report whether the tracker still answers.
    Finish,
}

/// 20 ASCII characters each, so they need no escaping and read well in tracker logs.
pub struct Identity {
    pub index: usize,
    pub info_hash: Id20,
    pub peer_id: Id20,
}

impl Identity {
    pub fn new(index: usize, swarm: usize) -> Self {
        Self {
            index,
            info_hash: ascii_id(&format!("loadgen-swarm{swarm:07}")),
            peer_id: ascii_id(&format!("-LG0001-{index:012}")),
        }
    }
}

/// The id spelled by 20 ASCII characters (longer text is cut, shorter padded with `0`).
fn ascii_id(text: &str) -> Id20 {
    let mut id = [b'0'; 20];
    for (slot, byte) in id.iter_mut().zip(text.bytes()) {
        *slot = byte;
    }
    Id20(id)
}

pub async fn connect(server: SocketAddr, url: &str, source: Ipv4Addr) -> anyhow::Result<Socket> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source.into(), 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    // tungstenite's default 128 KiB read buffer per socket would cost the generator 2.5 GB at 20k peers.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    Ok(ws)
}

/// Joins the swarm; `Err` if the tracker did not accept the announce in time.
pub async fn join(ws: &mut Socket, me: &Identity) -> anyhow::Result<()> {
    ws.send(Message::Text(
        announce_json(me, Event::Started, &[], "", Duration::ZERO).into(),
    ))
    .await?;
    loop {
        let Some(message) = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await?
            .transpose()?
        else {
            anyhow::bail!("closed before the announce reply");
        };
        if let Message::Text(text) = message {
            match response_parse::parse(&text)? {
                TrackerMessage::Failure { reason, .. } => {
                    anyhow::bail!("tracker refused the announce: {reason}")
                }
                TrackerMessage::Announced { .. } => return Ok(()),
                _ => {}
            }
        }
    }
}

/// Serves commands until `Finish`; returns whether the tracker answered the final announce.
pub async fn run(
    mut ws: Socket,
    me: Identity,
    mut commands: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
) -> (bool, Socket) {
    let mut announces = 0u64;
    let mut finish_deadline: Option<Instant> = None;
    loop {
        let deadline =
            finish_deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            command = commands.recv(), if finish_deadline.is_none() => {
                let sent = match command {
                    Some(Command::Announce) => {
                        announces += 1;
                        let offer_ids: Vec<Id20> =
                            (0..shared.offers_per_announce).map(|i| ascii_id(&format!("{:010}{:06}{i:04}", me.index, announces % 1_000_000))).collect();
                        shared.announces_sent.fetch_add(1, Relaxed);
                        let json = announce_json(&me, Event::Update, &offer_ids, &shared.padding, shared.epoch.elapsed());
                        ws.send(Message::Text(json.into())).await
                    }
                    Some(Command::Finish) | None => {
                        finish_deadline = Some(Instant::now() + Duration::from_secs(20));
                        ws.send(Message::Text(announce_json(&me, Event::Update, &[], "", Duration::ZERO).into())).await
                    }
                };
                if sent.is_err() {
                    return (false, ws);
                }
            }
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    None | Some(Err(_)) => return (false, ws),
                };
                match handle(&mut ws, &me, &text, &shared).await {
                    Handled::Reply if finish_deadline.is_some() => return (true, ws),
                    Handled::Closed => return (false, ws),
                    _ => {}
                }
            }
            () = tokio::time::sleep_until(deadline) => return (false, ws),
        }
    }
}

enum Handled {
    Reply,
    Other,
    Closed,
}

async fn handle(ws: &mut Socket, me: &Identity, text: &str, shared: &Shared) -> Handled {
    let Ok(incoming) = response_parse::parse(text) else {
        shared.failures.fetch_add(1, Relaxed);
        return Handled::Other;
    };
    let now = shared.epoch.elapsed();
    match incoming {
        TrackerMessage::Failure { .. } => {
            shared.failures.fetch_add(1, Relaxed);
            Handled::Other
        }
        TrackerMessage::Offer {
            peer_id,
            offer_id,
            sdp,
            ..
        } => {
            shared.offers_received.fetch_add(1, Relaxed);
            if let Some(sent) = timestamp(&sdp) {
                shared
                    .offer_latency
                    .record(now.as_micros().saturating_sub(sent) as u64);
            }
            let answer = answer_json(me, &peer_id, &offer_id, &shared.padding, now);
            if ws.send(Message::Text(answer.into())).await.is_err() {
                return Handled::Closed;
            }
            shared.answers_sent.fetch_add(1, Relaxed);
            Handled::Other
        }
        TrackerMessage::Answer { sdp, .. } => {
            shared.answers_received.fetch_add(1, Relaxed);
            if let Some(sent) = timestamp(&sdp) {
                shared
                    .answer_latency
                    .record(now.as_micros().saturating_sub(sent) as u64);
            }
            Handled::Other
        }
        TrackerMessage::Announced { .. } => Handled::Reply,
        TrackerMessage::Warning { .. } => Handled::Other,
    }
}

/// The send time (µs since the epoch) carried in the SDP's `t=` line.
fn timestamp(sdp: &str) -> Option<u128> {
    let rest = &sdp[sdp.find("t=")? + 2..];
    rest[..rest.find('\r')?].parse().ok()
}

/// A fake SDP carrying its send time (µs since the epoch) in its `t=` line, padded to a realistic size.
fn sdp(padding: &str, now: Duration) -> String {
    format!("v=0\r\nt={}\r\n{padding}", now.as_micros())
}

fn announce_json(
    me: &Identity,
    event: Event,
    offer_ids: &[Id20],
    padding: &str,
    now: Duration,
) -> String {
    let sdp = sdp(padding, now);
    let offers: Vec<OfferOut<'_>> = offer_ids
        .iter()
        .map(|&offer_id| OfferOut {
            offer_id,
            sdp: &sdp,
        })
        .collect();
    AnnounceOut {
        info_hash: &me.info_hash,
        peer_id: &me.peer_id,
        event,
        uploaded: 0,
        downloaded: 0,
        left: Some(1000),
        offers: &offers,
    }
    .to_json()
}

fn answer_json(me: &Identity, to: &Id20, offer_id: &Id20, padding: &str, now: Duration) -> String {
    request_build::answer(&me.info_hash, &me.peer_id, to, offer_id, &sdp(padding, now))
}
