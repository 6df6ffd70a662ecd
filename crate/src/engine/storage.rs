//! Where verified pieces live. The engine only ever writes pieces it has verified, and only
//! reads pieces its bitfield says it has, so a backend never sees unverified data.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

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
}
