//! One task per WebSocket: reads client messages, answers them, and writes what other peers relay to it.
//!
//! The task owns the socket outright (no split halves, no second task), which keeps an idle connection to a
//! few hundred bytes besides the socket buffers. Relays from other connections arrive through its `Outbox`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures_util::SinkExt;
use tokio::time::{Instant, interval_at, timeout};
use tokio_util::sync::CancellationToken;

use crate::config::Limits;
use crate::metrics::Metrics;
use crate::outbox::Outbox;
use crate::request::{self, Action, ParseLimits, Request};
use crate::response;
use crate::tracker::{Connection, Tracker};

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Why a connection ended; decides the close frame and the counter.
#[derive(Debug)]
enum Ending {
    PeerClosed,
    Shutdown,
    Idle,
    SlowReader,
    Flooding,
    BadFrame { too_big: bool },
    WriteFailed,
}

/// Serves one upgraded WebSocket until it closes, then removes its peers from every swarm.
pub async fn run(mut socket: WebSocket, tracker: Arc<Tracker>, client: IpAddr, shutdown: CancellationToken) {
    let limits = tracker.limits();
    let parse_limits = ParseLimits { max_offers: limits.max_offers, max_scrape_hashes: limits.max_scrape_hashes };
    let mut conn = Connection {
        id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
        outbox: Arc::new(Outbox::new(limits.outbound_queue)),
        memberships: Vec::new(),
    };
    tracing::debug!(conn = conn.id, %client, "connection opened");
    let mut rate = RateWindow::new(limits);
    let mut last_heard = Instant::now();
    let mut ping = interval_at(Instant::now() + limits.ping_interval, limits.ping_interval);

    let ending = loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break Ending::Shutdown,
            () = conn.outbox.ready() => {
                let batch = conn.outbox.drain();
                if !batch.messages.is_empty() {
                    if let Err(ending) = write_all(&mut socket, batch.messages, limits.write_timeout).await {
                        break ending;
                    }
                }
                if batch.overflowed {
                    break Ending::SlowReader;
                }
            }
            frame = socket.recv() => {
                last_heard = Instant::now();
                let text = match frame {
                    None | Some(Ok(Message::Close(_))) => break Ending::PeerClosed,
                    Some(Err(e)) => break classify(e),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Text(text))) => Some(text),
                    Some(Ok(Message::Binary(_))) => None,
                };
                let reply = match rate.admit(Instant::now()) {
                    Verdict::Allow => match text {
                        Some(text) => handle(&tracker, &mut conn, &text, parse_limits),
                        None => Some(Reply::Failure(response::failure(None, None, "binary messages are not supported"))),
                    },
                    Verdict::WarnOnce => Some(Reply::Failure(response::failure(None, None, "rate limit exceeded; messages are being dropped"))),
                    Verdict::Drop => None,
                    Verdict::Close => break Ending::Flooding,
                };
                let reply = match reply {
                    None => continue,
                    Some(Reply::Normal(reply)) => reply,
                    Some(Reply::Failure(reply)) => {
                        Metrics::inc(&tracker.metrics.failures_sent);
                        tracing::debug!(conn = conn.id, %client, %reply, "refused a message");
                        reply
                    }
                };
                if let Err(ending) = write_all(&mut socket, [reply], limits.write_timeout).await {
                    break ending;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= limits.idle_timeout {
                    break Ending::Idle;
                }
                if timeout(limits.write_timeout, socket.send(Message::Ping(Default::default()))).await.map_or(true, |r| r.is_err()) {
                    break Ending::WriteFailed;
                }
            }
        }
    };

    // Leave the swarms first: nothing should be relayed to a socket that is going away.
    tracker.leave_all(&mut conn);
    conn.outbox.close();
    let metrics = &tracker.metrics;
    let close = match &ending {
        Ending::PeerClosed | Ending::WriteFailed => None,
        Ending::Shutdown => Some((close_code::AWAY, "server shutting down")),
        Ending::Idle => {
            Metrics::inc(&metrics.closed_idle);
            Some((close_code::AWAY, "no response to ping"))
        }
        Ending::SlowReader => {
            Metrics::inc(&metrics.closed_slow_reader);
            Some((close_code::POLICY, "too slow to read relayed messages"))
        }
        Ending::Flooding => {
            Metrics::inc(&metrics.closed_flooding);
            Some((close_code::POLICY, "rate limit exceeded"))
        }
        Ending::BadFrame { too_big } => {
            Metrics::inc(&metrics.closed_bad_frame);
            Some(if *too_big { (close_code::SIZE, "message too big") } else { (close_code::PROTOCOL, "bad frame") })
        }
    };
    if let Some((code, reason)) = close {
        let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
        let _ = timeout(Duration::from_secs(1), socket.send(frame)).await;
    }
    tracing::debug!(conn = conn.id, %client, ending = ?ending, "connection closed");
}

/// A read error is the peer's doing (bad frame, too big) or just the connection going away.
fn classify(error: axum::Error) -> Ending {
    use tokio_tungstenite::tungstenite::Error;
    match error.into_inner().downcast::<Error>().map(|e| *e) {
        Ok(Error::Capacity(_)) => Ending::BadFrame { too_big: true },
        Ok(Error::Protocol(p)) if !matches!(p, tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            Ending::BadFrame { too_big: false }
        }
        Ok(Error::Utf8(_)) => Ending::BadFrame { too_big: false },
        _ => Ending::PeerClosed,
    }
}

/// A reply to the sender; failures are counted and logged.
enum Reply {
    Normal(String),
    Failure(String),
}

/// Parses and handles one text message; returns the reply, if the message calls for one.
fn handle(tracker: &Tracker, conn: &mut Connection, text: &str, limits: ParseLimits) -> Option<Reply> {
    let interval = tracker.limits().announce_interval.as_secs();
    match request::parse(text, limits) {
        Err(rejection) => Some(Reply::Failure(response::failure(
            rejection.action,
            rejection.info_hash.as_ref(),
            &rejection.error.to_string(),
        ))),
        Ok(Request::Announce(a)) => Some(match tracker.announce(conn, &a) {
            Ok(counts) => Reply::Normal(response::announce_reply(&a.info_hash, interval, counts)),
            Err(e) => Reply::Failure(response::failure(Some(Action::Announce), Some(&a.info_hash), &e.to_string())),
        }),
        // A forwarded answer needs no reply to the answerer.
        Ok(Request::Answer(a)) => tracker.answer(conn, &a).err().map(|e| {
            Reply::Failure(response::failure(Some(Action::Announce), Some(&a.info_hash), &e.to_string()))
        }),
        Ok(Request::Scrape(s)) => Some(Reply::Normal(tracker.scrape(&s))),
    }
}

/// Writes messages as one flush. A peer that does not take them within `limit` is a slow reader.
async fn write_all(socket: &mut WebSocket, messages: impl IntoIterator<Item = String>, limit: Duration) -> Result<(), Ending> {
    let write = async {
        for message in messages {
            socket.feed(Message::Text(message.into())).await?;
        }
        socket.flush().await
    };
    match timeout(limit, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ending::WriteFailed),
        Err(_) => Err(Ending::SlowReader),
    }
}

/// Fixed-window message counter. Up to `max` messages per window are handled; the next one gets a warning,
/// further ones up to `2 × max` are dropped, and beyond that the connection is closed.
struct RateWindow {
    window: Duration,
    max: u32,
    started: Instant,
    count: u32,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allow,
    WarnOnce,
    Drop,
    Close,
}

impl RateWindow {
    fn new(limits: &Limits) -> Self {
        Self { window: limits.rate_window, max: limits.max_messages_per_window, started: Instant::now(), count: 0 }
    }

    fn admit(&mut self, now: Instant) -> Verdict {
        if now.duration_since(self.started) >= self.window {
            self.started = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        match self.count {
            n if n <= self.max => Verdict::Allow,
            n if n == self.max + 1 => Verdict::WarnOnce,
            n if n <= self.max.saturating_mul(2) => Verdict::Drop,
            _ => Verdict::Close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_window_warns_then_drops_then_closes_and_resets() {
        let limits = Limits { max_messages_per_window: 2, rate_window: Duration::from_secs(10), ..Limits::default() };
        let mut rate = RateWindow::new(&limits);
        let t0 = rate.started;
        let verdicts: Vec<_> = (0..6).map(|_| rate.admit(t0)).collect();
        assert_eq!(verdicts, [Verdict::Allow, Verdict::Allow, Verdict::WarnOnce, Verdict::Drop, Verdict::Close, Verdict::Close]);
        assert_eq!(rate.admit(t0 + Duration::from_secs(10)), Verdict::Allow);
    }
}
