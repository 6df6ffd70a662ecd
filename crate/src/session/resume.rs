//! Resuming a torrent from what an earlier run stored, without I/O: the policy both drivers
//! share. Nothing stored is trusted as is: metadata only if its SHA-1 is the info hash
//! ([`verified_info`]), a piece list only within the torrent's pieces ([`stored_have`]),
//! and the pieces' bytes are verified by the storage later (browser) or hash-checked on
//! start ([`check_on_start`], native).
//!
//! [`resume`] decides, for a torrent whose browser storage was just opened, which metadata
//! to use, which pieces to start with, whether the engine is rebuilt (and with which
//! streaming readers), whether the metadata must be saved and which events follow; the web
//! driver (`web/resume.rs`) does the store I/O and turns the outcome into notes.

use std::time::Duration;

use sha1::{Digest, Sha1};

use super::stream::StreamSet;
use crate::engine::{Bitfield, Config, Storage, Torrent as Engine};
use crate::metainfo::{Info, InfoHash, MAX_PIECES};

/// Most entries of a stored piece list that are read. A list of distinct pieces of any
/// torrent is at most this long; a longer one is corrupt or planted, and reading it all
/// would only cost time (duplicates and out-of-range entries are ignored anyway).
pub const MAX_STORED_PIECES: usize = MAX_PIECES;

/// Whether `info_bytes` is the `info` dictionary of `info_hash` (its SHA-1).
pub fn is_info_of(info_hash: &[u8; 20], info_bytes: &[u8]) -> bool {
    let hash: [u8; 20] = Sha1::digest(info_bytes).into();
    &hash == info_hash
}

/// Stored `info` bytes parsed, if they still hash to the torrent's info hash (another
/// torrent's, a truncated or edited dictionary are ignored: the metadata is fetched again).
pub fn verified_info(info_hash: &[u8; 20], bytes: &[u8]) -> Option<Metadata> {
    is_info_of(info_hash, bytes)
        .then(|| Metadata::parse(bytes))
        .flatten()
}

/// The pieces a stored list claims, as a bitfield of `num_pieces`: entries out of range
/// are ignored, duplicates count once, and only the first [`MAX_STORED_PIECES`] entries
/// are read.
pub fn stored_have(num_pieces: u32, stored: &[u32]) -> Bitfield {
    let mut have = Bitfield::new(num_pieces);
    for &p in stored.iter().take(MAX_STORED_PIECES) {
        if p < num_pieces {
            have.set(p);
        }
    }
    have
}

/// A torrent's parsed `info` and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub info: Info,
    pub bytes: Vec<u8>,
}

impl Metadata {
    /// `bytes` parsed as an `info` dictionary; the caller has checked its hash.
    fn parse(bytes: &[u8]) -> Option<Metadata> {
        let info = Info::from_bytes(bytes).ok()?;
        Some(Metadata {
            info,
            bytes: bytes.to_vec(),
        })
    }
}

/// What the engine knows when the storage opens.
#[derive(Debug)]
pub struct Current {
    /// Its metadata (`None`: a magnet still fetching it).
    pub metadata: Option<Metadata>,
    /// Whether it already has every piece.
    pub complete: bool,
}

/// What the storage held (written by an earlier visit, or by anything else: untrusted).
#[derive(Debug, Clone, Copy)]
pub struct Stored<'a> {
    pub info: Option<&'a [u8]>,
    pub pieces: &'a [u32],
}

/// Events the driver reports after resuming, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeEvent {
    /// The metadata became known (from the store): the page learns files and names.
    MetadataReady,
    /// Pieces were found: progress changed.
    Progress,
    /// Every piece is there.
    Done,
}

/// What to do once the storage is open and the metadata is known.
#[derive(Debug)]
pub struct Resume {
    /// The metadata to use: the engine's own, else the verified stored one. The storage
    /// learns its layout from it before the store is switched on.
    pub metadata: Metadata,
    /// The pieces the store claims: the engine starts with them, and the storage verifies
    /// their bytes (on read and in the background).
    pub have: Bitfield,
    /// `Some`: rebuild the engine with `have` (and the metadata), pointing these streaming
    /// readers `(reader, torrent offset)` where their streams start. Only safe because the
    /// torrent is held: the engine has no peers yet.
    pub rebuild: Option<Vec<(u64, u64)>>,
    /// The store has no `info` of this torrent (none, or bytes that do not hash to the info
    /// hash): save the metadata over it for the next visit.
    pub save_info: bool,
    pub events: Vec<ResumeEvent>,
}

/// Decides how torrent `info_hash` resumes from `stored`, given what the engine knows and
/// the streams opened meanwhile (a player opens one at once). `None`: no metadata yet,
/// nothing to resume (a magnet fetches it from peers as usual).
pub fn resume<W>(
    info_hash: &[u8; 20],
    current: Current,
    stored: Stored<'_>,
    streams: &StreamSet<W>,
) -> Option<Resume> {
    let had_metadata = current.metadata.is_some();
    // Hashed once: the stored bytes are both a source of metadata and what is on disk.
    let stored_info = stored.info.filter(|bytes| is_info_of(info_hash, bytes));
    let metadata = match current.metadata {
        Some(metadata) => metadata,
        None => Metadata::parse(stored_info?)?,
    };
    let have = stored_have(metadata.info.num_pieces(), stored.pieces);
    let resumed = have.count() > 0;
    let rebuild = (resumed || !had_metadata).then(|| streams.start_offsets(&metadata.info));
    let complete = match rebuild {
        Some(_) => have.is_full(),
        None => current.complete,
    };
    let mut events = Vec::new();
    if !had_metadata {
        events.push(ResumeEvent::MetadataReady);
    }
    if resumed {
        events.push(ResumeEvent::Progress);
    }
    if complete {
        events.push(ResumeEvent::Done);
    }
    Some(Resume {
        metadata,
        have,
        rebuild,
        save_info: stored_info.is_none(),
        events,
    })
}

/// The engine rebuilt from resumed state, with `readers` pointed where their streams start.
pub fn rebuild_engine(
    info_hash: InfoHash,
    metadata: Metadata,
    have: Bitfield,
    readers: &[(u64, u64)],
    storage: Box<dyn Storage>,
    config: Config,
    now: Duration,
) -> Engine {
    let mut engine = Engine::new(
        info_hash,
        metadata.info,
        metadata.bytes,
        storage,
        Some(have),
        config,
        now,
    );
    for &(reader, offset) in readers {
        engine.set_reader(reader, offset, now);
    }
    engine
}

/// What a native resume record says about one piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// No usable record (missing, unreadable, of another torrent or shape).
    NoRecord,
    Record {
        /// The record lists the piece as verified.
        claimed: bool,
        /// One of the piece's (non-padding) files changed since the record was written.
        files_changed: bool,
    },
}

/// Whether a piece is hash-checked on start: its files must all exist at full length, and
/// the record claims it, or there is no usable record, or one of its files changed (pieces
/// written after the last save are found that way). A piece the record does not claim, in
/// files that did not change, is not read: it was never downloaded.
pub fn check_on_start(files_complete: bool, claim: Claim) -> bool {
    files_complete
        && match claim {
            Claim::NoRecord => true,
            Claim::Record {
                claimed,
                files_changed,
            } => claimed || files_changed,
        }
}
