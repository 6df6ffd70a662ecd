//! BEP 3 / BEP 6 / BEP 10 messages: their in-memory form and their framing.
//!
//! A frame is `length: u32 BE | id: u8 | payload`, where `length` counts the id and payload;
//! `length = 0` is a keep-alive. This file knows each message's layout (see [`layout`]) so the
//! stream [`Decoder`](super::Decoder) and [`Message::parse`] validate frames the same way.

use super::{MAX_MESSAGE_LEN, MAX_REQUEST_LEN, WireError};

/// Message ids on the wire.
mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    // BEP 6
    pub const SUGGEST: u8 = 13;
    pub const HAVE_ALL: u8 = 14;
    pub const HAVE_NONE: u8 = 15;
    pub const REJECT: u8 = 16;
    pub const ALLOWED_FAST: u8 = 17;
    // BEP 10
    pub const EXTENDED: u8 = 20;
}

/// One block of a piece: what `request`, `cancel` and `reject` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRef {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

/// A decoded peer wire message.
///
/// Invariants after decoding: `Request`/`Cancel`/`Reject` lengths are in `1..=MAX_REQUEST_LEN`
/// and `Piece` data is at most `MAX_REQUEST_LEN` bytes. Indices are not checked against the
/// torrent — the codec does not know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have {
        index: u32,
    },
    /// Raw bitfield bytes, high bit of byte 0 = piece 0. Spare bits are not checked here.
    Bitfield(Vec<u8>),
    Request(BlockRef),
    Piece {
        index: u32,
        begin: u32,
        data: Vec<u8>,
    },
    Cancel(BlockRef),
    /// DHT port (BEP 5); decoded so it is not mistaken for garbage, otherwise unused.
    Port(u16),
    Suggest {
        index: u32,
    },
    HaveAll,
    HaveNone,
    Reject(BlockRef),
    AllowedFast {
        index: u32,
    },
    /// BEP 10: `id` 0 is the extension handshake, others are ids the receiver assigned.
    Extended {
        id: u8,
        payload: Vec<u8>,
    },
    /// A message id this codec does not know; its payload was skipped. Newer clients send
    /// these and must not be disconnected for it.
    Unknown {
        id: u8,
    },
}

impl Message {
    /// Appends the framed message (length prefix included) to `out`, so many messages can be
    /// coalesced into one send buffer.
    ///
    /// Payloads longer than [`MAX_MESSAGE_LEN`] produce a frame every peer rejects; the engine
    /// never builds one. `Unknown { id }` encodes as an empty message with that id.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        match self {
            Message::KeepAlive => out.extend_from_slice(&0u32.to_be_bytes()),
            Message::Choke => put_header(out, id::CHOKE, 0),
            Message::Unchoke => put_header(out, id::UNCHOKE, 0),
            Message::Interested => put_header(out, id::INTERESTED, 0),
            Message::NotInterested => put_header(out, id::NOT_INTERESTED, 0),
            Message::HaveAll => put_header(out, id::HAVE_ALL, 0),
            Message::HaveNone => put_header(out, id::HAVE_NONE, 0),
            Message::Have { index } => put_index(out, id::HAVE, *index),
            Message::Suggest { index } => put_index(out, id::SUGGEST, *index),
            Message::AllowedFast { index } => put_index(out, id::ALLOWED_FAST, *index),
            Message::Request(block) => put_block(out, id::REQUEST, block),
            Message::Cancel(block) => put_block(out, id::CANCEL, block),
            Message::Reject(block) => put_block(out, id::REJECT, block),
            Message::Port(port) => {
                put_header(out, id::PORT, 2);
                out.extend_from_slice(&port.to_be_bytes());
            }
            Message::Bitfield(bits) => {
                put_header(out, id::BITFIELD, bits.len());
                out.extend_from_slice(bits);
            }
            Message::Piece { index, begin, data } => {
                encode_piece_header(*index, *begin, saturating_u32(data.len()), out);
                out.extend_from_slice(data);
            }
            Message::Extended {
                id: ext_id,
                payload,
            } => {
                put_header(out, id::EXTENDED, 1 + payload.len());
                out.push(*ext_id);
                out.extend_from_slice(payload);
            }
            Message::Unknown { id } => put_header(out, *id, 0),
        }
    }

    /// Bytes [`encode_into`](Self::encode_into) appends, length prefix included.
    pub fn encoded_len(&self) -> usize {
        let payload = match self {
            Message::KeepAlive => return 4,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone
            | Message::Unknown { .. } => 0,
            Message::Have { .. } | Message::Suggest { .. } | Message::AllowedFast { .. } => 4,
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 12,
            Message::Port(_) => 2,
            Message::Bitfield(bits) => bits.len(),
            Message::Piece { data, .. } => 8 + data.len(),
            Message::Extended { payload, .. } => 1 + payload.len(),
        };
        4 + 1 + payload
    }

    /// Decodes exactly one complete frame, length prefix included (`parse` of what
    /// `encode_into` wrote gives the message back). For a byte stream use
    /// [`Decoder`](super::Decoder).
    pub fn parse(frame: &[u8]) -> Result<Message, WireError> {
        let (prefix, rest) = frame
            .split_first_chunk::<4>()
            .ok_or(WireError::FrameLength {
                declared: 0,
                actual: frame.len(),
            })?;
        let len = check_frame_len(u32::from_be_bytes(*prefix))?;
        if rest.len() != len as usize {
            return Err(WireError::FrameLength {
                declared: len,
                actual: rest.len(),
            });
        }
        let Some(&msg_id) = rest.first() else {
            return Ok(Message::KeepAlive);
        };
        let layout = layout(msg_id, len)?;
        let (header, body) = rest.split_at(layout.header_len.min(rest.len()));
        layout.finish(header, body.to_vec())
    }
}

/// Appends the 13-byte header of a `piece` message carrying `len` data bytes; the caller
/// appends the data itself (e.g. straight from storage, without an intermediate copy).
pub fn encode_piece_header(index: u32, begin: u32, len: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&len.saturating_add(9).to_be_bytes());
    out.push(id::PIECE);
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(&begin.to_be_bytes());
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Length prefix and id of a message whose payload (after the id) is `payload_len` bytes.
fn put_header(out: &mut Vec<u8>, msg_id: u8, payload_len: usize) {
    out.extend_from_slice(&saturating_u32(payload_len).saturating_add(1).to_be_bytes());
    out.push(msg_id);
}

fn put_index(out: &mut Vec<u8>, msg_id: u8, index: u32) {
    put_header(out, msg_id, 4);
    out.extend_from_slice(&index.to_be_bytes());
}

fn put_block(out: &mut Vec<u8>, msg_id: u8, block: &BlockRef) {
    put_header(out, msg_id, 12);
    out.extend_from_slice(&block.index.to_be_bytes());
    out.extend_from_slice(&block.begin.to_be_bytes());
    out.extend_from_slice(&block.length.to_be_bytes());
}

/// Rejects a length prefix above [`MAX_MESSAGE_LEN`] — checked before anything is allocated.
pub(super) fn check_frame_len(len: u32) -> Result<u32, WireError> {
    if len > MAX_MESSAGE_LEN {
        return Err(WireError::MessageTooLong {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(len)
}

/// What follows the length prefix of a (non-keep-alive) frame, known from its id and length
/// alone: how many header bytes (id included) must be read before the variable-size body,
/// and how to turn both into a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    kind: Kind,
    msg_id: u8,
    /// Bytes from the id (inclusive) up to the body. For fixed-size messages: all of them.
    pub(super) header_len: usize,
    /// Bytes after the header; the stream decoder copies these straight into the message.
    pub(super) body_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fixed,
    Bitfield,
    Piece,
    Extended,
    /// The body is skipped, never stored.
    Unknown,
}

impl Layout {
    /// Whether the body is dropped instead of collected.
    pub(super) fn skips_body(&self) -> bool {
        self.kind == Kind::Unknown
    }

    /// Builds the message from its header bytes (`header_len` of them, id first) and body.
    pub(super) fn finish(&self, header: &[u8], body: Vec<u8>) -> Result<Message, WireError> {
        let truncated = || WireError::MessageTooShort {
            name: name(self.msg_id),
            len: saturating_u32(header.len() + body.len()),
            min: saturating_u32(self.header_len),
        };
        if header.len() != self.header_len {
            return Err(truncated());
        }
        let u32_at = |at: usize| -> Result<u32, WireError> {
            header
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(truncated)
        };
        Ok(match self.kind {
            Kind::Unknown => Message::Unknown { id: self.msg_id },
            Kind::Bitfield => Message::Bitfield(body),
            Kind::Extended => {
                let ext_id = *header.get(1).ok_or_else(truncated)?;
                Message::Extended {
                    id: ext_id,
                    payload: body,
                }
            }
            Kind::Piece => Message::Piece {
                index: u32_at(1)?,
                begin: u32_at(5)?,
                data: body,
            },
            Kind::Fixed => {
                let block = || -> Result<BlockRef, WireError> {
                    let block = BlockRef {
                        index: u32_at(1)?,
                        begin: u32_at(5)?,
                        length: u32_at(9)?,
                    };
                    check_block_len(self.msg_id, block.length)?;
                    Ok(block)
                };
                match self.msg_id {
                    id::CHOKE => Message::Choke,
                    id::UNCHOKE => Message::Unchoke,
                    id::INTERESTED => Message::Interested,
                    id::NOT_INTERESTED => Message::NotInterested,
                    id::HAVE_ALL => Message::HaveAll,
                    id::HAVE_NONE => Message::HaveNone,
                    id::HAVE => Message::Have { index: u32_at(1)? },
                    id::SUGGEST => Message::Suggest { index: u32_at(1)? },
                    id::ALLOWED_FAST => Message::AllowedFast { index: u32_at(1)? },
                    id::REQUEST => Message::Request(block()?),
                    id::CANCEL => Message::Cancel(block()?),
                    id::REJECT => Message::Reject(block()?),
                    id::PORT => {
                        let port = header
                            .get(1..3)
                            .and_then(|b| b.try_into().ok())
                            .ok_or_else(truncated)?;
                        Message::Port(u16::from_be_bytes(port))
                    }
                    // `layout` only makes `Kind::Fixed` for the ids above.
                    other => Message::Unknown { id: other },
                }
            }
        })
    }
}

/// Validates a frame's length for its id and says how to read the rest.
/// `len` is the (already capped) length prefix, id byte included, so `len >= 1`.
pub(super) fn layout(msg_id: u8, len: u32) -> Result<Layout, WireError> {
    let fixed = |expected: u32| -> Result<Layout, WireError> {
        if len != expected {
            return Err(WireError::WrongMessageLength {
                name: name(msg_id),
                len,
                expected,
            });
        }
        Ok(Layout {
            kind: Kind::Fixed,
            msg_id,
            header_len: len as usize,
            body_len: 0,
        })
    };
    let variable = |kind: Kind, header_len: u32| -> Result<Layout, WireError> {
        if len < header_len {
            return Err(WireError::MessageTooShort {
                name: name(msg_id),
                len,
                min: header_len,
            });
        }
        Ok(Layout {
            kind,
            msg_id,
            header_len: header_len as usize,
            body_len: (len - header_len) as usize,
        })
    };
    match msg_id {
        id::CHOKE
        | id::UNCHOKE
        | id::INTERESTED
        | id::NOT_INTERESTED
        | id::HAVE_ALL
        | id::HAVE_NONE => fixed(1),
        id::HAVE | id::SUGGEST | id::ALLOWED_FAST => fixed(5),
        id::REQUEST | id::CANCEL | id::REJECT => fixed(13),
        id::PORT => fixed(3),
        id::BITFIELD => variable(Kind::Bitfield, 1),
        id::EXTENDED => variable(Kind::Extended, 2),
        id::PIECE => {
            let layout = variable(Kind::Piece, 9)?;
            // No valid request asks for more, so a bigger block is never one we wanted:
            // refuse it before buffering it.
            let data_len = len - 9;
            if data_len > MAX_REQUEST_LEN {
                return Err(WireError::PieceTooLong {
                    len: data_len,
                    max: MAX_REQUEST_LEN,
                });
            }
            Ok(layout)
        }
        _ => variable(Kind::Unknown, 1),
    }
}

fn check_block_len(msg_id: u8, length: u32) -> Result<(), WireError> {
    if length == 0 || length > MAX_REQUEST_LEN {
        return Err(WireError::BadBlockLength {
            name: name(msg_id),
            length,
            max: MAX_REQUEST_LEN,
        });
    }
    Ok(())
}

/// Human-readable message name for errors.
fn name(msg_id: u8) -> &'static str {
    match msg_id {
        id::CHOKE => "choke",
        id::UNCHOKE => "unchoke",
        id::INTERESTED => "interested",
        id::NOT_INTERESTED => "not interested",
        id::HAVE => "have",
        id::BITFIELD => "bitfield",
        id::REQUEST => "request",
        id::PIECE => "piece",
        id::CANCEL => "cancel",
        id::PORT => "port",
        id::SUGGEST => "suggest piece",
        id::HAVE_ALL => "have all",
        id::HAVE_NONE => "have none",
        id::REJECT => "reject request",
        id::ALLOWED_FAST => "allowed fast",
        id::EXTENDED => "extended",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        m.encode_into(&mut out);
        assert_eq!(out.len(), m.encoded_len(), "{m:?}");
        out
    }

    #[test]
    fn unknown_ids_skip_their_payload() {
        assert_eq!(
            Message::parse(&[0, 0, 0, 4, 99, 1, 2, 3]),
            Ok(Message::Unknown { id: 99 })
        );
    }

    #[test]
    fn fixed_size_messages_with_wrong_length_are_errors() {
        assert_eq!(
            Message::parse(&[0, 0, 0, 2, 0, 0]),
            Err(WireError::WrongMessageLength {
                name: "choke",
                len: 2,
                expected: 1
            })
        );
        assert_eq!(
            Message::parse(&[0, 0, 0, 4, 4, 0, 0, 0]),
            Err(WireError::WrongMessageLength {
                name: "have",
                len: 4,
                expected: 5
            })
        );
    }

    #[test]
    fn block_lengths_outside_limits_are_errors() {
        for length in [0, MAX_REQUEST_LEN + 1, u32::MAX] {
            for m in [Message::Request, Message::Cancel, Message::Reject] {
                let frame = encode(&m(BlockRef {
                    index: 1,
                    begin: 0,
                    length,
                }));
                assert!(matches!(
                    Message::parse(&frame),
                    Err(WireError::BadBlockLength { .. })
                ));
            }
        }
        let max = Message::Request(BlockRef {
            index: 1,
            begin: 0,
            length: MAX_REQUEST_LEN,
        });
        assert_eq!(Message::parse(&encode(&max)), Ok(max));
    }

    #[test]
    fn oversized_piece_is_rejected_from_its_length_alone() {
        let len = 9 + MAX_REQUEST_LEN + 1;
        assert_eq!(
            layout(id::PIECE, len),
            Err(WireError::PieceTooLong {
                len: MAX_REQUEST_LEN + 1,
                max: MAX_REQUEST_LEN
            })
        );
    }

    #[test]
    fn truncated_variable_messages_are_errors() {
        assert!(matches!(
            Message::parse(&[0, 0, 0, 5, 7, 0, 0, 0, 1]),
            Err(WireError::MessageTooShort { .. })
        ));
        assert!(matches!(
            Message::parse(&[0, 0, 0, 1, 20]),
            Err(WireError::MessageTooShort { .. })
        ));
    }

    #[test]
    fn parse_requires_exactly_one_frame() {
        assert!(matches!(
            Message::parse(&[0, 0, 0]),
            Err(WireError::FrameLength { .. })
        ));
        assert!(matches!(
            Message::parse(&[0, 0, 0, 1, 0, 0]),
            Err(WireError::FrameLength { .. })
        ));
        assert_eq!(Message::parse(&[0, 0, 0, 0]), Ok(Message::KeepAlive));
    }

    #[test]
    fn piece_header_matches_encoded_piece() {
        let piece = Message::Piece {
            index: 3,
            begin: 16384,
            data: vec![7; 100],
        };
        let mut out = Vec::new();
        encode_piece_header(3, 16384, 100, &mut out);
        out.extend_from_slice(&[7; 100]);
        assert_eq!(out, encode(&piece));
    }
}
