//! Creating v1 torrents, streaming and without I/O of its own (so it also runs in wasm).
//!
//! Declare the content up front ([`TorrentBuilder::single_file`] or [`TorrentBuilder::folder`]),
//! push the bytes of all files in order through [`TorrentBuilder::update`], then
//! [`TorrentBuilder::finish`]. Only one piece is buffered (inside SHA-1), never the content.
//!
//! A creator record ([`crate::creator`]) is added in a fixed order: the `info` dictionary is
//! completed without it (all piece hashes known), its canonical encoding is hashed into the
//! record's `content`, the record is signed (or an external signature checked), and only
//! then is it inserted into `info`, so the info hash covers the record.
//! [`TorrentBuilder::finish_unsigned`] stops before the signature, for signers that are
//! elsewhere (a browser wallet): ask them to sign [`UnsignedTorrent::typed_data_json`], then
//! [`UnsignedTorrent::finish`] with their signature.
//!
//! Output is deterministic: the same options and bytes give a byte-identical torrent (no
//! creation date unless one is given, canonical key order). The result is re-read with
//! [`Metainfo::from_bytes`], so a created torrent always passes our own validation.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};
use thiserror::Error;

use crate::bencode::OwnedValue;
use crate::creator::{
    Address, CreatorError, CreatorKey, CreatorRecord, INFO_KEY, Signature, keccak256,
    typed_data_json,
};
use crate::metainfo::path::is_safe_component;
use crate::metainfo::{
    MAX_FILES, MAX_PIECE_LENGTH, MAX_PIECES, MAX_TOTAL_LENGTH, MAX_URL_BYTES, Metainfo,
    MetainfoError,
};

/// Smallest and largest automatic piece lengths.
pub const MIN_AUTO_PIECE_LENGTH: u32 = 16 * 1024;
pub const MAX_AUTO_PIECE_LENGTH: u32 = 16 * 1024 * 1024;
/// The automatic piece length is the smallest that keeps the piece count at or below this,
/// which lands between 1,000 and 2,000 pieces unless a clamp applies.
pub const AUTO_TARGET_MAX_PIECES: u64 = 2000;

/// What to put in the torrent besides the content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// File name (single file) or folder name; must be a safe path component.
    pub name: String,
    /// A power of two from 16 KiB to 512 MiB; `None` picks one with [`auto_piece_length`].
    pub piece_length: Option<u32>,
    /// Announce URLs, each in its own tier (tried in order, like create-torrent and libtorrent).
    pub trackers: Vec<String>,
    /// BEP 19 web seed URLs.
    pub web_seeds: Vec<String>,
    pub private: bool,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Seconds since the Unix epoch. Left out unless given, to keep output deterministic.
    pub creation_date: Option<i64>,
    /// A creator record to sign into `info`.
    pub creator: Option<CreatorOptions>,
}

/// Who created the torrent and how the record gets its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatorOptions {
    /// Display name (may be empty); see [`crate::creator::MAX_NAME_BYTES`].
    pub name: String,
    pub signer: CreatorSigner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatorSigner {
    /// Sign here with a local key (RFC 6979: deterministic).
    Key(CreatorKey),
    /// A signature made elsewhere (e.g. a wallet) over this torrent's typed data; it must
    /// verify against `address` and the finished content, or creation fails.
    Signature {
        address: Address,
        signature: Signature,
    },
}

/// One file of a folder torrent: its path inside the folder and its exact length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: Vec<String>,
    pub length: u64,
}

/// Why a torrent cannot be created.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CreateError {
    #[error("`{0}` is not usable as a file name in a torrent")]
    UnsafeName(String),
    #[error("a file has an empty path")]
    EmptyPath,
    #[error("two files at `{0}`, or a file where a folder should be")]
    DuplicatePath(String),
    #[error("nothing to share: the content is empty")]
    NoData,
    #[error("piece length {0} must be a power of two from 16 KiB to 512 MiB")]
    InvalidPieceLength(u32),
    #[error("content is larger than the {max}-byte limit", max = MAX_TOTAL_LENGTH)]
    TooLarge,
    #[error("{count} files exceed the limit of {max}", max = MAX_FILES)]
    TooManyFiles { count: usize },
    #[error("{count} pieces exceed the limit of {max}; use a larger piece length", max = MAX_PIECES)]
    TooManyPieces { count: u64 },
    #[error("invalid tracker or web seed URL `{0}`")]
    InvalidUrl(String),
    #[error("content has more bytes than the {declared} declared (did a file grow while reading?)")]
    TooMuchData { declared: u64 },
    #[error(
        "content ended after {received} of {declared} declared bytes (did a file shrink while reading?)"
    )]
    TooLittleData { received: u64, declared: u64 },
    #[error("created torrent is invalid: {0}")]
    Invalid(#[from] MetainfoError),
    #[error("{0}")]
    Creator(#[from] CreatorError),
}

/// The smallest power of two in [16 KiB, 16 MiB] giving at most 2,000 pieces.
pub fn auto_piece_length(total_length: u64) -> u32 {
    let mut piece_length = MIN_AUTO_PIECE_LENGTH;
    while piece_length < MAX_AUTO_PIECE_LENGTH
        && total_length.div_ceil(u64::from(piece_length)) > AUTO_TARGET_MAX_PIECES
    {
        piece_length *= 2;
    }
    piece_length
}

/// Hashes content piece by piece and assembles the torrent.
#[derive(Debug, Clone)]
pub struct TorrentBuilder {
    options: CreateOptions,
    /// `None` for a single-file torrent.
    files: Option<Vec<FileSpec>>,
    piece_length: u32,
    total_length: u64,
    received: u64,
    /// Bytes of the current piece already fed to `hasher`; always < `piece_length`.
    in_piece: u32,
    hasher: Sha1,
    pieces: Vec<u8>,
}

impl TorrentBuilder {
    /// A torrent of one file named `options.name`.
    pub fn single_file(options: CreateOptions, length: u64) -> Result<Self, CreateError> {
        Self::new(options, None, length)
    }

    /// A torrent of a folder named `options.name` holding `files`, in the order given.
    pub fn folder(options: CreateOptions, files: Vec<FileSpec>) -> Result<Self, CreateError> {
        if files.len() > MAX_FILES {
            return Err(CreateError::TooManyFiles { count: files.len() });
        }
        let mut total: u64 = 0;
        for file in &files {
            if file.path.is_empty() {
                return Err(CreateError::EmptyPath);
            }
            if let Some(bad) = file.path.iter().find(|c| !is_safe_component(c)) {
                return Err(CreateError::UnsafeName(bad.clone()));
            }
            total = total
                .checked_add(file.length)
                .ok_or(CreateError::TooLarge)?;
        }
        reject_path_collisions(&files)?;
        Self::new(options, Some(files), total)
    }

    fn new(
        options: CreateOptions,
        files: Option<Vec<FileSpec>>,
        total: u64,
    ) -> Result<Self, CreateError> {
        if !is_safe_component(&options.name) {
            return Err(CreateError::UnsafeName(options.name));
        }
        if let Some(bad) = options
            .trackers
            .iter()
            .chain(&options.web_seeds)
            .find(|u| !is_usable_url(u))
        {
            return Err(CreateError::InvalidUrl(bad.clone()));
        }
        if total == 0 {
            return Err(CreateError::NoData);
        }
        if total > MAX_TOTAL_LENGTH {
            return Err(CreateError::TooLarge);
        }
        let piece_length = match options.piece_length {
            None => auto_piece_length(total),
            Some(length) if is_valid_piece_length(length) => length,
            Some(length) => return Err(CreateError::InvalidPieceLength(length)),
        };
        let count = total.div_ceil(u64::from(piece_length));
        if count > MAX_PIECES as u64 {
            return Err(CreateError::TooManyPieces { count });
        }
        Ok(Self {
            options,
            files,
            piece_length,
            total_length: total,
            received: 0,
            in_piece: 0,
            hasher: Sha1::new(),
            pieces: Vec::with_capacity(count as usize * 20),
        })
    }

    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// Feeds the next bytes of content (files concatenated in declared order).
    pub fn update(&mut self, mut data: &[u8]) -> Result<(), CreateError> {
        let fits = self
            .received
            .checked_add(data.len() as u64)
            .is_some_and(|end| end <= self.total_length);
        if !fits {
            return Err(CreateError::TooMuchData {
                declared: self.total_length,
            });
        }
        self.received += data.len() as u64;
        while !data.is_empty() {
            let room = (self.piece_length - self.in_piece) as usize;
            let (now, rest) = data.split_at(room.min(data.len()));
            self.hasher.update(now);
            self.in_piece += now.len() as u32;
            if self.in_piece == self.piece_length {
                self.finish_piece();
            }
            data = rest;
        }
        Ok(())
    }

    fn finish_piece(&mut self) {
        self.pieces.extend_from_slice(&self.hasher.finalize_reset());
        self.in_piece = 0;
    }

    /// Completes the last piece and builds the torrent, with the creator record of
    /// `options.creator` if any.
    pub fn finish(mut self) -> Result<Metainfo, CreateError> {
        let creator = self.options.creator.take();
        self.finish_unsigned()?.finish(creator.as_ref())
    }

    /// Completes the last piece and the `info` dictionary, without a creator record
    /// (`options.creator` is ignored): the content a creator signs is now fixed.
    pub fn finish_unsigned(mut self) -> Result<UnsignedTorrent, CreateError> {
        if self.received != self.total_length {
            return Err(CreateError::TooLittleData {
                received: self.received,
                declared: self.total_length,
            });
        }
        if self.in_piece > 0 {
            self.finish_piece();
        }
        let info = self.info_dict();
        let content = keccak256(&OwnedValue::Dict(info.clone()).encode());
        Ok(UnsignedTorrent {
            info,
            root: root_dict(self.options),
            content,
        })
    }

    fn info_dict(&mut self) -> BTreeMap<Vec<u8>, OwnedValue> {
        let mut info = BTreeMap::new();
        match self.files.take() {
            None => {
                info.insert(key("length"), int(self.total_length));
            }
            Some(files) => {
                let list = files
                    .into_iter()
                    .map(|file| {
                        OwnedValue::Dict(BTreeMap::from([
                            (key("length"), int(file.length)),
                            (key("path"), OwnedValue::string_list(file.path)),
                        ]))
                    })
                    .collect();
                info.insert(key("files"), OwnedValue::List(list));
            }
        }
        info.insert(key("name"), OwnedValue::bytes(self.options.name.as_str()));
        info.insert(key("piece length"), int(u64::from(self.piece_length)));
        let pieces = core::mem::take(&mut self.pieces);
        info.insert(key("pieces"), OwnedValue::Bytes(pieces));
        if self.options.private {
            info.insert(key("private"), OwnedValue::Int(1));
        }
        info
    }
}

/// A torrent whose content is final but which has no creator record yet.
#[derive(Debug, Clone)]
pub struct UnsignedTorrent {
    info: BTreeMap<Vec<u8>, OwnedValue>,
    /// Every top-level key except `info`.
    root: BTreeMap<Vec<u8>, OwnedValue>,
    /// Keccak-256 of the canonical `info` encoding: the record's `content`.
    content: [u8; 32],
}

impl UnsignedTorrent {
    /// The `content` a creator record for this torrent signs (see [`crate::creator`]).
    pub fn content(&self) -> [u8; 32] {
        self.content
    }

    /// What a wallet signs (`eth_signTypedData_v4`) to be this torrent's creator.
    pub fn typed_data_json(&self, address: &Address, name: &str) -> String {
        typed_data_json(address, name, &self.content)
    }

    /// The torrent, signed as `creator` says (or without a record for `None`).
    pub fn finish(self, creator: Option<&CreatorOptions>) -> Result<Metainfo, CreateError> {
        let Some(creator) = creator else {
            return self.encode(None);
        };
        let record = match &creator.signer {
            CreatorSigner::Key(key) => CreatorRecord::sign(key, &creator.name, self.content)?,
            CreatorSigner::Signature { address, signature } => {
                CreatorRecord::from_signature(*address, &creator.name, self.content, *signature)?
            }
        };
        self.encode(Some(&record))
    }

    fn encode(mut self, record: Option<&CreatorRecord>) -> Result<Metainfo, CreateError> {
        if let Some(record) = record {
            self.info.insert(key(INFO_KEY), record.to_bencode());
        }
        self.root.insert(key("info"), OwnedValue::Dict(self.info));
        let bytes = OwnedValue::Dict(self.root).encode();
        Ok(Metainfo::from_bytes(&bytes)?)
    }
}

/// The top-level keys besides `info`.
fn root_dict(options: CreateOptions) -> BTreeMap<Vec<u8>, OwnedValue> {
    let mut root = BTreeMap::new();
    if let Some(first) = options.trackers.first() {
        root.insert(key("announce"), OwnedValue::bytes(first.as_str()));
        let tiers = options
            .trackers
            .iter()
            .map(|t| OwnedValue::string_list([t]))
            .collect();
        root.insert(key("announce-list"), OwnedValue::List(tiers));
    }
    if let Some(comment) = options.comment {
        root.insert(key("comment"), OwnedValue::bytes(comment));
    }
    if let Some(created_by) = options.created_by {
        root.insert(key("created by"), OwnedValue::bytes(created_by));
    }
    if let Some(date) = options.creation_date {
        root.insert(key("creation date"), OwnedValue::Int(date));
    }
    if !options.web_seeds.is_empty() {
        root.insert(key("url-list"), OwnedValue::string_list(options.web_seeds));
    }
    root
}

/// Readers rename colliding files (as libtorrent does); a torrent we make has none.
/// Case is kept: `A.txt` beside `a.txt` is a real folder on Linux, and readers on other
/// systems rename one of them.
///
/// Sorting makes both checks adjacent-pair checks: every path under folder `a/b` sorts
/// directly after a file `a/b`. Cost: O(n log n) comparisons, whatever the path depth.
fn reject_path_collisions(files: &[FileSpec]) -> Result<(), CreateError> {
    let mut paths: Vec<&[String]> = files.iter().map(|f| &f.path[..]).collect();
    paths.sort_unstable();
    match paths.windows(2).find(|pair| pair[1].starts_with(pair[0])) {
        Some(pair) => Err(CreateError::DuplicatePath(pair[0].join("/"))),
        None => Ok(()),
    }
}

fn key(name: &str) -> Vec<u8> {
    name.as_bytes().to_vec()
}

/// Lengths here are bounded by MAX_TOTAL_LENGTH (2^48), so they fit an i64.
fn int(value: u64) -> OwnedValue {
    OwnedValue::Int(value as i64)
}

fn is_valid_piece_length(length: u32) -> bool {
    length.is_power_of_two() && (MIN_AUTO_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&length)
}

fn is_usable_url(url: &str) -> bool {
    !url.trim().is_empty() && url.trim() == url && url.len() <= MAX_URL_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(name: &str) -> CreateOptions {
        CreateOptions {
            name: name.into(),
            ..CreateOptions::default()
        }
    }

    fn sha1(data: &[u8]) -> [u8; 20] {
        Sha1::digest(data).into()
    }

    #[test]
    fn auto_piece_length_targets_one_to_two_thousand_pieces() {
        assert_eq!(auto_piece_length(1), 16 * 1024);
        assert_eq!(
            auto_piece_length(1 << 40),
            16 * 1024 * 1024,
            "clamped at 16 MiB"
        );
        for total in [40u64 << 20, 700 << 20, 4 << 30, 3_000_000_001] {
            let pieces = total.div_ceil(u64::from(auto_piece_length(total)));
            assert!(
                (1000..=2000).contains(&pieces),
                "{total} bytes -> {pieces} pieces"
            );
        }
    }

    #[test]
    fn hashes_pieces_regardless_of_how_bytes_are_chunked() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let build = |chunk: usize| {
            let opts = CreateOptions {
                piece_length: Some(16384),
                ..options("data.bin")
            };
            let mut builder = TorrentBuilder::single_file(opts, data.len() as u64).unwrap();
            for part in data.chunks(chunk) {
                builder.update(part).unwrap();
            }
            builder.finish().unwrap()
        };
        let torrent = build(1000);
        assert_eq!(torrent.info.num_pieces(), 7);
        assert_eq!(torrent.info.piece_size(6), 100_000 - 6 * 16384);
        assert_eq!(torrent.info.piece_hash(0), Some(&sha1(&data[..16384])));
        assert_eq!(torrent.info.piece_hash(6), Some(&sha1(&data[6 * 16384..])));
        assert_eq!(build(16384).to_bytes(), torrent.to_bytes(), "deterministic");
        assert_eq!(build(99_999).info_hash, torrent.info_hash);
    }

    #[test]
    fn folder_torrent_keeps_order_options_and_paths() {
        let files = vec![
            FileSpec {
                path: vec!["b.txt".into()],
                length: 3,
            },
            FileSpec {
                path: vec!["sub".into(), "a.txt".into()],
                length: 2,
            },
        ];
        let opts = CreateOptions {
            trackers: vec!["wss://t1".into(), "wss://t2".into()],
            web_seeds: vec!["https://seed/".into()],
            private: true,
            comment: Some("hi".into()),
            creation_date: Some(1_700_000_000),
            ..options("folder")
        };
        let mut builder = TorrentBuilder::folder(opts, files).unwrap();
        builder.update(b"abcde").unwrap();
        let torrent = builder.finish().unwrap();
        let paths: Vec<_> = torrent.info.files.iter().map(|f| f.path_string()).collect();
        assert_eq!(paths, ["folder/b.txt", "folder/sub/a.txt"]);
        assert_eq!(torrent.info.files[1].start, 3);
        assert!(torrent.info.private);
        assert_eq!(
            torrent.trackers,
            [vec!["wss://t1".to_string()], vec!["wss://t2".to_string()]]
        );
        assert_eq!(torrent.web_seeds, ["https://seed/"]);
        assert_eq!(torrent.creation_date, Some(1_700_000_000));
        assert_eq!(torrent.comment.as_deref(), Some("hi"));
    }

    #[test]
    fn refuses_bad_input() {
        let single = |opts: CreateOptions, len| TorrentBuilder::single_file(opts, len).map(|_| ());
        assert_eq!(
            single(options(".."), 1),
            Err(CreateError::UnsafeName("..".into()))
        );
        assert_eq!(
            single(options("a/b"), 1),
            Err(CreateError::UnsafeName("a/b".into()))
        );
        assert_eq!(single(options("x"), 0), Err(CreateError::NoData));
        let odd = CreateOptions {
            piece_length: Some(20_000),
            ..options("x")
        };
        assert_eq!(single(odd, 1), Err(CreateError::InvalidPieceLength(20_000)));
        let url = CreateOptions {
            trackers: vec!["".into()],
            ..options("x")
        };
        assert_eq!(single(url, 1), Err(CreateError::InvalidUrl("".into())));
        let tiny = CreateOptions {
            piece_length: Some(16384),
            ..options("x")
        };
        assert!(matches!(
            single(tiny, 1 << 40),
            Err(CreateError::TooManyPieces { .. })
        ));
        let unsafe_file = vec![FileSpec {
            path: vec!["..".into()],
            length: 1,
        }];
        assert!(matches!(
            TorrentBuilder::folder(options("x"), unsafe_file),
            Err(CreateError::UnsafeName(_))
        ));
        let empty_path = vec![FileSpec {
            path: vec![],
            length: 1,
        }];
        assert_eq!(
            TorrentBuilder::folder(options("x"), empty_path).map(|_| ()),
            Err(CreateError::EmptyPath)
        );
    }

    #[test]
    fn content_must_match_declared_length() {
        let mut builder = TorrentBuilder::single_file(options("x"), 4).unwrap();
        assert_eq!(
            builder.update(b"hello"),
            Err(CreateError::TooMuchData { declared: 4 })
        );
        builder.update(b"hel").unwrap();
        assert_eq!(
            builder.finish().map(|_| ()),
            Err(CreateError::TooLittleData {
                received: 3,
                declared: 4
            })
        );
    }

    #[test]
    fn duplicate_paths_are_refused() {
        let files = vec![
            FileSpec {
                path: vec!["a".into()],
                length: 1,
            },
            FileSpec {
                path: vec!["a".into()],
                length: 1,
            },
        ];
        assert_eq!(
            TorrentBuilder::folder(options("x"), files).err(),
            Some(CreateError::DuplicatePath("a".into()))
        );
        let file_and_folder = ["a", "a/b"].map(|p| FileSpec {
            path: p.split('/').map(String::from).collect(),
            length: 1,
        });
        assert_eq!(
            TorrentBuilder::folder(options("x"), file_and_folder.to_vec()).err(),
            Some(CreateError::DuplicatePath("a".into()))
        );
    }
}
