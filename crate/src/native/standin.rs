//! STAND-IN until `native/prepare.rs` (files on disk, resume) lands: torrents kept in memory.
//! Seeding reads the content into memory; downloading keeps pieces in memory and writes the
//! files once every piece is verified.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use crate::engine::{self, Bitfield, MemoryStorage, Storage, StorageError};
use crate::magnet::Magnet;
use crate::metainfo::{InfoHash, Metainfo};

/// A torrent ready for the session, and how to talk about it.
pub struct Prepared {
    pub torrent: engine::Torrent,
    pub trackers: Vec<String>,
    pub magnet: String,
    /// Downloads: the pieces, to write out at the end.
    pub memory: Option<Rc<RefCell<MemoryStorage>>>,
}

struct Shared(Rc<RefCell<MemoryStorage>>);

impl Storage for Shared {
    fn write_piece(&mut self, index: u32, data: &[u8]) -> Result<(), StorageError> {
        self.0.borrow_mut().write_piece(index, data)
    }
    fn read_block(&mut self, i: u32, b: u32, l: u32, out: &mut Vec<u8>) -> Result<(), StorageError> {
        self.0.borrow_mut().read_block(i, b, l, out)
    }
}

pub fn prepare_seed(
    path: &Path,
    options: crate::create::CreateOptions,
    torrent_out: Option<&Path>,
    config: impl Fn(&InfoHash) -> engine::Config,
    now: Duration,
) -> Result<Prepared, String> {
    let meta = super::create_from_path(path, options).map_err(|e| e.to_string())?;
    if let Some(out) = torrent_out {
        fs::write(out, meta.to_bytes()).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let root = fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut content = Vec::with_capacity(meta.info.total_length as usize);
    for file in meta.info.files.iter().filter(|f| !f.padding) {
        // Paths start with the torrent's name: the root itself.
        let p = file.path.iter().skip(1).fold(root.clone(), |p, c| p.join(c));
        content.extend(fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let storage = MemoryStorage::from_content(&content, meta.info.piece_length);
    let have = Bitfield::full(meta.info.num_pieces());
    let trackers: Vec<String> = meta.trackers.iter().flatten().cloned().collect();
    let magnet = meta.magnet().to_uri();
    let torrent = engine::Torrent::new(
        meta.info_hash,
        meta.info,
        meta.info_bytes,
        Box::new(storage),
        Some(have),
        config(&meta.info_hash),
        now,
    );
    Ok(Prepared {
        torrent,
        trackers,
        magnet,
        memory: None,
    })
}

pub fn prepare_download(
    source: &str,
    extra_trackers: &[String],
    config: impl Fn(&InfoHash) -> engine::Config,
    now: Duration,
) -> Result<Prepared, String> {
    let memory = Rc::new(RefCell::new(MemoryStorage::new()));
    let storage = Box::new(Shared(memory.clone()));
    let (torrent, mut trackers, magnet) = if source.starts_with("magnet:") {
        let magnet = Magnet::parse(source).map_err(|e| e.to_string())?;
        let torrent =
            engine::Torrent::from_info_hash(magnet.info_hash, storage, config(&magnet.info_hash), now);
        (torrent, magnet.trackers.clone(), magnet.to_uri())
    } else {
        let bytes = fs::read(source).map_err(|e| format!("{source}: {e}"))?;
        let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("{source}: {e}"))?;
        let trackers = meta.trackers.iter().flatten().cloned().collect();
        let magnet = meta.magnet().to_uri();
        let torrent = engine::Torrent::new(
            meta.info_hash,
            meta.info,
            meta.info_bytes,
            storage,
            None,
            config(&meta.info_hash),
            now,
        );
        (torrent, trackers, magnet)
    };
    for t in extra_trackers {
        if !trackers.contains(t) {
            trackers.push(t.clone());
        }
    }
    Ok(Prepared {
        torrent,
        trackers,
        magnet,
        memory: Some(memory),
    })
}

/// Writes a completed in-memory download to `dir/NAME[/PATH…]`.
pub fn write_out(
    torrent: &engine::Torrent,
    memory: &RefCell<MemoryStorage>,
    dir: &Path,
) -> Result<(), String> {
    let info = torrent.info().ok_or("no metadata")?;
    let content = memory
        .borrow()
        .content(info.num_pieces())
        .ok_or("pieces missing")?;
    for file in info.files.iter().filter(|f| !f.padding) {
        let path: PathBuf = file.path.iter().fold(dir.to_path_buf(), |p, c| p.join(c));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let start = file.start as usize;
        let end = start + file.length as usize;
        fs::write(&path, &content[start..end.min(content.len())])
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
