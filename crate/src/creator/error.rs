use thiserror::Error;

use super::Address;

/// Why a creator record, key, address or signature is refused or does not verify. One line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CreatorError {
    #[error("creator record is not a dictionary")]
    NotADictionary,
    #[error("creator record has no `{0}`")]
    MissingField(&'static str),
    #[error("creator record field `{0}` is not a byte string")]
    WrongType(&'static str),
    #[error("creator record has an unknown key")]
    UnknownKey,
    #[error("creator address is {0} bytes, not 20")]
    AddressLength(usize),
    #[error("creator name is not valid UTF-8")]
    NameNotUtf8,
    #[error("creator name is {0} bytes, longer than the {max}-byte limit", max = super::MAX_NAME_BYTES)]
    NameTooLong(usize),
    #[error("creator name contains control or bidirectional-override characters")]
    NameNotDisplayable,
    #[error("creator signature is {0} bytes, not 65")]
    SignatureLength(usize),
    #[error("creator signature has v = {0}; expected 27, 28, 0 or 1")]
    InvalidRecoveryByte(u8),
    #[error("creator signature has a high s value (malleable; not accepted)")]
    HighS,
    #[error("creator signature is not a valid secp256k1 signature")]
    InvalidSignature,
    #[error("creator record is signed by {signer}, not by {claimed}")]
    WrongSigner { signer: Address, claimed: Address },
    #[error("not an address: expected 0x and 40 hex digits")]
    InvalidAddress,
    #[error("address has a wrong EIP-55 checksum (mixed case that does not match)")]
    BadChecksum,
    #[error("not a signature: expected 0x and 130 hex digits")]
    InvalidSignatureHex,
    #[error("not a private key: expected 0x and 64 hex digits (a trailing newline is fine)")]
    InvalidKeyFormat,
    #[error("private key is out of range for secp256k1 (zero or not below the curve order)")]
    InvalidKey,
}
