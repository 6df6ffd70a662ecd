//! One task per WebSocket: reads client messages and answers them; relays from other connections are
//! written to its socket by the relaying task itself.
//!
//! The task owns the socket's read side. Reads land in a stack buffer and complete frames are handled in
//! place; the replies to one read are sent together. All writes go through the socket's `Outbox`, which
//! writes at once and keeps only what the kernel does not take. The task wakes for its own reads, for
//! writability while bytes wait, for pings, and for outbox faults — never per relayed message. So an idle
//! peer costs its task and its swarm entries, no buffers.

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use crate::config::Limits;
use crate::metrics::Metrics;
use crate::outbox::{Fault, Outbox};
use crate::tracker::{Connection, Tracker};
use crate::websocket::{self, Event, FrameError, OP_PING, OP_PONG, OP_TEXT, Reader, close_code};
use seedcast::session::tracker_proto::request::{self, Action, ParseLimits, Request};
use seedcast::session::tracker_proto::response;

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Bytes read per system call. Lives on the stack only while a read is handled.
const READ_CHUNK: usize = 16 * 1024;

/// Why a connection ended; decides the close frame and the counter.
#[derive(Debug)]
enum Ending {
    PeerClosed,
    Shutdown,
    Idle,
    SlowReader,
    Flooding,
    BadFrame(FrameError),
    WriteFailed,
}

impl From<Fault> for Ending {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::SlowReader => Self::SlowReader,
            Fault::WriteFailed => Self::WriteFailed,
        }
    }
}

/// Serves one upgraded WebSocket until it closes, then removes its peers from every swarm.
/// `early` holds bytes the HTTP layer read past the upgrade request.
pub async fn run(
    stream: TcpStream,
    mut early: Vec<u8>,
    tracker: Arc<Tracker>,
    client: IpAddr,
    shutdown: CancellationToken,
) {
    let limits = tracker.limits();
    let (mut read_half, write_half) = stream.into_split();
    let outbox = Arc::new(Outbox::new(
        write_half,
        limits.outbound_queue,
        limits.max_write_backlog(),
    ));
    let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(conn = id, %client, "connection opened");
    let mut session = Session {
        tracker: &tracker,
        conn: Connection {
            id,
            outbox: outbox.clone(),
            memberships: Vec::new(),
        },
        parse_limits: ParseLimits {
            max_offers: limits.max_offers,
            max_scrape_hashes: limits.max_scrape_hashes,
        },
        rate: RateWindow::new(limits),
        replies: Vec::new(),
        last_heard: Instant::now(),
        ending: None,
        client,
    };
    let mut reader = Reader::new(limits.max_message_bytes);
    // Created once and kept across iterations: re-creating them at every wake costs a lock each. The ping
    // timer is a `Sleep` inside this future rather than an `Interval`, whose boxed timer is one more cold
    // cache line touched at every wake.
    let mut ping = pin!(sleep_until(Instant::now() + limits.ping_interval));
    let mut cancelled = pin!(shutdown.cancelled());
    let mut woken = pin!(outbox.woken());
    // The stall last counted in `write_stalls`: the owner is woken at least once per stall, maybe more.
    let mut counted_stall = None;

    let mut ending = session.on_bytes(&mut reader, &mut early).err();
    if ending.is_none() {
        session.send_replies();
    }
    drop(early);
    while ending.is_none() {
        let backlog = outbox.backlog();
        tokio::select! {
            biased;
            () = &mut cancelled => ending = Some(Ending::Shutdown),
            end = poll_fn(|cx| poll_reads(cx, &mut read_half, &mut reader, &mut session)) => {
                ending = Some(end);
            }
            () = &mut woken => {
                woken.set(outbox.woken());
                let stall = outbox.stalled_since();
                if stall.is_some() && stall != counted_stall {
                    Metrics::inc(&tracker.metrics.write_stalls);
                    counted_stall = stall;
                }
                ending = outbox.fault().map(Ending::from);
                if ending.is_none() && outbox.batching() {
                    // Let the tasks that are ready (and the I/O that arrived) run first: more answers for
                    // this socket are likely among them. Then write them all in one go.
                    tokio::task::yield_now().await;
                    outbox.flush();
                    ending = outbox.fault().map(Ending::from);
                }
            }
            ready = outbox.writable(), if backlog > 0 => match ready {
                Ok(()) => {
                    outbox.flush();
                    ending = outbox.fault().map(Ending::from);
                }
                Err(_) => ending = Some(Ending::WriteFailed),
            },
            () = &mut ping => {
                ping.as_mut().reset(Instant::now() + limits.ping_interval);
                if session.last_heard.elapsed() >= limits.idle_timeout {
                    ending = Some(Ending::Idle);
                } else if outbox.stalled_since().is_some_and(|t| t.elapsed() >= limits.write_timeout) {
                    ending = Some(Ending::SlowReader);
                } else if session.last_heard.elapsed() >= limits.ping_interval {
                    // Only a silent peer needs proving alive; one that talks already did.
                    let mut frame = Vec::new();
                    websocket::write_frame(&mut frame, OP_PING, &[]);
                    outbox.send_own(&frame);
                }
            }
        }
    }
    let ending = ending.unwrap_or(Ending::PeerClosed);

    // Leave the swarms first: nothing should be relayed to a socket that is going away.
    tracker.leave_all(&mut session.conn);
    outbox.close();
    // Replies to the last read (before a close, a flood or a bad frame) still go out, then the close frame.
    session.send_replies();
    if let Some((code, reason)) = close_frame(&ending, &tracker.metrics) {
        let mut frame = Vec::new();
        websocket::write_close(&mut frame, code, reason);
        outbox.send_own(&frame);
    }
    // Best effort: give the peer a moment to take what is left, close frame included.
    let _ = timeout(Duration::from_secs(1), async {
        while outbox.backlog() > 0
            && outbox.fault() != Some(Fault::WriteFailed)
            && outbox.writable().await.is_ok()
        {
            outbox.flush();
        }
    })
    .await;
    tracing::debug!(conn = id, %client, ending = ?ending, "connection closed");
}

/// The close frame for an ending (none when the socket is already gone), counting why.
fn close_frame(ending: &Ending, metrics: &Metrics) -> Option<(u16, &'static str)> {
    match ending {
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
        Ending::BadFrame(e) => {
            Metrics::inc(&metrics.closed_bad_frame);
            Some((
                e.close_code(),
                if e.close_code() == close_code::TOO_BIG {
                    "message too big"
                } else {
                    "bad frame"
                },
            ))
        }
    }
}

/// Reads what the socket has (into the stack), read after read, handling every complete frame and sending
/// each read's replies in one write; resolves only when the connection must end. Looping here rather than
/// in the caller's `select!` spares a pass over its other branches per read.
fn poll_reads(
    cx: &mut Context<'_>,
    read_half: &mut OwnedReadHalf,
    reader: &mut Reader,
    session: &mut Session<'_>,
) -> Poll<Ending> {
    loop {
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut chunk);
        // Pending once the socket is drained (a short read clears its readiness without another system
        // call) or the task's cooperative budget is spent.
        match Pin::new(&mut *read_half).poll_read(cx, &mut buf) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_)) => return Poll::Ready(Ending::PeerClosed),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                return Poll::Ready(Ending::PeerClosed);
            }
            Poll::Ready(Ok(())) => {}
        }
        session.last_heard = Instant::now();
        if let Err(ending) = session.on_bytes(reader, buf.filled_mut()) {
            return Poll::Ready(ending);
        }
        session.send_replies();
        // Replies count too: a client that sends but never reads must not grow our memory.
        if session.conn.outbox.backlog() > session.tracker.limits().max_write_backlog() {
            return Poll::Ready(Ending::SlowReader);
        }
    }
}

/// Per-connection state the handlers touch.
struct Session<'t> {
    tracker: &'t Tracker,
    conn: Connection,
    parse_limits: ParseLimits,
    rate: RateWindow,
    /// Reply frames to the read being handled, sent together after it. Empty (unallocated) between reads.
    replies: Vec<u8>,
    /// When the client last sent anything (for pings and the idle timeout).
    last_heard: Instant,
    /// Set by an event handler that ends the connection.
    ending: Option<Ending>,
    client: IpAddr,
}

impl Session<'_> {
    fn on_bytes(&mut self, reader: &mut Reader, bytes: &mut [u8]) -> Result<(), Ending> {
        match reader.feed(bytes, |event| self.on_event(event)) {
            Err(e) => Err(Ending::BadFrame(e)),
            Ok(ControlFlow::Break(())) => Err(self.ending.take().unwrap_or(Ending::PeerClosed)),
            Ok(ControlFlow::Continue(())) => Ok(()),
        }
    }

    fn on_event(&mut self, event: Event<'_>) -> ControlFlow<()> {
        let text = match event {
            Event::Text(text) => Some(text),
            Event::Binary => None,
            Event::Ping(payload) => {
                websocket::write_frame(&mut self.replies, OP_PONG, payload);
                return ControlFlow::Continue(());
            }
            Event::Pong => return ControlFlow::Continue(()),
            Event::Close => {
                // Complete the closing handshake.
                websocket::write_close(&mut self.replies, close_code::NORMAL, "");
                self.ending = Some(Ending::PeerClosed);
                return ControlFlow::Break(());
            }
        };
        let reply = match self.rate.admit(Instant::now()) {
            Verdict::Allow => match text {
                Some(text) => self.handle(text),
                None => Some(Reply::Failure(response::failure(
                    None,
                    None,
                    "binary messages are not supported",
                ))),
            },
            Verdict::WarnOnce => Some(Reply::Failure(response::failure(
                None,
                None,
                "rate limit exceeded; messages are being dropped",
            ))),
            Verdict::Drop => None,
            Verdict::Close => {
                self.ending = Some(Ending::Flooding);
                return ControlFlow::Break(());
            }
        };
        match reply {
            None => {}
            Some(Reply::Normal(reply)) => {
                websocket::write_frame(&mut self.replies, OP_TEXT, reply.as_bytes())
            }
            Some(Reply::Failure(reply)) => {
                Metrics::inc(&self.tracker.metrics.failures_sent);
                tracing::debug!(conn = self.conn.id, client = %self.client, %reply, "refused a message");
                websocket::write_frame(&mut self.replies, OP_TEXT, reply.as_bytes());
            }
        }
        ControlFlow::Continue(())
    }

    /// Parses and handles one text message; returns the reply, if the message calls for one.
    fn handle(&mut self, text: &str) -> Option<Reply> {
        let tracker = self.tracker;
        let interval = tracker.limits().announce_interval.as_secs();
        match request::parse(text, self.parse_limits) {
            Err(rejection) => Some(Reply::Failure(response::failure(
                rejection.action,
                rejection.info_hash.as_ref(),
                &rejection.error.to_string(),
            ))),
            Ok(Request::Announce(a)) => Some(match tracker.announce(&mut self.conn, &a) {
                Ok(counts) => {
                    Reply::Normal(response::announce_reply(&a.info_hash, interval, counts))
                }
                Err(e) => Reply::Failure(response::failure(
                    Some(Action::Announce),
                    Some(&a.info_hash),
                    &e.to_string(),
                )),
            }),
            // A forwarded answer needs no reply to the answerer.
            Ok(Request::Answer(a)) => tracker.answer(&self.conn, &a).err().map(|e| {
                Reply::Failure(response::failure(
                    Some(Action::Announce),
                    Some(&a.info_hash),
                    &e.to_string(),
                ))
            }),
            Ok(Request::Scrape(s)) => Some(Reply::Normal(tracker.scrape(&s))),
        }
    }

    /// Sends the replies gathered while handling a read, and frees their buffer.
    fn send_replies(&mut self) {
        self.conn.outbox.send_own(&self.replies);
        self.replies = Vec::new();
    }
}

/// A reply to the sender; failures are counted and logged.
enum Reply {
    Normal(String),
    Failure(String),
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
        Self {
            window: limits.rate_window,
            max: limits.max_messages_per_window,
            started: Instant::now(),
            count: 0,
        }
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
        let limits = Limits {
            max_messages_per_window: 2,
            rate_window: Duration::from_secs(10),
            ..Limits::default()
        };
        let mut rate = RateWindow::new(&limits);
        let t0 = rate.started;
        let verdicts: Vec<_> = (0..6).map(|_| rate.admit(t0)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Allow,
                Verdict::Allow,
                Verdict::WarnOnce,
                Verdict::Drop,
                Verdict::Close,
                Verdict::Close
            ]
        );
        assert_eq!(rate.admit(t0 + Duration::from_secs(10)), Verdict::Allow);
    }
}
