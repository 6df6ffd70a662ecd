//! BEP 9 `ut_metadata` messages: fetching the info dictionary from peers in 16 KiB pieces.
//!
//! Payload: a bencoded dict `{msg_type, piece[, total_size]}`; a `data` message is followed
//! by the raw piece bytes.

use std::collections::BTreeMap;

use super::WireError;
use crate::bencode::{self, OwnedValue};

/// Size of every metadata piece but the last.
pub const METADATA_PIECE_SIZE: u32 = 16384;
/// Largest info dictionary we fetch (WebTorrent caps at 10 MB; real ones are under 1 MiB).
pub const MAX_METADATA_SIZE: u64 = 16 * 1024 * 1024;
/// Pieces in a metadata of `MAX_METADATA_SIZE` bytes; no valid piece index reaches this.
const MAX_METADATA_PIECES: u32 = (MAX_METADATA_SIZE / METADATA_PIECE_SIZE as u64) as u32;
/// A data message is one piece plus a dict of three small integers; anything much larger
/// is not a ut_metadata message. Checked before decoding so the dict cannot be huge.
const MAX_METADATA_MSG_LEN: usize = METADATA_PIECE_SIZE as usize + 1024;

const MSG_REQUEST: i64 = 0;
const MSG_DATA: i64 = 1;
const MSG_REJECT: i64 = 2;

const WHAT: &str = "ut_metadata message";

/// A decoded `ut_metadata` message.
///
/// Invariants after [`MetadataMsg::parse`]: `piece < MAX_METADATA_SIZE / METADATA_PIECE_SIZE`;
/// for `Data`, `total_size` is in `1..=MAX_METADATA_SIZE`, `piece` is one of its pieces and
/// `data.len()` is exactly that piece's size ([`metadata_piece_len`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataMsg {
    Request {
        piece: u32,
    },
    Data {
        piece: u32,
        total_size: u64,
        data: Vec<u8>,
    },
    Reject {
        piece: u32,
    },
}

/// Length of metadata piece `piece` for metadata of `total_size` bytes; `None` if the
/// size is outside `1..=MAX_METADATA_SIZE` or the piece does not exist.
pub fn metadata_piece_len(total_size: u64, piece: u32) -> Option<u32> {
    if total_size == 0 || total_size > MAX_METADATA_SIZE {
        return None;
    }
    let start = u64::from(piece) * u64::from(METADATA_PIECE_SIZE);
    let len = total_size.checked_sub(start).filter(|&left| left > 0)?;
    u32::try_from(len.min(u64::from(METADATA_PIECE_SIZE))).ok()
}

impl MetadataMsg {
    /// Parses the payload of an extended message addressed to our `ut_metadata` id.
    ///
    /// An unknown `msg_type` is [`WireError::UnknownMetadataMsgType`], which BEP 9 says to
    /// ignore rather than treat as a violation.
    pub fn parse(payload: &[u8]) -> Result<MetadataMsg, WireError> {
        if payload.len() > MAX_METADATA_MSG_LEN {
            return Err(WireError::PayloadTooLong {
                what: WHAT,
                len: payload.len(),
                max: MAX_METADATA_MSG_LEN,
            });
        }
        let (header, used) = bencode::decode_prefix(payload)
            .map_err(|error| WireError::Bencode { what: WHAT, error })?;
        let dict = header.as_dict().ok_or(WireError::NotADict { what: WHAT })?;
        let rest = payload.get(used..).unwrap_or_default();

        let int = |field: &'static str| -> Result<i64, WireError> {
            let value = dict
                .get(field)
                .ok_or(WireError::MissingField { what: WHAT, field })?;
            value.as_int().ok_or(WireError::BadField {
                what: WHAT,
                field,
                reason: "not an integer",
            })
        };
        let msg_type = int("msg_type")?;
        let piece = u32::try_from(int("piece")?)
            .ok()
            .filter(|&p| p < MAX_METADATA_PIECES)
            .ok_or(WireError::BadField {
                what: WHAT,
                field: "piece",
                reason: "out of range",
            })?;
        let no_trailing = |message| match rest.len() {
            0 => Ok(message),
            len => Err(WireError::TrailingBytes { what: WHAT, len }),
        };
        match msg_type {
            MSG_REQUEST => no_trailing(MetadataMsg::Request { piece }),
            MSG_REJECT => no_trailing(MetadataMsg::Reject { piece }),
            MSG_DATA => {
                let total_size = u64::try_from(int("total_size")?)
                    .ok()
                    .filter(|n| (1..=MAX_METADATA_SIZE).contains(n))
                    .ok_or(WireError::BadField {
                        what: WHAT,
                        field: "total_size",
                        reason: "out of range",
                    })?;
                let expected =
                    metadata_piece_len(total_size, piece).ok_or(WireError::BadField {
                        what: WHAT,
                        field: "piece",
                        reason: "beyond total_size",
                    })?;
                if rest.len() != expected as usize {
                    return Err(WireError::BadField {
                        what: WHAT,
                        field: "total_size",
                        reason: "piece data length does not match",
                    });
                }
                Ok(MetadataMsg::Data {
                    piece,
                    total_size,
                    data: rest.to_vec(),
                })
            }
            msg_type => Err(WireError::UnknownMetadataMsgType { msg_type }),
        }
    }

    /// The extended message payload: the dict, then for `Data` the piece bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (msg_type, piece, total_size, data) = match self {
            MetadataMsg::Request { piece } => (MSG_REQUEST, *piece, None, &[][..]),
            MetadataMsg::Reject { piece } => (MSG_REJECT, *piece, None, &[][..]),
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => (MSG_DATA, *piece, Some(*total_size), &data[..]),
        };
        let mut dict = BTreeMap::from([
            (b"msg_type".to_vec(), OwnedValue::Int(msg_type)),
            (b"piece".to_vec(), OwnedValue::Int(piece.into())),
        ]);
        if let Some(total_size) = total_size {
            let total_size = i64::try_from(total_size).unwrap_or(i64::MAX);
            dict.insert(b"total_size".to_vec(), OwnedValue::Int(total_size));
        }
        let mut out = OwnedValue::Dict(dict).encode();
        out.extend_from_slice(data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep9_example_bytes() {
        // The examples from BEP 9, byte for byte.
        assert_eq!(
            MetadataMsg::Request { piece: 0 }.encode(),
            b"d8:msg_typei0e5:piecei0ee"
        );
        assert_eq!(
            MetadataMsg::Reject { piece: 0 }.encode(),
            b"d8:msg_typei2e5:piecei0ee"
        );
        let data = MetadataMsg::Data {
            piece: 0,
            total_size: 3425,
            data: vec![b'x'; 3425],
        };
        let encoded = data.encode();
        assert!(encoded.starts_with(b"d8:msg_typei1e5:piecei0e10:total_sizei3425ee"));
        assert_eq!(MetadataMsg::parse(&encoded), Ok(data));
        assert_eq!(
            MetadataMsg::parse(b"d8:msg_typei0e5:piecei0ee"),
            Ok(MetadataMsg::Request { piece: 0 })
        );
    }

    #[test]
    fn piece_lengths() {
        assert_eq!(metadata_piece_len(16384, 0), Some(16384));
        assert_eq!(metadata_piece_len(16384, 1), None);
        assert_eq!(metadata_piece_len(16385, 1), Some(1));
        assert_eq!(metadata_piece_len(0, 0), None);
        assert_eq!(metadata_piece_len(MAX_METADATA_SIZE + 1, 0), None);
        assert_eq!(
            metadata_piece_len(MAX_METADATA_SIZE, MAX_METADATA_PIECES - 1),
            Some(METADATA_PIECE_SIZE)
        );
    }

    #[test]
    fn data_must_match_its_piece() {
        let short = MetadataMsg::Data {
            piece: 0,
            total_size: 20000,
            data: vec![0; 100],
        }
        .encode();
        assert!(matches!(
            MetadataMsg::parse(&short),
            Err(WireError::BadField { .. })
        ));
        let beyond = MetadataMsg::Data {
            piece: 2,
            total_size: 20000,
            data: vec![0; 100],
        }
        .encode();
        assert!(matches!(
            MetadataMsg::parse(&beyond),
            Err(WireError::BadField { field: "piece", .. })
        ));
        let huge = MetadataMsg::Data {
            piece: 0,
            total_size: MAX_METADATA_SIZE + 1,
            data: vec![0; 16384],
        }
        .encode();
        assert!(matches!(
            MetadataMsg::parse(&huge),
            Err(WireError::BadField {
                field: "total_size",
                ..
            })
        ));
        let last = MetadataMsg::Data {
            piece: 1,
            total_size: 20000,
            data: vec![9; 20000 - 16384],
        };
        assert_eq!(MetadataMsg::parse(&last.encode()), Ok(last));
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert_eq!(
            MetadataMsg::parse(b"d8:msg_typei7e5:piecei0ee"),
            Err(WireError::UnknownMetadataMsgType { msg_type: 7 })
        );
        assert!(matches!(
            MetadataMsg::parse(b"d5:piecei0ee"),
            Err(WireError::MissingField {
                field: "msg_type",
                ..
            })
        ));
        assert!(matches!(
            MetadataMsg::parse(b"d8:msg_typei0ee"),
            Err(WireError::MissingField { field: "piece", .. })
        ));
        assert!(matches!(
            MetadataMsg::parse(b"d8:msg_typei0e5:piecei-1ee"),
            Err(WireError::BadField { field: "piece", .. })
        ));
        assert!(matches!(
            MetadataMsg::parse(b"d8:msg_type1:05:piecei0ee"),
            Err(WireError::BadField {
                field: "msg_type",
                ..
            })
        ));
        assert!(matches!(
            MetadataMsg::parse(b"d8:msg_typei0e5:piecei0eexx"),
            Err(WireError::TrailingBytes { len: 2, .. })
        ));
        assert!(matches!(
            MetadataMsg::parse(b"i0e"),
            Err(WireError::NotADict { .. })
        ));
        assert!(matches!(
            MetadataMsg::parse(b""),
            Err(WireError::Bencode { .. })
        ));
        let big = vec![0u8; MAX_METADATA_MSG_LEN + 1];
        assert!(matches!(
            MetadataMsg::parse(&big),
            Err(WireError::PayloadTooLong { .. })
        ));
    }
}
