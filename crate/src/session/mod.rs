//! The session layer, without I/O: [`Session`] ([`core`]) runs many torrents, the WebTorrent
//! trackers they announce on and the data-channel connections that feed their engines; a
//! driver (browser or native) feeds it inputs and runs its outputs. Its parts are pure and
//! unit-tested natively: which trackers stay open and may signal for which torrent
//! ([`trackers`]), which torrents a driver can hold ([`limits`]), which connections to one
//! remote peer it keeps ([`pairing`]), reconnect delays ([`backoff`]), the upload limit
//! ([`upload_limit`]), when an SDP has enough ICE candidates to send ([`gathering`]), web
//! seeds ([`webseed`], BEP 19), the browser's piece cache in front of
//! slow storage ([`piece_cache`]), streaming reads ([`stream`]) and resuming from stored state
//! ([`resume`]). [`tracker_proto`] is the WebTorrent tracker protocol itself, shared with
//! `seedcast-signal`.

pub mod backoff;
pub mod core;
pub mod gathering;
pub mod limits;
pub mod pairing;
pub mod piece_cache;
pub mod resume;
pub mod stream;
pub mod tracker_proto;
pub mod trackers;
pub mod upload_limit;
pub mod webseed;

pub use self::core::{
    AddError, ConnId, Output, Session, SessionConfig, SessionEvent, TrackerState,
};
pub use limits::{MAX_BROWSER_PIECE_LENGTH, PieceLengthTooLarge, check_browser_piece_length};
pub use trackers::{TorrentId, TrackerId, TrackerSet, TrackersFull};
