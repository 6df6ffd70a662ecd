//! Streaming reads of one file of a torrent while it downloads, without I/O: the open streams
//! of a torrent and their parked reads ([`StreamSet`]), reader ids ([`ReaderIds`]), which
//! torrent bytes a read of a file range covers ([`resolve`], [`offset`]) and what the next
//! chunk of a read is ([`plan_chunk`]). The browser's `FileStream` (`web/stream.rs`) is this
//! plus promises and the copying of bytes.
//!
//! Each stream is an engine *reader* (`Torrent::set_reader`): the pieces just after its
//! position form a streaming window the picker serves first. A read of a missing piece (or
//! before the metadata) parks one *waiter* (a promise resolver in the browser, any value
//! here); events wake it, and the read then looks again from scratch, so a wake-up is only a
//! hint and spurious ones are harmless.
//!
//! Bounds and invariants:
//! * at most [`MAX_STREAMS`] per torrent: opening one more closes the least recently used
//!   (its waiter is woken and its next read fails), so an abandoned request cannot pin a
//!   window;
//! * at most one waiter per stream, and only open streams have waiters;
//! * waking never runs the waiter: it is handed back to the caller, who resolves it.

use thiserror::Error;

use crate::engine::Bitfield;
use crate::metainfo::Info;

/// Most open streams per torrent (a media element uses one or two at a time).
pub const MAX_STREAMS: usize = 8;
/// Largest chunk a read returns. Small pieces are batched up to this: every chunk costs a
/// page↔worker round trip on a main thread that is also busy downloading.
pub const MAX_CHUNK: u64 = 1024 * 1024;
/// Offsets from JavaScript are numbers: past 2^53 they are no longer exact integers.
const MAX_EXACT_OFFSET: f64 = 9_007_199_254_740_992.0;

/// Why a stream cannot be opened or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StreamError {
    #[error("`{0}` must be a whole number of bytes from 0")]
    BadOffset(&'static str),
    #[error("`end` is before `start`")]
    EndBeforeStart,
    #[error("the torrent has no file {0}")]
    NoFile(u32),
    #[error("`start` {start} is past the end of the file ({length} bytes)")]
    StartPastEnd { start: u64, length: u64 },
    #[error(
        "this stream was closed to make room for a newer one (at most {MAX_STREAMS} per torrent)"
    )]
    Evicted,
}

/// A byte offset given by JavaScript (`what` names it in the error): a whole number from 0,
/// exact (below 2^53).
pub fn offset(value: f64, what: &'static str) -> Result<u64, StreamError> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value < MAX_EXACT_OFFSET {
        Ok(value as u64)
    } else {
        Err(StreamError::BadOffset(what))
    }
}

/// A stream's range as JavaScript gives it (`end` inclusive, optional), validated.
pub fn range(start: f64, end: Option<f64>) -> Result<(u64, Option<u64>), StreamError> {
    let start = offset(start, "start")?;
    let end = end.map(|e| offset(e, "end")).transpose()?;
    if end.is_some_and(|e| e < start) {
        return Err(StreamError::EndBeforeStart);
    }
    Ok((start, end))
}

/// Bytes `start..=end` (to the end of the file without `end`; an `end` past it is clipped)
/// of file `file_index`, as `[pos, end)` in torrent offsets. An empty file reads as empty
/// from 0; a padding file is not a file one can open.
pub fn resolve(
    info: &Info,
    file_index: u32,
    start: u64,
    end: Option<u64>,
) -> Result<(u64, u64), StreamError> {
    let file = info
        .files
        .get(file_index as usize)
        .filter(|f| !f.padding)
        .ok_or(StreamError::NoFile(file_index))?;
    if start > file.length || (start == file.length && file.length > 0) {
        return Err(StreamError::StartPastEnd {
            start,
            length: file.length,
        });
    }
    let end = end.map_or(file.length, |e| e.saturating_add(1).min(file.length));
    Ok((file.start + start, file.start + end))
}

/// What the next read of `[pos, end)` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Nothing left.
    Done,
    /// Piece `0` (the one holding `pos`) is not verified yet.
    Wait(u32),
    /// Consecutive verified parts `(piece, from, to)` from `pos` on: at most [`MAX_CHUNK`]
    /// bytes in all, never empty.
    Read(Vec<(u32, u32, u32)>),
}

/// The next chunk of a read at `pos` (torrent offsets, `end` exclusive) given the verified
/// pieces `have` (`None`: none yet).
pub fn plan_chunk(info: &Info, have: Option<&Bitfield>, pos: u64, end: u64) -> Chunk {
    if pos >= end {
        return Chunk::Done;
    }
    let mut parts = Vec::new();
    let mut total = 0;
    for (p, from, to) in info.piece_spans(pos, end) {
        if total >= MAX_CHUNK || !have.is_some_and(|h| h.get(p)) {
            break;
        }
        // Fits: at most MAX_CHUNK past `from`, and `to` is a u32 anyway.
        let to = u64::from(to).min(u64::from(from) + (MAX_CHUNK - total)) as u32;
        parts.push((p, from, to));
        total += u64::from(to - from);
    }
    if parts.is_empty() {
        // Fits: `pos` is within the torrent, whose pieces are fewer than u32::MAX.
        Chunk::Wait((pos / u64::from(info.piece_length)) as u32)
    } else {
        Chunk::Read(parts)
    }
}

/// Reader ids, counting DOWN from `u64::MAX`: the engine's picker serves streaming windows
/// in ascending reader id, so the newest stream (the one a media element opened after a
/// seek) is served before older ones that may linger. One allocator per page (browser)
/// makes ids unique per client and per torrent.
#[derive(Debug)]
pub struct ReaderIds(u64);

impl ReaderIds {
    pub const fn new() -> ReaderIds {
        ReaderIds(u64::MAX)
    }

    /// A fresh id, lower than every id given before (2^64 opens do not happen; wrapping
    /// keeps even that from panicking).
    pub fn next_id(&mut self) -> u64 {
        let id = self.0;
        self.0 = id.wrapping_sub(1);
        id
    }
}

impl Default for ReaderIds {
    fn default() -> Self {
        ReaderIds::new()
    }
}

/// An open stream: its reader and where in which file it starts.
#[derive(Debug)]
struct Open {
    reader: u64,
    file: u32,
    start: u64,
}

#[derive(Debug)]
struct Waiter<W> {
    reader: u64,
    /// `None`: waiting for the metadata.
    piece: Option<u32>,
    waker: W,
}

/// The open streams of one torrent (least recently used first) and their parked reads,
/// each with a waker `W` (a JS resolver in the browser). Every method that wakes returns
/// the woken waiters; the caller resolves them.
#[derive(Debug)]
pub struct StreamSet<W> {
    open: Vec<Open>,
    waiters: Vec<Waiter<W>>,
}

impl<W> Default for StreamSet<W> {
    fn default() -> Self {
        StreamSet {
            open: Vec::new(),
            waiters: Vec::new(),
        }
    }
}

/// A stream closed to make room for a newer one: the caller removes its engine reader and
/// wakes its read (which then fails with [`StreamError::Evicted`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Evicted<W> {
    pub reader: u64,
    pub woken: Vec<W>,
}

impl<W> StreamSet<W> {
    /// Registers `reader` reading file `file` from `start`, as the most recently used; past
    /// [`MAX_STREAMS`] the least recently used stream is closed.
    pub fn open(&mut self, reader: u64, file: u32, start: u64) -> Option<Evicted<W>> {
        let evicted = (self.open.len() >= MAX_STREAMS).then(|| {
            let old = self.open.remove(0).reader;
            Evicted {
                reader: old,
                woken: self.wake(|w| w.reader == old),
            }
        });
        self.open.push(Open {
            reader,
            file,
            start,
        });
        evicted
    }

    pub fn is_open(&self, reader: u64) -> bool {
        self.open.iter().any(|o| o.reader == reader)
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Whether some read waits (the driver then sends requests without delay).
    pub fn waiting(&self) -> bool {
        !self.waiters.is_empty()
    }

    /// Marks `reader` as the most recently used (it is being read).
    pub fn touch(&mut self, reader: u64) {
        if let Some(i) = self.open.iter().position(|o| o.reader == reader) {
            let r = self.open.remove(i);
            self.open.push(r);
        }
    }

    /// Forgets `reader` and returns its woken waiter; `None` if it was not open.
    pub fn close(&mut self, reader: u64) -> Option<Vec<W>> {
        let i = self.open.iter().position(|o| o.reader == reader)?;
        self.open.remove(i);
        Some(self.wake(|w| w.reader == reader))
    }

    /// Parks a read of `reader` until `piece` is verified (the metadata arrives, for `None`).
    /// Returns the waiter it replaces, woken (at most one per stream), or `waker` itself if
    /// `reader` is not open (nothing would ever wake it).
    pub fn wait(&mut self, reader: u64, piece: Option<u32>, waker: W) -> Vec<W> {
        if !self.is_open(reader) {
            return vec![waker];
        }
        let woken = self.wake(|w| w.reader == reader);
        self.waiters.push(Waiter {
            reader,
            piece,
            waker,
        });
        woken
    }

    /// Wakes the reads waiting for piece `index`.
    pub fn piece_verified(&mut self, index: u32) -> Vec<W> {
        self.wake(|w| w.piece == Some(index))
    }

    /// Wakes the reads waiting for the metadata.
    pub fn metadata_ready(&mut self) -> Vec<W> {
        self.wake(|w| w.piece.is_none())
    }

    /// The engine was rebuilt from storage (pieces and maybe the metadata appeared at once,
    /// with no per-piece events): every waiting read looks again.
    pub fn storage_resumed(&mut self) -> Vec<W> {
        self.wake_all()
    }

    /// Wakes every read (also when the torrent is removed: the reads then fail).
    pub fn wake_all(&mut self) -> Vec<W> {
        std::mem::take(&mut self.waiters)
            .into_iter()
            .map(|w| w.waker)
            .collect()
    }

    /// Where each stream starts, in torrent offsets `(reader, offset)`: streams opened before
    /// the metadata (or before the engine was rebuilt) get their windows there at once.
    pub fn start_offsets(&self, info: &Info) -> Vec<(u64, u64)> {
        self.open
            .iter()
            .filter_map(|o| {
                let file = info.files.get(o.file as usize)?;
                Some((o.reader, file.start + o.start.min(file.length)))
            })
            .collect()
    }

    fn wake(&mut self, which: impl Fn(&Waiter<W>) -> bool) -> Vec<W> {
        let mut woken = Vec::new();
        let mut i = 0;
        while i < self.waiters.len() {
            if which(&self.waiters[i]) {
                woken.push(self.waiters.swap_remove(i).waker);
            } else {
                i += 1;
            }
        }
        woken
    }
}
