use k256::ecdsa::SigningKey;

use super::address::Address;
use super::error::CreatorError;
use super::hex::decode_0x;
use super::signature::{Signature, address_of};

/// A creator's secp256k1 private key. Its `Debug` shows only the address: a key must never
/// end up in a log or an error message.
#[derive(Clone)]
pub struct CreatorKey {
    key: SigningKey,
    address: Address,
}

impl CreatorKey {
    /// A key from 32 big-endian bytes; zero and values not below the group order are refused.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<CreatorKey, CreatorError> {
        let key = SigningKey::from_slice(bytes).map_err(|_| CreatorError::InvalidKey)?;
        let address = address_of(key.verifying_key());
        Ok(CreatorKey { key, address })
    }

    /// The contents of a key file: `0x` + 64 hex digits, optionally followed by one line
    /// ending (`\n` or `\r\n`). Anything else is refused without echoing any of it.
    pub fn from_key_file(text: &str) -> Result<CreatorKey, CreatorError> {
        let line = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        let bytes = decode_0x::<32>(line).ok_or(CreatorError::InvalidKeyFormat)?;
        Self::from_bytes(&bytes)
    }

    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte prehash: RFC 6979 deterministic nonce (no randomness needed, same
    /// input gives the same signature), low s, v = 27 or 28.
    pub fn sign_prehash(&self, prehash: &[u8; 32]) -> Signature {
        let (signature, recovery) = self.key.sign_prehash_recoverable(prehash);
        Signature::from_ecdsa(signature, recovery)
    }
}

impl PartialEq for CreatorKey {
    fn eq(&self, other: &Self) -> bool {
        // Same address ⇔ same key (up to a keccak collision).
        self.address == other.address
    }
}

impl Eq for CreatorKey {}

impl core::fmt::Debug for CreatorKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CreatorKey({}, secret hidden)", self.address)
    }
}
