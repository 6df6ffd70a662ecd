use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, VerifyingKey};

use super::address::Address;
use super::error::CreatorError;
use super::hex::{decode_0x, encode_0x};

/// r ‖ s ‖ v.
pub const SIGNATURE_LEN: usize = 65;

/// Half the secp256k1 group order, big-endian: an `s` above it is "high". Every ECDSA
/// signature has a twin with `n - s`; Ethereum (EIP-2) and we accept only the low one, so a
/// record has exactly one valid encoding.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// A 65-byte Ethereum signature as written: r ‖ s ‖ v. Any bytes can be held; [`recover`]
/// decides whether they are a valid signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    pub fn from_slice(bytes: &[u8]) -> Result<Signature, CreatorError> {
        bytes
            .try_into()
            .map(Signature)
            .map_err(|_| CreatorError::SignatureLength(bytes.len()))
    }

    /// `0x` + 130 hex digits, as wallets return it.
    pub fn parse_hex(text: &str) -> Result<Signature, CreatorError> {
        decode_0x::<SIGNATURE_LEN>(text)
            .map(Signature)
            .ok_or(CreatorError::InvalidSignatureHex)
    }

    pub fn to_hex(&self) -> String {
        encode_0x(&self.0)
    }

    /// Builds r ‖ s ‖ v (v = 27 + parity) from k256's output, normalising to low s (which
    /// negates the nonce point, so the parity flips).
    pub(super) fn from_ecdsa(signature: EcdsaSignature, recovery: RecoveryId) -> Signature {
        let mut y_odd = recovery.is_y_odd();
        let signature = match signature.normalize_s() {
            normalized if normalized != signature => {
                y_odd = !y_odd;
                normalized
            }
            same => same,
        };
        let mut out = [0u8; SIGNATURE_LEN];
        out[..64].copy_from_slice(&signature.to_bytes());
        out[64] = 27 + u8::from(y_odd);
        Signature(out)
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// The address that signed the 32-byte `prehash` (already Keccak-hashed; never rehashed).
/// Refuses v other than 27/28/0/1, high s, r or s zero or not below the group order, and
/// points that do not exist.
pub fn recover(prehash: &[u8; 32], signature: &Signature) -> Result<Address, CreatorError> {
    let bytes = &signature.0;
    let v = bytes[64];
    let y_odd = match v {
        27 | 28 => v == 28,
        0 | 1 => v == 1,
        other => return Err(CreatorError::InvalidRecoveryByte(other)),
    };
    if bytes[32..64] > HALF_ORDER[..] {
        return Err(CreatorError::HighS);
    }
    let ecdsa =
        EcdsaSignature::from_slice(&bytes[..64]).map_err(|_| CreatorError::InvalidSignature)?;
    // Ethereum has no "x reduced" recovery ids (27/28 only carry the parity).
    let recovery = RecoveryId::new(y_odd, false);
    let key = VerifyingKey::recover_from_prehash(prehash, &ecdsa, recovery)
        .map_err(|_| CreatorError::InvalidSignature)?;
    Ok(address_of(&key))
}

/// The Ethereum address of a public key.
pub(super) fn address_of(key: &VerifyingKey) -> Address {
    let point = key.to_sec1_point(false);
    let bytes = point.as_bytes();
    let mut xy = [0u8; 64];
    // An uncompressed SEC1 point is 0x04 ‖ x ‖ y (65 bytes).
    xy.copy_from_slice(&bytes[1..65]);
    Address::from_public_key_xy(&xy)
}
