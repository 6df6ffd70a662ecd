//! Downloading the `info` dictionary from peers (BEP 9) for a torrent started from a magnet
//! link. The assembled bytes are trusted only once their SHA-1 equals the info hash.

use std::time::Duration;

use super::PeerKey;
use crate::wire::{MAX_METADATA_SIZE, METADATA_PIECE_SIZE};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("peer announced metadata size {0}, outside 1..={MAX_METADATA_SIZE}")]
    BadSize(u64),
    #[error("metadata piece {piece} has {got} bytes, expected {expected}")]
    BadPieceLength {
        piece: u32,
        got: usize,
        expected: usize,
    },
    #[error("metadata piece {0} does not exist")]
    BadPiece(u32),
    #[error("metadata total size {got} differs from the announced {expected}")]
    SizeMismatch { got: u64, expected: u64 },
}

#[derive(Debug, Clone)]
enum Slot {
    Missing,
    Requested { peer: PeerKey, at: Duration },
    Received { from: PeerKey },
}

/// Invariant: `slots.len() == ceil(size / 16 KiB)` and `buf.len() == size` once the size is set.
#[derive(Debug, Default)]
pub struct MetadataFetch {
    size: Option<u64>,
    buf: Vec<u8>,
    slots: Vec<Slot>,
}

impl MetadataFetch {
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Adopts the first plausible size a peer announces. Peers announcing another size are
    /// simply not asked (they may be on a different torrent version).
    pub fn offer_size(&mut self, size: u64) -> Result<bool, MetadataError> {
        if size == 0 || size > MAX_METADATA_SIZE {
            return Err(MetadataError::BadSize(size));
        }
        match self.size {
            Some(s) => Ok(s == size),
            None => {
                self.size = Some(size);
                self.buf = vec![0; size as usize];
                self.slots =
                    vec![Slot::Missing; size.div_ceil(METADATA_PIECE_SIZE as u64) as usize];
                Ok(true)
            }
        }
    }

    /// The next piece to ask `peer` for, if any is missing.
    pub fn next_request(&mut self, peer: PeerKey, now: Duration) -> Option<u32> {
        let i = self.slots.iter().position(|s| matches!(s, Slot::Missing))?;
        self.slots[i] = Slot::Requested { peer, at: now };
        Some(i as u32)
    }

    fn piece_len(&self, piece: u32) -> usize {
        let size = self.size.unwrap_or(0) as usize;
        let start = piece as usize * METADATA_PIECE_SIZE as usize;
        size.saturating_sub(start).min(METADATA_PIECE_SIZE as usize)
    }

    /// Stores a piece; returns the whole metadata when the last piece arrives.
    pub fn on_data(
        &mut self,
        from: PeerKey,
        piece: u32,
        total: u64,
        data: &[u8],
    ) -> Result<Option<Vec<u8>>, MetadataError> {
        let Some(size) = self.size else {
            return Ok(None);
        };
        if total != size {
            return Err(MetadataError::SizeMismatch {
                got: total,
                expected: size,
            });
        }
        let Some(slot) = self.slots.get(piece as usize) else {
            return Err(MetadataError::BadPiece(piece));
        };
        let expected = self.piece_len(piece);
        if data.len() != expected {
            return Err(MetadataError::BadPieceLength {
                piece,
                got: data.len(),
                expected,
            });
        }
        if matches!(slot, Slot::Received { .. }) {
            return Ok(None);
        }
        let start = piece as usize * METADATA_PIECE_SIZE as usize;
        self.buf[start..start + expected].copy_from_slice(data);
        self.slots[piece as usize] = Slot::Received { from };
        if self
            .slots
            .iter()
            .all(|s| matches!(s, Slot::Received { .. }))
        {
            return Ok(Some(std::mem::take(&mut self.buf)));
        }
        Ok(None)
    }

    /// Peers that sent pieces of the current attempt.
    pub fn contributors(&self) -> Vec<PeerKey> {
        let mut v: Vec<PeerKey> = self
            .slots
            .iter()
            .filter_map(|s| {
                if let Slot::Received { from } = s {
                    Some(*from)
                } else {
                    None
                }
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Frees `peer`'s requests (rejected, timed out, or peer gone).
    pub fn release(&mut self, peer: PeerKey, piece: Option<u32>) {
        for (i, s) in self.slots.iter_mut().enumerate() {
            if let Slot::Requested { peer: p, .. } = s {
                if *p == peer && piece.is_none_or(|x| x as usize == i) {
                    *s = Slot::Missing;
                }
            }
        }
    }

    /// Frees requests older than `timeout`; returns the peers that were too slow.
    pub fn expire(&mut self, now: Duration, timeout: Duration) -> Vec<PeerKey> {
        let mut slow = Vec::new();
        for s in &mut self.slots {
            if let Slot::Requested { peer, at } = s {
                if now.saturating_sub(*at) >= timeout {
                    slow.push(*peer);
                    *s = Slot::Missing;
                }
            }
        }
        slow
    }

    /// Starts over after a hash mismatch, keeping nothing from the bad attempt.
    pub fn reset(&mut self) {
        *self = MetadataFetch::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_pieces_in_any_order() {
        let mut m = MetadataFetch::default();
        assert!(m.offer_size(20_000).unwrap());
        assert!(!m.offer_size(5).unwrap(), "a different size is not adopted");
        assert_eq!(m.next_request(1, Duration::ZERO), Some(0));
        assert_eq!(m.next_request(2, Duration::ZERO), Some(1));
        assert_eq!(m.next_request(3, Duration::ZERO), None);
        assert_eq!(m.on_data(2, 1, 20_000, &[2; 20_000 - 16_384]), Ok(None));
        let whole = m.on_data(1, 0, 20_000, &[1; 16_384]).unwrap().unwrap();
        assert_eq!(whole.len(), 20_000);
        assert_eq!(whole[16_384], 2);
    }

    #[test]
    fn rejects_bad_sizes_and_pieces() {
        let mut m = MetadataFetch::default();
        assert_eq!(m.offer_size(0), Err(MetadataError::BadSize(0)));
        assert!(m.offer_size(MAX_METADATA_SIZE + 1).is_err());
        m.offer_size(100).unwrap();
        assert!(matches!(
            m.on_data(1, 0, 100, &[0; 99]),
            Err(MetadataError::BadPieceLength { .. })
        ));
        assert!(matches!(
            m.on_data(1, 1, 100, &[0; 1]),
            Err(MetadataError::BadPiece(1))
        ));
        assert!(matches!(
            m.on_data(1, 0, 101, &[0; 100]),
            Err(MetadataError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn expired_requests_are_asked_again() {
        let mut m = MetadataFetch::default();
        m.offer_size(10).unwrap();
        assert_eq!(m.next_request(1, Duration::ZERO), Some(0));
        assert_eq!(
            m.expire(Duration::from_secs(11), Duration::from_secs(10)),
            vec![1]
        );
        assert_eq!(m.next_request(2, Duration::from_secs(11)), Some(0));
    }
}
