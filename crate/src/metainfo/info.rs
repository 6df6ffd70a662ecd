use super::error::MetainfoError;
use super::path::sanitize_component;
use super::{MAX_FILES, MAX_PIECE_LENGTH, MAX_PIECES, MAX_TORRENT_BYTES, MAX_TOTAL_LENGTH};
use crate::bencode::{self, Value};

/// The validated contents of a v1 `info` dictionary.
///
/// Invariants (checked by the parser, relied on by the engine):
/// `piece_length > 0`, `total_length > 0`, `pieces.len() == ceil(total_length / piece_length)`,
/// `pieces.len() <= MAX_PIECES`, files are in torrent order with contiguous `start` offsets
/// summing to `total_length`, and every path component is sanitized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Sanitized torrent name: the file name (single file) or the folder name (multi-file).
    pub name: String,
    pub piece_length: u32,
    pub pieces: Vec<[u8; 20]>,
    pub files: Vec<FileEntry>,
    pub total_length: u64,
    pub private: bool,
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

        let files = match (dict.get("length"), dict.get("files")) {
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
        let private = info.get("private").and_then(Value::as_int) == Some(1);
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            total_length,
            private,
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
        let length = parse_length(
            file.get("length")
                .ok_or(MetainfoError::MissingField("length"))?,
        )?;
        let components = file
            .get("path.utf-8")
            .filter(|p| p.as_list().is_some_and(|l| !l.is_empty()))
            .or_else(|| file.get("path"))
            .ok_or(MetainfoError::MissingField("path"))?
            .as_list()
            .ok_or(MetainfoError::WrongType {
                field: "path",
                expected: "a list of strings",
            })?;
        if components.is_empty() {
            return Err(MetainfoError::EmptyPath(index));
        }
        let mut path = Vec::with_capacity(components.len() + 1);
        path.push(name.to_owned());
        for component in components {
            let bytes = component.as_bytes().ok_or(MetainfoError::WrongType {
                field: "path",
                expected: "a list of strings",
            })?;
            path.push(sanitize_component(bytes));
        }
        let padding = file
            .get("attr")
            .and_then(Value::as_bytes)
            .is_some_and(|attr| attr.contains(&b'p'));
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
    reject_path_collisions(&entries)?;
    Ok(entries)
}

/// Two files at one path, or a file where another file needs a folder, would make storage
/// ambiguous. Pad files are exempt: they share names like `.pad/16384` and are never written.
///
/// Sorting makes both checks adjacent-pair checks: every path under folder `a/b` sorts
/// directly after a file `a/b`. Cost: O(n log n) comparisons, whatever the path depth (a
/// per-prefix set would cost depth² per file on deep hostile paths).
fn reject_path_collisions(files: &[FileEntry]) -> Result<(), MetainfoError> {
    let mut paths: Vec<&[String]> = files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| &f.path[..])
        .collect();
    paths.sort_unstable();
    match paths.windows(2).find(|pair| pair[1].starts_with(pair[0])) {
        Some(pair) => Err(MetainfoError::DuplicatePath(pair[0].join("/"))),
        None => Ok(()),
    }
}

/// The `utf8_key` byte string if present (BEP-style `*.utf-8` override), else `key`.
pub(super) fn utf8_preferred<'a>(dict: &Value<'a>, utf8_key: &str, key: &str) -> Option<&'a [u8]> {
    dict.get(utf8_key)
        .and_then(Value::as_bytes)
        .or_else(|| dict.get(key).and_then(Value::as_bytes))
}
