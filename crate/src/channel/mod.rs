//! Channels: a creator's signed list of works, the document behind a creator page.
//!
//! A channel is the creator's display name, a sequence number (the newest valid one replaces
//! the old) and up to [`MAX_WORKS`] works — info hash, magnet link, title, an optional small
//! poster and a publish date — signed by the creator's address with EIP-712, through the same
//! paths as creator records (a browser wallet or a CLI key file; see [`crate::creator`]).
//!
//! # The manifest (what is stored and served)
//!
//! ```json
//! { "address": "0x…EIP-55", "name": "Ada Lovelace", "sequence": 3,
//!   "works": [ { "infoHash": "<40 lower-case hex>", "magnet": "magnet:?xt=urn:btih:…",
//!                "title": "…", "poster": "data:image/jpeg;base64,…" | null,
//!                "published": 1764700000 } ],
//!   "signature": "0x<130 hex>" }
//! ```
//!
//! [`SignedChannel::to_json`] writes exactly this (keys in this order, no spaces);
//! [`SignedChannel::parse_json`] refuses unknown or duplicate keys and anything out of bounds.
//!
//! # What is signed
//!
//! ```text
//! EIP712Domain(string name,string version)     name = "Seedcast", version = "1" (no chainId)
//! Channel(address creator,string name,uint64 sequence,Work[] works)Work(bytes20 infoHash,string magnet,string title,bytes32 poster,uint64 published)
//! ```
//!
//! `poster` is signed as the Keccak-256 of the poster string (the whole data URI), or 32 zero
//! bytes without one, so a wallet shows a hash rather than 30 KB of base64. `works` is encoded
//! as EIP-712 arrays are: the Keccak-256 of the concatenated `hashStruct` of each work.
//! [`Channel::typed_data_json`] is exactly what `eth_signTypedData_v4` takes.
//!
//! A work whose torrent carries a creator record must name the channel's address
//! ([`check_work_creator`]); that needs the torrent's metadata, so it is checked by whoever
//! has it (the CLI when adding, the page once metadata arrives), not by [`Channel::validate`].

mod eip712;
mod error;
mod json;
mod poster;
mod validate;
mod work;
mod work_creator;

pub use eip712::{CHANNEL_TYPE, WORK_TYPE, poster_hash};
pub use error::ChannelError;
pub use poster::{POSTER_TYPES, poster_data_uri};
pub use work::{title_from_name, work_magnet};
pub use work_creator::check_work_creator;

use crate::creator::{Address, Signature};

/// Largest manifest accepted, in bytes of JSON, checked before parsing: room for
/// [`MAX_WORKS`] works with typical posters (a few KiB each) while keeping one upload, one
/// database row and one page load small.
pub const MAX_MANIFEST_BYTES: usize = 2 * 1024 * 1024;
/// Most works in one channel: a page shows them all at once, and a wallet hashes them all.
pub const MAX_WORKS: usize = 200;
/// Longest display name: the same bound (and character rule) as creator records.
pub const MAX_NAME_BYTES: usize = crate::creator::MAX_NAME_BYTES;
/// Longest work title, in bytes of UTF-8: a long film title fits; a page cannot be flooded.
pub const MAX_TITLE_BYTES: usize = 200;
/// Longest magnet link in a work: an info hash, a name and a handful of trackers fit easily
/// (the general magnet parser allows 64 KiB; a channel carries up to 200 of them).
pub const MAX_WORK_MAGNET_BYTES: usize = 2048;
/// Longest poster data URI (about 24 KiB of image): a thumbnail, not a picture gallery; 200
/// of them still fit a manifest only if most are smaller, which [`MAX_MANIFEST_BYTES`] enforces.
pub const MAX_POSTER_BYTES: usize = 32 * 1024;
/// Largest `sequence` and `published`: 2^53 − 1, the largest integer a JavaScript number
/// holds exactly, so the page and wallets read the same number that was signed.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One work of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    /// The torrent's v1 info hash; the magnet link names the same one.
    pub info_hash: [u8; 20],
    /// `magnet:?xt=urn:btih:…` with the torrent's name and trackers.
    pub magnet: String,
    pub title: String,
    /// A `data:image/(jpeg|png|webp);base64,…` URI, or none.
    pub poster: Option<String>,
    /// Unix seconds.
    pub published: u64,
}

/// A channel's content: everything that is signed. Build one, [`Channel::validate`] it, then
/// sign it ([`Channel::sign`], or a wallet with [`Channel::typed_data_json`] and
/// [`Channel::with_signature`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub address: Address,
    pub name: String,
    pub sequence: u64,
    pub works: Vec<Work>,
}

/// A channel and its creator's signature. From [`SignedChannel::parse_json`] it is within
/// every bound but not yet verified: call [`SignedChannel::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedChannel {
    pub channel: Channel,
    pub signature: Signature,
}

impl Channel {
    /// An empty channel at sequence 0: what a creator without a published channel starts from.
    pub fn empty(address: Address, name: &str) -> Channel {
        Channel {
            address,
            name: name.to_owned(),
            sequence: 0,
            works: Vec::new(),
        }
    }

    /// Adds `work`, replacing (in place) a work with the same info hash.
    pub fn upsert_work(&mut self, work: Work) {
        match self
            .works
            .iter_mut()
            .find(|w| w.info_hash == work.info_hash)
        {
            Some(existing) => *existing = work,
            None => self.works.push(work),
        }
    }

    /// Signs the channel as `key`'s address: the channel's `address` becomes the key's, since
    /// a channel is always its signer's. Call [`Channel::validate`] first: out-of-bounds
    /// content signs fine but no one will accept it.
    pub fn sign(mut self, key: &crate::creator::CreatorKey) -> SignedChannel {
        self.address = key.address();
        let signature = key.sign_prehash(&self.signing_hash());
        SignedChannel {
            channel: self,
            signature,
        }
    }

    /// Attaches a signature made elsewhere (a wallet): it must be within bounds and verify.
    pub fn with_signature(self, signature: Signature) -> Result<SignedChannel, ChannelError> {
        let signed = SignedChannel {
            channel: self,
            signature,
        };
        signed.verify()?;
        Ok(signed)
    }
}

impl SignedChannel {
    /// `Ok` when the channel is within bounds and its address signed exactly this content
    /// (low s; v 27/28 or 0/1, as for creator records).
    pub fn verify(&self) -> Result<(), ChannelError> {
        self.channel.validate()?;
        let signer = crate::creator::recover(&self.channel.signing_hash(), &self.signature)
            .map_err(|e| ChannelError::BadSignature(e.to_string()))?;
        if signer != self.channel.address {
            return Err(ChannelError::BadSignature(format!(
                "signed by {signer}, not by {}",
                self.channel.address
            )));
        }
        Ok(())
    }

    /// The typed data the signature is over (see [`Channel::typed_data_json`]).
    pub fn typed_data_json(&self) -> String {
        self.channel.typed_data_json()
    }
}

#[cfg(test)]
mod tests;
