//! The peer wire codec: BEP 3 handshake and messages, BEP 6 fast extension, BEP 10 extension
//! protocol and BEP 9 `ut_metadata`, over any byte stream.
//!
//! Sans-IO: [`Decoder`] takes bytes in arbitrary chunks and yields [`Frame`]s; encoders append
//! to a caller's `Vec<u8>` so messages coalesce into one send. Everything decoded is
//! bounded before it is allocated; malformed input is a [`WireError`], never a panic.
//!
//! ```
//! use seedcast::wire::{Decoder, Frame, Handshake, Message};
//!
//! let mut bytes = Vec::new();
//! Handshake::new([1; 20], [2; 20]).encode_into(&mut bytes);
//! Message::Have { index: 7 }.encode_into(&mut bytes);
//!
//! let mut decoder = Decoder::new();
//! for chunk in bytes.chunks(5) {
//!     decoder.push(chunk); // boundaries carry no meaning
//! }
//! assert!(matches!(decoder.next(), Ok(Some(Frame::Handshake(_)))));
//! assert_eq!(decoder.next(), Ok(Some(Frame::Message(Message::Have { index: 7 }))));
//! assert_eq!(decoder.next(), Ok(None));
//! ```

mod decoder;
mod error;
mod extended;
mod handshake;
mod message;
mod metadata;

pub use decoder::{Decoder, Frame};
pub use error::WireError;
pub use extended::{
    DONTHAVE_LEN, EXT_HANDSHAKE_ID, ExtendedHandshake, LT_DONTHAVE, LT_DONTHAVE_LOCAL_ID,
    MAX_EXT_HANDSHAKE_LEN, MAX_EXTENSIONS, UT_METADATA, UT_METADATA_LOCAL_ID, encode_donthave,
    parse_donthave,
};
pub use handshake::Handshake;
pub use message::{BlockRef, Message, encode_piece_header};
pub use metadata::{MAX_METADATA_SIZE, METADATA_PIECE_SIZE, MetadataMsg, metadata_piece_len};

/// The block size every client requests (BEP 3 convention; WebTorrent and libtorrent use it).
pub const BLOCK_SIZE: u32 = 16384;

/// Largest accepted length prefix. The largest valid messages are a bitfield for 2^20 pieces
/// (128 KiB), a piece message with a `MAX_REQUEST_LEN` block, and a ut_metadata piece
/// (16 KiB + its dict); 1 MiB + 16 leaves room for all of them and for lax clients.
pub const MAX_MESSAGE_LEN: u32 = 1024 * 1024 + 16;

/// Largest block a `request` may ask for; bigger requests are protocol violations.
pub const MAX_REQUEST_LEN: u32 = 128 * 1024;
