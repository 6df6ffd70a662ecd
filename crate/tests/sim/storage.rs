//! Storage wrappers for the simulator: one the test can inspect, one that lies.

use std::cell::RefCell;
use std::rc::Rc;

use seedcast::engine::{MemoryStorage, Storage, StorageError};

/// Memory storage shared between an engine and the test that checks its content (the
/// engine implements `Storage` for `Rc<RefCell<_>>`).
pub type SharedStorage = Rc<RefCell<MemoryStorage>>;

/// Serves real pieces with one byte flipped in every block: a peer sending corrupt data.
#[derive(Debug)]
pub struct CorruptingStorage(pub MemoryStorage);

impl Storage for CorruptingStorage {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        self.0.write_piece(index, data)
    }
    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        let start = out.len();
        self.0.read_block(index, begin, len, out)?;
        if let Some(b) = out.get_mut(start + (len as usize) / 2) {
            *b ^= 0x5a;
        }
        Ok(())
    }
}
