//! The write side of one WebSocket, shared by every task that sends to it.
//!
//! Whoever has a frame for a socket (its own connection task with a reply, or another connection's task
//! relaying an offer) writes it to the kernel at once, under this socket's mutex, when nothing is waiting
//! ahead of it. Only bytes the kernel does not take are kept (`State::pending`), and only then is the owning
//! task woken to wait for writability. So an offer costs its `send` and no task wake-up, and an idle or
//! caught-up socket holds no buffer.
//!
//! Answers are the exception (`Timing::Batched`): the answers to one announce's offers come back to the
//! offerer at about the same time, from different connections. They are queued and the owner is woken to
//! write them after the other ready tasks have run, so they usually leave in one system call instead of one
//! each (on loopback a `send` costs several times the tracker's own work per message).
//!
//! Invariants:
//! - frames are written whole and in the order they were sent: every write happens under the mutex, and a
//!   frame goes straight to the socket only when `pending` is empty;
//! - `pending` holds at most `capacity` frames and `max_backlog` unsent bytes once relays are added: a relay
//!   that would go beyond either is refused and the outbox is marked faulty, and the owner then closes the
//!   socket (a reader that cannot keep up is dropped, never buffered without bound). The owner's own replies
//!   are checked against `max_backlog` by the owner after each read. Already-sent bytes at the front are
//!   dropped once they pass `COMPACT_AFTER`;
//! - once `close` is called, relays are refused; the owner may still send its close frame.

use std::io::{self, IoSlice};
use std::sync::{Mutex, MutexGuard};

use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::time::Instant;

use crate::websocket;

/// Sent bytes kept at the front of `pending` before they are dropped (a copy of the rest).
const COMPACT_AFTER: usize = 64 * 1024;

#[derive(Debug)]
pub struct Outbox {
    /// `None` only in unit tests: a socket that never takes a byte.
    socket: Option<OwnedWriteHalf>,
    state: Mutex<State>,
    /// Wakes the owner: bytes are left waiting (so it must watch for writability), or a fault.
    wake: Notify,
    capacity: usize,
    max_backlog: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Bytes the kernel has not taken yet; `pending[written..]` is unsent. Empty (unallocated) when caught up.
    pending: Vec<u8>,
    written: usize,
    /// Frames (whole or in part) in `pending`.
    frames: usize,
    /// When the socket first refused bytes since it was last caught up.
    stalled_since: Option<Instant>,
    /// `pending` was started by a batched relay, not by a refused write: the owner should let other
    /// tasks run (and add to it) before flushing.
    batching: bool,
    fault: Option<Fault>,
    closed: bool,
}

/// Why the owner must close the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The reader fell more than `capacity` frames or `max_backlog` bytes behind.
    SlowReader,
    /// The socket refused a write (the peer is gone).
    WriteFailed,
}

/// When a relayed message is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// At once, if nothing waits ahead of it.
    Now,
    /// By the owner, after the tasks that are ready to run have run, together with whatever else arrived
    /// for this socket meanwhile.
    Batched,
}

/// Why a relayed message was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the reader is too slow; its connection is being closed")]
    Overflow,
    #[error("the connection is closed")]
    Closed,
}

impl Outbox {
    pub fn new(socket: OwnedWriteHalf, capacity: usize, max_backlog: usize) -> Self {
        Self::with_socket(Some(socket), capacity, max_backlog)
    }

    fn with_socket(socket: Option<OwnedWriteHalf>, capacity: usize, max_backlog: usize) -> Self {
        Self {
            socket,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            capacity,
            max_backlog,
        }
    }

    /// An outbox whose socket never takes a byte, for tests of the bounds and of the swarm registry.
    #[doc(hidden)]
    pub fn detached(capacity: usize, max_backlog: usize) -> Self {
        Self::with_socket(None, capacity, max_backlog)
    }

    /// Sends a text message relayed from another connection. Refused when the socket is closing, or when
    /// its reader is too far behind (the owner is then told to close it).
    pub fn relay(&self, message: &str, timing: Timing) -> Result<(), PushError> {
        let mut state = self.lock();
        if state.closed || state.fault == Some(Fault::WriteFailed) {
            return Err(PushError::Closed);
        }
        if state.fault.is_some()
            || state.frames >= self.capacity
            || state.backlog() + message.len() > self.max_backlog
        {
            state.fault = Some(Fault::SlowReader);
            drop(state);
            self.wake.notify_one();
            return Err(PushError::Overflow);
        }
        let (header, len) = websocket::frame_header(websocket::OP_TEXT, message.len());
        if timing == Timing::Batched && state.backlog() == 0 {
            state.batching = true;
            state.frames = 1;
            state.pending.extend_from_slice(&header[..len]);
            state.pending.extend_from_slice(message.as_bytes());
            drop(state);
            self.wake.notify_one();
            return Ok(());
        }
        self.send_locked(state, &header[..len], message.as_bytes());
        Ok(())
    }

    /// Sends bytes the owner built (whole frames: replies, pings, pongs, the close frame). Not refused: the
    /// owner checks `backlog()` against its limit after each batch.
    pub fn send_own(&self, frames: &[u8]) {
        if !frames.is_empty() {
            self.send_locked(self.lock(), frames, &[]);
        }
    }

    /// Writes `head` then `body` now if nothing is waiting (whatever the kernel does not take is kept), else
    /// queues them. One system call either way.
    fn send_locked(&self, mut state: MutexGuard<'_, State>, head: &[u8], body: &[u8]) {
        if state.fault == Some(Fault::WriteFailed) {
            return;
        }
        state.frames += 1;
        if state.backlog() > 0 {
            // Frames stay in order: this one waits behind the others, and the owner already knows.
            state.pending.extend_from_slice(head);
            state.pending.extend_from_slice(body);
            return;
        }
        let mut taken = match self.send_now(&[IoSlice::new(head), IoSlice::new(body)]) {
            Ok(n) => n,
            // Nothing taken: keep it all and let the owner retry once the socket is writable.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                0
            }
            Err(_) => {
                state.fault = Some(Fault::WriteFailed);
                drop(state);
                self.wake.notify_one();
                return;
            }
        };
        if taken == head.len() + body.len() {
            state.frames = 0;
            return;
        }
        // Keep what the kernel did not take.
        for part in [head, body] {
            let skip = taken.min(part.len());
            state.pending.extend_from_slice(&part[skip..]);
            taken -= skip;
        }
        state.stalled_since = Some(Instant::now());
        drop(state);
        // The owner must now watch for writability.
        self.wake.notify_one();
    }

    /// Writes as much of the waiting bytes as the socket takes without blocking (the owner, once writable).
    pub fn flush(&self) {
        let mut state = self.lock();
        // The waiting bytes are offered to the socket now: no batch is being gathered any more.
        state.batching = false;
        while state.backlog() > 0 && state.fault != Some(Fault::WriteFailed) {
            let State {
                pending, written, ..
            } = &mut *state;
            match self.try_write(&[IoSlice::new(&pending[*written..])]) {
                Ok(0) => state.fault = Some(Fault::WriteFailed),
                Ok(n) => *written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    state.stalled_since.get_or_insert_with(Instant::now);
                    break;
                }
                Err(_) => state.fault = Some(Fault::WriteFailed),
            }
        }
        if state.backlog() == 0 {
            // All sent: free the buffer, a caught-up socket keeps none.
            state.pending = Vec::new();
            state.written = 0;
            state.frames = 0;
            state.stalled_since = None;
        } else if state.written >= COMPACT_AFTER {
            // A reader that keeps taking a little but never catches up must not grow the sent prefix.
            let written = std::mem::take(&mut state.written);
            state.pending.drain(..written);
        }
    }

    /// One `sendmsg`, not tokio's `writev`: a socket send skips the file layer (position lock, permission
    /// and notify hooks), and writes are most of this server's CPU time. Used while waiting bytes are
    /// flushed: a refusal here clears tokio's writability, so `writable()` then waits for the next edge.
    fn try_write(&self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        match &self.socket {
            Some(socket) => {
                let stream: &TcpStream = socket.as_ref();
                stream.try_io(Interest::WRITABLE, || {
                    SockRef::from(stream).send_vectored(parts)
                })
            }
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// The same send without consulting tokio's readiness first. That check is a cache miss per relay (one
    /// record per socket among thousands, touched by nobody else), and the kernel's answer is what counts.
    /// A refusal here leaves tokio's readiness possibly stale, which costs the owner at most one extra
    /// `try_write` (that one clears it) before it waits; nothing is lost because the bytes are kept.
    fn send_now(&self, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        match &self.socket {
            Some(socket) => SockRef::from(socket.as_ref()).send_vectored(parts),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    /// Resolves when the socket can take more bytes (never, for a detached outbox).
    pub async fn writable(&self) -> io::Result<()> {
        match &self.socket {
            Some(socket) => socket.as_ref().writable().await,
            None => std::future::pending().await,
        }
    }

    /// Resolves once `relay` or `send_own` left bytes waiting or found a fault since the previous wake (a
    /// wake before the call is not lost). Keep the future across polls: re-creating it costs a lock.
    pub fn woken(&self) -> Notified<'_> {
        self.wake.notified()
    }

    /// Unsent bytes.
    pub fn backlog(&self) -> usize {
        self.lock().backlog()
    }

    /// Whether waiting bytes come from batched relays the socket has not been offered yet (rather than
    /// from a refused write): then the owner yields once before flushing, to gather more.
    pub fn batching(&self) -> bool {
        self.lock().batching
    }

    /// When the socket first refused bytes, if some are still waiting.
    pub fn stalled_since(&self) -> Option<Instant> {
        self.lock().stalled_since
    }

    pub fn fault(&self) -> Option<Fault> {
        self.lock().fault
    }

    /// Refuses further relays; bytes already waiting stay for the owner's last flush.
    pub fn close(&self) {
        self.lock().closed = true;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves `State` consistent before anything that could panic.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl State {
    fn backlog(&self) -> usize {
        self.pending.len() - self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_too_far_behind_overflows_instead_of_growing() {
        let outbox = Outbox::detached(2, 1000);
        assert_eq!(outbox.relay("a", Timing::Now), Ok(()));
        assert_eq!(outbox.relay("b", Timing::Now), Ok(()));
        assert_eq!(outbox.backlog(), 6, "two frames of 2 + 1 bytes wait");
        assert_eq!(outbox.relay("c", Timing::Now), Err(PushError::Overflow));
        assert_eq!(outbox.fault(), Some(Fault::SlowReader));
        // Once overflowed, the connection is doomed: nothing more is queued.
        assert_eq!(outbox.relay("d", Timing::Now), Err(PushError::Overflow));
        assert_eq!(outbox.backlog(), 6);
        assert!(outbox.stalled_since().is_some());

        let outbox = Outbox::detached(100, 10);
        assert_eq!(outbox.relay("12345678", Timing::Now), Ok(()));
        assert_eq!(
            outbox.relay("1", Timing::Now),
            Err(PushError::Overflow),
            "byte bound"
        );
    }

    #[test]
    fn closed_outbox_refuses_relays_but_takes_the_owners_close_frame() {
        let outbox = Outbox::detached(2, 1000);
        outbox.close();
        assert_eq!(outbox.relay("b", Timing::Now), Err(PushError::Closed));
        assert_eq!(outbox.backlog(), 0);
        outbox.send_own(&[0x88, 0]);
        assert_eq!(outbox.backlog(), 2);
    }

    #[test]
    fn batched_relays_wait_for_the_owner_and_keep_their_order() {
        let outbox = Outbox::detached(10, 1000);
        outbox.relay("a", Timing::Batched).unwrap();
        assert!(outbox.batching());
        outbox.relay("b", Timing::Now).unwrap();
        outbox.relay("c", Timing::Batched).unwrap();
        assert_eq!(outbox.lock().pending, b"\x81\x01a\x81\x01b\x81\x01c");
        assert_eq!(outbox.lock().frames, 3);
        assert_eq!(
            outbox.stalled_since(),
            None,
            "not offered to the socket yet"
        );
        outbox.flush();
        assert!(!outbox.batching());
        assert!(outbox.stalled_since().is_some(), "refused by the socket");
        assert_eq!(outbox.backlog(), 9);
    }

    #[tokio::test]
    async fn frames_go_straight_to_the_socket_and_only_leftovers_are_kept() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (_read, write) = server.into_split();
        let outbox = Outbox::new(write, 1_000_000, 64 << 20);
        outbox.relay("hi", Timing::Now).unwrap();
        assert_eq!(outbox.backlog(), 0);
        let mut got = [0; 4];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [0x81, 2, b'h', b'i']);

        // Fill the socket until the kernel refuses: the rest waits, in order, and is flushed once read.
        let big = "x".repeat(60_000);
        while outbox.backlog() == 0 {
            outbox.relay(&big, Timing::Now).unwrap();
        }
        outbox.relay("end", Timing::Now).unwrap();
        let waiting = outbox.backlog();
        assert!(waiting > 5, "{waiting}");
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            let mut chunk = vec![0; 1 << 16];
            while !all.ends_with(b"\x81\x03end") {
                let n = client.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                all.extend_from_slice(&chunk[..n]);
            }
            all
        });
        while outbox.backlog() > 0 {
            outbox.writable().await.unwrap();
            outbox.flush();
        }
        let all = reader.await.unwrap();
        assert_eq!(all.len() % 60_004, 5, "whole frames only");
        assert!(
            all.chunks(60_004)
                .all(|f| f.len() < 60_004 || f[..4] == [0x81, 126, 0xea, 0x60])
        );
        assert_eq!(outbox.stalled_since(), None);
    }
}
