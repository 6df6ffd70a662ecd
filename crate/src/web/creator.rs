//! `torrent.creator`: what a page may show of a torrent's creator record, verified once.

use js_sys::Object;
use wasm_bindgen::JsValue;

use super::js_glue::set;
use crate::creator::Address;
use crate::metainfo::Info;

/// A creator record as the page sees it. `address`/`name` are `None` only for a record too
/// malformed to read; `verified` is true only when the address signed this exact content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatorView {
    pub address: Option<Address>,
    pub name: Option<String>,
    pub verified: bool,
    /// Why it is unverified (one line), for the warning a player shows.
    pub reason: Option<String>,
}

impl CreatorView {
    /// The record of `info`, verified (a secp256k1 recovery: callers cache the answer).
    pub fn of(info: &Info) -> Option<CreatorView> {
        Some(match info.creator.as_ref()? {
            Ok(record) => {
                let check = record.verify();
                CreatorView {
                    address: Some(record.address),
                    name: Some(record.name.clone()),
                    verified: check.is_ok(),
                    reason: check.err().map(|e| e.to_string()),
                }
            }
            Err(e) => CreatorView {
                address: None,
                name: None,
                verified: false,
                reason: Some(e.to_string()),
            },
        })
    }

    /// `{address, name, verified, reason?}` (address EIP-55; null fields for a malformed record).
    pub fn to_js(&self) -> JsValue {
        let out = Object::new();
        set(
            &out,
            "address",
            self.address
                .map_or(JsValue::NULL, |a| JsValue::from(a.to_checksum())),
        );
        set(
            &out,
            "name",
            self.name.clone().map_or(JsValue::NULL, JsValue::from),
        );
        set(&out, "verified", self.verified);
        if let Some(reason) = &self.reason {
            set(&out, "reason", reason.as_str());
        }
        out.into()
    }

    /// The address tips may go to: only a verified record has one.
    pub fn tip_address(&self) -> Option<Address> {
        self.verified.then_some(self.address).flatten()
    }
}
