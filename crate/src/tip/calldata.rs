//! Calldata of the TipJar contract's `tip(address creator, bytes20 infoHash, string message)`,
//! Solidity ABI encoded by hand (three static-or-offset head words, then the string's tail).

use crate::creator::{Address, keccak256};

/// Longest tip message, in bytes of UTF-8: a short note (a tweet's length). It is stored in
/// the chain's logs, which the viewer pays for per byte. Enforced by [`super::TipFlow::new`].
pub const MAX_TIP_MESSAGE_BYTES: usize = 280;

/// The function's signature, whose Keccak-256 starts with the selector.
pub const TIP_SIGNATURE: &str = "tip(address,bytes20,string)";

/// The 4-byte selector of [`TIP_SIGNATURE`]: `0x34584811`.
pub fn tip_selector() -> [u8; 4] {
    let hash = keccak256(TIP_SIGNATURE.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

/// `selector ‖ creator (left-padded to 32) ‖ infoHash (bytes20: right-padded to 32) ‖ 0x60
/// (the string's offset: after the three head words) ‖ byte length ‖ UTF-8 bytes
/// right-padded with zeros to a multiple of 32`.
pub fn tip_jar_calldata(creator: &Address, info_hash: &[u8; 20], message: &str) -> Vec<u8> {
    let bytes = message.as_bytes();
    let padded = bytes.len().div_ceil(32) * 32;
    let mut out = Vec::with_capacity(4 + 4 * 32 + padded);
    out.extend_from_slice(&tip_selector());
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&creator.0);
    out.extend_from_slice(info_hash);
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&word(3 * 32));
    out.extend_from_slice(&word(bytes.len() as u128));
    out.extend_from_slice(bytes);
    out.resize(4 + 4 * 32 + padded, 0);
    out
}

/// A uint256 word, big-endian.
fn word(value: u128) -> [u8; 32] {
    let mut out = [0; 32];
    out[16..].copy_from_slice(&value.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creator::hex::encode_0x;

    /// Computed once with viem 2.57.20 (tests/node_modules), independently of this code:
    /// `encodeFunctionData({abi: parseAbi(["function tip(address creator, bytes20 infoHash,
    /// string message) payable"]), functionName: "tip", args: [creator, infoHash, message]})`
    /// with the creator, info hash and the two messages below.
    const VIEM_EMPTY: &str = "0x345848110000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed0102030405060708090a0b0c0d0e0f101112131400000000000000000000000000000000000000000000000000000000000000000000000000000000000000600000000000000000000000000000000000000000000000000000000000000000";
    const VIEM_MESSAGE: &str = "0x345848110000000000000000000000005aaeb6053f3e94c9b9a09f33669435e7ef1beaed0102030405060708090a0b0c0d0e0f1011121314000000000000000000000000000000000000000000000000000000000000000000000000000000000000006000000000000000000000000000000000000000000000000000000000000000285468616e6b7320666f722074686520766964656f2120556e206772616e64206d6572636920e29c93000000000000000000000000000000000000000000000000";

    #[test]
    fn matches_viem_encoding() {
        let creator = Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap();
        let info_hash: [u8; 20] = core::array::from_fn(|i| i as u8 + 1);
        assert_eq!(encode_0x(&tip_selector()), "0x34584811");
        assert_eq!(
            encode_0x(&tip_jar_calldata(&creator, &info_hash, "")),
            VIEM_EMPTY
        );
        assert_eq!(
            encode_0x(&tip_jar_calldata(
                &creator,
                &info_hash,
                "Thanks for the video! Un grand merci ✓"
            )),
            VIEM_MESSAGE
        );
    }

    #[test]
    fn tail_is_padded_to_whole_words() {
        let creator = Address([0xaa; 20]);
        for (len, total) in [(1, 4 + 5 * 32), (32, 4 + 5 * 32), (33, 4 + 6 * 32)] {
            let data = tip_jar_calldata(&creator, &[0; 20], &"x".repeat(len));
            assert_eq!(data.len(), total, "{len}");
            assert_eq!(data[4 + 4 * 32 - 1] as usize, len);
        }
    }
}
