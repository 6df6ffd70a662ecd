//! The piece cache, without I/O: a bounded in-memory cache of verified pieces in front of a
//! slow, asynchronous backend, as an [`engine::Storage`](crate::engine::Storage). The browser
//! driver (`web/storage.rs`) runs the I/O it asks for and reports back; the policy — what to
//! keep, what to load and when, what to write, what to trust — lives here and is tested
//! natively (`crate/tests/piece_cache.rs`).
//!
//! Backends ([`Backend`]):
//! * `Store` — the page's storage worker (OPFS, else IndexedDB). Written pieces persist across
//!   reloads and leave memory once written.
//! * `Files` — a torrent being seeded from the user's own files: pieces are read back on
//!   demand, never copied into the page.
//! * `Memory` — no persistent storage (unavailable, refused, or failed): every piece stays.
//!
//! The engine's calls are synchronous: a read of a piece that is not cached queues a load and
//! answers `StorageError::Pending`. Outputs, polled by the driver after each call:
//! [`PieceCache::next_load`] (a run of consecutive pieces to read from the backend; answered
//! with [`PieceCache::load_landed`]), [`PieceCache::take_writes`] (verified pieces to write;
//! answered with [`PieceCache::writes_landed`]) and [`PieceCache::poll_news`] (what the
//! torrent must hear: transmit again, resume held downloads, a warning, pieces lost).
//!
//! Trust: every piece read from a backend is hashed ([`PieceCache::check_run`]) before
//! anything uses it, except store pieces already checked this session (`verified`: written by
//! us after the engine's check, or hashed on an earlier read). Resumed pieces are thus
//! re-verified on their first read, and a background pass ([`PieceCache::start_verify`],
//! [`PieceCache::next_verify_step`]) walks them all at a bounded pace. A seed's files are
//! snapshots: the browser fails every read of a file changed after it was picked
//! (`NotReadableError`; checked in Chromium 156 for a same-size rewrite and for a new mtime;
//! the File API's snapshot state), which `web/storage.rs` turns into lost pieces. So a file
//! piece that hashed right once stays right, and a seed created from these very files in
//! this session starts with every piece trusted ([`PieceCache::trust_all`]: creation hashed
//! them). A piece that fails (bad
//! hash, short, unreadable) is `lost`: [`StorageNews::Lost`] tells the driver, the engine
//! drops it (`Torrent::lose_piece`) and downloads it again. Its bytes never reach a peer or
//! the player.
//!
//! Invariants:
//! * a cached piece is `persisted` if the backend also holds it; only persisted pieces are
//!   evicted, so nothing is ever lost to the memory bound;
//! * `cached_bytes` is the sum of cached piece lengths; after every insert it is at most
//!   `budget` plus the unpersisted pieces (which wait for their write);
//! * `loading` holds the pieces of the (at most [`MAX_LOADS`]) loads in flight, which are
//!   `loading_bytes` in all, at most half the budget (or one run); a piece is never both
//!   cached and loading, nor loading twice;
//! * a lost piece is neither cached, loading nor queued until it is written again.

mod loads;
mod verify;

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use crate::engine::{LoadQueue, Storage, StorageError, block_of};
use crate::metainfo::Info;

pub use loads::LoadRun;
pub use verify::pieces_text;

/// Memory kept for verified pieces at most (unless a few huge pieces need more). Small: the
/// store behind it answers in about a millisecond, and a streaming viewer's page must stay
/// within 100 MiB of plain HTTP playback (`make bench-memory`; 32 MiB cost 28 MiB of RSS).
pub const DEFAULT_CACHE_BYTES: usize = 4 * 1024 * 1024;
/// The same for a seed served from the user's files, where every read is a round trip
/// through the browser process: measured, a 4 MiB cache cut a seed's upload from 16.5 to
/// 11 MB/s (`make bench-browser`, 64 MiB).
pub const SEED_CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Verified pieces not yet written to the store above which downloads are held (and below
/// half of which they resume): if storage is slower than the network, memory stays bounded.
pub const MAX_UNWRITTEN_BYTES: usize = 4 * 1024 * 1024;
/// Backend reads in flight at once; further wanted pieces wait in the queue. Also bounded
/// by bytes: loads in flight never bring in more than half the cache budget, so what they
/// bring is not evicted before it is used (a 4 MiB cache with 8 MiB of loads landing
/// thrashed: the first pieces loaded were gone again when their requests came up).
pub const MAX_LOADS: usize = 8;
/// Pieces waiting for a load; beyond this the oldest prefetch hints are dropped (urgent
/// loads, which a read waits for, only when no hint is left: see `LoadQueue`).
pub const MAX_QUEUED: usize = 1024;
/// One backend read covers at most this many bytes of consecutive wanted pieces: small
/// pieces (32 KiB for a 64 MiB torrent) would otherwise cost one browser round trip each.
pub const MAX_RUN_BYTES: u32 = 1024 * 1024;

/// Bytes read from a backend, wherever they are (the browser's are a JS array: copied into
/// wasm memory only piece by piece, where needed).
pub trait RunBytes {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Replaces `out`'s contents with bytes `from..to` (`to <= len()`).
    fn copy_to(&self, from: usize, to: usize, out: &mut Vec<u8>);
}

impl RunBytes for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn copy_to(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self[from..to]);
    }
}

/// Where the pieces live besides memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Store,
    Files,
    Memory,
}

/// What the torrent hears from its storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageNews {
    /// A piece is now in memory: transmit again.
    Loaded,
    /// A batch of pieces was written: held downloads may resume.
    Written,
    /// Something failed (shown to the user once per kind of failure).
    Failed {
        kind: StorageFailure,
        message: String,
    },
    /// These verified pieces' stored bytes are bad or gone: the engine must drop them
    /// (`Torrent::lose_piece`); `message` says why, for the user.
    Lost { pieces: Vec<u32>, message: String },
}

/// What a `StorageNews::Failed` was about: the page shows a full disk and a failed write as
/// errors (nothing is lost, but the torrent no longer persists), a failed read as a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFailure {
    /// The browser refused to store more (quota or disk full).
    Full,
    Write,
    Read,
}

/// Piece length and total length, once the metadata is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub piece_length: u32,
    pub total_length: u64,
}

impl Layout {
    pub fn piece_size(&self, index: u32) -> u32 {
        crate::metainfo::piece_size(self.piece_length, self.total_length, index)
    }

    /// Bytes of pieces `first..first + count`.
    pub fn run_bytes(&self, first: u32, count: u32) -> u32 {
        (first..first + count).map(|i| self.piece_size(i)).sum()
    }

    /// Where piece `index` starts in the torrent.
    pub fn piece_start(&self, index: u32) -> u64 {
        u64::from(index) * u64::from(self.piece_length)
    }

    /// `(start, end)` within a run's bytes of each piece of `first..first + count`.
    pub fn split(&self, first: u32, count: u32) -> impl Iterator<Item = (u32, usize, usize)> + '_ {
        let mut at = 0usize;
        (first..first + count).map(move |i| {
            let size = self.piece_size(i) as usize;
            at += size;
            (i, at - size, at)
        })
    }
}

#[derive(Debug)]
struct Cached {
    data: Rc<[u8]>,
    last_use: u64,
    persisted: bool,
}

/// See the module docs.
#[derive(Debug)]
pub struct PieceCache {
    backend: Backend,
    layout: Option<Layout>,
    pieces: HashMap<u32, Cached>,
    cached_bytes: usize,
    budget: usize,
    clock: u64,
    loading: HashSet<u32>,
    loads_in_flight: usize,
    loading_bytes: u32,
    /// Pieces wanted in memory: reads waiting first, then prefetch hints.
    queue: LoadQueue,
    /// SHA-1 of every piece, once the metadata is known.
    hashes: Vec<[u8; 20]>,
    /// Store and file pieces whose bytes were checked this session (see "Trust" above).
    verified: HashSet<u32>,
    /// Pieces found bad or gone, until written again: never read, never loaded.
    lost: HashSet<u32>,
    /// Resumed pieces the background pass has still to check, in order.
    verify_todo: VecDeque<u32>,
    /// The step of the background pass being read now, `(first, count)`.
    verify_step: Option<(u32, u32)>,
    /// Pieces whose load failed: the next read reports it (once).
    failed: HashMap<u32, String>,
    /// A write failed: later pieces stay in memory (nothing lost), one warning only.
    write_failed: bool,
    /// Verified pieces waiting for the next batched write to the store.
    unwritten: Vec<u32>,
    /// Bytes of cached pieces the store does not hold yet (Store backend only).
    unpersisted_bytes: usize,
    news: VecDeque<StorageNews>,
}

impl PieceCache {
    /// An empty cache; `Store` and `Files` need [`PieceCache::set_layout`] before they load
    /// or write anything.
    pub fn new(backend: Backend) -> PieceCache {
        PieceCache {
            backend,
            layout: None,
            pieces: HashMap::new(),
            cached_bytes: 0,
            budget: DEFAULT_CACHE_BYTES,
            clock: 0,
            loading: HashSet::new(),
            loads_in_flight: 0,
            loading_bytes: 0,
            queue: LoadQueue::new(MAX_QUEUED),
            hashes: Vec::new(),
            verified: HashSet::new(),
            lost: HashSet::new(),
            verify_todo: VecDeque::new(),
            verify_step: None,
            failed: HashMap::new(),
            write_failed: false,
            unwritten: Vec::new(),
            unpersisted_bytes: 0,
            news: VecDeque::new(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn layout(&self) -> Option<Layout> {
        self.layout
    }

    /// The torrent's shape and hashes; the budget follows the backend, and a few pieces must
    /// always fit, however large the pieces are.
    pub fn set_layout(&mut self, info: &Info) {
        self.layout = Some(Layout {
            piece_length: info.piece_length,
            total_length: info.total_length,
        });
        self.hashes = info.pieces.clone();
        let base = match self.backend {
            Backend::Files => SEED_CACHE_BYTES,
            Backend::Store | Backend::Memory => DEFAULT_CACHE_BYTES,
        };
        self.budget = base.max(4 * info.piece_length as usize);
    }

    /// Every piece's bytes are known good: a seed whose torrent was just hashed from the same
    /// files (see "Trust" above). Its reads are then not hashed again.
    pub fn trust_all(&mut self) {
        let pieces = self.hashes.len() as u32;
        self.verified
            .extend((0..pieces).filter(|i| !self.lost.contains(i)));
    }

    /// From now on verified pieces are written to the store; pieces already in memory are
    /// queued for writing too. Only from `Memory`.
    pub fn use_store(&mut self) {
        if self.backend != Backend::Memory {
            return;
        }
        self.backend = Backend::Store;
        let mut waiting: Vec<u32> = self.pieces.keys().copied().collect();
        waiting.sort_unstable();
        for index in waiting {
            self.unpersisted_bytes += self.pieces[&index].data.len();
            self.unwritten.push(index);
        }
    }

    /// Whether downloads should be held because writes lag behind (with hysteresis: `held`
    /// is the current state). Never once writing has failed: pieces then stay in memory for
    /// good and holding would stall the download.
    pub fn should_hold_downloads(&self, held: bool) -> bool {
        if self.backend != Backend::Store || self.write_failed {
            return false;
        }
        let limit = if held {
            MAX_UNWRITTEN_BYTES / 2
        } else {
            MAX_UNWRITTEN_BYTES
        };
        self.unpersisted_bytes > limit
    }

    pub fn is_persistent(&self) -> bool {
        self.backend == Backend::Store
    }

    /// Verified bytes waiting to be written to the store (0: a reload loses nothing).
    pub fn unsaved_bytes(&self) -> usize {
        self.unpersisted_bytes
    }

    /// Bytes of verified pieces held in memory now.
    pub fn cached_bytes(&self) -> usize {
        self.cached_bytes
    }

    /// The memory bound (see [`PieceCache::set_layout`]).
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Piece `index` if it is in memory, marked as just used (eviction goes by last use).
    pub fn cached(&mut self, index: u32) -> Option<Rc<[u8]>> {
        self.clock += 1;
        let c = self.pieces.get_mut(&index)?;
        c.last_use = self.clock;
        Some(c.data.clone())
    }

    pub fn is_cached(&self, index: u32) -> bool {
        self.pieces.contains_key(&index)
    }

    pub fn is_lost(&self, index: u32) -> bool {
        self.lost.contains(&index)
    }

    /// The first lost piece of `first..first + count`, if any.
    pub fn first_lost(&self, first: u32, count: u32) -> Option<u32> {
        (first..first + count).find(|i| self.lost.contains(i))
    }

    /// Whether verified pieces wait for [`PieceCache::take_writes`].
    pub fn has_writes(&self) -> bool {
        !self.unwritten.is_empty()
    }

    /// What the torrent must hear, oldest first.
    pub fn poll_news(&mut self) -> Option<StorageNews> {
        self.news.pop_front()
    }

    /// Verified pieces to write to the store now, in one batch; the driver answers with
    /// [`PieceCache::writes_landed`]. Empty when nothing waits.
    pub fn take_writes(&mut self) -> Vec<(u32, Rc<[u8]>)> {
        let mut batch = Vec::new();
        for index in std::mem::take(&mut self.unwritten) {
            if let Some(c) = self.pieces.get(&index).filter(|c| !c.persisted) {
                batch.push((index, c.data.clone()));
            }
        }
        batch
    }

    /// A batch of writes finished: written pieces may now be evicted. The first failure is
    /// one warning; pieces then stay in memory for good (nothing lost).
    pub fn writes_landed(&mut self, indices: &[u32], result: Result<(), String>) {
        match result {
            Ok(()) => {
                let mut written = 0;
                for index in indices {
                    if let Some(c) = self.pieces.get_mut(index).filter(|c| !c.persisted) {
                        c.persisted = true;
                        written += c.data.len();
                    }
                }
                self.unpersisted_bytes = self.unpersisted_bytes.saturating_sub(written);
                self.evict();
                self.news.push_back(StorageNews::Written);
            }
            Err(e) if !self.write_failed => {
                self.write_failed = true;
                let full = e.starts_with("storage is full");
                self.news.push_back(StorageNews::Failed {
                    kind: if full {
                        StorageFailure::Full
                    } else {
                        StorageFailure::Write
                    },
                    message: if full {
                        format!("{e}; the rest of this torrent is kept in memory only")
                    } else {
                        format!(
                            "could not save pieces to browser storage ({e}); keeping them in memory"
                        )
                    },
                });
            }
            Err(_) => {}
        }
    }

    /// Inserts a piece and evicts least-recently-used persisted ones above the budget.
    fn insert(&mut self, index: u32, data: Rc<[u8]>, persisted: bool) {
        self.clock += 1;
        let len = data.len();
        let store = self.backend == Backend::Store;
        if !persisted && store {
            self.unpersisted_bytes += len;
        }
        let old = self.pieces.insert(
            index,
            Cached {
                data,
                last_use: self.clock,
                persisted,
            },
        );
        if let Some(old) = &old {
            if !old.persisted && store {
                self.unpersisted_bytes = self.unpersisted_bytes.saturating_sub(old.data.len());
            }
        }
        self.cached_bytes = self.cached_bytes + len - old.map_or(0, |c| c.data.len());
        self.evict();
    }

    /// Over budget, drops least-recently-used persisted pieces down to 7/8 of the budget
    /// (the slack keeps the sort from running on every insert).
    fn evict(&mut self) {
        if self.cached_bytes <= self.budget {
            return;
        }
        let target = self.budget / 8 * 7;
        let mut victims: Vec<(u64, u32)> = self
            .pieces
            .iter()
            .filter(|(_, c)| c.persisted)
            .map(|(&i, c)| (c.last_use, i))
            .collect();
        victims.sort_unstable();
        for (_, index) in victims {
            if self.cached_bytes <= target {
                break;
            }
            if let Some(c) = self.pieces.remove(&index) {
                self.cached_bytes -= c.data.len();
            }
        }
    }

    /// Drops piece `index` from memory (it was lost), keeping the byte counts right.
    fn uncache(&mut self, index: u32) {
        if let Some(c) = self.pieces.remove(&index) {
            self.cached_bytes -= c.data.len();
            if !c.persisted && self.backend == Backend::Store {
                self.unpersisted_bytes = self.unpersisted_bytes.saturating_sub(c.data.len());
            }
        }
    }
}

impl Storage for PieceCache {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        // The engine checked these bytes: whatever was lost is whole again.
        self.lost.remove(&index);
        self.verified.insert(index);
        self.insert(index, Rc::from(data), false);
        if self.backend == Backend::Store && !self.write_failed && self.layout.is_some() {
            self.unwritten.push(index);
        }
        Ok(())
    }

    fn read_block(
        &mut self,
        index: u32,
        begin: u32,
        len: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        if let Some(data) = self.cached(index) {
            out.extend_from_slice(block_of(&data, index, begin, len)?);
            return Ok(());
        }
        if self.lost.contains(&index) {
            return Err(StorageError::Missing(index));
        }
        if let Some(e) = self.failed.remove(&index) {
            return Err(StorageError::Backend(e));
        }
        if self.backend == Backend::Memory {
            return Err(StorageError::Missing(index));
        }
        self.want(index, true);
        Err(StorageError::Pending(index))
    }

    fn prefetch(&mut self, index: u32) {
        self.want(index, false);
    }

    fn unprefetch(&mut self, index: u32) {
        self.queue.take(index);
    }
}
