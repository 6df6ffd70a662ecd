//! Creator records: a verifiable creator identity inside a torrent's `info` dictionary.
//!
//! A creator is an EVM address (secp256k1). A signed torrent carries, inside `info` (so the
//! info hash covers it and magnet-only peers receive it through `ut_metadata`), the key
//! [`INFO_KEY`] = `seedcast creator` holding a dictionary
//!
//! ```text
//! { "address": <20 bytes>, "name": <UTF-8, at most MAX_NAME_BYTES>, "sig": <65 bytes r‖s‖v> }
//! ```
//!
//! The key is namespaced with the program's name so that no other client's key can collide,
//! and uses a space like BEP 3's own `piece length`. BitTorrent clients ignore unknown `info`
//! keys (WebTorrent and libtorrent keep them and hash them), so such torrents swarm as usual.
//!
//! # What is signed (EIP-712, so a wallet shows a readable prompt)
//!
//! ```text
//! EIP712Domain(string name,string version)            name = "Seedcast", version = "1"
//! CreatorRecord(address creator,string name,bytes32 content)
//! ```
//!
//! The domain has no `chainId` (nor `verifyingContract`/`salt`): a record is not tied to a
//! chain — the same address receives tips on any EVM chain — and wallets refuse
//! `eth_signTypedData_v4` when a domain's `chainId` differs from the chain they are on, so a
//! fixed chain id would force a chain switch just to publish. Nothing is executed on a chain
//! from this signature, so there is no cross-chain replay to prevent.
//!
//! `content` is the Keccak-256 of the `info` dictionary's bytes exactly as they appear in the
//! torrent, with the `seedcast creator` entry (its key string and its value) cut out. For a
//! canonically encoded `info` (keys sorted, as BEP 3 requires and every creator writes) that
//! is simply `keccak256(bencode(info without "seedcast creator"))`, which any bencode library
//! recomputes. It commits to everything in `info`: the name, every file path and length, all
//! piece hashes, the piece length and any other key. See [`content_digest`].
//!
//! The signature is the usual Ethereum one over
//! `keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(record))`: 65 bytes r ‖ s ‖ v with
//! v ∈ {27, 28} (0 and 1 accepted), s in the lower half of the curve order. Verification
//! recovers the signer and compares it with the record's address ([`CreatorRecord::verify`]).
//! Smart-contract wallets (ERC-1271) cannot be verified this way: their records show as
//! unverified.
//!
//! A record that is malformed or does not verify never stops a torrent from loading: the
//! torrent reports it as unverified ([`CreatorStatus::Unverified`]).

mod address;
mod content;
mod eip712;
mod error;
pub(crate) mod hex;
mod keccak;
mod key;
mod record;
mod signature;
mod typed_data;

pub use address::Address;
pub use content::content_digest;
pub use eip712::{creator_signing_hash, domain_separator, hash_struct, type_hash};
pub use error::CreatorError;
pub use keccak::keccak256;
pub use key::CreatorKey;
pub use record::{CreatorRecord, CreatorStatus};
pub(crate) use record::{check_name, is_hidden_char};
pub use signature::{SIGNATURE_LEN, Signature, recover};
pub use typed_data::typed_data_json;

/// The `info` key holding the record.
pub const INFO_KEY: &str = "seedcast creator";
/// Longest display name, in bytes of UTF-8: enough for any real name or handle, short enough
/// that a hostile torrent cannot flood a player's UI or a wallet prompt.
pub const MAX_NAME_BYTES: usize = 64;
/// EIP-712 domain name and version.
pub const DOMAIN_NAME: &str = "Seedcast";
pub const DOMAIN_VERSION: &str = "1";

#[cfg(test)]
mod tests;
