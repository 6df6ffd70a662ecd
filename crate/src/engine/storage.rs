//! Where verified pieces live. The engine only ever writes pieces it has verified, and only
//! reads pieces its bitfield says it has, so a backend never sees unverified data.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::bitfield::Bitfield;
use crate::metainfo::Info;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("piece {0} is not in storage")]
    Missing(u32),
    #[error("read of {len} bytes at {begin} is outside piece {index}")]
    OutOfRange { index: u32, begin: u32, len: u32 },
    #[error("storage failed: {0}")]
    Backend(String),
    /// The piece is stored but not in memory right now; the backend has started loading it
    /// and the driver will call the engine again (any input, or just `poll_transmit`) once
    /// it is. Not a failure: the request waits at the head of its queue.
    #[error("piece {0} is being loaded")]
    Pending(u32),
}

/// A piece store. Synchronous on purpose: drivers with asynchronous storage (browser OPFS or
/// IndexedDB) put a cache in front, tell the engine which pieces are present at start, and
/// answer a read of a piece that is not cached with [`StorageError::Pending`] while they
/// load it.
pub trait Storage {
    /// Stores a whole verified piece.
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError>;
    /// Appends `len` bytes of piece `index` from offset `begin` to `out`.
    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError>;
    /// A hint: a peer has asked for a block of piece `index`, which the engine will read soon.
    /// Asynchronous backends start loading it now so the read finds it in memory.
    fn prefetch(&mut self, _index: u32) {}
    /// The hint for piece `index` no longer holds (the peer cancelled, was choked or left):
    /// a backend may drop a load it has not started. Reads stay correct either way.
    fn unprefetch(&mut self, _index: u32) {}
    /// The torrent's `info` has just been downloaded and verified (a magnet start): a backend
    /// that lays pieces out by it (files on disk) prepares them now, before any write, and
    /// returns the pieces it already holds VERIFIED (files of an earlier run), if any; they
    /// are not downloaded. Not called for torrents built with their `info`
    /// ([`crate::engine::Torrent::new`] takes `have` instead). An error is reported as
    /// [`crate::engine::Event::StorageError`]; the torrent runs on, and writes fail piece by piece.
    fn metadata_ready(
        &mut self,
        _info: &Info,
        _info_bytes: &[u8],
    ) -> Result<Option<Bitfield>, StorageError> {
        Ok(None)
    }
}

/// The `len` bytes at `begin` of `piece` (piece `index`), or `OutOfRange`: for backends
/// that keep whole pieces in memory.
pub fn block_of(piece: &[u8], index: u32, begin: u32, len: u32) -> Result<&[u8], StorageError> {
    let start = begin as usize;
    start
        .checked_add(len as usize)
        .filter(|&end| end <= piece.len())
        .map(|end| &piece[start..end])
        .ok_or(StorageError::OutOfRange { index, begin, len })
}

/// Pieces kept in memory, one buffer per piece.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    pieces: HashMap<u32, Vec<u8>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pre-filled storage, e.g. for a seeder: `content` split into `piece_length` pieces.
    pub fn from_content(content: &[u8], piece_length: u32) -> Self {
        let pieces = content
            .chunks(piece_length.max(1) as usize)
            .enumerate()
            .map(|(i, c)| (i as u32, c.to_vec()))
            .collect();
        MemoryStorage { pieces }
    }

    pub fn piece(&self, index: u32) -> Option<&[u8]> {
        self.pieces.get(&index).map(Vec::as_slice)
    }

    /// Concatenates pieces `0..num_pieces`, or `None` if one is missing.
    pub fn content(&self, num_pieces: u32) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for i in 0..num_pieces {
            out.extend_from_slice(self.pieces.get(&i)?);
        }
        Some(out)
    }
}

impl Storage for MemoryStorage {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        self.pieces.insert(index, data.to_vec());
        Ok(())
    }

    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        let piece = self
            .pieces
            .get(&index)
            .ok_or(StorageError::Missing(index))?;
        out.extend_from_slice(block_of(piece, index, begin, len)?);
        Ok(())
    }
}

impl<S: Storage + ?Sized> Storage for Box<S> {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        (**self).write_piece(index, data)
    }
    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        (**self).read_block(index, begin, len, out)
    }
    fn prefetch(&mut self, index: u32) {
        (**self).prefetch(index)
    }
    fn unprefetch(&mut self, index: u32) {
        (**self).unprefetch(index)
    }
    fn metadata_ready(
        &mut self,
        info: &Info,
        info_bytes: &[u8],
    ) -> Result<Option<Bitfield>, StorageError> {
        (**self).metadata_ready(info, info_bytes)
    }
}

/// A store shared between the engine and its driver on one thread (the browser, the
/// simulator): the engine borrows it only inside its own calls, so borrows never overlap.
impl<S: Storage + ?Sized> Storage for Rc<RefCell<S>> {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        self.borrow_mut().write_piece(index, data)
    }
    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        self.borrow_mut().read_block(index, begin, len, out)
    }
    fn prefetch(&mut self, index: u32) {
        self.borrow_mut().prefetch(index)
    }
    fn unprefetch(&mut self, index: u32) {
        self.borrow_mut().unprefetch(index)
    }
    fn metadata_ready(
        &mut self,
        info: &Info,
        info_bytes: &[u8],
    ) -> Result<Option<Bitfield>, StorageError> {
        self.borrow_mut().metadata_ready(info, info_bytes)
    }
}

/// Pieces an asynchronous backend should load, in order: urgent ones (a read is waiting for
/// them now) before hints (prefetches for requests further down a queue).
///
/// Invariants: `state` is the truth and the deques may hold stale entries (skipped when
/// popped, compacted when they pile up); a piece is queued at most once; trimming to the
/// bounds drops the oldest hints first and never an urgent load while any hint is queued.
#[derive(Debug, Default)]
pub struct LoadQueue {
    urgent: VecDeque<u32>,
    hints: VecDeque<u32>,
    state: HashMap<u32, bool>,
    urgent_count: usize,
    max: usize,
}

impl LoadQueue {
    /// A queue of at most `max` pieces (at least 1).
    pub fn new(max: usize) -> Self {
        LoadQueue {
            max: max.max(1),
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    pub fn contains(&self, index: u32) -> bool {
        self.state.contains_key(&index)
    }

    /// Queues `index` at the back of its class; an urgent push promotes a queued hint.
    pub fn push(&mut self, index: u32, urgent: bool) {
        self.insert(index, urgent, false);
    }

    /// Queues `index` first in its class (a load put back for later).
    pub fn push_front(&mut self, index: u32, urgent: bool) {
        self.insert(index, urgent, true);
    }

    fn insert(&mut self, index: u32, urgent: bool, front: bool) {
        match self.state.get(&index) {
            Some(true) => return,
            Some(false) if !urgent => return,
            _ => {}
        }
        self.state.insert(index, urgent);
        if urgent {
            self.urgent_count += 1;
            if front {
                self.urgent.push_front(index);
            } else {
                self.urgent.push_back(index);
            }
        } else if front {
            self.hints.push_front(index);
        } else {
            self.hints.push_back(index);
        }
        self.trim();
    }

    /// Over the bound: the oldest hints go first; urgent loads only once no hint is left
    /// (a read that still waits asks again).
    fn trim(&mut self) {
        while self.state.len() > self.max {
            let from_hints = self.state.len() > self.urgent_count;
            let (deque, urgent) = if from_hints {
                (&mut self.hints, false)
            } else {
                (&mut self.urgent, true)
            };
            let Some(i) = deque.pop_front() else { break };
            if self.state.get(&i) == Some(&urgent) {
                self.state.remove(&i);
                if urgent {
                    self.urgent_count -= 1;
                }
            }
        }
        // Stale entries are bounded by the live ones.
        let max = 4 * self.max;
        if self.hints.len() > max || self.urgent.len() > max {
            let state = &self.state;
            self.hints.retain(|i| state.get(i) == Some(&false));
            self.urgent.retain(|i| state.get(i) == Some(&true));
        }
    }

    /// The next piece to load and whether it was urgent.
    pub fn pop(&mut self) -> Option<(u32, bool)> {
        while let Some(i) = self.urgent.pop_front() {
            if self.state.get(&i) == Some(&true) {
                self.state.remove(&i);
                self.urgent_count -= 1;
                return Some((i, true));
            }
        }
        while let Some(i) = self.hints.pop_front() {
            if self.state.get(&i) == Some(&false) {
                self.state.remove(&i);
                return Some((i, false));
            }
        }
        None
    }

    /// Takes `index` out of the queue wherever it is: `Some(urgent)` if it was queued.
    pub fn take(&mut self, index: u32) -> Option<bool> {
        let urgent = self.state.remove(&index)?;
        if urgent {
            self.urgent_count -= 1;
        }
        Some(urgent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgent_loads_come_first_and_survive_trimming() {
        let mut q = LoadQueue::new(3);
        q.push(1, false);
        q.push(2, false);
        q.push(7, true); // a read waits for piece 7
        q.push(3, false);
        q.push(4, false); // over the bound: hints 1 and 2 go, never 7
        assert!(q.contains(7));
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop(), Some((7, true)));
        assert_eq!(q.pop(), Some((3, false)));
        assert_eq!(q.pop(), Some((4, false)));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_flood_of_hints_never_drops_a_waiting_read() {
        let mut q = LoadQueue::new(8);
        q.push(1000, true);
        for i in 0..10_000 {
            q.push(i, false);
        }
        assert_eq!(q.len(), 8);
        assert_eq!(q.pop(), Some((1000, true)));
        // The newest hints are kept.
        assert_eq!(q.pop(), Some((9993, false)));
    }

    #[test]
    fn promotion_put_back_and_take() {
        let mut q = LoadQueue::new(10);
        q.push(5, false);
        q.push(6, false);
        q.push(6, true); // a read now waits for a hinted piece
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some((6, true)));
        q.push_front(9, false);
        assert_eq!(q.take(5), Some(false));
        assert_eq!(q.take(5), None);
        assert_eq!(q.pop(), Some((9, false)));
        assert!(q.is_empty());
        // Only urgent loads queued: they are trimmed oldest first.
        let mut q = LoadQueue::new(2);
        for i in 0..3 {
            q.push(i, true);
        }
        assert_eq!(q.pop(), Some((1, true)));
        assert_eq!(q.pop(), Some((2, true)));
    }
}
