//! Streaming reads of one file of a torrent while it downloads: the `FileStream` class behind
//! `Torrent.openStream(fileIndex, start, end)`, used by the service worker (`www/sw.js`) to
//! answer a `<video>` element's range requests.
//!
//! The browser-independent part (the open streams of a torrent, reader ids, range
//! resolution and chunk planning) is `crate::session::stream`; this is the wasm class, its
//! promises, and copying verified bytes from storage into the chunk.
//!
//! Design:
//! * Each stream is an engine *reader* (`Torrent::set_reader`): the pieces just after its
//!   position form a streaming window that the picker serves first, with deadlines; newer
//!   streams' windows come first (reader ids count down). The reader moves forward as
//!   chunks are consumed; a new stream at another offset (a seek) gets its own window at
//!   once, and closing a stream (`close()`, the worker's `cancel()`, or dropping the object)
//!   releases its window with `remove_reader`.
//! * `next()` resolves with the next chunk as soon as its first piece is verified (see
//!   `plan_chunk`), as a JS array over a recycled buffer (transferable; the caller may hand
//!   the buffer back with the next `next(spare)`, so streaming makes no garbage per chunk).
//!   Cached pieces are copied straight from wasm memory into the chunk; others are loaded
//!   from the store (async), so nothing is borrowed across an `await`.
//! * A read of a missing piece (or before the metadata) parks one waiter, a JS promise
//!   resolver kept in the swarm's [`Streams`]; the client (`events.rs`) wakes it on
//!   `PieceVerified` / `MetadataReady`, and the read then re-checks everything from scratch.
//!   Removing a torrent drops its `Streams`, which wakes every waiter, and their reads then
//!   fail with "this torrent was removed".

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::client::{ClientInner, Handle};
use super::js_glue::now;
use super::store;
use super::swarm::Swarm;
use crate::engine::Torrent as Engine;
use crate::session::stream::{self as plan, Chunk, ReaderIds, StreamError, StreamSet};

thread_local! {
    /// One allocator per page, hence ids unique per client and per torrent (counting down:
    /// see `ReaderIds`).
    static READER_IDS: RefCell<ReaderIds> = const { RefCell::new(ReaderIds::new()) };
}

/// The streams of one swarm ([`StreamSet`]) with JS promise resolvers as waiters: this
/// resolves the waiters the set wakes. Resolving runs no JavaScript now (reactions are
/// microtasks), so it is safe while the client is borrowed.
#[derive(Default)]
pub struct Streams(StreamSet<Function>);

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("open", &self.0.len())
            .field("waiting", &self.0.waiting())
            .finish()
    }
}

fn resolve_all(woken: Vec<Function>) {
    for resolve in woken {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    }
}

impl Streams {
    /// Registers `reader`; returns a reader closed to make room (the caller removes it from
    /// the engine).
    fn open(&mut self, reader: u64, file: u32, start: u64) -> Option<u64> {
        let evicted = self.0.open(reader, file, start)?;
        resolve_all(evicted.woken);
        Some(evicted.reader)
    }

    /// Whether some read waits for a piece (the swarm then sends requests without delay).
    pub fn waiting(&self) -> bool {
        self.0.waiting()
    }

    fn is_open(&self, reader: u64) -> bool {
        self.0.is_open(reader)
    }

    fn touch(&mut self, reader: u64) {
        self.0.touch(reader);
    }

    /// See [`StreamSet::start_offsets`].
    pub fn start_offsets(&self, info: &crate::metainfo::Info) -> Vec<(u64, u64)> {
        self.0.start_offsets(info)
    }

    /// The set itself (for the session's resume policy).
    pub fn set(&self) -> &StreamSet<Function> {
        &self.0
    }

    /// Forgets `reader` and wakes its pending read; false if it was not open.
    fn close(&mut self, reader: u64) -> bool {
        self.0.close(reader).map(resolve_all).is_some()
    }

    /// A promise resolved when `piece` is verified (or the metadata arrives, for `None`).
    fn wait(&mut self, reader: u64, piece: Option<u32>) -> Promise {
        let mut resolve = None;
        let promise = Promise::new(&mut |res, _rej| resolve = Some(res));
        if let Some(resolve) = resolve {
            resolve_all(self.0.wait(reader, piece, resolve));
        }
        promise
    }

    /// Wakes the reads waiting for `index` (called from the client).
    pub fn piece_verified(&mut self, index: u32) {
        resolve_all(self.0.piece_verified(index));
    }

    /// Wakes the reads waiting for the metadata (called from the client).
    pub fn metadata_ready(&mut self) {
        resolve_all(self.0.metadata_ready());
    }

    /// The engine was rebuilt from browser storage: every waiting read looks again.
    pub fn storage_resumed(&mut self) {
        resolve_all(self.0.storage_resumed());
    }
}

impl Drop for Streams {
    /// The torrent is removed: every read wakes and fails with "this torrent was removed".
    fn drop(&mut self) {
        resolve_all(self.0.wake_all());
    }
}

/// A sequential reader of one file (or a byte range of it) that returns data as it arrives.
#[wasm_bindgen]
pub struct FileStream {
    core: Rc<Core>,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("reader", &self.core.reader)
            .finish()
    }
}

struct Core {
    handle: Handle,
    hex: String,
    reader: u64,
    file_index: u32,
    /// As asked, relative to the file (`end` inclusive); turned into `span` once the
    /// metadata is known.
    start: u64,
    end: Option<u64>,
    /// `[position, end)` in torrent byte offsets, once resolved.
    span: Cell<Option<(u64, u64)>>,
    closed: Cell<bool>,
    busy: Cell<bool>,
    /// The last piece read: a piece longer than one chunk is read from storage once.
    cache: RefCell<Option<(u32, Uint8Array)>>,
}

enum Step {
    Done,
    Wait(Promise),
    /// Consecutive verified parts `(piece, from, to)` making up the next chunk.
    Read {
        parts: Vec<(u32, u32, u32)>,
        storage: super::storage::SharedStorage,
    },
}

/// Runs `f` on torrent `hex` (its engine and browser side), then lets the session act on
/// what the engine now wants (requests for a moved window go out at once).
fn with_swarm<R>(
    inner: &mut ClientInner,
    hex: &str,
    f: impl FnOnce(&mut Engine, &mut Swarm) -> R,
) -> Option<R> {
    let result = inner.parts(hex).map(|(engine, swarm)| f(engine, swarm));
    inner.session.handle_timeout(now());
    result
}

/// `Torrent.openStream`: registers the reader and, when the metadata is known, validates
/// the range and points the engine's window at its start.
pub fn open(
    handle: Handle,
    hex: &str,
    file_index: u32,
    start: f64,
    end: Option<f64>,
) -> Result<FileStream, String> {
    let (start, end) = plan::range(start, end).map_err(|e| e.to_string())?;
    let reader = READER_IDS.with(|ids| ids.borrow_mut().next_id());
    let core = Rc::new(Core {
        handle: handle.clone(),
        hex: hex.to_owned(),
        reader,
        file_index,
        start,
        end,
        span: Cell::new(None),
        closed: Cell::new(false),
        busy: Cell::new(false),
        cache: RefCell::new(None),
    });
    let opened = handle
        .with(|c| {
            with_swarm(c, hex, |engine, swarm| -> Result<(), String> {
                if engine.info().is_some() {
                    let (pos, _) = core.resolve(engine)?;
                    if let Some(old) = swarm.streams.open(reader, file_index, start) {
                        engine.remove_reader(old, now());
                    }
                    engine.set_reader(reader, pos, now());
                } else if let Some(old) = swarm.streams.open(reader, file_index, start) {
                    engine.remove_reader(old, now());
                }
                Ok(())
            })
            .unwrap_or_else(|| Err("this torrent was removed".into()))
        })
        .unwrap_or_else(|| Err("the client was destroyed".into()));
    opened?;
    Ok(FileStream { core })
}

impl Core {
    /// The stream's `[position, end)` in torrent offsets (computed once, needs metadata).
    fn resolve(&self, engine: &Engine) -> Result<(u64, u64), String> {
        if let Some(span) = self.span.get() {
            return Ok(span);
        }
        let info = engine
            .info()
            .ok_or("the torrent's metadata has not arrived yet")?;
        let span = plan::resolve(info, self.file_index, self.start, self.end)
            .map_err(|e| e.to_string())?;
        self.span.set(Some(span));
        Ok(span)
    }

    /// What the next read has to do, decided with the client borrowed.
    fn step(&self, engine: &mut Engine, swarm: &mut Swarm) -> Result<Step, String> {
        if !swarm.streams.is_open(self.reader) {
            return Err(StreamError::Evicted.to_string());
        }
        swarm.streams.touch(self.reader);
        if engine.info().is_none() {
            return Ok(Step::Wait(swarm.streams.wait(self.reader, None)));
        }
        let (pos, end) = self.resolve(engine)?;
        let info = engine.info().ok_or("the metadata disappeared")?;
        match plan::plan_chunk(info, engine.have(), pos, end) {
            Chunk::Done => Ok(Step::Done),
            Chunk::Read(parts) => Ok(Step::Read {
                parts,
                storage: swarm.storage.clone(),
            }),
            Chunk::Wait(piece) => {
                // Make sure the window covers the position (also after metadata just arrived).
                engine.set_reader(self.reader, pos, now());
                Ok(Step::Wait(swarm.streams.wait(self.reader, Some(piece))))
            }
        }
    }

    fn with_client<R>(
        &self,
        f: impl FnOnce(&mut Engine, &mut Swarm) -> Result<R, String>,
    ) -> Result<R, String> {
        if self.handle.0.upgrade().is_none() {
            return Err("the client was destroyed".into());
        }
        self.handle
            .with(|c| with_swarm(c, &self.hex, f))
            .ok_or("seedcast is busy (re-entrant call)")?
            .ok_or_else(|| "this torrent was removed".to_owned())?
    }

    async fn next_chunk(&self) -> Result<Option<Uint8Array>, String> {
        loop {
            if self.closed.get() {
                return Ok(None);
            }
            match self.with_client(|engine, swarm| self.step(engine, swarm))? {
                Step::Done => return Ok(None),
                Step::Wait(promise) => {
                    JsFuture::from(promise)
                        .await
                        .map_err(|e| super::js_glue::error_text(&e))?;
                }
                Step::Read { parts, storage } => {
                    let size: u32 = parts.iter().map(|&(_, from, to)| to - from).sum();
                    // Over a recycled buffer: the service worker sends it back once the
                    // player has consumed it (see `FileStream::next`).
                    let chunk = store::buffer(size);
                    let mut offset = 0;
                    let mut lost = false;
                    for (piece, from, to) in parts {
                        if let Err(e) = self
                            .copy_piece(&storage, piece, from, to, &chunk, offset)
                            .await
                        {
                            // Its stored bytes turned out bad and it is being fetched again
                            // (storage.rs, "Trust"): wait for it like any missing piece.
                            lost = self.with_client(|engine, _| {
                                Ok(!engine.have().is_some_and(|h| h.get(piece)))
                            })?;
                            if !lost {
                                return Err(e);
                            }
                            break;
                        }
                        if self.closed.get() {
                            return Ok(None);
                        }
                        offset += to - from;
                    }
                    if lost {
                        store::recycle(&chunk);
                        continue;
                    }
                    let pos = self.advance(u64::from(size));
                    // Move the window along with the reader (not a jump: nothing cancelled).
                    self.with_client(|engine, swarm| {
                        if swarm.streams.is_open(self.reader) {
                            engine.set_reader(self.reader, pos, now());
                        }
                        Ok(())
                    })?;
                    return Ok(Some(chunk));
                }
            }
        }
    }

    /// Copies bytes `from..to` of verified piece `piece` into `dest` at `at`: straight from
    /// the memory cache when it holds the piece, else from the backend. A piece longer
    /// than a chunk is loaded once and kept until its last byte is copied.
    async fn copy_piece(
        &self,
        storage: &super::storage::SharedStorage,
        piece: u32,
        from: u32,
        to: u32,
        dest: &Uint8Array,
        at: u32,
    ) -> Result<(), String> {
        let kept = self
            .cache
            .borrow()
            .as_ref()
            .filter(|(p, _)| *p == piece)
            .map(|(_, bytes)| bytes.clone());
        let bytes = match kept {
            Some(bytes) => bytes,
            None => {
                if storage.copy_cached(piece, from, to, dest, at)? {
                    return Ok(());
                }
                let bytes = storage.load_piece(piece).await?;
                self.keep(Some((piece, bytes.clone())));
                bytes
            }
        };
        if bytes.length() < to {
            return Err(format!("piece {piece} in storage is too short"));
        }
        dest.set(&bytes.subarray(from, to), at);
        if to == bytes.length() {
            self.keep(None);
        }
        Ok(())
    }

    /// Keeps `piece` (a loaded piece read in parts) in place of the one kept before, whose
    /// buffer goes back to the pool: nothing else holds a view of it.
    fn keep(&self, piece: Option<(u32, Uint8Array)>) {
        if let Some((_, old)) = self.cache.replace(piece) {
            store::recycle(&old);
        }
    }

    fn advance(&self, by: u64) -> u64 {
        let (pos, end) = self.span.get().unwrap_or_default();
        let pos = pos + by;
        self.span.set(Some((pos, end)));
        pos
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.keep(None);
        if self.handle.0.upgrade().is_none() {
            return;
        }
        self.handle.with(|c| {
            with_swarm(c, &self.hex, |engine, swarm| {
                if swarm.streams.close(self.reader) {
                    engine.remove_reader(self.reader, now());
                }
            })
        });
    }
}

#[wasm_bindgen]
impl FileStream {
    /// The next chunk (the verified bytes from the position on, at most 1 MiB) once its
    /// first piece is verified; `undefined` at the end of the range or after `close()`. One
    /// call at a time. The chunk is a view: its buffer may be longer. `spare`, optional: the
    /// buffer (or a view of it) of an earlier chunk the caller is completely done with, to
    /// be reused for later chunks instead of allocating.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array | undefined>")]
    pub fn next(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ArrayBuffer | Uint8Array")] spare: Option<JsValue>,
    ) -> Promise {
        if let Some(spare) = spare {
            store::recycle(&spare);
        }
        let core = self.core.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            if core.busy.replace(true) {
                return Err(JsError::new("a read is already pending on this stream").into());
            }
            let result = core.next_chunk().await;
            core.busy.set(false);
            match result {
                Ok(Some(chunk)) => Ok(chunk.into()),
                Ok(None) => Ok(JsValue::UNDEFINED),
                Err(e) => Err(JsError::new(&e).into()),
            }
        })
    }

    /// Bytes of the file not yet returned (`undefined` before the metadata is known).
    #[wasm_bindgen(getter)]
    pub fn remaining(&self) -> Option<f64> {
        self.core
            .span
            .get()
            .map(|(p, e)| e.saturating_sub(p) as f64)
    }

    /// Stops the stream and releases its streaming window. A pending `next()` resolves
    /// with `undefined`. Also done when the object is freed.
    pub fn close(&self) {
        self.core.close();
    }
}

impl Drop for FileStream {
    fn drop(&mut self) {
        self.core.close();
    }
}
