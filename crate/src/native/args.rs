//! What `seedcast seed` and `seedcast download` were asked to do, parsed by the CLI and run by
//! [`crate::native::run`]. Plain data: no I/O happens here except reading a creator key file.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::create::CreatorSigner;
use crate::creator::{Address, CreatorError, CreatorKey, Signature};

/// `seedcast seed PATH [--tracker URL]... [--name N] [--torrent-out FILE] [--upload-limit B/S]`
/// plus the creator options of `seedcast create` and `--piece-length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedArgs {
    /// The file or folder to share (one torrent).
    pub path: PathBuf,
    /// Announce URLs, written into the torrent and the magnet (`tr=`), in order.
    pub trackers: Vec<String>,
    /// Torrent name; `None` uses the file or folder name.
    pub name: Option<String>,
    /// Where to write the .torrent before seeding starts.
    pub torrent_out: Option<PathBuf>,
    /// Bytes per second for the whole process; `None` is unlimited.
    pub upload_limit: Option<u64>,
    /// A creator record to sign into the torrent.
    pub creator: Option<CreatorArgs>,
    /// `None` picks one automatically (as `seedcast create`).
    pub piece_length: Option<u32>,
}

/// `seedcast download (MAGNET | FILE.torrent) [-o DIR] [--tracker URL]... [--exit-when-done]
/// [--upload-limit B/S]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadArgs {
    /// A magnet link or the path of a .torrent file.
    pub source: String,
    /// Files go to `out_dir/NAME`; the CLI's default is `.`.
    pub out_dir: PathBuf,
    /// Announce URLs added to those of the magnet or torrent.
    pub trackers: Vec<String>,
    /// Exit once every piece is verified and written instead of seeding on.
    pub exit_when_done: bool,
    /// Bytes per second for the whole process; `None` is unlimited.
    pub upload_limit: Option<u64>,
}

/// How a creator record gets its signature (`--creator-key`, or `--creator-address` with or
/// without `--creator-signature`), shared by `create` and `seed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatorArgs {
    /// Display name (`--creator-name`, may be empty).
    pub name: String,
    pub source: CreatorSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatorSource {
    /// Sign here with the key in this file.
    KeyFile(PathBuf),
    /// A signature made elsewhere; `None` asks for the typed data to sign.
    External(Address, Option<Signature>),
}

impl CreatorArgs {
    /// The signer, reading a key file if needed; `None` when the signature is still to be
    /// made elsewhere (the caller prints the typed data instead).
    pub fn signer(&self) -> Result<Option<CreatorSigner>, KeyFileError> {
        Ok(match &self.source {
            CreatorSource::KeyFile(path) => Some(CreatorSigner::Key(read_key_file(path)?)),
            CreatorSource::External(address, Some(signature)) => Some(CreatorSigner::Signature {
                address: *address,
                signature: *signature,
            }),
            CreatorSource::External(_, None) => None,
        })
    }
}

/// A key file is one line; anything longer is not a key file (and is not read whole).
pub const MAX_KEY_FILE_BYTES: u64 = 1024;

/// Why a creator key file is unusable. Never shows the file's contents.
#[derive(Debug, Error)]
pub enum KeyFileError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: {source}", path.display())]
    Key { path: PathBuf, source: CreatorError },
}

/// Reads a key file: one line, `0x` and 64 hex digits.
pub fn read_key_file(path: &Path) -> Result<CreatorKey, KeyFileError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(MAX_KEY_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(|source| KeyFileError::Read {
            path: path.to_owned(),
            source,
        })?;
    let key_error = |source| KeyFileError::Key {
        path: path.to_owned(),
        source,
    };
    let text =
        std::str::from_utf8(&bytes).map_err(|_| key_error(CreatorError::InvalidKeyFormat))?;
    CreatorKey::from_key_file(text).map_err(key_error)
}
