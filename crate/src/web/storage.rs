//! Piece storage for the browser driver: the I/O behind the sans-IO
//! [`PieceCache`](crate::session::piece_cache), which decides what stays in memory, what is
//! loaded and written when, and what is trusted (its module docs say how).
//!
//! This file runs what the cache asks for: loads from the page's storage worker (`store`,
//! OPFS or IndexedDB) or from the user's own `File`s (a seed), batched writes to the worker,
//! the paced background check of resumed pieces; and it tells the swarm what the cache
//! reports (`StorageNews`) through the `waker`.
//!
//! Single-threaded sharing: the engine borrows the cache only inside its own calls and the
//! async tasks only between them, so the `RefCell` borrows never overlap; the waker runs with
//! no borrow held.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{Blob, File};

use super::js_glue::{Timeout, error_text};
use super::store;
use crate::engine::{Storage, StorageError};
use crate::metainfo::Info;
use crate::session::piece_cache::{Backend, Layout, PieceCache, RunBytes};

pub use crate::session::piece_cache::StorageNews;

/// Pause between two steps of the background check of resumed pieces (each step hashes at
/// most `VERIFY_STEP_BYTES`): about 5 ms of SHA-1 per 25 ms, so a resumed 1 GiB store is
/// checked in well under a minute without starving playback or peers.
const VERIFY_PAUSE_MS: u64 = 20;

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

struct Inner {
    hex: String,
    cache: PieceCache,
    /// The user's files, for a seed (`Backend::Files`).
    blobs: Option<BlobSource>,
    waker: Option<Rc<dyn Fn(StorageNews)>>,
    /// A task will take the cache's pending writes at the end of the current task: pieces
    /// verified together (one channel message often completes several) go in one message.
    write_scheduled: bool,
    /// A task will start the cache's loads at the end of the current task: the requests of
    /// one channel message (a peer asks for several pieces at once) are queued before the
    /// first load is cut, so it covers them in one read (see `PieceCache::next_load`).
    load_scheduled: bool,
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
            .field("cached_bytes", &inner.cache.cached_bytes())
            .finish_non_exhaustive()
    }
}

/// A JS array as bytes the cache can check and keep (copied piece by piece, where needed).
impl RunBytes for Uint8Array {
    fn len(&self) -> usize {
        self.length() as usize
    }

    fn copy_to(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        out.resize(to - from, 0);
        self.subarray(from as u32, to as u32).copy_to(out);
    }
}

impl SharedStorage {
    /// Storage for torrent `hex`, all in memory until [`SharedStorage::use_store`].
    pub fn new(hex: &str, corrupt_uploads: bool) -> SharedStorage {
        SharedStorage::with(hex, Backend::Memory, None, corrupt_uploads)
    }

    /// Storage serving a seed straight from the user's files, whose torrent was just hashed
    /// from these same `Blob`s: every piece starts trusted (see `PieceCache::trust_all`).
    pub fn from_blobs(hex: &str, info: &Info, source: BlobSource, corrupt: bool) -> SharedStorage {
        let s = SharedStorage::with(hex, Backend::Files, Some(source), corrupt);
        s.set_layout(info);
        s.inner.borrow_mut().cache.trust_all();
        s
    }

    fn with(
        hex: &str,
        backend: Backend,
        blobs: Option<BlobSource>,
        corrupt: bool,
    ) -> SharedStorage {
        SharedStorage {
            inner: Rc::new(RefCell::new(Inner {
                hex: hex.to_owned(),
                cache: PieceCache::new(backend),
                blobs,
                waker: None,
                write_scheduled: false,
                load_scheduled: false,
            })),
            corrupt_uploads: corrupt,
        }
    }

    /// From now on written pieces go to the page's storage worker. Pieces already in memory
    /// are written too.
    pub fn use_store(&self) {
        self.inner.borrow_mut().cache.use_store();
        schedule_writes(&self.inner);
    }

    pub fn set_layout(&self, info: &Info) {
        self.inner.borrow_mut().cache.set_layout(info);
    }

    /// Called (outside any borrow) when a load lands or something fails.
    pub fn set_waker(&self, waker: Rc<dyn Fn(StorageNews)>) {
        self.inner.borrow_mut().waker = Some(waker);
    }

    /// See [`PieceCache::should_hold_downloads`].
    pub fn should_hold_downloads(&self, held: bool) -> bool {
        self.inner.borrow().cache.should_hold_downloads(held)
    }

    pub fn is_persistent(&self) -> bool {
        self.inner.borrow().cache.is_persistent()
    }

    /// Verified bytes waiting to be written to browser storage (0: a reload loses nothing).
    pub fn unsaved_bytes(&self) -> usize {
        self.inner.borrow().cache.unsaved_bytes()
    }

    /// Resumed pieces not yet re-checked by the background pass (0 once all are).
    pub fn unverified_pieces(&self) -> usize {
        self.inner.borrow().cache.unverified_pieces()
    }

    /// Bytes of verified pieces held in memory now (diagnostics and tests).
    pub fn cached_bytes(&self) -> usize {
        self.inner.borrow().cache.cached_bytes()
    }

    /// Verified piece `index` as a fresh JS array (for streaming and file reads). Reads
    /// from memory when cached, else from the backend without caching.
    pub async fn read_piece(&self, index: u32) -> Result<Uint8Array, String> {
        if let Some(data) = self.inner.borrow_mut().cache.cached(index) {
            return Ok(Uint8Array::from(&data[..]));
        }
        load_checked(&Rc::downgrade(&self.inner), index, 1).await
    }

    /// Checks every stored piece in `pieces` (those resumed from the store) in the
    /// background, one bounded step at a time with a pause between steps.
    pub fn verify_stored(&self, pieces: Vec<u32>) {
        self.inner.borrow_mut().cache.start_verify(pieces);
        let weak = Rc::downgrade(&self.inner);
        spawn_local(async move {
            loop {
                let step = weak
                    .upgrade()
                    .and_then(|rc| rc.borrow_mut().cache.next_verify_step());
                let Some((first, count)) = step else { return };
                if let Ok(run) = load_checked(&weak, first, count).await {
                    store::recycle(&run);
                }
                wake(&weak);
                pause(VERIFY_PAUSE_MS).await;
            }
        });
    }

    /// Verified pieces `first..first + count` (consecutive), one array each. When none of
    /// them is in memory they come from the backend in one read (one worker round trip,
    /// not one per piece); otherwise piece by piece, cached ones from memory.
    pub async fn read_pieces(&self, first: u32, count: u32) -> Result<Vec<Uint8Array>, String> {
        let (layout, none_cached, memory) = {
            let inner = self.inner.borrow();
            let layout = inner
                .cache
                .layout()
                .ok_or("the torrent's metadata has not arrived yet")?;
            let none_cached = (first..first + count).all(|i| !inner.cache.is_cached(i));
            (
                layout,
                none_cached,
                inner.cache.backend() == Backend::Memory,
            )
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
        let Some(data) = self.inner.borrow_mut().cache.cached(index) else {
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
}

/// Writes the cache's pending pieces to the store in one message, after the current task's
/// synchronous work (so the batch is complete); once written they may be evicted.
fn schedule_writes(rc: &Rc<RefCell<Inner>>) {
    {
        let mut inner = rc.borrow_mut();
        if !inner.cache.has_writes() || std::mem::replace(&mut inner.write_scheduled, true) {
            return;
        }
    }
    let weak = Rc::downgrade(rc);
    spawn_local(async move {
        let Some((hex, piece_length, batch)) = weak.upgrade().and_then(|rc| {
            let mut inner = rc.borrow_mut();
            inner.write_scheduled = false;
            let layout = inner.cache.layout()?;
            Some((
                inner.hex.clone(),
                layout.piece_length,
                inner.cache.take_writes(),
            ))
        }) else {
            return;
        };
        if batch.is_empty() {
            return;
        }
        let indices: Vec<u32> = batch.iter().map(|(i, _)| *i).collect();
        let arrays = Array::new();
        for (_, data) in batch {
            let array = store::buffer(data.len() as u32);
            array.copy_from(&data);
            arrays.push(&array);
        }
        let result = store::write_many(&hex, piece_length, &indices, arrays).await;
        let Some(rc) = weak.upgrade() else { return };
        rc.borrow_mut().cache.writes_landed(&indices, result);
        wake(&weak);
    });
}

/// Starts the cache's loads once the current task is done (see `Inner::load_scheduled`).
fn schedule_loads(rc: &Rc<RefCell<Inner>>) {
    if std::mem::replace(&mut rc.borrow_mut().load_scheduled, true) {
        return;
    }
    let weak = Rc::downgrade(rc);
    spawn_local(async move {
        if let Some(rc) = weak.upgrade() {
            rc.borrow_mut().load_scheduled = false;
            start_loads(&rc);
        }
    });
}

/// Starts the loads the cache wants (each reads a run of consecutive pieces in one backend
/// call); each landing starts the next ones.
fn start_loads(rc: &Rc<RefCell<Inner>>) {
    loop {
        let Some(run) = rc.borrow_mut().cache.next_load() else {
            return;
        };
        let weak = Rc::downgrade(rc);
        spawn_local(async move {
            let result = load_checked(&weak, run.first, run.count).await;
            let Some(rc) = weak.upgrade() else { return };
            {
                let mut inner = rc.borrow_mut();
                match &result {
                    Ok(bytes) => inner.cache.load_landed(run, bytes),
                    Err(e) => inner.cache.load_failed(run, e),
                }
            }
            if let Ok(bytes) = &result {
                store::recycle(bytes);
            }
            start_loads(&rc);
            wake(&weak);
        });
    }
}

/// `run`, the bytes of pieces `first..first + count`, as one view per piece; `None` if its
/// length is not theirs.
fn split_run(layout: Layout, first: u32, count: u32, run: &Uint8Array) -> Option<Vec<Uint8Array>> {
    if run.length() != layout.run_bytes(first, count) {
        return None;
    }
    let views = layout
        .split(first, count)
        .map(|(_, from, to)| run.subarray(from as u32, to as u32));
    Some(views.collect())
}

/// Tells the swarm what the cache reported, with no borrow of the cache held.
fn wake(weak: &Weak<RefCell<Inner>>) {
    loop {
        let Some((news, waker)) = weak.upgrade().and_then(|rc| {
            let mut inner = rc.borrow_mut();
            Some((inner.cache.poll_news()?, inner.waker.clone()))
        }) else {
            return;
        };
        if let Some(waker) = waker {
            waker(news);
        }
    }
}

/// Pieces `first..first + count` (consecutive) from the backend, checked by the cache: the
/// bytes, or an error once any bad or missing piece among them has been marked lost.
/// Never returns bytes that do not match their hash.
async fn load_checked(
    weak: &Weak<RefCell<Inner>>,
    first: u32,
    count: u32,
) -> Result<Uint8Array, String> {
    let (backend, blobs, hex, layout) = {
        let rc = weak.upgrade().ok_or("this torrent was removed")?;
        let inner = rc.borrow();
        let layout = inner
            .cache
            .layout()
            .ok_or("the torrent's metadata has not arrived yet")?;
        if let Some(i) = inner.cache.first_lost(first, count) {
            return Err(format!(
                "piece {i} is gone from storage; it is being downloaded again"
            ));
        }
        (
            inner.cache.backend(),
            inner.blobs.clone(),
            inner.hex.clone(),
            layout,
        )
    };
    if let (Backend::Files, Some(source)) = (backend, &blobs) {
        return load_blobs_checked(weak, source, layout, first, count).await;
    }
    if backend == Backend::Memory {
        return Err(format!("piece {first} is not in memory"));
    }
    let size = layout.run_bytes(first, count);
    let result = store::read(&hex, first, count, layout.piece_length, size).await;
    let (bad, detail) = match result {
        Ok(run) => {
            let bad = with_cache(weak, |c| c.check_run(first, count, &run))?;
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
                let one = store::read(&hex, i, 1, layout.piece_length, layout.piece_size(i)).await;
                match one {
                    Ok(one) => {
                        bad.extend(with_cache(weak, |c| c.check_run(i, 1, &one))?);
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
    let message = with_cache(weak, |c| c.lose_stored(bad, &detail))?;
    wake(weak);
    Err(message)
}

/// Runs `f` on the cache of a torrent still there.
fn with_cache<R>(
    weak: &Weak<RefCell<Inner>>,
    f: impl FnOnce(&mut PieceCache) -> R,
) -> Result<R, String> {
    let rc = weak.upgrade().ok_or("this torrent was removed")?;
    let mut inner = rc.borrow_mut();
    Ok(f(&mut inner.cache))
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
    let start = layout.piece_start(first);
    let end = start + u64::from(layout.run_bytes(first, count));
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
                let bad = with_cache(weak, |c| c.check_run(first, count, &run))?;
                if bad.is_empty() {
                    return Ok(run);
                }
                let message = with_cache(weak, |c| c.lose_mismatched_files(bad))?;
                wake(weak);
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
    let ranges: Vec<(u64, u64)> = changed
        .iter()
        .map(|&i| (source.parts[i].offset, source.parts[i].end()))
        .collect();
    let names: Vec<String> = changed.iter().map(|&i| source.parts[i].name()).collect();
    let message = with_cache(weak, |c| c.lose_changed_files(&ranges, &names))?;
    wake(weak);
    Err(message)
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
    // One file (the usual case): read its slice as is. Joining costs a Blob constructor, a
    // browser round trip per read (profiled: ~10 ms CPU per MiB served from one file).
    let joined = if parts.length() == 1 {
        parts.get(0).unchecked_into::<Blob>()
    } else {
        Blob::new_with_blob_sequence(&parts).map_err(|e| error_text(&e))?
    };
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
        self.inner.borrow_mut().cache.write_piece(index, data)?;
        schedule_writes(&self.inner);
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
        let result = self
            .inner
            .borrow_mut()
            .cache
            .read_block(index, begin, len, out);
        match result {
            Err(StorageError::Pending(_)) => schedule_loads(&self.inner),
            Ok(()) if self.corrupt_uploads => {
                if let Some(byte) = out.get_mut(start) {
                    *byte ^= 0xff;
                }
            }
            _ => {}
        }
        result
    }

    fn prefetch(&mut self, index: u32) {
        self.inner.borrow_mut().cache.prefetch(index);
        schedule_loads(&self.inner);
    }

    fn unprefetch(&mut self, index: u32) {
        self.inner.borrow_mut().cache.unprefetch(index);
    }
}
