//! Mapping a claimed run of pieces to HTTP byte ranges: one part per file the run touches
//! (a run that spans files is several requests), in torrent order.

use std::ops::Range;

use crate::metainfo::Info;

/// One file's share of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub file: usize,
    /// Bytes within the file, end exclusive.
    pub range: Range<u64>,
    /// Where these bytes go in the run's buffer.
    pub offset: usize,
    /// A BEP 47 pad file: zeros, never fetched.
    pub padding: bool,
}

/// The run's bytes within the torrent, end exclusive.
pub fn run_bytes(info: &Info, pieces: &Range<u32>) -> Range<u64> {
    let start = u64::from(pieces.start) * u64::from(info.piece_length);
    let end = (u64::from(pieces.end) * u64::from(info.piece_length)).min(info.total_length);
    start..end.max(start)
}

/// The parts covering `pieces`, in order; empty files are skipped.
pub fn parts(info: &Info, pieces: &Range<u32>) -> Vec<Part> {
    let bytes = run_bytes(info, pieces);
    let mut out = Vec::new();
    for (i, f) in info.files.iter().enumerate() {
        let (fs, fe) = (f.start, f.start + f.length);
        let (s, e) = (fs.max(bytes.start), fe.min(bytes.end));
        if s >= e {
            continue;
        }
        out.push(Part {
            file: i,
            range: s - fs..e - fs,
            // Fits: a run is bounded by the claim budget (a few MiB) or one piece (u32).
            offset: (s - bytes.start) as usize,
            padding: f.padding,
        });
    }
    out
}
