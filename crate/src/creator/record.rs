use std::collections::BTreeMap;

use super::address::Address;
use super::content::content_digest;
use super::eip712::creator_signing_hash;
use super::error::CreatorError;
use super::key::CreatorKey;
use super::signature::{Signature, recover};
use super::typed_data::typed_data_json;
use super::{INFO_KEY, MAX_NAME_BYTES};
use crate::bencode::{OwnedValue, Value};

/// A creator record as found in (or made for) a torrent: the signed message
/// `CreatorRecord(creator, name, content)` and its signature. `content` is not stored in the
/// torrent; it is computed from the `info` dictionary the record sits in ([`content_digest`]).
///
/// Invariant: `name` passed [`check_name`]. A record may still not verify: call
/// [`CreatorRecord::verify`] or [`CreatorRecord::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatorRecord {
    pub address: Address,
    pub name: String,
    pub content: [u8; 32],
    pub signature: Signature,
}

/// Whether a torrent's creator record can be trusted (and tipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatorStatus {
    /// The record's address signed this exact content and name.
    Verified { address: Address, name: String },
    /// Malformed, or not signed by its address over this content: show a warning, never tip.
    Unverified { reason: CreatorError },
}

impl CreatorRecord {
    /// Signs `content` as `key`'s address under `name`.
    pub fn sign(key: &CreatorKey, name: &str, content: [u8; 32]) -> Result<Self, CreatorError> {
        check_name(name.as_bytes())?;
        let address = key.address();
        let signature = key.sign_prehash(&creator_signing_hash(&address, name, &content));
        Ok(CreatorRecord {
            address,
            name: name.to_owned(),
            content,
            signature,
        })
    }

    /// A record from a signature made elsewhere (a browser wallet), checked: it must verify.
    pub fn from_signature(
        address: Address,
        name: &str,
        content: [u8; 32],
        signature: Signature,
    ) -> Result<Self, CreatorError> {
        check_name(name.as_bytes())?;
        let record = CreatorRecord {
            address,
            name: name.to_owned(),
            content,
            signature,
        };
        record.verify()?;
        Ok(record)
    }

    /// The record in an `info` dictionary: `None` without the key, else the parsed record or
    /// why it is malformed. Strict: exactly the keys `address`, `name`, `sig`, each a byte
    /// string of the right length (name: UTF-8, displayable, at most [`MAX_NAME_BYTES`]).
    pub fn from_info(info: &Value<'_>) -> Option<Result<CreatorRecord, CreatorError>> {
        let value = info.get(INFO_KEY)?;
        Some(Self::parse(info, value))
    }

    fn parse(info: &Value<'_>, value: &Value<'_>) -> Result<CreatorRecord, CreatorError> {
        let dict = value.as_dict().ok_or(CreatorError::NotADictionary)?;
        if dict
            .iter()
            .any(|(key, _)| !matches!(key, b"address" | b"name" | b"sig"))
        {
            return Err(CreatorError::UnknownKey);
        }
        let field = |name: &'static str| {
            dict.get(name)
                .ok_or(CreatorError::MissingField(name))?
                .as_bytes()
                .ok_or(CreatorError::WrongType(name))
        };
        let address_bytes = field("address")?;
        let address = Address(
            address_bytes
                .try_into()
                .map_err(|_| CreatorError::AddressLength(address_bytes.len()))?,
        );
        let name = check_name(field("name")?)?;
        let signature = Signature::from_slice(field("sig")?)?;
        // Cannot fail: `info` is a dictionary (it holds the key).
        let content = content_digest(info).ok_or(CreatorError::NotADictionary)?;
        Ok(CreatorRecord {
            address,
            name: name.to_owned(),
            content,
            signature,
        })
    }

    /// The bencoded record to insert into `info` under [`INFO_KEY`].
    pub fn to_bencode(&self) -> OwnedValue {
        OwnedValue::Dict(BTreeMap::from([
            (b"address".to_vec(), OwnedValue::bytes(self.address.0)),
            (b"name".to_vec(), OwnedValue::bytes(self.name.as_str())),
            (b"sig".to_vec(), OwnedValue::bytes(self.signature.0)),
        ]))
    }

    /// The EIP-712 digest the signature is over.
    pub fn signing_hash(&self) -> [u8; 32] {
        creator_signing_hash(&self.address, &self.name, &self.content)
    }

    /// `Ok` when the record's address signed this content and name.
    pub fn verify(&self) -> Result<(), CreatorError> {
        let signer = recover(&self.signing_hash(), &self.signature)?;
        if signer != self.address {
            return Err(CreatorError::WrongSigner {
                signer,
                claimed: self.address,
            });
        }
        Ok(())
    }

    pub fn status(&self) -> CreatorStatus {
        match self.verify() {
            Ok(()) => CreatorStatus::Verified {
                address: self.address,
                name: self.name.clone(),
            },
            Err(reason) => CreatorStatus::Unverified { reason },
        }
    }

    /// The typed data for `eth_signTypedData_v4`, as a JSON string.
    pub fn typed_data_json(&self) -> String {
        typed_data_json(&self.address, &self.name, &self.content)
    }

    /// The typed data for `eth_signTypedData_v4`, as a JSON value.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn typed_data(&self) -> serde_json::Value {
        // Cannot fail: typed_data_json escapes every string it writes (tested).
        serde_json::from_str(&self.typed_data_json()).unwrap_or(serde_json::Value::Null)
    }
}

/// A display name: UTF-8, at most [`MAX_NAME_BYTES`], no control characters and no
/// bidirectional overrides (which could make a name render as something else). May be empty.
pub(crate) fn check_name(bytes: &[u8]) -> Result<&str, CreatorError> {
    if bytes.len() > MAX_NAME_BYTES {
        return Err(CreatorError::NameTooLong(bytes.len()));
    }
    let name = core::str::from_utf8(bytes).map_err(|_| CreatorError::NameNotUtf8)?;
    if name.chars().any(is_hidden_char) {
        return Err(CreatorError::NameNotDisplayable);
    }
    Ok(name)
}

/// A control character or a bidirectional mark/override: text containing one may render as
/// something other than what it is, so names and titles refuse them.
pub(crate) fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
