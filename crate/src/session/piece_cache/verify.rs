//! What the cache trusts: hash checks of bytes read back from a backend, pieces found bad
//! (lost), and the bounded background pass over resumed pieces.

use sha1::{Digest, Sha1};

use super::{Backend, PieceCache, RunBytes, StorageNews};

/// The background check of resumed pieces reads and hashes at most this much per step (the
/// driver pauses between steps: about 5 ms of SHA-1 per 25 ms, so a resumed 1 GiB store is
/// checked in well under a minute without starving playback or peers).
pub const VERIFY_STEP_BYTES: u32 = 1024 * 1024;

impl PieceCache {
    /// Pieces of `run` (the bytes of pieces `first..first + count`, as read from the backend)
    /// whose bytes do not hash to what the torrent says, or are missing from a short run.
    /// Pieces that pass are remembered as verified, and those verified before are not hashed
    /// again (store pieces, and file pieces: files are snapshots, see "Trust" in `mod.rs`).
    pub fn check_run<R: RunBytes + ?Sized>(&mut self, first: u32, count: u32, run: &R) -> Vec<u32> {
        let Some(layout) = self.layout else {
            return (first..first + count).collect();
        };
        let remember = self.backend != Backend::Memory;
        let mut bad = Vec::new();
        let mut scratch = Vec::new();
        for (i, from, to) in layout.split(first, count) {
            if remember && self.verified.contains(&i) {
                continue;
            }
            if to > run.len() {
                bad.push(i);
                continue;
            }
            run.copy_to(from, to, &mut scratch);
            let hash: [u8; 20] = Sha1::digest(&scratch).into();
            if self.hashes.get(i as usize) == Some(&hash) {
                if remember {
                    self.verified.insert(i);
                }
            } else {
                bad.push(i);
            }
        }
        bad
    }

    /// Marks `pieces` lost: out of the cache, never loaded again until rewritten. The torrent
    /// hears [`StorageNews::Lost`] with `message` and drops them from the engine.
    pub fn lose(&mut self, pieces: Vec<u32>, message: String) {
        for &i in &pieces {
            self.lost.insert(i);
            self.verified.remove(&i);
            self.queue.take(i);
            self.uncache(i);
        }
        self.news.push_back(StorageNews::Lost { pieces, message });
    }

    /// Store pieces read back bad (`bad`, from [`PieceCache::check_run`] or unreadable):
    /// lost, and fetched again. Returns the message the read fails with.
    pub fn lose_stored(&mut self, bad: Vec<u32>, detail: &str) -> String {
        let message = format!(
            "{} in browser storage {} corrupt or missing ({detail}); downloading again",
            pieces_text(&bad),
            if bad.len() == 1 { "was" } else { "were" },
        );
        self.lose(bad, message.clone());
        message
    }

    /// A seed's pieces whose bytes no longer match the shared files: lost (not served).
    pub fn lose_mismatched_files(&mut self, bad: Vec<u32>) -> String {
        let message = format!(
            "{} no longer {} the shared files (changed on disk?); not served any more",
            pieces_text(&bad),
            if bad.len() == 1 { "matches" } else { "match" },
        );
        self.lose(bad, message.clone());
        message
    }

    /// Shared files that changed since they were hashed, as `(start, end)` byte ranges of
    /// the torrent with their names: every piece they touch is lost. Returns the message.
    pub fn lose_changed_files(&mut self, files: &[(u64, u64)], names: &[String]) -> String {
        let mut lost = Vec::new();
        if let Some(layout) = self.layout {
            let pl = u64::from(layout.piece_length);
            for &(start, end) in files {
                let last = end.div_ceil(pl).min(u64::from(u32::MAX)) as u32;
                lost.extend((start / pl) as u32..last);
            }
        }
        lost.sort_unstable();
        lost.dedup();
        let message = format!(
            "{} changed on disk since it was shared: its pieces are no longer served",
            names.join(", ")
        );
        self.lose(lost, message.clone());
        message
    }

    /// Starts the background check of resumed store pieces `pieces`; bad ones are lost (and
    /// fetched again) even if nobody reads them. Reads meanwhile check what they touch.
    pub fn start_verify(&mut self, mut pieces: Vec<u32>) {
        pieces.sort_unstable();
        pieces.dedup();
        self.verify_todo = pieces.into();
        self.verify_step = None;
    }

    /// Resumed pieces not yet re-checked: those still queued for the background pass and
    /// those of its current step that are neither verified nor lost yet (0 once all are).
    pub fn unverified_pieces(&self) -> usize {
        let in_step = self.verify_step.map_or(0, |(first, count)| {
            (first..first + count)
                .filter(|i| !self.verified.contains(i) && !self.lost.contains(i))
                .count()
        });
        self.verify_todo.len() + in_step
    }

    /// The next run of the background check: consecutive pieces not yet verified nor lost,
    /// at most [`VERIFY_STEP_BYTES`] (one piece if larger). The driver reads it, checks it
    /// like any load (`check_run`, `lose_stored`), pauses, and asks again; `None` when done.
    pub fn next_verify_step(&mut self) -> Option<(u32, u32)> {
        // The previous step is over (checked, lost, or unreadable for now).
        self.verify_step = None;
        let layout = self.layout?;
        while let Some(&i) = self.verify_todo.front() {
            if self.verified.contains(&i) || self.lost.contains(&i) {
                self.verify_todo.pop_front();
            } else {
                break;
            }
        }
        let first = self.verify_todo.pop_front()?;
        let mut count = 1;
        let mut bytes = layout.piece_size(first);
        while let Some(&next) = self.verify_todo.front() {
            let size = layout.piece_size(next);
            if next != first + count
                || self.verified.contains(&next)
                || self.lost.contains(&next)
                || bytes + size > VERIFY_STEP_BYTES
            {
                break;
            }
            self.verify_todo.pop_front();
            bytes += size;
            count += 1;
        }
        self.verify_step = Some((first, count));
        Some((first, count))
    }
}

/// "piece 3" / "pieces 3, 4, 9 and 12 more", for messages.
pub fn pieces_text(pieces: &[u32]) -> String {
    const SHOWN: usize = 3;
    let list: Vec<String> = pieces.iter().take(SHOWN).map(u32::to_string).collect();
    match pieces.len() {
        0 => "no piece".into(),
        1 => format!("piece {}", list[0]),
        n if n <= SHOWN => format!("pieces {}", list.join(", ")),
        n => format!("pieces {} and {} more", list.join(", "), n - SHOWN),
    }
}
