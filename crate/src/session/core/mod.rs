//! The sans-IO session: many torrents, the WebTorrent trackers they announce on, and the
//! WebRTC data-channel connections that feed their engines. A driver (browser or native)
//! owns sockets, peer connections, timers and files; it feeds inputs (`handle_*`, each with
//! `now`), runs every [`Output`] from [`Session::poll_output`] and calls
//! [`Session::handle_timeout`] at [`Session::poll_timeout`]. Everything a test would want to
//! check is decided here.
//!
//! Time is a `Duration` since any origin the driver picks; it must not go backwards. No
//! clocks and no randomness of its own: offer ids and backoff jitter come from
//! [`SessionConfig::seed`].

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::engine::{self, PeerKey};
use crate::session::trackers::{TorrentId, TrackerId};

/// One peer connection (one data channel), named by the session; unique for the session's
/// lifetime, never reused. It is the engine's `PeerKey` for that connection.
pub type ConnId = PeerKey;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub peer_id: [u8; 20],
    /// Randomness: offer ids, backoff jitter, engine seeds ([`Session::engine_config`]).
    pub seed: u64,
    /// Connections open or being negotiated per torrent (our unanswered offers have their own
    /// budget, `MAX_PENDING_OFFERS`).
    pub max_peers: usize,
    /// Bytes per second the whole session may upload (token bucket); `None` = unlimited.
    pub upload_limit: Option<u64>,
    /// Refuse torrents a browser tab cannot hold (`check_browser_piece_length`).
    pub browser_limits: bool,
    /// Template for every torrent's engine (see [`Session::engine_config`]).
    pub engine: engine::Config,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a WebSocket to `url`; report `handle_tracker_open`/`_closed`/`_message`.
    ConnectTracker {
        tracker: TrackerId,
        url: String,
    },
    /// Close that socket; nothing more is wanted from it (late news is ignored).
    CloseTracker {
        tracker: TrackerId,
    },
    /// Send one text frame (dropped by the driver if the socket is not open).
    SendToTracker {
        tracker: TrackerId,
        text: String,
    },
    /// New peer connection with one ordered reliable data channel; reply
    /// `handle_local_sdp(conn, complete offer SDP)`.
    CreateOffer {
        conn: ConnId,
    },
    /// New peer connection from a remote offer; reply `handle_local_sdp(conn, complete
    /// answer SDP)`.
    AcceptOffer {
        conn: ConnId,
        sdp: String,
    },
    /// Apply the remote answer to the connection created by `CreateOffer`.
    AcceptAnswer {
        conn: ConnId,
        sdp: String,
    },
    /// Bytes for the data channel, already within the backpressure budget; the driver sends
    /// them as one message or splits them at the remote's max message size.
    Send {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// Close and forget this connection (the session already did).
    Close {
        conn: ConnId,
    },
    Event(SessionEvent),
}

/// What happened, for the user interface (the web driver maps these to its notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    MetadataReady {
        torrent: TorrentId,
    },
    PieceVerified {
        torrent: TorrentId,
        index: u32,
    },
    Completed {
        torrent: TorrentId,
    },
    PeerConnected {
        torrent: TorrentId,
        conn: ConnId,
        peer_id: [u8; 20],
    },
    PeerDisconnected {
        torrent: TorrentId,
        conn: ConnId,
        reason: String,
    },
    PeerPenalised {
        torrent: TorrentId,
        peer_id: [u8; 20],
        reason: String,
        seconds: u64,
    },
    PeerBanned {
        torrent: TorrentId,
        peer_id: Option<[u8; 20]>,
        reason: String,
    },
    Tracker {
        tracker: TrackerId,
        url: String,
        state: TrackerState,
    },
    /// A tracker's failure reason or warning, a failed piece …
    Warning {
        torrent: Option<TorrentId>,
        message: String,
    },
    StorageError {
        torrent: TorrentId,
        message: String,
    },
    /// The session removed the torrent by itself (e.g. its metadata showed pieces a browser
    /// tab cannot hold); the driver frees its storage.
    TorrentStopped {
        torrent: TorrentId,
        reason: String,
    },
}

/// A tracker socket as the session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerState {
    Connecting,
    Open,
    /// Closed; reconnecting after `retry_in`.
    Closed {
        retry_in: Duration,
    },
    /// Not usable (the tracker refused us); the message says why.
    Failed(String),
}

/// Why a torrent was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error("this torrent is already added")]
    Duplicate,
    #[error(transparent)]
    PieceLengthTooLarge(#[from] crate::session::PieceLengthTooLarge),
}

/// The session. See the module docs.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    torrents: BTreeMap<TorrentId, engine::Torrent>,
    outputs: VecDeque<Output>,
}

impl Session {
    pub fn new(config: SessionConfig, _now: Duration) -> Session {
        Session {
            config,
            torrents: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The engine configuration for a torrent: the template with our peer id and a seed mixed
    /// from the session's seed and the info hash.
    pub fn engine_config(&self, info_hash: &TorrentId) -> engine::Config {
        let mut config = self.config.engine.clone();
        config.peer_id = self.config.peer_id;
        let mut seed = self.config.seed;
        for chunk in info_hash.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            seed = engine::rng::Rng::new(seed ^ u64::from_le_bytes(word)).next_u64();
        }
        config.seed = seed;
        config
    }

    // ---- torrents ----

    /// Takes an engine the driver built (with its storage); announces on the WebSocket
    /// trackers among `trackers` (deduplicated, bounded).
    pub fn add_torrent(
        &mut self,
        engine: engine::Torrent,
        _trackers: &[String],
        _now: Duration,
    ) -> Result<TorrentId, AddError> {
        let id = engine.info_hash().0;
        if self.torrents.contains_key(&id) {
            return Err(AddError::Duplicate);
        }
        self.torrents.insert(id, engine);
        Ok(id)
    }

    /// Sends `stopped` announces and closes the torrent's connections.
    pub fn remove_torrent(&mut self, id: &TorrentId, _now: Duration) {
        self.torrents.remove(id);
    }

    pub fn torrent(&self, id: &TorrentId) -> Option<&engine::Torrent> {
        self.torrents.get(id)
    }

    /// For readers, `hold_downloads` …; call `handle_timeout` (or any input) after changing it
    /// so the session transmits what it now wants.
    pub fn torrent_mut(&mut self, id: &TorrentId) -> Option<&mut engine::Torrent> {
        self.torrents.get_mut(id)
    }

    pub fn torrents(&self) -> impl Iterator<Item = &TorrentId> {
        self.torrents.keys()
    }

    pub fn set_upload_limit(&mut self, limit: Option<u64>, _now: Duration) {
        self.config.upload_limit = limit;
    }

    /// While a file stream of `torrent` waits for a piece, small output is not corked.
    pub fn set_stream_waiting(&mut self, _torrent: &TorrentId, _waiting: bool) {}

    // ---- inputs from the driver ----

    pub fn handle_tracker_open(&mut self, _tracker: TrackerId, _now: Duration) {}

    pub fn handle_tracker_closed(&mut self, _tracker: TrackerId, _now: Duration) {}

    /// One text frame from the tracker: untrusted.
    pub fn handle_tracker_message(&mut self, _tracker: TrackerId, _text: &str, _now: Duration) {}

    /// The complete SDP for `CreateOffer` (an offer) or `AcceptOffer` (an answer).
    pub fn handle_local_sdp(&mut self, _conn: ConnId, _sdp: String, _now: Duration) {}

    /// SDP or ICE failed: the connection is dropped.
    pub fn handle_conn_failed(&mut self, _conn: ConnId, _reason: &str, _now: Duration) {}

    pub fn handle_channel_open(&mut self, _conn: ConnId, _now: Duration) {}

    pub fn handle_channel_data(&mut self, _conn: ConnId, _bytes: &[u8], _now: Duration) {}

    pub fn handle_channel_closed(&mut self, _conn: ConnId, _now: Duration) {}

    /// The channel's buffered amount is now `buffered` (after a buffered-amount-low event or
    /// periodically).
    pub fn handle_buffered(&mut self, _conn: ConnId, _buffered: usize, _now: Duration) {}

    pub fn handle_timeout(&mut self, _now: Duration) {}

    // ---- outputs ----

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest of: engine timers, announces, tracker reconnects, offer and connect
    /// expiries, the cork flush and the upload refill.
    pub fn poll_timeout(&self) -> Option<Duration> {
        None
    }

    /// Relayed offers and answers ignored so far (wrong tracker, refused peer, unknown offer …).
    pub fn ignored_signals(&self) -> u64 {
        0
    }
}
