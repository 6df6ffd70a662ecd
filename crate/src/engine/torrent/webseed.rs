//! Pieces from web seeds (BEP 19): a driver claims a run of contiguous missing pieces that no
//! peer is downloading, fetches it over HTTP, and hands each piece back to be verified.
//!
//! Invariant: a claimed piece is never requested from a peer (the picker skips it), so a web
//! seed and the peers never download the same piece. A claim ends when the piece arrives
//! (verified or not), when the driver releases it ([`Torrent::webseed_release`]), or after
//! [`WEBSEED_CLAIM_TIMEOUT`] (a driver that lost track of it cannot pin the piece).

use std::ops::Range;
use std::time::Duration;

use sha1::{Digest, Sha1};

use super::{Event, Torrent};

/// How long a claim lasts without an answer. Long enough for a 16 MiB range at ~300 KiB/s;
/// a web seed slower than that is better replaced by peers.
pub const WEBSEED_CLAIM_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a piece from a web seed was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebSeedPieceError {
    #[error("the torrent's metadata is not known yet")]
    NoMetadata,
    #[error("piece {index} is out of range")]
    OutOfRange { index: u32 },
    #[error("piece {index} has {got} bytes, expected {expected}")]
    WrongLength {
        index: u32,
        expected: u32,
        got: usize,
    },
    #[error("piece {index} failed its hash check")]
    HashMismatch { index: u32 },
    #[error("piece {index} could not be stored: {message}")]
    Storage { index: u32, message: String },
}

impl Torrent {
    /// Claims a run of contiguous pieces for a web seed: missing, not being downloaded from
    /// anyone, starting where streaming readers need data (else the lowest such piece), at most
    /// `max_bytes` long (but always at least one piece). The pieces are not requested from
    /// peers until the claim ends. `None` when nothing is free or before the metadata. While
    /// downloads are held (storage behind), only pieces of the streaming windows are claimed,
    /// as peers are asked only for those then.
    pub fn webseed_claim(&mut self, max_bytes: u64, now: Duration) -> Option<Range<u32>> {
        let held = self.downloads_held;
        let m = self.meta.as_mut()?;
        let start = if held {
            m.picker.first_free_in_windows()?
        } else {
            m.picker.first_free()?
        };
        let expires = now + WEBSEED_CLAIM_TIMEOUT;
        let mut end = start;
        let mut bytes = 0u64;
        while end < m.picker.num_pieces()
            && m.picker.is_free(end)
            && (!held || m.picker.in_window(end))
        {
            let size = u64::from(m.picker.piece_size(end));
            if end > start && bytes + size > max_bytes {
                break;
            }
            m.picker.claim(end, expires);
            bytes += size;
            end += 1;
        }
        Some(start..end)
    }

    /// Gives up claims (the fetch failed or was abandoned): peers may download them again.
    pub fn webseed_release(&mut self, pieces: Range<u32>, now: Duration) {
        let Some(m) = &mut self.meta else { return };
        let mut any = false;
        for i in pieces {
            any |= m.picker.unclaim(i);
        }
        if any {
            self.fill_all_requests(now);
        }
    }

    /// Pieces currently claimed by web seeds, in order.
    pub fn webseed_claimed(&self) -> Vec<u32> {
        self.meta
            .as_ref()
            .map_or_else(Vec::new, |m| m.picker.claimed().collect())
    }

    /// True if a claimed piece is also being assembled or held (never, by the invariant).
    #[doc(hidden)]
    pub fn debug_claims_overlap(&self) -> bool {
        self.meta
            .as_ref()
            .is_some_and(|m| m.picker.claims_overlap())
    }

    /// A whole piece from a web seed. Hash-checked: a verified piece is stored and reported
    /// with [`Event::PieceVerified`] exactly as one from peers; a bad one is an error (the
    /// driver drops the seed) and its claim is released either way. A piece we already have
    /// is accepted and ignored (counted as waste).
    pub fn webseed_piece(
        &mut self,
        index: u32,
        data: &[u8],
        now: Duration,
    ) -> Result<(), WebSeedPieceError> {
        let m = self.meta.as_mut().ok_or(WebSeedPieceError::NoMetadata)?;
        if index >= m.picker.num_pieces() {
            return Err(WebSeedPieceError::OutOfRange { index });
        }
        let claimed = m.picker.unclaim(index);
        let result = self.take_webseed_piece(index, data, now);
        if claimed && result.is_err() {
            self.fill_all_requests(now);
        }
        result
    }

    fn take_webseed_piece(
        &mut self,
        index: u32,
        data: &[u8],
        now: Duration,
    ) -> Result<(), WebSeedPieceError> {
        let Some(m) = &mut self.meta else {
            return Err(WebSeedPieceError::NoMetadata);
        };
        let expected = m.picker.piece_size(index);
        if data.len() != expected as usize {
            self.stats.wasted += data.len() as u64;
            return Err(WebSeedPieceError::WrongLength {
                index,
                expected,
                got: data.len(),
            });
        }
        if m.picker.have().get(index) {
            self.stats.wasted += data.len() as u64;
            return Ok(());
        }
        let actual: [u8; 20] = Sha1::digest(data).into();
        if m.info.piece_hash(index) != Some(&actual) {
            self.stats.wasted += data.len() as u64;
            return Err(WebSeedPieceError::HashMismatch { index });
        }
        if let Err(e) = self.storage.write_piece(index, data) {
            let message = e.to_string();
            self.events.push_back(Event::StorageError {
                message: format!("piece {index}: {message}"),
            });
            return Err(WebSeedPieceError::Storage { index, message });
        }
        self.stats.downloaded += data.len() as u64;
        // Peers may still be fetching it (a claim that expired): their blocks become late
        // arrivals, counted as waste, and the partial buffer is dropped here.
        self.store_verified(index, data, now);
        Ok(())
    }
}
