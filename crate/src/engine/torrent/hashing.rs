//! Piece hashes computed by the driver (`Config::external_hashing`): a complete piece stays
//! in the picker, all blocks in and none free (nothing is requested for it, its buffer still
//! counts against `max_partial_bytes`), while the driver hashes it.
//!
//! States of a complete piece: *waiting* (in `hashing` under a token, [`Event::HashPiece`]
//! sent) → decided by [`Torrent::handle_piece_hash`] with that token, or by the engine itself
//! after [`HASH_WAIT`]. Invariants: an answer counts only with the token of the piece's
//! current wait, and tokens are never reused in the process (not even by another engine for
//! the same torrent, as when a session replaces one), so a late answer for older bytes never
//! decides newer ones; a piece is never left waiting longer than
//! [`HASH_WAIT`] (a driver that never answers costs time, not the piece); at most
//! [`MAX_PIECES_HASHING`] wait at once, past that pieces are hashed inline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha1::{Digest, Sha1};

use super::{Event, Torrent};

/// A piece whose hash has not come back this long after it was asked for is hashed by the
/// engine. The browser's WebCrypto answers in well under a millisecond.
pub const HASH_WAIT: Duration = Duration::from_secs(2);
/// Most pieces waiting for the driver's hash at once; more are hashed inline.
pub const MAX_PIECES_HASHING: usize = 64;

/// The last token handed out, by any engine of this process.
static LAST_TOKEN: AtomicU64 = AtomicU64::new(0);

/// One piece waiting for its hash.
#[derive(Debug, Clone, Copy)]
pub(super) struct HashWait {
    token: u64,
    since: Duration,
}

impl Torrent {
    /// Asks the driver to hash complete piece `index`. False when it must be hashed inline
    /// (external hashing off, or too many waiting).
    pub(super) fn request_hash(&mut self, index: u32, now: Duration) -> bool {
        if !self.config.external_hashing || self.hashing.len() >= MAX_PIECES_HASHING {
            return false;
        }
        let token = LAST_TOKEN.fetch_add(1, Ordering::Relaxed) + 1;
        self.hashing.insert(index, HashWait { token, since: now });
        self.events.push_back(Event::HashPiece { index, token });
        true
    }

    /// The bytes to hash for [`Event::HashPiece`] `{ index, token }`; `None` once that
    /// request no longer stands (answered, expired, or the piece was dropped).
    pub fn piece_to_hash(&self, index: u32, token: u64) -> Option<&[u8]> {
        if self.hashing.get(&index)?.token != token {
            return None;
        }
        self.meta.as_ref()?.picker.complete_data(index)
    }

    /// The driver's SHA-1 of the bytes [`Torrent::piece_to_hash`] gave for `index` under
    /// `token`. An answer to a request that no longer stands is ignored.
    pub fn handle_piece_hash(&mut self, index: u32, token: u64, digest: [u8; 20], now: Duration) {
        if self.hashing.get(&index).map(|w| w.token) != Some(token) {
            return;
        }
        self.hashing.remove(&index);
        self.check_piece(index, digest, now);
    }

    /// Hashes inline every piece that waited [`HASH_WAIT`] for the driver.
    pub(super) fn expire_hashes(&mut self, now: Duration) {
        let overdue: Vec<u32> = self
            .hashing
            .iter()
            .filter(|(_, w)| now >= w.since + HASH_WAIT)
            .map(|(&i, _)| i)
            .collect();
        for index in overdue {
            self.hashing.remove(&index);
            self.hash_inline(index, now);
        }
    }

    /// When the oldest waiting piece is due to be hashed inline.
    pub(super) fn hash_deadline(&self) -> Option<Duration> {
        self.hashing.values().map(|w| w.since + HASH_WAIT).min()
    }

    /// Hashes complete piece `index` here and decides it.
    pub(super) fn hash_inline(&mut self, index: u32, now: Duration) {
        let Some(data) = self
            .meta
            .as_ref()
            .and_then(|m| m.picker.complete_data(index))
        else {
            return;
        };
        let actual: [u8; 20] = Sha1::digest(data).into();
        self.check_piece(index, actual, now);
    }
}
