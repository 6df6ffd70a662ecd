//! What the session hands the driver: [`Output`]s to run and [`SessionEvent`]s to show.

use std::time::Duration;

use super::ConnId;
use crate::session::trackers::{TorrentId, TrackerId};

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
    /// Hash piece `index` of `torrent` (`Session::piece_to_hash`) and answer with
    /// `handle_piece_hash`; only with the engine's `external_hashing` (see
    /// `engine::Event::HashPiece`).
    HashPiece {
        torrent: TorrentId,
        index: u32,
        token: u64,
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
