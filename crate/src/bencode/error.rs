use thiserror::Error;

/// Why a byte string is not acceptable bencode. `offset` is where in the input the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BencodeError {
    #[error("bencode: input ends early (at byte {offset})")]
    UnexpectedEnd { offset: usize },
    #[error("bencode: unexpected byte 0x{byte:02x} at byte {offset}")]
    UnexpectedByte { byte: u8, offset: usize },
    #[error(
        "bencode: malformed integer at byte {offset} (leading zero, -0, empty or not a number)"
    )]
    InvalidInteger { offset: usize },
    #[error("bencode: integer at byte {offset} does not fit in 64 bits")]
    IntegerOverflow { offset: usize },
    #[error("bencode: malformed byte-string length at byte {offset}")]
    InvalidLength { offset: usize },
    #[error(
        "bencode: byte string at byte {offset} claims {length} bytes but only {available} remain"
    )]
    LengthExceedsInput {
        offset: usize,
        length: u64,
        available: usize,
    },
    #[error("bencode: dictionary key at byte {offset} is not a byte string")]
    KeyNotString { offset: usize },
    /// `offset` is where the second occurrence's bytes start.
    #[error("bencode: duplicate dictionary key at byte {offset}")]
    DuplicateKey { offset: usize },
    #[error("bencode: nesting deeper than {max} levels at byte {offset}")]
    TooDeep { offset: usize, max: usize },
    #[error("bencode: more than {max} values")]
    TooManyValues { max: usize },
    #[error("bencode: {count} trailing bytes after the value")]
    TrailingBytes { count: usize },
}
