//! `0x`-prefixed hex, as Ethereum tools write addresses, hashes, keys and signatures.

/// Lowercase hex with a `0x` prefix.
pub fn encode_0x(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("0x");
    for byte in bytes {
        out.push(nibble(byte >> 4));
        out.push(nibble(byte & 0xf));
    }
    out
}

fn nibble(value: u8) -> char {
    char::from_digit(u32::from(value), 16).unwrap_or('0')
}

/// Exactly `N` bytes from `0x` + 2·N hex digits (either case); `None` for anything else.
pub fn decode_0x<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.strip_prefix("0x")?.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        // Fits: two hex digits.
        *byte = (high * 16 + low) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_junk() {
        assert_eq!(encode_0x(&[0x00, 0xab, 0xff]), "0x00abff");
        assert_eq!(decode_0x::<3>("0x00AbfF"), Some([0x00, 0xab, 0xff]));
        assert_eq!(decode_0x::<3>("00abff"), None, "prefix required");
        assert_eq!(decode_0x::<3>("0x00abf"), None, "odd length");
        assert_eq!(decode_0x::<3>("0x00abff00"), None, "too long");
        assert_eq!(decode_0x::<3>("0x00abfg"), None, "not hex");
        assert_eq!(decode_0x::<1>("0x+f"), None, "sign is not a digit");
        assert_eq!(decode_0x::<1>("0xé"), None, "non-ASCII");
    }
}
