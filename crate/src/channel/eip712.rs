//! EIP-712 hashing and typed data of a channel. The domain is the creator records' one
//! ([`crate::creator::domain_separator`]): {name "Seedcast", version "1"}, no chain id.

use serde_json::json;

use super::{Channel, Work};
use crate::creator::hex::encode_0x;
use crate::creator::{
    Address, DOMAIN_NAME, DOMAIN_VERSION, domain_separator, hash_struct, keccak256, type_hash,
};

/// `encodeType(Work)`.
pub const WORK_TYPE: &str =
    "Work(bytes20 infoHash,string magnet,string title,bytes32 poster,uint64 published)";
/// `encodeType(Channel)`: the referenced `Work` type is appended, as EIP-712 requires.
pub const CHANNEL_TYPE: &str = "Channel(address creator,string name,uint64 sequence,Work[] works)Work(bytes20 infoHash,string magnet,string title,bytes32 poster,uint64 published)";

/// What a poster is signed as: Keccak-256 of the data URI's UTF-8 bytes, or 32 zero bytes
/// without a poster.
pub fn poster_hash(poster: Option<&str>) -> [u8; 32] {
    poster.map_or([0; 32], |p| keccak256(p.as_bytes()))
}

/// `uint64` (any `uintN`): big-endian, left-padded to 32 bytes.
fn encode_uint(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

/// `bytes20` (any fixed `bytesN`): left-aligned, zero-padded on the right.
fn encode_bytes20(bytes: &[u8; 20]) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[..20].copy_from_slice(bytes);
    word
}

/// `address`: a uint160, left-padded.
fn encode_address(address: &Address) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(&address.0);
    word
}

fn work_hash(work: &Work) -> [u8; 32] {
    hash_struct(
        &type_hash(WORK_TYPE),
        &[
            encode_bytes20(&work.info_hash),
            keccak256(work.magnet.as_bytes()),
            keccak256(work.title.as_bytes()),
            poster_hash(work.poster.as_deref()),
            encode_uint(work.published),
        ],
    )
}

impl Channel {
    /// `hashStruct(Channel)`.
    fn struct_hash(&self) -> [u8; 32] {
        let works: Vec<u8> = self.works.iter().flat_map(work_hash).collect();
        hash_struct(
            &type_hash(CHANNEL_TYPE),
            &[
                encode_address(&self.address),
                keccak256(self.name.as_bytes()),
                encode_uint(self.sequence),
                keccak256(&works),
            ],
        )
    }

    /// The digest the creator signs: `keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct)`.
    pub fn signing_hash(&self) -> [u8; 32] {
        let mut bytes = Vec::with_capacity(66);
        bytes.extend_from_slice(&[0x19, 0x01]);
        bytes.extend_from_slice(&domain_separator());
        bytes.extend_from_slice(&self.struct_hash());
        keccak256(&bytes)
    }

    /// The typed data for `eth_signTypedData_v4` (one JSON line): `types` with
    /// `EIP712Domain`, `Channel` and `Work`, `primaryType` "Channel", the domain, and the
    /// message with the address EIP-55 checksummed, `infoHash` as 0x-hex bytes20, `poster`
    /// as its 0x-hex bytes32 hash, `sequence` and `published` as JSON numbers.
    pub fn typed_data_json(&self) -> String {
        let field = |name: &str, kind: &str| json!({ "name": name, "type": kind });
        let works: Vec<_> = self
            .works
            .iter()
            .map(|work| {
                json!({
                    "infoHash": encode_0x(&work.info_hash),
                    "magnet": work.magnet,
                    "title": work.title,
                    "poster": encode_0x(&poster_hash(work.poster.as_deref())),
                    "published": work.published,
                })
            })
            .collect();
        json!({
            "types": {
                "EIP712Domain": [field("name", "string"), field("version", "string")],
                "Channel": [
                    field("creator", "address"),
                    field("name", "string"),
                    field("sequence", "uint64"),
                    field("works", "Work[]"),
                ],
                "Work": [
                    field("infoHash", "bytes20"),
                    field("magnet", "string"),
                    field("title", "string"),
                    field("poster", "bytes32"),
                    field("published", "uint64"),
                ],
            },
            "primaryType": "Channel",
            "domain": { "name": DOMAIN_NAME, "version": DOMAIN_VERSION },
            "message": {
                "creator": self.address.to_checksum(),
                "name": self.name,
                "sequence": self.sequence,
                "works": works,
            },
        })
        .to_string()
    }
}
