use core::fmt;

use super::error::CreatorError;
use super::hex::decode_0x;
use super::keccak::keccak256;

/// An EVM account address: the last 20 bytes of the Keccak-256 of an uncompressed
/// secp256k1 public key (without its 0x04 prefix). Displays with the EIP-55 checksum.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of a public key given as its 64-byte `x ‖ y` (uncompressed, no prefix).
    pub fn from_public_key_xy(xy: &[u8; 64]) -> Address {
        let hash = keccak256(xy);
        let mut address = [0u8; 20];
        address.copy_from_slice(&hash[12..]);
        Address(address)
    }

    /// EIP-55 mixed-case checksum encoding, e.g. `0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed`:
    /// a letter is uppercase when the matching nibble of keccak256(lowercase hex) is ≥ 8.
    pub fn to_checksum(&self) -> String {
        let lower = super::hex::encode_0x(&self.0);
        let hash = keccak256(&lower.as_bytes()[2..]);
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower[2..].chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0xf;
            out.push(if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }

    /// Parses `0x` + 40 hex digits. All-lowercase and all-uppercase are accepted as
    /// unchecksummed (EIP-55); mixed case must be the correct checksum, so a mistyped
    /// address is caught rather than paid.
    pub fn parse(text: &str) -> Result<Address, CreatorError> {
        let bytes = decode_0x::<20>(text).ok_or(CreatorError::InvalidAddress)?;
        let address = Address(bytes);
        let digits = &text[2..];
        let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper && address.to_checksum() != text {
            return Err(CreatorError::BadChecksum);
        }
        Ok(address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_checksum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of EIP-55 itself.
    const EIP55: [&str; 8] = [
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    #[test]
    fn eip55_vectors_format_and_parse() {
        for vector in EIP55 {
            let address = Address::parse(vector).unwrap();
            assert_eq!(address.to_checksum(), vector);
            assert_eq!(Address::parse(&vector.to_lowercase()), Ok(address));
        }
    }

    #[test]
    fn wrong_checksum_and_junk_are_refused() {
        // One letter's case flipped.
        assert_eq!(
            Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            Err(CreatorError::BadChecksum)
        );
        for junk in [
            "",
            "0x",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6",
        ] {
            assert_eq!(
                Address::parse(junk),
                Err(CreatorError::InvalidAddress),
                "{junk}"
            );
        }
    }
}
