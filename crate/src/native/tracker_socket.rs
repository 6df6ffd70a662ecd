//! One WebSocket to a WebTorrent tracker (`ws://` or `wss://` through rustls), run by one
//! tokio task per `Output::ConnectTracker`. It reports open, each text message and the close
//! to the driver, and sends what the driver queues. The tracker is untrusted: frames and
//! messages are bounded by the protocol's own limit, binary frames are ignored.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::session::tracker_proto::MAX_MESSAGE_CHARS;

/// A tracker that neither connects nor fails within this long is reported closed (the
/// session then retries with backoff) instead of holding a half-open socket forever.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Text we queue for one tracker. Announces are small and few; a tracker that stops reading
/// is dropped rather than buffered for.
const MAX_QUEUED_SENDS: usize = 256;

/// What a tracker socket reports.
#[derive(Debug, PartialEq, Eq)]
pub enum TrackerEvent {
    Open,
    Message(String),
    /// Closed or failed (`reason` for the log). Nothing follows.
    Closed(String),
}

/// Where tracker sockets send their events (bounded: a flood of messages waits for the
/// driver instead of piling up).
pub type TrackerEventSender = mpsc::Sender<(SocketKey, TrackerEvent)>;

/// Tags one socket's events; the driver picks a fresh key per socket.
pub type SocketKey = u64;

/// The driver's handle on one tracker socket. Dropping it closes the socket.
#[derive(Debug)]
pub struct TrackerSocket {
    sends: mpsc::Sender<String>,
    task: JoinHandle<()>,
}

impl TrackerSocket {
    pub fn connect(tracker: SocketKey, url: String, events: TrackerEventSender) -> TrackerSocket {
        let (sends, send_rx) = mpsc::channel(MAX_QUEUED_SENDS);
        let task = tokio::spawn(run(tracker, url, send_rx, events));
        TrackerSocket { sends, task }
    }

    /// Queues one text frame. Frames sent before the socket opens are dropped (the session
    /// only sends after `handle_tracker_open`), and so are frames past a full queue (the
    /// tracker stopped reading), as on a closed socket.
    pub fn send(&self, text: String) {
        let _ = self.sends.try_send(text);
    }

    /// Closes the socket (a WebSocket close frame) and returns the task to wait for.
    pub fn close(self) -> JoinHandle<()> {
        self.task
    }
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_CHARS))
        .max_frame_size(Some(MAX_MESSAGE_CHARS))
}

async fn run(
    tracker: SocketKey,
    url: String,
    mut sends: mpsc::Receiver<String>,
    events: TrackerEventSender,
) {
    let reason = session(tracker, &url, &mut sends, &events).await;
    if let Some(reason) = reason {
        let _ = events.send((tracker, TrackerEvent::Closed(reason))).await;
    }
}

/// `None` when the driver dropped the socket (it wants no news), else why it closed.
async fn session(
    tracker: SocketKey,
    url: &str,
    sends: &mut mpsc::Receiver<String>,
    events: &TrackerEventSender,
) -> Option<String> {
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Some(format!("{url}: not a WebSocket URL"));
    }
    let connect = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(url, Some(config()), true),
    );
    tokio::pin!(connect);
    let ws = loop {
        tokio::select! {
            result = &mut connect => match result {
                Ok(Ok((ws, _response))) => break ws,
                Ok(Err(e)) => return Some(format!("{url}: {e}")),
                Err(_) => {
                    return Some(format!("{url}: no connection within {}s", CONNECT_TIMEOUT.as_secs()));
                }
            },
            text = sends.recv() => match text {
                // Not open yet: dropped, as the session expects of a socket that is not open.
                Some(_) => {}
                None => return None,
            },
        }
    };
    if events.send((tracker, TrackerEvent::Open)).await.is_err() {
        return None;
    }
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            text = sends.recv() => match text {
                Some(text) => {
                    if let Err(e) = sink.send(Message::text(text)).await {
                        return Some(format!("{url}: {e}"));
                    }
                }
                None => {
                    let _ = sink.send(Message::Close(None)).await;
                    let _ = sink.close().await;
                    return None;
                }
            },
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let event = TrackerEvent::Message(text.as_str().to_owned());
                    if events.send((tracker, event)).await.is_err() {
                        return None;
                    }
                }
                // Pings are answered by tungstenite on the next write or flush.
                Some(Ok(Message::Ping(_))) => {
                    let _ = sink.flush().await;
                }
                Some(Ok(Message::Close(_))) | None => return Some(format!("{url}: closed by the tracker")),
                Some(Ok(_)) => {} // binary and pong frames mean nothing in this protocol
                Some(Err(e)) => return Some(format!("{url}: {e}")),
            },
        }
    }
}
