//! Resuming a download: what is already on disk is found again, and verified, not trusted.
//!
//! `DIR/.seedcast/<infohash>.resume` records the verified pieces and each file's length and
//! modification time when it was saved; `DIR/.seedcast/<infohash>.torrent` keeps the metadata
//! so a magnet rerun need not fetch it again. Both are written atomically (tmp + rename).
//!
//! On start a piece is hash-checked when its files all exist at full length and either the
//! record claims it, or there is no usable record, or one of its files changed since the
//! record was written (`session::resume::check_on_start`, shared policy). A piece the record
//! does not claim, in files that did not change, is not read: it was never downloaded.
//! Nothing is believed without its SHA-1.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::engine::{Bitfield, Torrent};
use crate::metainfo::{Info, InfoHash, MAX_TORRENT_BYTES, Metainfo};
use crate::session::resume::{Claim, check_on_start, is_info_of};

use super::files::{FileStorage, Layout};

/// Largest resume record read: one entry of about 40 bytes per file, for up to `MAX_FILES`
/// (262,144) files, plus a hex bitfield of up to `MAX_PIECES` bits (256 KiB).
pub const MAX_RESUME_BYTES: u64 = 16 * 1024 * 1024;
/// How often a driver saves the record while downloading: a crash loses at most this much
/// bookkeeping, and pieces written since are found again anyway (their files changed).
pub const SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// The folder inside DIR holding resume state.
pub const STATE_DIR: &str = ".seedcast";

/// A file's length and modification time (seconds, nanoseconds since the Unix epoch).
pub(super) type FileState = (u64, u64, u32);

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    info_hash: String,
    num_pieces: u32,
    /// The verified bitfield, hex.
    have: String,
    /// Per file of the torrent, in order; padding files are `[0, 0, 0]`.
    files: Vec<FileState>,
}

/// Resume state of one torrent in one download folder.
#[derive(Debug, Clone)]
pub struct ResumeStore {
    /// DIR, where the torrent's files go.
    out_dir: PathBuf,
    /// DIR/.seedcast
    dir: PathBuf,
    info_hash: InfoHash,
}

impl ResumeStore {
    /// The store for `info_hash` downloading into `out_dir` (nothing is touched yet).
    pub fn new(out_dir: &Path, info_hash: InfoHash) -> ResumeStore {
        ResumeStore {
            out_dir: out_dir.to_path_buf(),
            dir: out_dir.join(STATE_DIR),
            info_hash,
        }
    }

    pub fn record_path(&self) -> PathBuf {
        self.dir.join(format!("{}.resume", self.info_hash.to_hex()))
    }

    pub fn torrent_path(&self) -> PathBuf {
        self.dir
            .join(format!("{}.torrent", self.info_hash.to_hex()))
    }

    /// Saves the `info` dictionary as a .torrent (for a magnet rerun).
    pub fn save_torrent(&self, info_bytes: &[u8]) -> io::Result<()> {
        let mut bytes = b"d4:info".to_vec();
        bytes.extend_from_slice(info_bytes);
        bytes.push(b'e');
        write_atomically(&self.torrent_path(), &bytes)
    }

    /// The saved .torrent, if there is one of this info hash (bounded, fully validated).
    pub fn load_torrent(&self) -> Option<Metainfo> {
        let bytes = read_bounded(&self.torrent_path(), MAX_TORRENT_BYTES as u64)?;
        // The same check as the browser's stored metadata: its bytes must hash to the info hash.
        Metainfo::from_bytes(&bytes)
            .ok()
            .filter(|m| is_info_of(&self.info_hash.0, &m.info_bytes))
    }

    /// Records the engine's verified pieces and the files' current state. Does nothing before
    /// a magnet's metadata is known. The driver calls this periodically and at exit.
    pub fn save(&self, engine: &Torrent) -> io::Result<()> {
        let (Some(info), Some(have)) = (engine.info(), engine.have()) else {
            return Ok(());
        };
        let layout = Layout::for_download(&self.out_dir, info).map_err(io::Error::other)?;
        self.save_record(have, &layout)
    }

    /// Records `have` and the state of `layout`'s files.
    pub fn save_record(&self, have: &Bitfield, layout: &Layout) -> io::Result<()> {
        let record = Record {
            info_hash: self.info_hash.to_hex(),
            num_pieces: have.len(),
            have: have.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
            files: layout
                .files
                .iter()
                .map(|f| match f.padding {
                    true => (0, 0, 0),
                    false => file_state(&f.path).unwrap_or((u64::MAX, 0, 0)),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&record).map_err(io::Error::other)?;
        write_atomically(&self.record_path(), &json)
    }

    /// The claimed bitfield and file states, if the record is of this torrent and shape.
    fn load_record(&self, info: &Info) -> Option<(Bitfield, Vec<FileState>)> {
        let bytes = read_bounded(&self.record_path(), MAX_RESUME_BYTES)?;
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        if record.info_hash != self.info_hash.to_hex()
            || record.num_pieces != info.num_pieces()
            || record.files.len() != info.files.len()
        {
            return None;
        }
        let bytes = decode_hex(&record.have)?;
        let have = Bitfield::from_bytes(&bytes, record.num_pieces).ok()?;
        Some((have, record.files))
    }

    /// The pieces `storage` verifiably holds (see the module docs for which are checked).
    pub fn verify(&self, storage: &mut FileStorage, info: &Info) -> Bitfield {
        let n = info.num_pieces();
        let mut have = Bitfield::new(n);
        let Some(layout) = storage.layout().cloned() else {
            return have;
        };
        let record = self.load_record(info);
        let now: Vec<Option<FileState>> = layout
            .files
            .iter()
            .map(|f| match f.padding {
                true => Some((f.length, 0, 0)),
                false => file_state(&f.path),
            })
            .collect();
        let mut buffer = Vec::new();
        for index in 0..n {
            let Some((start, len)) = layout.piece_range(index) else {
                continue;
            };
            let files: Vec<usize> = layout.spans(start, len).map(|(f, _, _)| f).collect();
            let complete = files
                .iter()
                .all(|&f| now[f].is_some_and(|s| s.0 == layout.files[f].length));
            let claim = match &record {
                None => Claim::NoRecord,
                Some((claimed, states)) => Claim::Record {
                    claimed: claimed.get(index),
                    files_changed: files
                        .iter()
                        .any(|&f| !layout.files[f].padding && now[f] != Some(states[f])),
                },
            };
            let check = check_on_start(complete, claim);
            if check
                && storage.read_piece(index, &mut buffer).is_ok()
                && info.piece_hash(index) == Some(&Sha1::digest(&buffer).into())
            {
                have.set(index);
            }
        }
        have
    }
}

fn file_state(path: &Path) -> Option<FileState> {
    state_of(&fs::metadata(path).ok()?)
}

/// A regular file's length and modification time.
pub(super) fn state_of(metadata: &fs::Metadata) -> Option<FileState> {
    if !metadata.is_file() {
        return None;
    }
    let mtime = metadata.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some((metadata.len(), mtime.as_secs(), mtime.subsec_nanos()))
}

/// The file's bytes, or `None` if it is missing, unreadable or longer than `max`.
fn read_bounded(path: &Path, max: u64) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Writes `bytes` to `path` so a reader sees the old file or the new one, never a part: a
/// temporary file beside it, flushed to disk, then renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let result = File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
