//! Which pieces to load from the backend, in which runs, and what a landed load does.

use std::rc::Rc;

use super::{Backend, MAX_LOADS, MAX_RUN_BYTES, PieceCache, RunBytes, StorageFailure, StorageNews};
use crate::engine::picker::TIE_EXTENT_BYTES;

/// A backend read of consecutive pieces `first..first + count` (`bytes` in all), in flight
/// until [`PieceCache::load_landed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadRun {
    pub first: u32,
    pub count: u32,
    pub bytes: u32,
}

impl LoadRun {
    pub fn last(&self) -> u32 {
        self.first + self.count - 1
    }
}

impl PieceCache {
    /// Asks for piece `index` in memory: a prefetch hint, or a read that missed (`urgent`
    /// puts it first in line). Nothing for pieces cached, loading or lost, or without a
    /// backend to load from.
    pub(super) fn want(&mut self, index: u32, urgent: bool) {
        if self.layout.is_none()
            || self.backend == Backend::Memory
            || self.pieces.contains_key(&index)
            || self.loading.contains(&index)
            || self.lost.contains(&index)
        {
            return;
        }
        // Over the bound, old hints give way (the newest requests are the ones peers wait
        // for next); a load a read waits for goes first and stays.
        self.queue.push(index, urgent);
    }

    /// The next load to start, if fewer than [`MAX_LOADS`] are in flight and the queue holds
    /// a piece still wanted. A load covers a run of consecutive queued pieces (at most
    /// [`MAX_RUN_BYTES`] and an eighth of the budget) in one backend call; the driver reads
    /// it and answers [`PieceCache::load_landed`]. Call until `None`.
    pub fn next_load(&mut self) -> Option<LoadRun> {
        if self.loads_in_flight >= MAX_LOADS {
            return None;
        }
        let layout = self.layout?;
        // Skip pieces loaded (or lost) meanwhile.
        let (first, first_urgent) = loop {
            let (i, urgent) = self.queue.pop()?;
            if self.loadable(i) {
                break (i, urgent);
            }
        };
        // Runs of at most an eighth of the budget, so a few loads fit in its half.
        let max_run = MAX_RUN_BYTES.min((self.budget / 8) as u32);
        // A seed's files hold every piece, and each file read costs the browser ~4 ms of CPU
        // whatever its size up to a few MiB (tests/browser/bench-file-read.mjs: 1 MiB reads
        // 3.4-4.4 ms per MiB, 16 MiB reads 1.6-2.7; the same for `arrayBuffer()`, `stream()`
        // and `FileReader`). So a seed
        // reads the whole extent (`picker::TIE_EXTENT_BYTES`, the unit peers take new pieces
        // by, ours included) around the piece asked for, in one read: a 64 MiB seed to one
        // downloader made 244 reads by pieces and forward scans, 64 this way. The store only
        // holds what was written, so it reads just the pieces asked for (and those asked with
        // them).
        let whole_extent = self.backend == Backend::Files;
        let extent_of = |i: u32| layout.piece_start(i) / TIE_EXTENT_BYTES;
        let mut lo = first;
        let mut bytes = layout.piece_size(first);
        let mut urgency = std::collections::VecDeque::from([first_urgent]);
        while whole_extent && lo > 0 && extent_of(lo - 1) == extent_of(first) {
            let size = layout.piece_size(lo - 1);
            if bytes + size > max_run || !self.loadable(lo - 1) {
                break;
            }
            lo -= 1;
            bytes += size;
            urgency.push_front(self.queue.take(lo).unwrap_or(false));
        }
        let first = lo;
        let mut count = urgency.len() as u32;
        loop {
            let next = first + count;
            let size = layout.piece_size(next);
            let asked = self.queue.contains(next);
            let same_extent = extent_of(next) == extent_of(first + count - 1);
            if size == 0
                || bytes + size > max_run
                || !(asked || (whole_extent && same_extent))
                || !self.loadable(next)
            {
                break;
            }
            urgency.push_back(self.queue.take(next).unwrap_or(false));
            bytes += size;
            count += 1;
        }
        if self.loads_in_flight > 0 && (self.loading_bytes + bytes) as usize > self.budget / 2 {
            // Not now: back to the front of the line, for when a load lands.
            for (i, urgent) in (first..first + count).zip(urgency).rev() {
                self.queue.push_front(i, urgent);
            }
            return None;
        }
        self.loading.extend(first..first + count);
        self.loads_in_flight += 1;
        self.loading_bytes += bytes;
        Some(LoadRun {
            first,
            count,
            bytes,
        })
    }

    fn loadable(&self, i: u32) -> bool {
        !self.pieces.contains_key(&i) && !self.loading.contains(&i) && !self.lost.contains(&i)
    }

    /// A load finished with the run's bytes as read AND checked ([`PieceCache::check_run`]
    /// found nothing bad): they are cached as persisted. A run of the wrong length fails all
    /// its pieces (each one's next read reports it once, so the engine rejects the block
    /// instead of waiting).
    pub fn load_landed<R: RunBytes + ?Sized>(&mut self, run: LoadRun, bytes: &R) {
        self.land(run);
        let Some(layout) = self.layout else { return };
        if bytes.len() != run.bytes as usize {
            let e = format!(
                "pieces {}–{} have the wrong size in storage",
                run.first,
                run.last()
            );
            self.fail(run, &e);
            self.news.push_back(StorageNews::Failed {
                kind: StorageFailure::Read,
                message: e,
            });
            return;
        }
        let mut piece = Vec::new();
        for (i, from, to) in layout.split(run.first, run.count) {
            if !self.lost.contains(&i) {
                bytes.copy_to(from, to, &mut piece);
                self.insert(i, Rc::from(&piece[..]), true);
            }
        }
        self.news.push_back(StorageNews::Loaded);
    }

    /// A load failed: its pieces not already lost (those were reported as such) fail for now.
    pub fn load_failed(&mut self, run: LoadRun, error: &str) {
        self.land(run);
        let e = format!(
            "could not read pieces {}–{}: {error}",
            run.first,
            run.last()
        );
        if self.fail(run, &e) {
            self.news.push_back(StorageNews::Failed {
                kind: StorageFailure::Read,
                message: e,
            });
        } else {
            self.news.push_back(StorageNews::Loaded);
        }
    }

    fn land(&mut self, run: LoadRun) {
        self.loads_in_flight -= 1;
        for i in run.first..run.first + run.count {
            self.loading.remove(&i);
        }
        self.loading_bytes -= run.bytes;
    }

    /// Marks the run's pieces not lost as failed; whether there were any.
    fn fail(&mut self, run: LoadRun, e: &str) -> bool {
        let mut any = false;
        for i in run.first..run.first + run.count {
            if !self.lost.contains(&i) {
                self.failed.insert(i, e.to_owned());
                any = true;
            }
        }
        any
    }

    /// Loads in flight (diagnostics and tests).
    pub fn loads_in_flight(&self) -> usize {
        self.loads_in_flight
    }
}
