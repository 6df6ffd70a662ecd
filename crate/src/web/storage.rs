//! Piece storage for the browser driver: a bounded in-memory cache of verified pieces in
//! front of a slow, asynchronous backend.
//!
//! Backends:
//! * `Store` — the page's storage worker (OPFS, else IndexedDB; see `piece_store.js`).
//!   Written pieces persist across reloads and leave memory once written.
//! * `Blobs` — a torrent being seeded from the user's own files: pieces are read back from
//!   the `File`s on demand, never copied into the page.
//! * `Memory` — no persistent storage (unavailable, refused, or failed): every piece stays.
//!
//! The engine's calls are synchronous: a read of a piece that is not cached starts loading
//! it and answers `StorageError::Pending`; when the load lands the `waker` runs the swarm's
//! pump, which transmits again. A failed load is reported once as a real error so the
//! engine rejects the block instead of waiting forever.
//!
//! Trust: every piece read from a backend is hashed before anything uses it, except store
//! pieces already checked this session (`verified`: written by us after the engine's check,
//! or hashed on an earlier read). Resumed pieces are thus re-verified on their first read
//! (and a background pass, `verify_stored`, walks them all at a bounded pace); a seed's
//! files are hashed on every read, since the user may change them at any time. A piece that
//! fails (bad hash, short, unreadable) is `lost`: the swarm hears `StorageNews::Lost`, the
//! engine drops it (`Torrent::lose_piece`) and downloads it again. Its bytes never reach a
//! peer or the player.
//!
//! Invariants:
//! * a cached piece is `persisted` if the backend also holds it; only persisted pieces are
//!   evicted, so nothing is ever lost to the memory bound;
//! * `cached_bytes` is the sum of cached piece lengths; after every insert it is at most
//!   `budget` plus the unpersisted pieces (which wait for their write);
//! * `loading` holds the pieces of the (at most [`MAX_LOADS`]) loads in flight, which are
//!   `loading_bytes` in all, at most half the budget (or one run); a piece is never both
//!   cached and loading, nor loading twice.
//!
//! Single-threaded sharing: the engine borrows the cache only inside its own calls and the
//! async tasks only between them, so the `RefCell` borrows never overlap.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};

use js_sys::{Array, Promise, Uint8Array};
use sha1::{Digest, Sha1};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{Blob, File};

use super::js_glue::{Timeout, error_text};
use super::store;
use crate::engine::{LoadQueue, Storage, StorageError, block_of};
use crate::metainfo::Info;

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
const MAX_LOADS: usize = 8;
/// Pieces waiting for a load; beyond this the oldest prefetch hints are dropped (urgent
/// loads, which a read waits for, only when no hint is left: see `LoadQueue`).
const MAX_QUEUED: usize = 1024;
/// The background check of resumed pieces reads and hashes at most this much per step...
const VERIFY_STEP_BYTES: u32 = 1024 * 1024;
/// ...and then leaves the page alone this long: about 5 ms of SHA-1 per 25 ms, so a resumed
/// 1 GiB store is checked in well under a minute without starving playback or peers.
const VERIFY_PAUSE_MS: u64 = 20;
/// One backend read covers at most this many bytes of consecutive wanted pieces: small
/// pieces (32 KiB for a 64 MiB torrent) would otherwise cost one browser round trip each.
const MAX_RUN_BYTES: u32 = 1024 * 1024;

/// The user's files behind a torrent being seeded, in torrent order.
#[derive(Debug, Clone)]
pub struct BlobSource {
    /// Sorted by offset, empty files left out.
    pub parts: Vec<BlobPart>,
}

/// One shared file (or blob) and what it looked like when it was hashed.
#[derive(Debug, Clone)]
pub struct BlobPart {
    /// Where its bytes start in the torrent.
    pub offset: u64,
    pub blob: Blob,
    pub size: u64,
    /// `File.lastModified` when hashed (`None` for a plain `Blob`, which cannot change).
    pub modified: Option<f64>,
}

impl BlobPart {
    pub fn new(offset: u64, blob: Blob) -> BlobPart {
        let modified = blob.dyn_ref::<File>().map(File::last_modified);
        BlobPart {
            offset,
            size: blob.size() as u64,
            blob,
            modified,
        }
    }

    fn end(&self) -> u64 {
        self.offset + self.size
    }

    fn name(&self) -> String {
        self.blob
            .dyn_ref::<File>()
            .map_or_else(|| "the shared data".into(), |f| format!("`{}`", f.name()))
    }

    /// True if the browser already shows the file differs from when it was hashed.
    fn looks_changed(&self) -> bool {
        self.blob.size() as u64 != self.size
            || self.blob.dyn_ref::<File>().map(File::last_modified) != self.modified
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Store,
    Blobs(BlobSource),
    Memory,
}

/// What the swarm hears from its storage.
#[derive(Debug)]
pub enum StorageNews {
    /// A piece is now in memory: transmit again.
    Loaded,
    /// A batch of pieces was written: held downloads may resume.
    Written,
    /// Something failed (shown to the user as a warning, once per kind of failure).
    Failed(String),
    /// These verified pieces' stored bytes are bad or gone: the engine must drop them
    /// (`Torrent::lose_piece`); `message` says why, for the user.
    Lost { pieces: Vec<u32>, message: String },
}

#[derive(Debug)]
struct Cached {
    data: Rc<[u8]>,
    last_use: u64,
    persisted: bool,
}

struct Inner {
    hex: String,
    backend: Backend,
    /// Piece length and piece sizes, once the metadata is known.
    layout: Option<Layout>,
    pieces: HashMap<u32, Cached>,
    cached_bytes: usize,
    budget: usize,
    clock: u64,
    loading: HashSet<u32>,
    loads_in_flight: usize,
    loading_bytes: u32,
    /// Where the last load started stopped: a load starting there continues a forward scan.
    last_load_end: Option<u32>,
    /// Pieces wanted in memory: reads waiting first, then prefetch hints.
    queue: LoadQueue,
    /// SHA-1 of every piece, once the metadata is known.
    hashes: Vec<[u8; 20]>,
    /// Store pieces whose bytes were checked this session (see "Trust" above).
    verified: HashSet<u32>,
    /// Pieces found bad or gone, until written again: never read, never loaded.
    lost: HashSet<u32>,
    /// Shared files found changed (indices into the `BlobSource`): none of their bytes
    /// are read again.
    changed: HashSet<usize>,
    /// Resumed pieces the background pass (`verify_stored`) has still to check.
    verify_pending: usize,
    /// Pieces whose load failed: the next read reports it (once).
    failed: HashMap<u32, String>,
    waker: Option<Rc<dyn Fn(StorageNews)>>,
    /// A write failed: later pieces stay in memory (nothing lost), one warning only.
    write_failed: bool,
    /// Verified pieces (JS copies) waiting for the next batched write to the store.
    unwritten: Vec<(u32, Uint8Array)>,
    write_scheduled: bool,
    /// Bytes of cached pieces the store does not hold yet (Store backend only).
    unpersisted_bytes: usize,
}

impl Inner {
    /// The cached bytes of piece `index`, marked as just used (eviction goes by last use).
    fn touch(&mut self, index: u32) -> Option<&Rc<[u8]>> {
        self.clock += 1;
        let c = self.pieces.get_mut(&index)?;
        c.last_use = self.clock;
        Some(&c.data)
    }
}

#[derive(Debug, Clone, Copy)]
struct Layout {
    piece_length: u32,
    total_length: u64,
}

impl Layout {
    fn piece_size(&self, index: u32) -> u32 {
        crate::metainfo::piece_size(self.piece_length, self.total_length, index)
    }
}

#[derive(Clone)]
pub struct SharedStorage {
    inner: Rc<RefCell<Inner>>,
    /// TEST ONLY: flip a byte in every block we upload, to prove that downloaders ban a
    /// lying peer. Set through the `testOnlyCorruptUploads` client option; never in the app.
    corrupt_uploads: bool,
}

impl std::fmt::Debug for SharedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.borrow();
        f.debug_struct("SharedStorage")
            .field("hex", &inner.hex)
            .field("cached_bytes", &inner.cached_bytes)
            .finish_non_exhaustive()
    }
}

impl SharedStorage {
    /// Storage for torrent `hex`, all in memory until [`SharedStorage::use_store`].
    pub fn new(hex: &str, corrupt_uploads: bool) -> SharedStorage {
        // The budget is set again with the layout (`set_layout`), by backend.
        SharedStorage {
            inner: Rc::new(RefCell::new(Inner {
                hex: hex.to_owned(),
                backend: Backend::Memory,
                layout: None,
                pieces: HashMap::new(),
                cached_bytes: 0,
                budget: DEFAULT_CACHE_BYTES,
                clock: 0,
                loading: HashSet::new(),
                loads_in_flight: 0,
                loading_bytes: 0,
                last_load_end: None,
                queue: LoadQueue::new(MAX_QUEUED),
                hashes: Vec::new(),
                verified: HashSet::new(),
                lost: HashSet::new(),
                changed: HashSet::new(),
                verify_pending: 0,
                failed: HashMap::new(),
                waker: None,
                write_failed: false,
                unwritten: Vec::new(),
                write_scheduled: false,
                unpersisted_bytes: 0,
            })),
            corrupt_uploads,
        }
    }

    /// Storage serving a seed straight from the user's files.
    pub fn from_blobs(hex: &str, info: &Info, source: BlobSource, corrupt: bool) -> SharedStorage {
        let s = SharedStorage::new(hex, corrupt);
        s.inner.borrow_mut().backend = Backend::Blobs(source);
        s.set_layout(info);
        s
    }

    /// From now on written pieces go to the page's storage worker. Pieces already in memory
    /// are written too.
    pub fn use_store(&self) {
        let unwritten: Vec<(u32, Rc<[u8]>)> = {
            let mut inner = self.inner.borrow_mut();
            if !matches!(inner.backend, Backend::Memory) {
                return;
            }
            inner.backend = Backend::Store;
            inner
                .pieces
                .iter()
                .filter(|(_, c)| !c.persisted)
                .map(|(&i, c)| (i, c.data.clone()))
                .collect()
        };
        for (index, data) in unwritten {
            self.write_behind(index, &data);
        }
    }

    pub fn set_layout(&self, info: &Info) {
        let mut inner = self.inner.borrow_mut();
        inner.layout = Some(Layout {
            piece_length: info.piece_length,
            total_length: info.total_length,
        });
        inner.hashes = info.pieces.clone();
        // A few pieces must always fit, however large the pieces are.
        let base = if matches!(inner.backend, Backend::Blobs(_)) {
            SEED_CACHE_BYTES
        } else {
            DEFAULT_CACHE_BYTES
        };
        inner.budget = base.max(4 * info.piece_length as usize);
    }

    /// Called (outside any borrow) when a load lands or something fails.
    pub fn set_waker(&self, waker: Rc<dyn Fn(StorageNews)>) {
        self.inner.borrow_mut().waker = Some(waker);
    }

    /// Whether downloads should be held because writes lag behind (with hysteresis:
    /// `held` is the current state). Never once writing has failed: pieces then stay in
    /// memory for good and holding would stall the download.
    pub fn should_hold_downloads(&self, held: bool) -> bool {
        let inner = self.inner.borrow();
        if !matches!(inner.backend, Backend::Store) || inner.write_failed {
            return false;
        }
        let limit = if held {
            MAX_UNWRITTEN_BYTES / 2
        } else {
            MAX_UNWRITTEN_BYTES
        };
        inner.unpersisted_bytes > limit
    }

    pub fn is_persistent(&self) -> bool {
        matches!(self.inner.borrow().backend, Backend::Store)
    }

    /// Verified bytes waiting to be written to browser storage (0: a reload loses nothing).
    pub fn unsaved_bytes(&self) -> usize {
        self.inner.borrow().unpersisted_bytes
    }

    /// Resumed pieces not yet re-checked by the background pass (0 once all are).
    pub fn unverified_pieces(&self) -> usize {
        self.inner.borrow().verify_pending
    }

    /// Bytes of verified pieces held in memory now (diagnostics and tests).
    pub fn cached_bytes(&self) -> usize {
        self.inner.borrow().cached_bytes
    }

    /// Verified piece `index` as a fresh JS array (for streaming and file reads). Reads
    /// from memory when cached, else from the backend without caching.
    pub async fn read_piece(&self, index: u32) -> Result<Uint8Array, String> {
        if let Some(data) = self.inner.borrow_mut().touch(index) {
            return Ok(Uint8Array::from(&data[..]));
        }
        load_checked(&Rc::downgrade(&self.inner), index, 1).await
    }

    /// Checks every stored piece in `pieces` (those resumed from the store) in the
    /// background, a bounded step at a time: bad ones are lost (and fetched again) even if
    /// nobody reads them. Reads meanwhile check what they touch first themselves.
    pub fn verify_stored(&self, mut pieces: Vec<u32>) {
        pieces.sort_unstable();
        pieces.dedup();
        self.inner.borrow_mut().verify_pending = pieces.len();
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            let mut at = 0;
            loop {
                // The next run of consecutive pieces still unchecked, within one step.
                let Some((first, count)) = weak.upgrade().and_then(|rc| {
                    let mut inner = rc.borrow_mut();
                    let layout = inner.layout?;
                    let todo = |inner: &Inner, i: u32| {
                        !inner.verified.contains(&i) && !inner.lost.contains(&i)
                    };
                    while at < pieces.len() && !todo(&inner, pieces[at]) {
                        at += 1;
                    }
                    inner.verify_pending = pieces.len() - at;
                    let first = *pieces.get(at)?;
                    let mut count = 1;
                    let mut bytes = layout.piece_size(first);
                    while let Some(&next) = pieces.get(at + count as usize) {
                        let size = layout.piece_size(next);
                        if next != first + count
                            || !todo(&inner, next)
                            || bytes + size > VERIFY_STEP_BYTES
                        {
                            break;
                        }
                        bytes += size;
                        count += 1;
                    }
                    Some((first, count))
                }) else {
                    return;
                };
                at += count as usize;
                if let Ok(run) = load_checked(&weak, first, count).await {
                    store::recycle(&run);
                }
                pause(VERIFY_PAUSE_MS).await;
            }
        });
    }

    /// Verified pieces `first..first + count` (consecutive), one array each. When none of
    /// them is in memory they come from the backend in one read (one worker round trip,
    /// not one per piece); otherwise piece by piece, cached ones from memory.
    pub async fn read_pieces(&self, first: u32, count: u32) -> Result<Vec<Uint8Array>, String> {
        let none_cached = {
            let inner = self.inner.borrow();
            (first..first + count).all(|i| !inner.pieces.contains_key(&i))
        };
        let (layout, memory) = {
            let inner = self.inner.borrow();
            let layout = inner
                .layout
                .ok_or("the torrent's metadata has not arrived yet")?;
            (layout, matches!(inner.backend, Backend::Memory))
        };
        if count <= 1 || !none_cached || memory {
            let mut out = Vec::with_capacity(count as usize);
            for i in first..first + count {
                out.push(self.read_piece(i).await?);
            }
            return Ok(out);
        }
        // Not cached means written (only written pieces leave memory, and resumed ones
        // were read from the store), so the backend holds every one of them.
        let run = load_checked(&Rc::downgrade(&self.inner), first, count).await?;
        split_run(layout, first, count, &run).ok_or_else(|| {
            format!(
                "pieces {first}–{} have the wrong size in storage",
                first + count - 1
            )
        })
    }

    /// Copies bytes `from..to` of piece `index` into `dest` at `at` if the piece is in
    /// memory (no JS array in between); `false` if it is not cached.
    pub fn copy_cached(
        &self,
        index: u32,
        from: u32,
        to: u32,
        dest: &Uint8Array,
        at: u32,
    ) -> Result<bool, String> {
        let mut inner = self.inner.borrow_mut();
        let Some(data) = inner.touch(index) else {
            return Ok(false);
        };
        let bytes = data
            .get(from as usize..to as usize)
            .ok_or_else(|| format!("piece {index} in memory is too short"))?;
        dest.subarray(at, at + (to - from)).copy_from(bytes);
        Ok(true)
    }

    /// Verified piece `index` read from the backend (not the cache), over a recycled
    /// buffer that the caller gives back with `store::recycle` once done.
    pub async fn load_piece(&self, index: u32) -> Result<Uint8Array, String> {
        load_checked(&Rc::downgrade(&self.inner), index, 1).await
    }

    /// Inserts a piece and evicts least-recently-used persisted ones above the budget.
    fn insert(inner: &mut Inner, index: u32, data: Rc<[u8]>, persisted: bool) {
        inner.clock += 1;
        let len = data.len();
        if !persisted && matches!(inner.backend, Backend::Store) {
            inner.unpersisted_bytes += len;
        }
        let old = inner.pieces.insert(
            index,
            Cached {
                data,
                last_use: inner.clock,
                persisted,
            },
        );
        if let Some(old) = &old {
            if !old.persisted && matches!(inner.backend, Backend::Store) {
                inner.unpersisted_bytes = inner.unpersisted_bytes.saturating_sub(old.data.len());
            }
        }
        inner.cached_bytes = inner.cached_bytes + len - old.map_or(0, |c| c.data.len());
        Self::evict(inner);
    }

    /// Over budget, drops least-recently-used persisted pieces down to 7/8 of the budget
    /// (the slack keeps the sort from running on every insert).
    fn evict(inner: &mut Inner) {
        if inner.cached_bytes <= inner.budget {
            return;
        }
        let target = inner.budget / 8 * 7;
        let mut victims: Vec<(u64, u32)> = inner
            .pieces
            .iter()
            .filter(|(_, c)| c.persisted)
            .map(|(&i, c)| (c.last_use, i))
            .collect();
        victims.sort_unstable();
        for (_, index) in victims {
            if inner.cached_bytes <= target {
                break;
            }
            if let Some(c) = inner.pieces.remove(&index) {
                inner.cached_bytes -= c.data.len();
            }
        }
    }

    /// Writes a cached piece to the store in the background; once written it may be evicted.
    /// Pieces verified in the same task (one incoming channel message often completes
    /// several) go to the worker in one message.
    fn write_behind(&self, index: u32, data: &[u8]) {
        let start_batch = {
            let mut inner = self.inner.borrow_mut();
            if inner.layout.is_none() {
                return;
            }
            let array = store::buffer(data.len() as u32);
            array.copy_from(data);
            inner.unwritten.push((index, array));
            !std::mem::replace(&mut inner.write_scheduled, true)
        };
        if !start_batch {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            // Runs after the current task's synchronous work: the batch is complete.
            let Some((hex, piece_length, batch)) = weak.upgrade().and_then(|rc| {
                let mut inner = rc.borrow_mut();
                inner.write_scheduled = false;
                let layout = inner.layout?;
                Some((
                    inner.hex.clone(),
                    layout.piece_length,
                    std::mem::take(&mut inner.unwritten),
                ))
            }) else {
                return;
            };
            let indices: Vec<u32> = batch.iter().map(|(i, _)| *i).collect();
            let arrays = Array::new();
            for (_, bytes) in batch {
                arrays.push(&bytes);
            }
            let result = store::write_many(&hex, piece_length, &indices, arrays).await;
            let Some(rc) = weak.upgrade() else { return };
            let news = {
                let mut inner = rc.borrow_mut();
                match result {
                    Ok(()) => {
                        let mut written = 0;
                        for index in indices {
                            if let Some(c) = inner.pieces.get_mut(&index).filter(|c| !c.persisted) {
                                c.persisted = true;
                                written += c.data.len();
                            }
                        }
                        inner.unpersisted_bytes = inner.unpersisted_bytes.saturating_sub(written);
                        Self::evict(&mut inner);
                        Some(StorageNews::Written)
                    }
                    Err(e) if !inner.write_failed => {
                        inner.write_failed = true;
                        Some(StorageNews::Failed(if e.starts_with("storage is full") {
                            format!("{e}; the rest of this torrent is kept in memory only")
                        } else {
                            format!(
                                "could not save pieces to browser storage ({e}); keeping them in memory"
                            )
                        }))
                    }
                    Err(_) => None,
                }
            };
            wake(&weak, news);
        });
    }

    /// Asks for piece `index` to be loaded into the cache (a prefetch hint, or a read that
    /// missed: `urgent` puts it first in line).
    fn request_load(&self, index: u32, urgent: bool) {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.layout.is_none()
                || matches!(inner.backend, Backend::Memory)
                || inner.pieces.contains_key(&index)
                || inner.loading.contains(&index)
                || inner.lost.contains(&index)
            {
                return;
            }
            // Over the bound, old hints give way (the newest requests are the ones peers
            // wait for next); a load a read waits for goes first and stays.
            inner.queue.push(index, urgent);
        }
        start_loads(&self.inner);
    }
}

/// Starts queued loads while fewer than [`MAX_LOADS`] are in flight. A load reads a run of
/// consecutive queued pieces (at most [`MAX_RUN_BYTES`]) in one backend call.
fn start_loads(rc: &Rc<RefCell<Inner>>) {
    loop {
        let (layout, first, count) = {
            let mut inner = rc.borrow_mut();
            if inner.loads_in_flight >= MAX_LOADS {
                return;
            }
            let Some(layout) = inner.layout else { return };
            // Skip pieces loaded (or lost) meanwhile.
            let (first, first_urgent) = loop {
                let Some((i, urgent)) = inner.queue.pop() else {
                    return;
                };
                if !inner.pieces.contains_key(&i)
                    && !inner.loading.contains(&i)
                    && !inner.lost.contains(&i)
                {
                    break (i, urgent);
                }
            };
            let mut urgency = vec![first_urgent];
            // Runs of at most an eighth of the budget, so a few loads fit in its half.
            let max_run = MAX_RUN_BYTES.min((inner.budget / 8) as u32);
            // A seed's files hold every piece, and peers (a streaming one above all) ask
            // for pieces in runs: read ahead to the run's size, since each file read costs a
            // round trip to the browser whatever its size (measured: one 16 KiB piece per
            // read capped a seed at ~4 MB/s). The store only holds what was written, so it
            // reads just the pieces asked for.
            // Only while reads go forward in order (a streaming peer): for scattered
            // requests it read bytes nobody asked for (measured: +5 ms CPU per MiB moved).
            let read_ahead =
                matches!(inner.backend, Backend::Blobs(_)) && inner.last_load_end == Some(first);
            let mut count = 1u32;
            let mut bytes = layout.piece_size(first);
            loop {
                let next = first + count;
                let size = layout.piece_size(next);
                if size == 0
                    || bytes + size > max_run
                    || !(read_ahead || inner.queue.contains(next))
                {
                    break;
                }
                if inner.pieces.contains_key(&next)
                    || inner.loading.contains(&next)
                    || inner.lost.contains(&next)
                {
                    break;
                }
                urgency.push(inner.queue.take(next).unwrap_or(false));
                bytes += size;
                count += 1;
            }
            if inner.loads_in_flight > 0
                && (inner.loading_bytes + bytes) as usize > inner.budget / 2
            {
                // Not now: back to the front of the line, for when a load lands.
                for (i, urgent) in (first..first + count).zip(urgency).rev() {
                    inner.queue.push_front(i, urgent);
                }
                return;
            }
            for i in first..first + count {
                inner.loading.insert(i);
            }
            inner.loads_in_flight += 1;
            inner.loading_bytes += bytes;
            inner.last_load_end = Some(first + count);
            (layout, first, count)
        };
        let weak = Rc::downgrade(rc);
        spawn_local(async move {
            let result = load_checked(&weak, first, count).await;
            let Some(rc) = weak.upgrade() else { return };
            let news = {
                let mut inner = rc.borrow_mut();
                inner.loads_in_flight -= 1;
                for i in first..first + count {
                    inner.loading.remove(&i);
                }
                let last = first + count - 1;
                inner.loading_bytes -= run_bytes(layout, first, count);
                let pieces = result.map(|bytes| (split_run(layout, first, count, &bytes), bytes));
                match pieces {
                    Ok((Some(pieces), bytes)) => {
                        for (i, piece) in (first..).zip(pieces) {
                            SharedStorage::insert(&mut inner, i, piece.to_vec().into(), true);
                        }
                        store::recycle(&bytes);
                        StorageNews::Loaded
                    }
                    Ok((None, _)) => {
                        let e = format!("pieces {first}–{last} have the wrong size in storage");
                        for i in first..=last {
                            inner.failed.insert(i, e.clone());
                        }
                        StorageNews::Failed(e)
                    }
                    Err(e) => {
                        // Lost pieces were reported as such; the others failed for now.
                        let e = format!("could not read pieces {first}–{last}: {e}");
                        let mut failed = false;
                        for i in first..=last {
                            if !inner.lost.contains(&i) {
                                inner.failed.insert(i, e.clone());
                                failed = true;
                            }
                        }
                        if failed {
                            StorageNews::Failed(e)
                        } else {
                            StorageNews::Loaded
                        }
                    }
                }
            };
            start_loads(&rc);
            wake(&weak, Some(news));
        });
    }
}

/// Bytes of pieces `first..first + count`.
fn run_bytes(layout: Layout, first: u32, count: u32) -> u32 {
    (first..first + count).map(|i| layout.piece_size(i)).sum()
}

/// `run`, the bytes of pieces `first..first + count`, as one view per piece; `None` if its
/// length is not theirs.
fn split_run(layout: Layout, first: u32, count: u32, run: &Uint8Array) -> Option<Vec<Uint8Array>> {
    if run.length() != run_bytes(layout, first, count) {
        return None;
    }
    let mut at = 0;
    let views = (first..first + count).map(|i| {
        let size = layout.piece_size(i);
        at += size;
        run.subarray(at - size, at)
    });
    Some(views.collect())
}

/// Tells the swarm, with no borrow of the cache held.
fn wake(weak: &Weak<RefCell<Inner>>, news: Option<StorageNews>) {
    let Some(news) = news else { return };
    let waker = weak.upgrade().and_then(|rc| rc.borrow().waker.clone());
    if let Some(waker) = waker {
        waker(news);
    }
}

/// Pieces `first..first + count` (consecutive) from the backend, checked (see "Trust" at
/// the top): the bytes, or an error once any bad or missing piece among them has been
/// marked lost and reported. Never returns bytes that do not match their hash.
async fn load_checked(
    weak: &Weak<RefCell<Inner>>,
    first: u32,
    count: u32,
) -> Result<Uint8Array, String> {
    let (backend, hex, layout) = {
        let rc = weak.upgrade().ok_or("this torrent was removed")?;
        let inner = rc.borrow();
        let layout = inner
            .layout
            .ok_or("the torrent's metadata has not arrived yet")?;
        if let Some(i) = (first..first + count).find(|i| inner.lost.contains(i)) {
            return Err(format!(
                "piece {i} is gone from storage; it is being downloaded again"
            ));
        }
        (inner.backend.clone(), inner.hex.clone(), layout)
    };
    if let Backend::Blobs(source) = &backend {
        return load_blobs_checked(weak, source, layout, first, count).await;
    }
    let result = load_run(&backend, &hex, layout, first, count).await;
    let (bad, detail) = match result {
        Ok(run) => {
            let bad = unverified_bad(weak, layout, first, count, &run, true);
            if bad.is_empty() {
                return Ok(run);
            }
            (bad, "their bytes do not match their hash".to_owned())
        }
        Err(e) if count == 1 => (vec![first], e),
        Err(e) => {
            // Which of them? One at a time (only when something is wrong).
            let mut bad = Vec::new();
            for i in first..first + count {
                match load_run(&backend, &hex, layout, i, 1).await {
                    Ok(one) => {
                        bad.extend(unverified_bad(weak, layout, i, 1, &one, true));
                        store::recycle(&one);
                    }
                    Err(_) => bad.push(i),
                }
            }
            (bad, e)
        }
    };
    if bad.is_empty() {
        return Err(format!(
            "could not read pieces {first}–{}",
            first + count - 1
        ));
    }
    let message = format!(
        "{} in browser storage {} corrupt or missing ({detail}); downloading again",
        pieces_text(&bad),
        if bad.len() == 1 { "was" } else { "were" },
    );
    report_lost(weak, bad, message.clone());
    Err(message)
}

/// The same for a seed's files: a file that changed on disk (the browser says so, or its
/// bytes cannot be read) loses every piece it touches; a piece whose bytes no longer match
/// its hash is lost by itself.
async fn load_blobs_checked(
    weak: &Weak<RefCell<Inner>>,
    source: &BlobSource,
    layout: Layout,
    first: u32,
    count: u32,
) -> Result<Uint8Array, String> {
    let start = u64::from(first) * u64::from(layout.piece_length);
    let end = start + u64::from(run_bytes(layout, first, count));
    let touched: Vec<usize> = (0..source.parts.len())
        .filter(|&i| source.parts[i].offset < end && source.parts[i].end() > start)
        .collect();
    let mut changed: Vec<usize> = touched
        .iter()
        .copied()
        .filter(|&i| source.parts[i].looks_changed())
        .collect();
    if changed.is_empty() {
        match read_blobs(source, start, end).await {
            Ok(run) => {
                let bad = unverified_bad(weak, layout, first, count, &run, false);
                if bad.is_empty() {
                    return Ok(run);
                }
                let message = format!(
                    "{} no longer {} the shared files (changed on disk?); not served any more",
                    pieces_text(&bad),
                    if bad.len() == 1 { "matches" } else { "match" },
                );
                report_lost(weak, bad, message.clone());
                return Err(message);
            }
            Err(e) => {
                // Unreadable: find the files the browser no longer lets us read.
                for &i in &touched {
                    let part = &source.parts[i];
                    let probe = part.blob.slice_with_f64_and_f64(0.0, 1.0);
                    let readable = match probe {
                        Ok(b) => JsFuture::from(b.array_buffer()).await.is_ok(),
                        Err(_) => false,
                    };
                    if !readable {
                        changed.push(i);
                    }
                }
                if changed.is_empty() {
                    return Err(e);
                }
            }
        }
    }
    let pl = u64::from(layout.piece_length);
    let mut lost = Vec::new();
    let mut names = Vec::new();
    if let Some(rc) = weak.upgrade() {
        let mut inner = rc.borrow_mut();
        for &i in &changed {
            inner.changed.insert(i);
        }
    }
    for &i in &changed {
        let part = &source.parts[i];
        names.push(part.name());
        let pieces = (part.offset / pl) as u32..part.end().div_ceil(pl) as u32;
        lost.extend(pieces);
    }
    lost.sort_unstable();
    lost.dedup();
    let message = format!(
        "{} changed on disk since it was shared: its pieces are no longer served",
        names.join(", ")
    );
    report_lost(weak, lost, message.clone());
    Err(message)
}

/// Pieces of `run` (pieces `first..first + count`) whose bytes do not hash to what the
/// torrent says. With `remember` (the store), good ones are noted as verified and pieces
/// verified before are not hashed again.
fn unverified_bad(
    weak: &Weak<RefCell<Inner>>,
    layout: Layout,
    first: u32,
    count: u32,
    run: &Uint8Array,
    remember: bool,
) -> Vec<u32> {
    let Some(rc) = weak.upgrade() else {
        return Vec::new();
    };
    let mut inner = rc.borrow_mut();
    let mut bad = Vec::new();
    let mut at = 0;
    let mut scratch = Vec::new();
    for i in first..first + count {
        let size = layout.piece_size(i);
        let (from, to) = (at, at + size);
        at = to;
        if remember && inner.verified.contains(&i) {
            continue;
        }
        scratch.resize(size as usize, 0);
        if to > run.length() {
            bad.push(i);
            continue;
        }
        run.subarray(from, to).copy_to(&mut scratch);
        let hash: [u8; 20] = Sha1::digest(&scratch).into();
        if inner.hashes.get(i as usize) == Some(&hash) {
            if remember {
                inner.verified.insert(i);
            }
        } else {
            bad.push(i);
        }
    }
    bad
}

/// Marks `pieces` lost (out of the cache, never loaded again until rewritten) and tells
/// the swarm, which drops them from the engine.
fn report_lost(weak: &Weak<RefCell<Inner>>, pieces: Vec<u32>, message: String) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let mut inner = rc.borrow_mut();
        for &i in &pieces {
            inner.lost.insert(i);
            inner.verified.remove(&i);
            inner.queue.take(i);
            if let Some(c) = inner.pieces.remove(&i) {
                inner.cached_bytes -= c.data.len();
                if !c.persisted && matches!(inner.backend, Backend::Store) {
                    inner.unpersisted_bytes = inner.unpersisted_bytes.saturating_sub(c.data.len());
                }
            }
        }
    }
    wake(weak, Some(StorageNews::Lost { pieces, message }));
}

/// "piece 3" / "pieces 3, 4, 9 and 12 more", for messages.
fn pieces_text(pieces: &[u32]) -> String {
    const SHOWN: usize = 3;
    let list: Vec<String> = pieces.iter().take(SHOWN).map(u32::to_string).collect();
    match pieces.len() {
        1 => format!("piece {}", list[0]),
        n if n <= SHOWN => format!("pieces {}", list.join(", ")),
        n => format!("pieces {} and {} more", list.join(", "), n - SHOWN),
    }
}

/// Resolves after `ms` milliseconds (yields the page to everything else meanwhile).
async fn pause(ms: u64) {
    let mut timer = None;
    let promise = Promise::new(&mut |resolve, _| {
        timer = Some(Timeout::new(
            std::time::Duration::from_millis(ms),
            move || {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            },
        ));
    });
    let _ = JsFuture::from(promise).await;
    drop(timer);
}

/// Reads pieces `first..first + count` (consecutive) from a backend, as one array.
async fn load_run(
    backend: &Backend,
    hex: &str,
    layout: Layout,
    first: u32,
    count: u32,
) -> Result<Uint8Array, String> {
    let size = run_bytes(layout, first, count);
    match backend {
        Backend::Store => store::read(hex, first, count, layout.piece_length, size).await,
        Backend::Blobs(source) => {
            let start = u64::from(first) * u64::from(layout.piece_length);
            read_blobs(source, start, start + u64::from(size)).await
        }
        Backend::Memory => Err(format!("piece {first} is not in memory")),
    }
}

/// The bytes `start..end` of the concatenated files.
async fn read_blobs(source: &BlobSource, start: u64, end: u64) -> Result<Uint8Array, String> {
    let parts = Array::new();
    for part in &source.parts {
        let (offset, file_end) = (part.offset, part.end());
        if file_end <= start || offset >= end {
            continue;
        }
        let from = start.max(offset) - offset;
        let to = end.min(file_end) - offset;
        let slice = part
            .blob
            .slice_with_f64_and_f64(from as f64, to as f64)
            .map_err(|e| error_text(&e))?;
        parts.push(&slice);
    }
    let joined = Blob::new_with_blob_sequence(&parts).map_err(|e| error_text(&e))?;
    let buffer = JsFuture::from(joined.array_buffer())
        .await
        .map_err(|e| format!("the shared file can no longer be read ({})", error_text(&e)))?;
    let bytes = Uint8Array::new(&buffer);
    // A fresh buffer per read, dead once copied into the cache: pace the collector.
    super::gc_pacing::received(u64::from(bytes.length()));
    if u64::from(bytes.length()) != end - start {
        return Err("the shared file changed size since it was hashed".into());
    }
    Ok(bytes)
}

impl Storage for SharedStorage {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        let to_store = {
            let mut inner = self.inner.borrow_mut();
            let persist = matches!(inner.backend, Backend::Store) && !inner.write_failed;
            // The engine checked these bytes: whatever was lost is whole again.
            inner.lost.remove(&index);
            inner.verified.insert(index);
            Self::insert(&mut inner, index, Rc::from(data), false);
            persist
        };
        if to_store {
            self.write_behind(index, data);
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
        let start = out.len();
        {
            let mut inner = self.inner.borrow_mut();
            match inner.touch(index) {
                Some(data) => out.extend_from_slice(block_of(data, index, begin, len)?),
                None => {
                    if inner.lost.contains(&index) {
                        return Err(StorageError::Missing(index));
                    }
                    if let Some(e) = inner.failed.remove(&index) {
                        return Err(StorageError::Backend(e));
                    }
                    if matches!(inner.backend, Backend::Memory) {
                        return Err(StorageError::Missing(index));
                    }
                    drop(inner);
                    self.request_load(index, true);
                    return Err(StorageError::Pending(index));
                }
            }
        }
        if self.corrupt_uploads {
            if let Some(byte) = out.get_mut(start) {
                *byte ^= 0xff;
            }
        }
        Ok(())
    }

    fn prefetch(&mut self, index: u32) {
        self.request_load(index, false);
    }

    fn unprefetch(&mut self, index: u32) {
        self.inner.borrow_mut().queue.take(index);
    }
}
