//! The manifest's JSON: strict, bounded parsing and deterministic writing.

use serde::Deserialize;

use super::{Channel, ChannelError, MAX_MANIFEST_BYTES, SignedChannel, Work};
use crate::creator::hex::encode_0x;
use crate::creator::{Address, Signature};

/// The manifest as sent; `deny_unknown_fields` refuses unknown keys, and serde refuses a key
/// given twice, so one manifest has one reading.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    address: String,
    name: String,
    sequence: u64,
    works: Vec<RawWork>,
    /// Optional here only so an unsigned manifest can be read for signing.
    signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawWork {
    info_hash: String,
    magnet: String,
    title: String,
    /// `null` or absent: no poster.
    #[serde(default)]
    poster: Option<String>,
    published: u64,
}

/// Reads a manifest within [`MAX_MANIFEST_BYTES`] (checked before parsing) and validates it.
fn parse(text: &str) -> Result<(Channel, Option<String>), ChannelError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ChannelError::TooLarge { bytes: text.len() });
    }
    let raw: RawManifest =
        serde_json::from_str(text).map_err(|e| ChannelError::Invalid(e.to_string()))?;
    let address = Address::parse(&raw.address).map_err(|e| ChannelError::invalid("address", e))?;
    let works = raw
        .works
        .into_iter()
        .enumerate()
        .map(|(index, work)| {
            let info_hash = parse_info_hash(&work.info_hash).ok_or_else(|| {
                ChannelError::invalid(
                    format_args!("works[{index}].infoHash"),
                    "expected 40 lower-case hex digits",
                )
            })?;
            Ok(Work {
                info_hash,
                magnet: work.magnet,
                title: work.title,
                poster: work.poster,
                published: work.published,
            })
        })
        .collect::<Result<Vec<_>, ChannelError>>()?;
    let channel = Channel {
        address,
        name: raw.name,
        sequence: raw.sequence,
        works,
    };
    channel.validate()?;
    Ok((channel, raw.signature))
}

/// Exactly 40 lower-case hex digits: one spelling per info hash, as the manifest writes it.
fn parse_info_hash(text: &str) -> Option<[u8; 20]> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    crate::creator::hex::decode_0x::<20>(&format!("0x{text}"))
}

impl Channel {
    /// An unsigned manifest (for signing it): as [`SignedChannel::parse_json`], but
    /// `signature` may be absent, and is ignored when present.
    pub fn parse_json(text: &str) -> Result<Channel, ChannelError> {
        parse(text).map(|(channel, _)| channel)
    }

    /// The manifest without `signature`: what a creator edits before signing.
    pub fn to_json(&self) -> String {
        manifest_json(self, None)
    }
}

impl SignedChannel {
    /// Reads a signed manifest: at most [`MAX_MANIFEST_BYTES`], strict (no unknown or
    /// duplicate keys, every bound of [`Channel::validate`]). Does NOT verify the signature:
    /// call [`SignedChannel::verify`].
    pub fn parse_json(text: &str) -> Result<SignedChannel, ChannelError> {
        let (channel, signature) = parse(text)?;
        let signature =
            signature.ok_or_else(|| ChannelError::Invalid("missing field `signature`".into()))?;
        let signature =
            Signature::parse_hex(&signature).map_err(|e| ChannelError::invalid("signature", e))?;
        Ok(SignedChannel { channel, signature })
    }

    /// The manifest, deterministic: keys in the documented order, no whitespace, the address
    /// EIP-55 checksummed, hex in lower case.
    pub fn to_json(&self) -> String {
        manifest_json(&self.channel, Some(&self.signature))
    }
}

pub(super) fn manifest_json(channel: &Channel, signature: Option<&Signature>) -> String {
    let string = |text: &str| serde_json::Value::from(text).to_string();
    let mut out = String::with_capacity(256);
    out.push_str(&format!(
        r#"{{"address":"{}","name":{},"sequence":{},"works":["#,
        channel.address.to_checksum(),
        string(&channel.name),
        channel.sequence
    ));
    for (index, work) in channel.works.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"infoHash":"{}","magnet":{},"title":{},"poster":{},"published":{}}}"#,
            &encode_0x(&work.info_hash)[2..],
            string(&work.magnet),
            string(&work.title),
            work.poster.as_deref().map_or("null".into(), string),
            work.published
        ));
    }
    out.push(']');
    if let Some(signature) = signature {
        out.push_str(&format!(r#","signature":"{}""#, signature.to_hex()));
    }
    out.push('}');
    out
}
