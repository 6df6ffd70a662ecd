//! Session-level decisions shared by the drivers, without I/O: which trackers stay open and
//! may signal for which torrent ([`trackers`]), which torrents a driver can hold
//! ([`limits`]), and which connections to one remote peer it keeps ([`pairing`]). Pure, so they are unit-tested natively even where only the browser
//! driver uses them. [`tracker_proto`] is the WebTorrent tracker protocol itself, shared with
//! `seedcast-signal`.

pub mod backoff;
pub mod core;
pub mod limits;
pub mod pairing;
pub mod tracker_proto;
pub mod trackers;
pub mod upload_limit;

pub use self::core::{
    AddError, ConnId, Output, Session, SessionConfig, SessionEvent, TrackerState,
};
pub use limits::{MAX_BROWSER_PIECE_LENGTH, PieceLengthTooLarge, check_browser_piece_length};
pub use trackers::{TorrentId, TrackerId, TrackerSet, TrackersFull};
