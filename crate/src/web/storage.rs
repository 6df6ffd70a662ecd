//! Piece storage for the browser driver: the engine's in-memory store, shared so the JS API
//! can read finished files while the engine keeps serving them.
//!
//! Single-threaded sharing: the engine borrows the store only inside its own calls and the
//! API only between them, so the `RefCell` borrows never overlap.

use std::cell::RefCell;
use std::rc::Rc;

use crate::engine::{MemoryStorage, Storage, StorageError};

#[derive(Debug, Clone, Default)]
pub struct SharedStorage {
    pieces: Rc<RefCell<MemoryStorage>>,
    /// TEST ONLY: flip a byte in every block we upload, to prove that downloaders ban a
    /// lying peer. Set through the `testOnlyCorruptUploads` client option; never in the app.
    corrupt_uploads: bool,
}

impl SharedStorage {
    pub fn new(corrupt_uploads: bool) -> SharedStorage {
        SharedStorage {
            pieces: Rc::default(),
            corrupt_uploads,
        }
    }

    /// Runs `f` on verified piece `index`, if stored.
    pub fn with_piece<R>(&self, index: u32, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.pieces.borrow().piece(index).map(f)
    }
}

impl Storage for SharedStorage {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        self.pieces.borrow_mut().write_piece(index, data)
    }

    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        let start = out.len();
        self.pieces
            .borrow_mut()
            .read_block(index, begin, len, out)?;
        if self.corrupt_uploads {
            if let Some(byte) = out.get_mut(start) {
                *byte ^= 0xff;
            }
        }
        Ok(())
    }
}

impl SharedStorage {
    /// A copy of verified piece `index` as a fresh JS-owned array (transferable to a worker).
    /// Async so a store that reads from disk (OPFS) can keep the same signature.
    pub async fn read_piece(&self, index: u32) -> Result<js_sys::Uint8Array, String> {
        self.with_piece(index, |piece| js_sys::Uint8Array::from(piece))
            .ok_or_else(|| format!("piece {index} is not in storage"))
    }
}
