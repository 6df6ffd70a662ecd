use crate::bencode::BencodeError;
use thiserror::Error;

/// Why a torrent file or `info` dictionary is refused. One line, meant for users.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetainfoError {
    #[error("torrent is {size} bytes, larger than the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("not a torrent: {0}")]
    Bencode(#[from] BencodeError),
    #[error("not a torrent: {0} is not a dictionary")]
    NotADictionary(&'static str),
    #[error("torrent has no `info` dictionary")]
    MissingInfo,
    #[error("torrent `info` has no `{0}`")]
    MissingField(&'static str),
    #[error("torrent field `{field}` should be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("v2-only torrent (BEP 52) is not supported: it has no v1 `pieces`")]
    V2Only,
    #[error("piece length {0} is invalid (must be between 1 and {max} bytes)", max = super::MAX_PIECE_LENGTH)]
    InvalidPieceLength(i64),
    #[error("`pieces` is {0} bytes, not a multiple of 20")]
    PiecesNotMultipleOf20(usize),
    #[error("torrent has {count} pieces, more than the limit of {max}")]
    TooManyPieces { count: usize, max: usize },
    #[error("torrent has {actual} piece hashes but its length needs {expected}")]
    PieceCountMismatch { expected: u64, actual: usize },
    #[error("file length {0} is invalid")]
    InvalidFileLength(i64),
    #[error("total length exceeds the limit of {max} bytes", max = super::MAX_TOTAL_LENGTH)]
    TotalTooLarge,
    #[error("torrent has no data (total length is 0)")]
    Empty,
    #[error("torrent has both `length` and `files`")]
    BothLengthAndFiles,
    #[error("torrent has neither `length` nor `files`")]
    NoLength,
    #[error("torrent has an empty `files` list")]
    NoFiles,
    #[error("torrent has {count} files, more than the limit of {max}")]
    TooManyFiles { count: usize, max: usize },
    #[error("file {0} has an empty path")]
    EmptyPath(usize),
    #[error(
        "torrent has too many files with the same path (gave up after {max} names found taken)"
    )]
    TooManyDuplicatePaths { max: usize },
    #[error("hybrid torrent's v1 file list and v2 `file tree` disagree: {0}")]
    InconsistentHybrid(String),
}
