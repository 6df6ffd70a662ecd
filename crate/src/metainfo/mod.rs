//! Torrent metainfo (BEP 3, 12, 19, 47; v1 and hybrid v1/v2 by their v1 hash).
//!
//! [`Metainfo::from_bytes`] reads a `.torrent`; [`Info::from_bytes`] reads a bare `info`
//! dictionary fetched with `ut_metadata`. Both validate everything the engine relies on and
//! hand out only sanitized relative paths (see [`path`] for the rules and why we sanitize
//! rather than reject).

mod dedup;
mod error;
mod info;
mod info_hash;
pub mod path;
mod torrent;
mod v2;

pub use error::MetainfoError;
pub use info::{FileEntry, Info, piece_size};
pub use info_hash::{InfoHash, InfoHashParseError, lower_hex};
pub use torrent::Metainfo;

/// Largest `.torrent` (or `info` dictionary) accepted.
pub const MAX_TORRENT_BYTES: usize = 32 * 1024 * 1024;
/// Largest piece length accepted: 512 MiB, as libtorrent (some huge torrents use it). Powers
/// of two are usual but not required. The engine fills a piece buffer as blocks arrive, so a
/// large piece costs memory only for data actually received.
pub const MAX_PIECE_LENGTH: u32 = 512 * 1024 * 1024;
/// Largest piece count accepted (a 20 MiB `pieces` string).
pub const MAX_PIECES: usize = 1 << 20;
/// Largest number of files accepted.
pub const MAX_FILES: usize = 1 << 18;
/// Largest total length accepted: 256 TiB, the piece-count cap times 256 MiB pieces (larger
/// pieces do not raise it; no real torrent comes near).
pub const MAX_TOTAL_LENGTH: u64 = 1 << 48;
/// Renaming duplicate paths (see [`dedup`]) gives up after this many candidate names were
/// found taken, over the whole torrent: libtorrent's `max_duplicate_filenames`. We remember
/// the next number per name, so we try no more candidates than libtorrent does and accept
/// every torrent it accepts; the bound keeps a hostile list from costing more.
pub const MAX_TAKEN_CANDIDATES: usize = 500;
/// At most this many trackers and this many web seeds are kept from a torrent or magnet;
/// further ones are dropped (junk lists of hundreds of trackers exist in the wild).
pub const MAX_URLS: usize = 256;
/// Longer tracker or web-seed URLs are dropped.
pub const MAX_URL_BYTES: usize = 2048;
