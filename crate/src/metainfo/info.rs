use super::error::MetainfoError;
use super::path::sanitize_component;
use super::{MAX_FILES, MAX_PIECE_LENGTH, MAX_PIECES, MAX_TORRENT_BYTES, MAX_TOTAL_LENGTH};
use super::{dedup, v2};
use crate::bencode::{self, Value};
use crate::creator::{CreatorError, CreatorRecord, CreatorStatus};

/// The validated contents of a v1 `info` dictionary.
///
/// Invariants (checked by the parser, relied on by the engine):
/// `piece_length > 0`, `total_length > 0`, `pieces.len() == ceil(total_length / piece_length)`,
/// `pieces.len() <= MAX_PIECES`, files are in torrent order with contiguous `start` offsets
/// summing to `total_length`, every path component is sanitized, and no two files that are
/// not pad files share a path, nor is one file's path a folder of another's (ASCII case
/// ignored; duplicates are renamed as libtorrent renames them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Sanitized torrent name: the file name (single file) or the folder name (multi-file).
    pub name: String,
    pub piece_length: u32,
    pub pieces: Vec<[u8; 20]>,
    pub files: Vec<FileEntry>,
    pub total_length: u64,
    pub private: bool,
    /// The `seedcast creator` record, if the dictionary has one (see [`crate::creator`]):
    /// parsed, or why it is malformed. A malformed record never makes the torrent invalid;
    /// it is reported unverified. Verification is a separate call: [`Info::creator_status`].
    pub creator: Option<Result<CreatorRecord, CreatorError>>,
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Sanitized components relative to the download directory. Multi-file torrents include
    /// the torrent's folder name first (`[name, "sub", "file"]`); single-file torrents are `[name]`.
    pub path: Vec<String>,
    pub length: u64,
    /// Byte offset of this file within the torrent's concatenated data.
    pub start: u64,
    /// A BEP 47 pad file (`attr` contains `p`): zeros that align the next file; never written.
    /// One without a path gets `[name, ".pad", length]`, as in libtorrent.
    /// (A BEP 47 symlink, `attr` containing `l`, is kept as an ordinary empty file: its
    /// length is 0 whatever the torrent says, as in libtorrent, and no link is made.)
    pub padding: bool,
}

impl FileEntry {
    /// The path joined with `/`.
    pub fn path_string(&self) -> String {
        self.path.join("/")
    }
}

/// Size of piece `index` of `total_length` bytes cut into `piece_length` pieces: the last
/// may be shorter, and an index past the end has none. ([`Info::piece_size`] where only the
/// two numbers are kept.)
pub fn piece_size(piece_length: u32, total_length: u64, index: u32) -> u32 {
    let start = u64::from(index) * u64::from(piece_length);
    let remaining = total_length.saturating_sub(start);
    // Fits: bounded by piece_length, a u32.
    remaining.min(u64::from(piece_length)) as u32
}

impl Info {
    /// Parses a raw `info` dictionary, e.g. one assembled from BEP 9 `ut_metadata` pieces.
    /// The caller has already checked that its SHA-1 is the expected info hash.
    pub fn from_bytes(raw_info: &[u8]) -> Result<Info, MetainfoError> {
        if raw_info.len() > MAX_TORRENT_BYTES {
            return Err(MetainfoError::TooLarge {
                size: raw_info.len(),
                max: MAX_TORRENT_BYTES,
            });
        }
        Self::from_value(&bencode::decode(raw_info)?)
    }

    pub fn num_pieces(&self) -> u32 {
        // Cannot truncate: the parser caps the count at MAX_PIECES (< u32::MAX).
        self.pieces.len() as u32
    }

    /// Size of piece `index`: `piece_length`, except the last piece which may be shorter.
    /// Zero for an index past the end.
    pub fn piece_size(&self, index: u32) -> u32 {
        piece_size(self.piece_length, self.total_length, index)
    }

    /// The pieces that bytes `start..end` of the torrent's data touch, in order, each as
    /// `(piece, from, to)`: the part of that piece the range covers. `end` is clipped to the
    /// torrent's length; an empty range touches no piece.
    pub fn piece_spans(&self, start: u64, end: u64) -> impl Iterator<Item = (u32, u32, u32)> {
        let end = end.min(self.total_length);
        let pl = u64::from(self.piece_length);
        let pieces = if start < end {
            start / pl..(end - 1) / pl + 1
        } else {
            0..0
        };
        // Casts fit: piece indices are below MAX_PIECES and offsets within a piece below
        // piece_length, a u32.
        pieces.map(move |p| {
            let piece_start = p * pl;
            let from = start.max(piece_start) - piece_start;
            let to = end.min(piece_start + pl) - piece_start;
            (p as u32, from as u32, to as u32)
        })
    }

    /// Whether the creator record verifies; `None` when the torrent has no record. Costs a
    /// secp256k1 public-key recovery each call (sub-millisecond), so callers keep the answer.
    pub fn creator_status(&self) -> Option<CreatorStatus> {
        Some(match self.creator.as_ref()? {
            Ok(record) => record.status(),
            Err(reason) => CreatorStatus::Unverified {
                reason: reason.clone(),
            },
        })
    }

    pub fn piece_hash(&self, index: u32) -> Option<&[u8; 20]> {
        self.pieces.get(usize::try_from(index).ok()?)
    }

    /// `(start, length)` of file `file_index` within the torrent's data.
    pub fn file_range(&self, file_index: usize) -> Option<(u64, u64)> {
        self.files
            .get(file_index)
            .map(|file| (file.start, file.length))
    }

    pub(crate) fn from_value(info: &Value<'_>) -> Result<Info, MetainfoError> {
        let dict = info
            .as_dict()
            .ok_or(MetainfoError::NotADictionary("info"))?;
        let piece_length = parse_piece_length(info)?;
        let pieces = parse_pieces(info)?;
        let name = match utf8_preferred(info, "name.utf-8", "name") {
            Some(name) => name,
            None if info.get("name").is_some() => {
                return Err(MetainfoError::WrongType {
                    field: "name",
                    expected: "a byte string",
                });
            }
            None => return Err(MetainfoError::MissingField("name")),
        };
        let name = sanitize_component(name);

        let mut files = match (dict.get("length"), dict.get("files")) {
            (Some(_), Some(_)) => return Err(MetainfoError::BothLengthAndFiles),
            (Some(length), None) => {
                let length = parse_length(length)?;
                vec![FileEntry {
                    path: vec![name.clone()],
                    length,
                    start: 0,
                    padding: false,
                }]
            }
            (None, Some(files)) => parse_files(files, &name)?,
            (None, None) => return Err(MetainfoError::NoLength),
        };
        let total_length = files.last().map_or(0, |f| f.start + f.length);
        if total_length == 0 {
            return Err(MetainfoError::Empty);
        }
        let expected = total_length.div_ceil(u64::from(piece_length));
        if expected != pieces.len() as u64 {
            return Err(MetainfoError::PieceCountMismatch {
                expected,
                actual: pieces.len(),
            });
        }
        v2::check_hybrid(info, &files, &name)?;
        dedup::rename_duplicates(&mut files)?;
        let private = info.get("private").and_then(Value::as_int) == Some(1);
        let creator = CreatorRecord::from_info(info);
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            total_length,
            private,
            creator,
        })
    }
}

fn parse_piece_length(info: &Value<'_>) -> Result<u32, MetainfoError> {
    let value = info
        .get("piece length")
        .ok_or(MetainfoError::MissingField("piece length"))?;
    let length = value.as_int().ok_or(MetainfoError::WrongType {
        field: "piece length",
        expected: "an integer",
    })?;
    u32::try_from(length)
        .ok()
        .filter(|&l| l > 0 && l <= MAX_PIECE_LENGTH)
        .ok_or(MetainfoError::InvalidPieceLength(length))
}

fn parse_pieces(info: &Value<'_>) -> Result<Vec<[u8; 20]>, MetainfoError> {
    let Some(value) = info.get("pieces") else {
        // BEP 52: v2-only torrents describe data with `file tree` + `meta version` 2 instead.
        let v2 = info.get("meta version").and_then(Value::as_int) == Some(2)
            || info.get("file tree").is_some();
        return Err(if v2 {
            MetainfoError::V2Only
        } else {
            MetainfoError::MissingField("pieces")
        });
    };
    let bytes = value.as_bytes().ok_or(MetainfoError::WrongType {
        field: "pieces",
        expected: "a byte string",
    })?;
    if bytes.len() % 20 != 0 {
        return Err(MetainfoError::PiecesNotMultipleOf20(bytes.len()));
    }
    let count = bytes.len() / 20;
    if count > MAX_PIECES {
        return Err(MetainfoError::TooManyPieces {
            count,
            max: MAX_PIECES,
        });
    }
    Ok(bytes
        .chunks_exact(20)
        .map(|chunk| {
            let mut hash = [0u8; 20];
            hash.copy_from_slice(chunk);
            hash
        })
        .collect())
}

fn parse_length(value: &Value<'_>) -> Result<u64, MetainfoError> {
    let length = value.as_int().ok_or(MetainfoError::WrongType {
        field: "length",
        expected: "an integer",
    })?;
    u64::try_from(length)
        .ok()
        .filter(|&l| l <= MAX_TOTAL_LENGTH)
        .ok_or(MetainfoError::InvalidFileLength(length))
}

fn parse_files(files: &Value<'_>, name: &str) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = files.as_list().ok_or(MetainfoError::WrongType {
        field: "files",
        expected: "a list",
    })?;
    if list.is_empty() {
        return Err(MetainfoError::NoFiles);
    }
    if list.len() > MAX_FILES {
        return Err(MetainfoError::TooManyFiles {
            count: list.len(),
            max: MAX_FILES,
        });
    }
    let mut entries = Vec::with_capacity(list.len());
    let mut start: u64 = 0;
    for (index, file) in list.iter().enumerate() {
        if file.as_dict().is_none() {
            return Err(MetainfoError::WrongType {
                field: "files",
                expected: "a list of dictionaries",
            });
        }
        let attr = file
            .get("attr")
            .and_then(Value::as_bytes)
            .unwrap_or_default();
        let padding = attr.contains(&b'p');
        // BEP 47 symlinks carry no data; libtorrent ignores any `length` they give.
        let length = if attr.contains(&b'l') {
            0
        } else {
            parse_length(
                file.get("length")
                    .ok_or(MetainfoError::MissingField("length"))?,
            )?
        };
        let path = match file_path(file)? {
            Some(components) => {
                let mut path = Vec::with_capacity(components.len() + 1);
                path.push(name.to_owned());
                for component in components {
                    let bytes = component.as_bytes().ok_or(MetainfoError::WrongType {
                        field: "path",
                        expected: "a list of strings",
                    })?;
                    path.push(sanitize_component(bytes));
                }
                path
            }
            // BEP 47 pad files need no path; libtorrent files them under `.pad`.
            None if padding => vec![name.to_owned(), ".pad".into(), length.to_string()],
            None if file.get("path").is_some() => {
                return Err(MetainfoError::EmptyPath(index));
            }
            None => return Err(MetainfoError::MissingField("path")),
        };
        entries.push(FileEntry {
            path,
            length,
            start,
            padding,
        });
        start = start
            .checked_add(length)
            .filter(|&total| total <= MAX_TOTAL_LENGTH)
            .ok_or(MetainfoError::TotalTooLarge)?;
    }
    Ok(entries)
}

/// A file's non-empty `path` list (`path.utf-8` preferred when it is one), or `None`.
fn file_path<'v, 'a>(file: &'v Value<'a>) -> Result<Option<&'v [Value<'a>]>, MetainfoError> {
    let utf8 = file
        .get("path.utf-8")
        .and_then(Value::as_list)
        .filter(|l| !l.is_empty());
    let components = match (utf8, file.get("path")) {
        (Some(list), _) => list,
        (None, Some(path)) => path.as_list().ok_or(MetainfoError::WrongType {
            field: "path",
            expected: "a list of strings",
        })?,
        (None, None) => return Ok(None),
    };
    Ok((!components.is_empty()).then_some(components))
}

/// The `utf8_key` byte string if present (BEP-style `*.utf-8` override), else `key`.
pub(super) fn utf8_preferred<'a>(dict: &Value<'a>, utf8_key: &str, key: &str) -> Option<&'a [u8]> {
    dict.get(utf8_key)
        .and_then(Value::as_bytes)
        .or_else(|| dict.get(key).and_then(Value::as_bytes))
}
