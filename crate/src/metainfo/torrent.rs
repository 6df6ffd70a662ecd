use std::collections::BTreeMap;

use super::error::MetainfoError;
use super::info::{Info, utf8_preferred};
use super::info_hash::InfoHash;
use super::{MAX_TORRENT_BYTES, MAX_URL_BYTES, MAX_URLS};
use crate::bencode::{self, OwnedValue, Value};
use crate::magnet::Magnet;

/// Top-level keys this type understands; every other key is kept in `extra_fields`.
const KNOWN_KEYS: [&[u8]; 8] = [
    b"announce",
    b"announce-list",
    b"comment",
    b"comment.utf-8",
    b"created by",
    b"creation date",
    b"info",
    b"url-list",
];

/// A parsed `.torrent` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    pub info: Info,
    /// SHA-1 of `info_bytes`.
    pub info_hash: InfoHash,
    /// The `info` dictionary exactly as it appeared in the file (unknown keys and order kept).
    pub info_bytes: Vec<u8>,
    /// Tracker tiers (BEP 12): `announce-list` when it has any usable URL, else `[[announce]]`.
    /// Deduplicated; empty tiers removed; at most `MAX_URLS` URLs.
    pub trackers: Vec<Vec<String>>,
    /// BEP 19 `url-list` (a string or a list in the file).
    pub web_seeds: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    pub creation_date: Option<i64>,
    /// Top-level keys not listed above (e.g. `nodes`, `piece layers`), kept for [`Metainfo::to_bytes`].
    pub extra_fields: BTreeMap<Vec<u8>, OwnedValue>,
}

impl Metainfo {
    /// Parses and validates a `.torrent` file. Optional fields of the wrong type are ignored
    /// (real torrents are sloppy there); anything the download depends on is an error.
    /// Whitespace after the root dictionary (a text editor's final newline) is ignored, as
    /// libtorrent ignores it; anything else after it is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        if bytes.len() > MAX_TORRENT_BYTES {
            return Err(MetainfoError::TooLarge {
                size: bytes.len(),
                max: MAX_TORRENT_BYTES,
            });
        }
        let root = bencode::decode(bytes.trim_ascii_end())?;
        let dict = root
            .as_dict()
            .ok_or(MetainfoError::NotADictionary("the torrent"))?;
        let info_value = dict.get("info").ok_or(MetainfoError::MissingInfo)?;
        let info = Info::from_value(info_value)?;
        let info_bytes = info_value.raw().to_vec();

        let extra_fields = dict
            .iter()
            .filter(|(key, _)| !KNOWN_KEYS.contains(key))
            .map(|(key, value)| (key.to_vec(), value.to_owned_value()))
            .collect();
        Ok(Metainfo {
            info,
            info_hash: InfoHash::of_info_bytes(&info_bytes),
            info_bytes,
            trackers: parse_trackers(&root),
            web_seeds: parse_web_seeds(&root),
            comment: utf8_preferred(&root, "comment.utf-8", "comment").map(lossy),
            created_by: root.get("created by").and_then(Value::as_bytes).map(lossy),
            creation_date: root.get("creation date").and_then(Value::as_int),
            extra_fields,
        })
    }

    /// Re-encodes the torrent canonically. The `info` bytes are written verbatim, so the info
    /// hash is unchanged; unknown top-level keys are kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut root = self.extra_fields.clone();
        let mut put = |key: &str, value: OwnedValue| root.insert(key.as_bytes().to_vec(), value);
        if let Some(first) = self.trackers.iter().flatten().next() {
            put("announce", OwnedValue::bytes(first.as_str()));
            let tiers = self.trackers.iter().map(OwnedValue::string_list).collect();
            put("announce-list", OwnedValue::List(tiers));
        }
        if let Some(comment) = &self.comment {
            put("comment", OwnedValue::bytes(comment.as_str()));
        }
        if let Some(created_by) = &self.created_by {
            put("created by", OwnedValue::bytes(created_by.as_str()));
        }
        if let Some(date) = self.creation_date {
            put("creation date", OwnedValue::Int(date));
        }
        put("info", OwnedValue::Raw(self.info_bytes.clone()));
        if !self.web_seeds.is_empty() {
            put("url-list", OwnedValue::string_list(&self.web_seeds));
        }
        OwnedValue::Dict(root).encode()
    }

    /// A magnet link for this torrent: info hash, name, all trackers, web seeds.
    pub fn magnet(&self) -> Magnet {
        Magnet {
            info_hash: self.info_hash,
            name: Some(self.info.name.clone()),
            trackers: self.trackers.iter().flatten().cloned().collect(),
            web_seeds: self.web_seeds.clone(),
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A usable URL: UTF-8, non-empty after trimming, not absurdly long.
fn url(value: &Value<'_>) -> Option<String> {
    let text = value.as_str()?.trim();
    (!text.is_empty() && text.len() <= MAX_URL_BYTES).then(|| text.to_owned())
}

fn parse_trackers(root: &Value<'_>) -> Vec<Vec<String>> {
    let mut kept = 0;
    let mut tiers: Vec<Vec<String>> = Vec::new();
    let announce_list = root
        .get("announce-list")
        .and_then(Value::as_list)
        .unwrap_or_default();
    for tier in announce_list.iter().filter_map(Value::as_list) {
        let mut urls = Vec::new();
        // Stops at the cap, so a hostile list of millions costs at most MAX_URLS² comparisons.
        for tracker in tier.iter().filter_map(url) {
            if kept == MAX_URLS {
                break;
            }
            let duplicate =
                urls.contains(&tracker) || tiers.iter().flatten().any(|t| *t == tracker);
            if !duplicate {
                kept += 1;
                urls.push(tracker);
            }
        }
        if !urls.is_empty() {
            tiers.push(urls);
        }
    }
    if tiers.is_empty() {
        if let Some(announce) = root.get("announce").and_then(url) {
            tiers.push(vec![announce]);
        }
    }
    tiers
}

fn parse_web_seeds(root: &Value<'_>) -> Vec<String> {
    let Some(value) = root.get("url-list") else {
        return Vec::new();
    };
    let candidates = value.as_list().unwrap_or(core::slice::from_ref(value));
    let mut seeds: Vec<String> = Vec::new();
    for seed in candidates.iter().filter_map(url) {
        if seeds.len() == MAX_URLS {
            break;
        }
        if !seeds.contains(&seed) {
            seeds.push(seed);
        }
    }
    seeds
}
