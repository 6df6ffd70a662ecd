//! 20-byte identifiers (`info_hash`, `peer_id`, `offer_id`) as WebTorrent carries them in JSON:
//! a "binary string" of exactly 20 characters, each code point U+0000..=U+00FF standing for one byte.
//! Anything else is rejected, never guessed at.

use std::fmt;

use super::json::push_unicode_escape;

/// The bytes of an id, for code that keys its maps by plain arrays.
pub type IdBytes = [u8; 20];

/// A 20-byte identifier decoded from a binary string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id20(pub IdBytes);

impl From<IdBytes> for Id20 {
    fn from(bytes: IdBytes) -> Self {
        Self(bytes)
    }
}

/// Why a JSON string is not a valid 20-byte binary string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("has {0} characters, expected 20")]
    WrongLength(usize),
    #[error("contains a character above U+00FF")]
    NotBinary,
}

impl Id20 {
    /// Decodes a binary string: exactly 20 chars, each ≤ U+00FF.
    pub fn from_binary_str(s: &str) -> Result<Self, IdError> {
        let mut out = [0u8; 20];
        let mut len = 0usize;
        for c in s.chars() {
            let byte = u8::try_from(u32::from(c)).map_err(|_| IdError::NotBinary)?;
            if let Some(slot) = out.get_mut(len) {
                *slot = byte;
            }
            len += 1;
        }
        if len != 20 {
            return Err(IdError::WrongLength(len));
        }
        Ok(Self(out))
    }

    /// Appends this id to `out` as a quoted JSON string, escaping the way JSON requires.
    pub fn write_json(&self, out: &mut String) {
        out.push('"');
        // Most clients use printable ASCII ids (`-WW0300-...`): one copy, no per-byte pushes.
        if let Ok(plain) = std::str::from_utf8(&self.0)
            && plain
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            out.push_str(plain);
            out.push('"');
            return;
        }
        for &b in &self.0 {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                0x00..=0x1f => push_unicode_escape(out, b),
                _ => out.push(char::from(b)),
            }
        }
        out.push('"');
    }

    /// The id as a binary string (one char per byte), as WebTorrent expects it in JSON object keys.
    pub fn to_binary_string(&self) -> String {
        self.0.iter().map(|&b| char::from(b)).collect()
    }

    /// Parses 40 hex digits (allow-list files and logs use hex).
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Display for Id20 {
    /// Hex, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Id20 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id20({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_value_round_trips_through_json() {
        for start in (0u8..=240).step_by(20) {
            let bytes: [u8; 20] = std::array::from_fn(|i| start.wrapping_add(i as u8));
            let id = Id20(bytes);
            let mut json = String::new();
            id.write_json(&mut json);
            let decoded: String = serde_json::from_str(&json).unwrap();
            assert_eq!(Id20::from_binary_str(&decoded).unwrap(), id);
            assert_eq!(id.to_binary_string(), decoded);
        }
    }

    #[test]
    fn rejects_wrong_length_and_wide_chars() {
        assert_eq!(Id20::from_binary_str("short"), Err(IdError::WrongLength(5)));
        assert_eq!(
            Id20::from_binary_str(&"a".repeat(21)),
            Err(IdError::WrongLength(21))
        );
        let wide = format!("{}\u{0100}", "a".repeat(19));
        assert_eq!(Id20::from_binary_str(&wide), Err(IdError::NotBinary));
        // 20 chars but 40 UTF-8 bytes: still a valid id.
        assert!(Id20::from_binary_str(&"\u{00ff}".repeat(20)).is_ok());
    }

    #[test]
    fn hex_parsing() {
        let id = Id20::from_hex("000102030405060708090a0b0c0d0e0f10111213").unwrap();
        assert_eq!(id.0[19], 0x13);
        assert_eq!(id.to_string(), "000102030405060708090a0b0c0d0e0f10111213");
        assert!(Id20::from_hex("zz0102030405060708090a0b0c0d0e0f10111213").is_none());
        assert!(Id20::from_hex("00").is_none());
    }
}
