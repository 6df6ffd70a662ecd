//! The engine run loop for every torrent: after each input, drain the engine's events (into
//! [`SessionEvent`]s, `Close`s and announces), then move bytes from the engine to every open
//! channel within its backpressure budget and the session's upload limit.

use std::time::Duration;

use super::upload_order::{UploadCandidate, laggards_first};
use super::{ConnId, Output, Session, SessionEvent};
use crate::engine::Event;
use crate::session::limits::check_browser_piece_length;
use crate::session::trackers::TorrentId;

/// Keep at most this many bytes queued in a channel. Enough to cover the bandwidth-delay
/// product of a fast link; more only adds latency to control messages, and bursts: with
/// 1 MiB a streaming seeder's channel sat full and undrained for 0.5-2 s at a time under
/// load (measured in `make bench-stream` with TRACE=1), which made seeks wait that long.
/// Every byte queued here is sent before the blocks a seek asks for, and cancels cannot
/// recall it: a viewer seeking into a download from an unlimited seeder on this 2-core
/// machine saw the seeder's channel drain at 2-3 MB/s while the video seeked (every core
/// busy), so 256 KiB held the first new block back ~100 ms (bench-stream CHANNELS=1). At
/// 128 KiB, A/B with alternating views (SEEK_AFTER=200, 24 seeks a side): seek median 142
/// against 190 ms, mean 144 against 254; transfer between two pages unchanged (22-24 MB/s,
/// 78-84 ms CPU/MiB against 22-26 and 74-86).
pub const HIGH_WATER: usize = 128 * 1024;
/// The drivers set this as each channel's `bufferedAmountLowThreshold`: the channel says it
/// has room again once its buffer drains below it.
pub const LOW_WATER: usize = 64 * 1024;
/// Under an upload limit a channel holds at most this long at the limit's rate (and at least
/// [`LOW_WATER`] plus two block messages, so it still crosses the low-water mark and says
/// when it has room). Why: a peer that vanished (a viewer closed the tab) reads nothing,
/// but its channel takes writes until full, and every byte written there was taken from the
/// bucket the live peers share. Traced in bench-stream at 500 kB/s: a viewer arriving just
/// as the last one left got no burst at all, its first pieces at the bare rate, because
/// 256 KiB (half a second of the limit) went into the departed viewer's channel first.
/// A live peer's channel drains at the link's speed, far above a limited rate, so a shallow
/// buffer costs it nothing.
const LIMITED_BUFFER: Duration = Duration::from_millis(125);
/// Don't bother transmitting into less free space than one block message.
pub const MIN_SEND: usize = 16 * 1024 + 13;
/// Output smaller than this (requests, haves: no block data) is corked for up to
/// [`CORK_DELAY`] so several go out in one message. A downloading page otherwise sends a few
/// requests after every incoming 240 KiB message, and each `send` there costs ~1 ms of main
/// thread (profiled, 256 MiB download). The request pipeline covers far more than the delay.
pub const CORK_BYTES: usize = 2048;
pub const CORK_DELAY: Duration = Duration::from_millis(25);
/// Corking starts once this much has arrived on a connection (blocks are flowing): the
/// handshake, metadata and first requests go out at once, as do requests while a file
/// stream waits for a piece (a video is starting or seeking).
pub const CORK_AFTER: u64 = 1024 * 1024;
/// ... and only while the requests in flight keep the peer sending this long at its measured
/// rate (`Torrent::pipeline_covers`): the cork delay, a round trip and a margin. Before a
/// rate is measured the pipeline is a few blocks; held back 25 ms per round they used to
/// pace a fast link to a few blocks per 25 ms until the first rate tick.
pub const CORK_PIPELINE: Duration = Duration::from_millis(250);

/// The largest message a connection that has sent `sent` bytes may send now: as big as
/// everything before it, and at least one block message. A data channel hands a message
/// over only whole, and a new association is still in slow start: a viewer's first block,
/// sent inside a 224 KiB message, reached its page 16-38 ms after it left the seeder's (traced
/// in bench-stream, cold and warm views), while the stream waited for that one piece. Grown
/// this way the first block goes alone, and from ~0.5 MiB on messages are as big as the
/// channel's room allows (big messages are what make a channel fast: 256 KiB ones moved
/// 1.4-2.0x the 16 KiB ones' MB/s in `make bench-browser`, 2026-12-05).
pub fn message_cap(sent: u64) -> usize {
    usize::try_from(sent).unwrap_or(usize::MAX).max(MIN_SEND)
}

/// The most a channel may hold queued with an upload limit of `limit` bytes per second
/// (`None`: unlimited), see [`LIMITED_BUFFER`].
pub fn high_water(limit: Option<u64>) -> usize {
    match limit {
        None => HIGH_WATER,
        Some(rate) => {
            let at_rate = (rate as f64 * LIMITED_BUFFER.as_secs_f64()) as usize;
            at_rate.clamp(LOW_WATER + 2 * MIN_SEND, HIGH_WATER)
        }
    }
}

impl Session {
    /// Runs every torrent's loop, starting with a different torrent each time (they share the
    /// upload bucket).
    pub(super) fn pump_all(&mut self, now: Duration) {
        let mut ids: Vec<TorrentId> = self.torrents.keys().copied().collect();
        if !ids.is_empty() {
            self.torrent_turn = self.torrent_turn.wrapping_add(1);
            let first = self.torrent_turn % ids.len();
            ids.rotate_left(first);
        }
        for id in ids {
            self.pump(&id, now);
        }
    }

    /// Drains `torrent`'s engine events, then transmits to every open channel with room.
    pub(super) fn pump(&mut self, torrent: &TorrentId, now: Duration) {
        if let Some(reason) = self.drain_events(torrent, now) {
            // Requesting would allocate piece buffers the driver cannot afford.
            self.remove_torrent(torrent, now);
            self.event(SessionEvent::TorrentStopped {
                torrent: *torrent,
                reason,
            });
            return;
        }
        let Some(swarm) = self.torrents.get_mut(torrent) else {
            return;
        };
        let mut keys: Vec<ConnId> = swarm.open_keys().collect();
        if !keys.is_empty() {
            swarm.transmit_turn = swarm.transmit_turn.wrapping_add(1);
            let first = swarm.transmit_turn % keys.len();
            keys.rotate_left(first);
        }
        // Under an upload limit the first connections take the bucket: clear laggards go first
        // (see `upload_order`). Without one every connection is served to its high-water mark
        // in this pass whatever the order, so this runs (once per input) only where it counts.
        if self.upload.is_some() && keys.len() > 1 {
            let (num_pieces, piece_length) = swarm.engine.geometry().unwrap_or((0, 0));
            let candidates: Vec<UploadCandidate<ConnId>> = keys
                .iter()
                .map(|&key| {
                    let (pieces, received) = swarm.engine.peer_progress(key).unwrap_or((0, 0));
                    UploadCandidate {
                        key,
                        pieces,
                        received,
                    }
                })
                .collect();
            keys = laggards_first(&candidates, num_pieces, piece_length);
        }
        for key in keys {
            self.transmit(torrent, key, now);
        }
    }

    /// Engine events to session events; returns why the torrent must stop, if it must.
    fn drain_events(&mut self, torrent: &TorrentId, now: Duration) -> Option<String> {
        let browser_limits = self.config.browser_limits;
        let mut completed = false;
        let mut stop = None;
        let swarm = self.torrents.get_mut(torrent)?;
        while let Some(event) = swarm.engine.poll_event() {
            let id = *torrent;
            let event = match event {
                Event::PeerReady { peer, peer_id } => SessionEvent::PeerConnected {
                    torrent: id,
                    conn: peer,
                    peer_id,
                },
                Event::MetadataReady => {
                    let too_large = swarm
                        .engine
                        .info()
                        .map(|i| check_browser_piece_length(i.piece_length));
                    if let (true, Some(Err(e))) = (browser_limits, too_large) {
                        stop = Some(format!("torrent stopped: {e}"));
                        continue;
                    }
                    SessionEvent::MetadataReady { torrent: id }
                }
                Event::PieceVerified { index } => {
                    SessionEvent::PieceVerified { torrent: id, index }
                }
                Event::HashPiece { index, token } => {
                    self.outputs.push_back(Output::HashPiece {
                        torrent: id,
                        index,
                        token,
                    });
                    continue;
                }
                Event::PieceFailed { index } => SessionEvent::Warning {
                    torrent: Some(id),
                    message: format!("piece {index} failed its hash check; fetching it again"),
                },
                Event::Completed => {
                    completed = true;
                    SessionEvent::Completed { torrent: id }
                }
                // The engine remembers the id (`refuses_peer`): its signals are ignored.
                Event::PeerBanned {
                    peer_id, reason, ..
                } => SessionEvent::PeerBanned {
                    torrent: id,
                    peer_id,
                    reason,
                },
                Event::PeerPenalised {
                    peer_id,
                    reason,
                    until,
                    ..
                } => SessionEvent::PeerPenalised {
                    torrent: id,
                    peer_id,
                    reason,
                    seconds: until.saturating_sub(now).as_secs().max(1),
                },
                Event::Disconnect { peer, reason } => {
                    // The engine already forgot the peer: close without `handle_disconnect`.
                    swarm.forget(peer, reason, &mut self.outputs);
                    continue;
                }
                Event::StorageError { message } => SessionEvent::StorageError {
                    torrent: id,
                    message,
                },
            };
            self.outputs.push_back(Output::Event(event));
        }
        if stop.is_none() && completed {
            self.announce_completed(torrent);
        }
        stop
    }

    /// Moves bytes from the engine to one channel until its buffer reaches the high-water mark
    /// (the driver's `handle_buffered` calls us again) or the upload bucket runs dry (the
    /// upload wake-up does).
    fn transmit(&mut self, torrent: &TorrentId, key: ConnId, now: Duration) {
        loop {
            let Some(swarm) = self.torrents.get_mut(torrent) else {
                return;
            };
            let Some(conn) = swarm.conns.get(&key).filter(|c| c.open) else {
                return;
            };
            let free = high_water(self.config.upload_limit)
                .saturating_sub(conn.buffered.saturating_add(conn.corked.len()));
            if free < MIN_SEND {
                return;
            }
            let mut budget = free.min(message_cap(conn.sent));
            let mut blocks_held = false;
            if let Some(bucket) = &mut self.upload {
                let allowed = bucket.available(now);
                if allowed < MIN_SEND {
                    // The channel has room; our own limit holds the blocks back.
                    swarm.engine.note_writable(key);
                    if swarm.engine.wants_transmit(key) {
                        self.upload_wake = Some(now + bucket.wait_for(MIN_SEND));
                    }
                    blocks_held = true;
                } else {
                    budget = budget.min(allowed);
                }
            }
            // Protocol messages (requests, haves, cancels, rejects) go out even then, charged
            // to the bucket: it goes negative and the next refills pay it back, so the average
            // stays at the limit. Held behind the blocks we upload, our requests waited up to
            // 8.6 s to leave (simulated 8-leecher swarm) while the engine counted them as
            // asked, and the peer they were meant for idled at 31% of its upload for want of
            // them: 1.06-1.09x the fluid bound then, 1.03-1.08x now (`make bench-swarm`).
            let polled = if blocks_held {
                swarm.engine.poll_control(key, budget)
            } else {
                swarm.engine.poll_transmit(key, budget)
            };
            let Some(bytes) = polled else {
                return;
            };
            if let Some(bucket) = &mut self.upload {
                bucket.take(bytes.len());
            }
            let may_cork =
                !swarm.stream_waiting && swarm.engine.pipeline_covers(key, CORK_PIPELINE);
            let Some(conn) = swarm.conns.get_mut(&key) else {
                return;
            };
            let cork = may_cork && conn.received >= CORK_AFTER;
            if cork && conn.corked.len() + bytes.len() < CORK_BYTES {
                conn.corked.extend_from_slice(&bytes);
                self.cork_at.get_or_insert(now + CORK_DELAY);
                return;
            }
            let out = if conn.corked.is_empty() {
                bytes
            } else {
                let mut out = std::mem::take(&mut conn.corked);
                out.extend_from_slice(&bytes);
                out
            };
            conn.buffered = conn.buffered.saturating_add(out.len());
            conn.sent = conn.sent.saturating_add(out.len() as u64);
            self.outputs.push_back(Output::Send {
                conn: key,
                bytes: out,
            });
            if blocks_held {
                return;
            }
        }
    }

    /// Sends every connection's corked bytes (their delay is over).
    pub(super) fn uncork(&mut self) {
        self.cork_at = None;
        for swarm in self.torrents.values_mut() {
            for (&key, conn) in &mut swarm.conns {
                if conn.corked.is_empty() {
                    continue;
                }
                let out = std::mem::take(&mut conn.corked);
                conn.buffered = conn.buffered.saturating_add(out.len());
                conn.sent = conn.sent.saturating_add(out.len() as u64);
                self.outputs.push_back(Output::Send {
                    conn: key,
                    bytes: out,
                });
            }
        }
    }
}
