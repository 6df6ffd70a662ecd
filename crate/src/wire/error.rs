//! Every way a peer's bytes can be rejected by the wire codec.

use thiserror::Error;

use crate::bencode::BencodeError;

/// A protocol violation found while decoding peer wire data.
///
/// All of these mean the peer sent something no correct client sends; the engine normally
/// drops the connection. The one exception is [`WireError::UnknownMetadataMsgType`], which
/// BEP 9 says to ignore (it exists so newer message types do not look like valid ones).
///
/// `Clone` so a failed [`Decoder`](super::Decoder) can keep returning the same error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("handshake must be 68 bytes, got {len}")]
    HandshakeLength { len: usize },
    #[error("bad handshake protocol string")]
    BadHandshakeProtocol,
    #[error("message length {len} exceeds limit {max}")]
    MessageTooLong { len: u32, max: u32 },
    #[error("frame declares {declared} bytes after its length prefix but carries {actual}")]
    FrameLength { declared: u32, actual: usize },
    #[error("{name} message has length {len}, expected {expected}")]
    WrongMessageLength {
        name: &'static str,
        len: u32,
        expected: u32,
    },
    #[error("{name} message has length {len}, needs at least {min}")]
    MessageTooShort {
        name: &'static str,
        len: u32,
        min: u32,
    },
    #[error("{name} block length {length} is outside 1..={max}")]
    BadBlockLength {
        name: &'static str,
        length: u32,
        max: u32,
    },
    #[error("piece block of {len} bytes exceeds limit {max}")]
    PieceTooLong { len: u32, max: u32 },
    #[error("{what}: {error}")]
    Bencode {
        what: &'static str,
        error: BencodeError,
    },
    #[error("{what} is not a bencoded dictionary")]
    NotADict { what: &'static str },
    #[error("{what} is {len} bytes, limit {max}")]
    PayloadTooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("extension handshake lists {count} extensions, limit {max}")]
    TooManyExtensions { count: usize, max: usize },
    #[error("{what} is missing field {field:?}")]
    MissingField {
        what: &'static str,
        field: &'static str,
    },
    #[error("{what} field {field:?} is invalid: {reason}")]
    BadField {
        what: &'static str,
        field: &'static str,
        reason: &'static str,
    },
    #[error("unknown ut_metadata msg_type {msg_type}")]
    UnknownMetadataMsgType { msg_type: i64 },
    #[error("ut_metadata {what} has {len} unexpected trailing bytes")]
    TrailingBytes { what: &'static str, len: usize },
}
