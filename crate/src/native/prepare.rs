//! Turning `seed` and `download` arguments into a torrent ready for the session: hashed or
//! parsed, files opened, what is already on disk verified, an engine built over them.
//!
//! Driver use: `let p = prepare_seed(&args, engine_config, now)?` (or `prepare_download`),
//! print `p.magnet` as stdout's first line, `session.add_torrent(p.engine, &p.trackers, now)`;
//! for a download, `p.resume.save(engine)` every [`super::resume::SAVE_INTERVAL`] and at exit;
//! show progress with [`super::progress::Progress::show`]. Both functions block (hashing).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::create::{CreateOptions, CreatorOptions};
use crate::engine::{self, Bitfield, Torrent};
use crate::magnet::{Magnet, MagnetError};
use crate::metainfo::{
    InfoHash, MAX_TORRENT_BYTES, MAX_URL_BYTES, MAX_URLS, Metainfo, MetainfoError,
};

use super::args::{DownloadArgs, KeyFileError, SeedArgs};
use super::create_from_path::{CreateFromPathError, create_from_path};
use super::files::{FileStorage, FilesError, Layout, allocate};
use super::resume::{ResumeStore, write_atomically};

/// A torrent ready to hand to the session (`Session::add_torrent(engine, &trackers, now)`).
#[derive(Debug)]
pub struct Prepared {
    pub info_hash: InfoHash,
    /// The magnet link to print: `xt`, `dn`, a `tr=` for every tracker, `ws=` for web seeds.
    pub magnet: String,
    /// Every tracker to announce on, deduplicated, at most `MAX_URLS`.
    pub trackers: Vec<String>,
    /// BEP 19 web seeds of the torrent or magnet.
    pub web_seeds: Vec<String>,
    /// The torrent's name (a magnet's `dn` hint until the metadata arrives, if it has one).
    pub name: Option<String>,
    /// The engine over its storage: a seed over the original files with every piece; a
    /// download over DIR/NAME with the pieces verified on disk (a magnet without saved
    /// metadata starts empty and lays out its files when the metadata arrives).
    pub engine: Torrent,
    /// The .torrent file (a seed's, as written to `--torrent-out`; a download's as read).
    pub torrent_bytes: Option<Vec<u8>>,
    /// Downloads only: save it periodically and at exit with `resume.save(&engine)`.
    pub resume: Option<ResumeStore>,
}

#[derive(Debug, Error)]
pub enum PrepareError {
    #[error(transparent)]
    Create(#[from] CreateFromPathError),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(
        "--creator-address without --creator-signature prints the typed data to sign; it cannot seed"
    )]
    NeedsSignature,
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Torrent {
        path: PathBuf,
        source: MetainfoError,
    },
    #[error(transparent)]
    Magnet(#[from] MagnetError),
    #[error(transparent)]
    Files(#[from] FilesError),
    #[error("tracker URL `{0}` is empty or too long")]
    BadTracker(String),
}

/// The options `seed` creates its torrent with (as `seedcast create` would), with `creator`
/// already resolved to a signer (see [`super::args::CreatorArgs::signer`]).
pub fn create_options(args: &SeedArgs, creator: Option<CreatorOptions>) -> CreateOptions {
    CreateOptions {
        name: args.name.clone().unwrap_or_default(),
        piece_length: args.piece_length,
        trackers: args.trackers.clone(),
        created_by: Some(concat!("seedcast/", env!("CARGO_PKG_VERSION")).to_owned()),
        creator,
        ..CreateOptions::default()
    }
}

/// Hashes `args.path` into a torrent (trackers and creator record included), writes
/// `--torrent-out` before returning, and builds a seeding engine over the original files.
pub fn prepare_seed(
    args: &SeedArgs,
    config: engine::Config,
    now: Duration,
) -> Result<Prepared, PrepareError> {
    let creator = match &args.creator {
        Some(creator) => Some(CreatorOptions {
            name: creator.name.clone(),
            signer: creator.signer()?.ok_or(PrepareError::NeedsSignature)?,
        }),
        None => None,
    };
    let torrent = create_from_path(&args.path, create_options(args, creator))?;
    let bytes = torrent.to_bytes();
    if let Some(out) = &args.torrent_out {
        write_atomically(out, &bytes).map_err(|source| PrepareError::Write {
            path: out.clone(),
            source,
        })?;
    }
    let storage = FileStorage::seed(Layout::for_seed(&args.path, &torrent.info));
    let have = Bitfield::full(torrent.info.num_pieces());
    let magnet = torrent.magnet();
    let engine = Torrent::new(
        torrent.info_hash,
        torrent.info.clone(),
        torrent.info_bytes.clone(),
        Box::new(storage),
        Some(have),
        config,
        now,
    );
    Ok(Prepared {
        info_hash: torrent.info_hash,
        magnet: magnet.to_uri(),
        trackers: magnet.trackers,
        web_seeds: magnet.web_seeds,
        name: Some(torrent.info.name),
        engine,
        torrent_bytes: Some(bytes),
        resume: None,
    })
}

/// Reads the magnet or .torrent, merges `--tracker`s, and opens DIR/NAME: pieces already
/// there are verified (see [`super::resume`]), files are pre-allocated, and the resume state
/// is saved at once so it matches the files.
pub fn prepare_download(
    args: &DownloadArgs,
    config: engine::Config,
    now: Duration,
) -> Result<Prepared, PrepareError> {
    let is_magnet = args
        .source
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("magnet:"));
    let (magnet, torrent, torrent_bytes) = if is_magnet {
        let magnet = Magnet::parse(&args.source)?;
        let saved = ResumeStore::new(&args.out_dir, magnet.info_hash).load_torrent();
        (magnet, saved, None)
    } else {
        let path = PathBuf::from(&args.source);
        let bytes = read_torrent_file(&path)?;
        let torrent = Metainfo::from_bytes(&bytes).map_err(|source| PrepareError::Torrent {
            path: path.clone(),
            source,
        })?;
        (torrent.magnet(), Some(torrent), Some(bytes))
    };
    let trackers = merge_trackers(&magnet.trackers, &args.trackers)?;
    let store = ResumeStore::new(&args.out_dir, magnet.info_hash);
    let (engine, name) = match torrent {
        Some(torrent) => {
            let layout = Layout::for_download(&args.out_dir, &torrent.info)?;
            let mut storage = FileStorage::download(&args.out_dir, layout.clone());
            // Before allocating: allocation makes every file full-length. Allocation then
            // refuses a layout resolving outside DIR, so nothing read through a planted
            // symlink is kept.
            let have = store.verify(&mut storage, &torrent.info);
            allocate(&args.out_dir, &layout)?;
            let state_error = |source| PrepareError::Write {
                path: store.record_path(),
                source,
            };
            store.save_record(&have, &layout).map_err(state_error)?;
            let name = torrent.info.name.clone();
            let engine = Torrent::new(
                torrent.info_hash,
                torrent.info,
                torrent.info_bytes,
                Box::new(storage),
                Some(have),
                config,
                now,
            );
            (engine, Some(name))
        }
        None => {
            let storage = FileStorage::awaiting_metadata(&args.out_dir, store.clone());
            let engine = Torrent::from_info_hash(magnet.info_hash, Box::new(storage), config, now);
            (engine, magnet.name.clone())
        }
    };
    let link = Magnet {
        info_hash: magnet.info_hash,
        name: name.clone(),
        trackers: trackers.clone(),
        web_seeds: magnet.web_seeds.clone(),
    };
    Ok(Prepared {
        info_hash: magnet.info_hash,
        magnet: link.to_uri(),
        trackers,
        web_seeds: magnet.web_seeds,
        name,
        engine,
        torrent_bytes,
        resume: Some(store),
    })
}

/// The torrent's trackers, then the command line's, without duplicates, at most `MAX_URLS`
/// (as the metainfo parser keeps). A command-line URL that is empty or over `MAX_URL_BYTES`
/// is an error, not silently dropped.
fn merge_trackers(known: &[String], extra: &[String]) -> Result<Vec<String>, PrepareError> {
    let mut merged: Vec<String> = Vec::new();
    for url in extra {
        let trimmed = url.trim();
        if trimmed.is_empty() || trimmed.len() > MAX_URL_BYTES {
            return Err(PrepareError::BadTracker(url.clone()));
        }
    }
    for url in known.iter().chain(extra).map(|u| u.trim()) {
        if merged.len() == MAX_URLS {
            break;
        }
        if !merged.iter().any(|m| m == url) {
            merged.push(url.to_owned());
        }
    }
    Ok(merged)
}

/// A .torrent file's bytes, read one byte past the cap so an oversized file is reported.
fn read_torrent_file(path: &Path) -> Result<Vec<u8>, PrepareError> {
    let read_error = |source| PrepareError::Read {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| {
            file.take(MAX_TORRENT_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(read_error)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_trackers_are_deduplicated_trimmed_and_bounded() {
        let known = vec!["wss://a/".to_string(), "wss://b/".to_string()];
        let extra: Vec<String> = (0..MAX_URLS + 50)
            .map(|i| format!(" wss://t{}/ ", i % (MAX_URLS + 10)))
            .chain(["wss://a/".to_string()])
            .collect();
        let merged = merge_trackers(&known, &extra).unwrap();
        assert_eq!(merged.len(), MAX_URLS);
        assert_eq!(&merged[..3], ["wss://a/", "wss://b/", "wss://t0/"]);
        let too_long = vec![format!("wss://{}", "x".repeat(MAX_URL_BYTES))];
        assert!(matches!(
            merge_trackers(&known, &too_long),
            Err(PrepareError::BadTracker(_))
        ));
    }
}
