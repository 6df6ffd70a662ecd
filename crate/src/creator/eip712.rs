//! EIP-712 hashing: `encodeType`, `hashStruct`, the domain separator and the final digest,
//! for the fixed types of a creator record (no general typed-data engine: two fixed structs
//! need none, and fewer moving parts means fewer ways to disagree with wallets).

use super::address::Address;
use super::keccak::{keccak256, keccak256_parts};
use super::{DOMAIN_NAME, DOMAIN_VERSION};

/// `encodeType` of the domain: only the fields the domain uses, in EIP-712's order.
pub(super) const DOMAIN_TYPE: &str = "EIP712Domain(string name,string version)";
/// `encodeType` of the signed message.
pub(super) const RECORD_TYPE: &str = "CreatorRecord(address creator,string name,bytes32 content)";

/// `typeHash = keccak256(encodeType(T))`.
pub fn type_hash(encoded_type: &str) -> [u8; 32] {
    keccak256(encoded_type.as_bytes())
}

/// `hashStruct(s) = keccak256(typeHash ‖ encodeData(s))`, where `fields` are the members'
/// 32-byte encodings in declaration order.
pub fn hash_struct(type_hash: &[u8; 32], fields: &[[u8; 32]]) -> [u8; 32] {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + fields.len());
    parts.push(type_hash);
    parts.extend(fields.iter().map(|f| &f[..]));
    keccak256_parts(&parts)
}

/// `string` and `bytes` members are encoded as the Keccak-256 of their contents.
pub(super) fn encode_string(text: &str) -> [u8; 32] {
    keccak256(text.as_bytes())
}

/// `address` members are encoded as a uint160, left-padded to 32 bytes.
pub(super) fn encode_address(address: &Address) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(&address.0);
    word
}

/// The digest a wallet signs: `keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message))`.
pub(super) fn signing_hash(domain_separator: &[u8; 32], struct_hash: &[u8; 32]) -> [u8; 32] {
    keccak256_parts(&[&[0x19, 0x01], domain_separator, struct_hash])
}

/// Seedcast's domain separator (`name` "Seedcast", `version` "1", no chain id).
pub fn domain_separator() -> [u8; 32] {
    hash_struct(
        &type_hash(DOMAIN_TYPE),
        &[encode_string(DOMAIN_NAME), encode_string(DOMAIN_VERSION)],
    )
}

/// The EIP-712 digest of `CreatorRecord(creator, name, content)`.
pub fn creator_signing_hash(creator: &Address, name: &str, content: &[u8; 32]) -> [u8; 32] {
    let record = hash_struct(
        &type_hash(RECORD_TYPE),
        &[encode_address(creator), encode_string(name), *content],
    );
    signing_hash(&domain_separator(), &record)
}

#[cfg(test)]
mod tests {
    use super::super::{CreatorKey, Signature, recover};
    use super::*;

    fn hex32(text: &str) -> [u8; 32] {
        super::super::hex::decode_0x::<32>(text).unwrap()
    }

    fn uint(value: u64) -> [u8; 32] {
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&value.to_be_bytes());
        word
    }

    /// The "Mail" example of EIP-712 (its Example.js and the values the EIP prints):
    /// domain separator, hashStruct(message), the digest, and Cow's signature, which is
    /// RFC 6979 deterministic and therefore reproducible byte for byte.
    #[test]
    fn eip712_mail_example() {
        let person = "Person(string name,address wallet)";
        let mail = "Mail(Person from,Person to,string contents)Person(string name,address wallet)";
        let domain_type =
            "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
        let address = |text| Address::parse(text).unwrap();
        let domain = hash_struct(
            &type_hash(domain_type),
            &[
                encode_string("Ether Mail"),
                encode_string("1"),
                uint(1),
                encode_address(&address("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC")),
            ],
        );
        assert_eq!(
            domain,
            hex32("0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f")
        );
        let cow = hash_struct(
            &type_hash(person),
            &[
                encode_string("Cow"),
                encode_address(&address("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")),
            ],
        );
        let bob = hash_struct(
            &type_hash(person),
            &[
                encode_string("Bob"),
                encode_address(&address("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB")),
            ],
        );
        let message = hash_struct(&type_hash(mail), &[cow, bob, encode_string("Hello, Bob!")]);
        assert_eq!(
            message,
            hex32("0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e")
        );
        let digest = signing_hash(&domain, &message);
        assert_eq!(
            digest,
            hex32("0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
        );

        let cow_key = CreatorKey::from_bytes(&keccak256(b"cow")).unwrap();
        assert_eq!(
            cow_key.address(),
            address("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")
        );
        let signature = cow_key.sign_prehash(&digest);
        let mut expected = [0u8; 65];
        expected[..32].copy_from_slice(&hex32(
            "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d",
        ));
        expected[32..64].copy_from_slice(&hex32(
            "0x07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562",
        ));
        expected[64] = 28;
        assert_eq!(signature, Signature(expected));
        assert_eq!(recover(&digest, &signature), Ok(cow_key.address()));
    }
}
