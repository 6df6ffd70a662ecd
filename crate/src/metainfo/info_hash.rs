use core::fmt;
use thiserror::Error;

/// A BitTorrent v1 info hash: SHA-1 of the bencoded `info` dictionary as it appears in the file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

/// Why text is not an info hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InfoHashParseError {
    #[error("info hash must be 40 hex or 32 base32 characters, got {0}")]
    WrongLength(usize),
    #[error("info hash contains a character that is not hex")]
    NotHex,
    #[error("info hash contains a character that is not base32 (A-Z, 2-7)")]
    NotBase32,
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Bytes as lower-case hex digits, two per byte. No `format!` per byte: the browser driver
/// keys its torrents by this text on every verified piece (profiled: `format!` per byte cost
/// ~45 ms of a 64 MiB download's main thread).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

impl InfoHash {
    /// SHA-1 of `info_bytes`, which must be the raw `info` value from the torrent.
    pub fn of_info_bytes(info_bytes: &[u8]) -> Self {
        use sha1::Digest;
        Self(sha1::Sha1::digest(info_bytes).into())
    }

    /// 40 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        lower_hex(&self.0)
    }

    /// Parses 40 hex digits, either case.
    pub fn from_hex(text: &str) -> Result<Self, InfoHashParseError> {
        let text = text.as_bytes();
        if text.len() != 40 {
            return Err(InfoHashParseError::WrongLength(text.len()));
        }
        let mut hash = [0u8; 20];
        for (byte, pair) in hash.iter_mut().zip(text.chunks_exact(2)) {
            let high = hex_value(pair[0]).ok_or(InfoHashParseError::NotHex)?;
            let low = hex_value(pair[1]).ok_or(InfoHashParseError::NotHex)?;
            *byte = high << 4 | low;
        }
        Ok(Self(hash))
    }

    /// Parses 32 base32 characters (RFC 4648 alphabet, either case, no padding), as used in old magnets.
    pub fn from_base32(text: &str) -> Result<Self, InfoHashParseError> {
        let text = text.as_bytes();
        if text.len() != 32 {
            return Err(InfoHashParseError::WrongLength(text.len()));
        }
        // 32 symbols x 5 bits = 160 bits exactly: no padding, no leftover bits.
        let mut hash = [0u8; 20];
        let mut accumulator: u64 = 0;
        let mut bits = 0;
        let mut out = 0;
        for &symbol in text {
            let upper = symbol.to_ascii_uppercase();
            let value = BASE32_ALPHABET
                .iter()
                .position(|&a| a == upper)
                .ok_or(InfoHashParseError::NotBase32)?;
            accumulator = accumulator << 5 | value as u64;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                if let Some(slot) = hash.get_mut(out) {
                    *slot = (accumulator >> bits) as u8;
                }
                out += 1;
            }
        }
        Ok(Self(hash))
    }

    /// Parses either form, deciding by length (40 = hex, 32 = base32).
    pub fn parse(text: &str) -> Result<Self, InfoHashParseError> {
        match text.len() {
            40 => Self::from_hex(text),
            32 => Self::from_base32(text),
            other => Err(InfoHashParseError::WrongLength(other)),
        }
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Arbitrary 20 bytes.
    const HEX: &str = "c9e15763f722f23e98a29decdfae341b98d53056";

    #[test]
    fn hex_round_trips_and_is_lower_case() {
        let hash = InfoHash::from_hex(&HEX.to_uppercase()).unwrap();
        assert_eq!(hash.to_hex(), HEX);
        assert_eq!(hash.to_string(), HEX);
        assert_eq!(format!("{hash:?}"), format!("InfoHash({HEX})"));
    }

    #[test]
    fn lower_hex_writes_two_digits_per_byte() {
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(lower_hex(&[]), "");
    }

    #[test]
    fn base32_decodes_to_the_same_hash_as_hex() {
        // RFC 4648 base32 of the bytes above.
        let hash = InfoHash::from_base32("ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW").unwrap();
        assert_eq!(hash.to_hex(), HEX);
        let lower = InfoHash::from_base32("zhqvoy7xelzd5gfctxwn7lrudomnkmcw").unwrap();
        assert_eq!(lower, hash);
    }

    #[test]
    fn rejects_malformed_text() {
        assert_eq!(
            InfoHash::from_hex("abc"),
            Err(InfoHashParseError::WrongLength(3))
        );
        assert_eq!(
            InfoHash::from_hex(&"g".repeat(40)),
            Err(InfoHashParseError::NotHex)
        );
        assert_eq!(
            InfoHash::from_base32(&"1".repeat(32)),
            Err(InfoHashParseError::NotBase32)
        );
        // Multi-byte characters must not be split or panic.
        assert!(InfoHash::from_hex(&"é".repeat(20)).is_err());
        assert!(InfoHash::parse(&"é".repeat(16)).is_err());
    }
}
