//! Creator channels in the page: reading a channel from a server and trusting only what its
//! creator signed (verified here, in wasm, whatever the server says), and publishing a work
//! to the creator's channel with a wallet signature. The rules are `crate::channel`'s.

use js_sys::Object;
use wasm_bindgen::JsValue;

use super::http::fetch_text;
use super::js_glue::{get, set};
use super::tip;
use crate::channel::{Channel, MAX_MANIFEST_BYTES, SignedChannel, Work};
use crate::creator::Address;
use crate::tip::{TipError, TipErrorCode};

/// The server a page's channels live on: `server` if given (an http(s) origin), else the
/// page's own origin.
pub fn server_origin(server: Option<String>) -> Result<String, String> {
    let origin = match server {
        Some(s) => s,
        None => get(&get(&js_sys::global(), "location"), "origin")
            .as_string()
            .ok_or("this page has no origin to find channels on; pass `server`")?,
    };
    let origin = origin.trim().trim_end_matches('/').to_owned();
    let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
        && origin.len() <= 512
        && origin.bytes().all(|b| b.is_ascii_graphic())
        && !origin.get(8..).unwrap_or("").contains(['/', '?', '#']);
    if !ok {
        return Err(format!(
            "`{}` is not an http(s) origin",
            crate::tip::error::one_line(&origin, 80)
        ));
    }
    Ok(origin)
}

fn api_url(origin: &str, address: &Address) -> String {
    format!("{origin}/api/channels/{}", address.to_checksum())
}

/// The channel of `address` on `origin`: `None` when there is none; otherwise parsed and
/// verified (or why not).
pub async fn load(
    origin: &str,
    address: &Address,
) -> Result<Option<Result<SignedChannel, String>>, String> {
    let (status, text) = fetch_text("GET", &api_url(origin, address), None, MAX_MANIFEST_BYTES)
        .await
        .map_err(|e| format!("the channel server could not be reached ({e})"))?;
    match status {
        404 => Ok(None),
        200 => Ok(Some(check(&text, address))),
        other => Err(format!("the channel server answered HTTP {other}")),
    }
}

/// Parses and verifies a manifest served for `address`.
fn check(text: &str, address: &Address) -> Result<SignedChannel, String> {
    let signed = SignedChannel::parse_json(text).map_err(|e| e.to_string())?;
    if signed.channel.address != *address {
        return Err(format!(
            "the server answered the channel of {}, not of {address}",
            signed.channel.address
        ));
    }
    signed.verify().map_err(|e| e.to_string())?;
    Ok(signed)
}

/// What the page sees: `{address, verified, reason?, name?, sequence?, works}`; nothing but the
/// address and the reason from a channel that does not verify.
pub fn view(address: &Address, checked: &Result<SignedChannel, String>) -> JsValue {
    let out = Object::new();
    set(&out, "address", address.to_checksum());
    let works = js_sys::Array::new();
    match checked {
        Ok(signed) => {
            let channel = &signed.channel;
            set(&out, "verified", true);
            set(&out, "name", channel.name.as_str());
            set(&out, "sequence", channel.sequence as f64);
            for work in &channel.works {
                let w = Object::new();
                let hex: String = work.info_hash.iter().map(|b| format!("{b:02x}")).collect();
                set(&w, "infoHash", hex);
                set(&w, "magnet", work.magnet.as_str());
                set(&w, "title", work.title.as_str());
                set(
                    &w,
                    "poster",
                    work.poster.clone().map_or(JsValue::NULL, JsValue::from),
                );
                set(&w, "published", work.published as f64);
                works.push(&w);
            }
        }
        Err(reason) => {
            set(&out, "verified", false);
            set(&out, "reason", reason.as_str());
        }
    }
    set(&out, "works", works);
    out.into()
}

/// Most works remembered from verified channels (a creator page loads one channel; 200 works).
pub const MAX_REMEMBERED_WORKS: usize = 10_000;

/// Notes which creator's verified channel lists each of its works; a work two channels list
/// is remembered as ambiguous (nobody can be tipped for it through a channel).
pub fn remember_works(
    known: &mut std::collections::BTreeMap<[u8; 20], Option<Address>>,
    signed: &SignedChannel,
) {
    let owner = signed.channel.address;
    for work in &signed.channel.works {
        match known.get(&work.info_hash) {
            Some(Some(other)) if *other != owner => {
                known.insert(work.info_hash, None);
            }
            Some(_) => {}
            None if known.len() < MAX_REMEMBERED_WORKS => {
                known.insert(work.info_hash, Some(owner));
            }
            None => {}
        }
    }
}

/// A work to publish, gathered from a torrent with its metadata.
pub struct Publish {
    pub work: Work,
    pub name: Option<String>,
    /// The torrent's own creator record, if any: must be the wallet's address.
    pub record: Option<super::creator::CreatorView>,
}

/// Adds the work to the wallet account's channel on `origin`, signs the new sequence with the
/// wallet and uploads it. Resolves with `(sequence, page URL)`.
pub async fn publish(
    origin: &str,
    provider: &JsValue,
    publish: Publish,
) -> Result<(u64, String), TipError> {
    let failed = |message: String| TipError {
        code: TipErrorCode::Failed,
        message,
    };
    let address = tip::account(provider).await?;
    if let Some(record) = &publish.record {
        if record.tip_address() != Some(address) {
            return Err(failed(format!(
                "this torrent's creator record is not {address}'s: only its creator can publish it"
            )));
        }
    }
    let mut channel = match load(origin, &address).await.map_err(failed)? {
        None => Channel::empty(address, publish.name.as_deref().unwrap_or("")),
        Some(Ok(signed)) => signed.channel,
        // A broken channel on the server is replaced by a good one from the creator.
        Some(Err(_)) => Channel::empty(address, ""),
    };
    if let Some(name) = publish.name {
        channel.name = name;
    }
    channel.upsert_work(publish.work);
    channel.sequence += 1;
    channel.validate().map_err(|e| failed(e.to_string()))?;
    let signature = tip::sign_typed_data(provider, &address, &channel.typed_data_json()).await?;
    let signed = channel
        .with_signature(signature)
        .map_err(|e| failed(format!("the wallet's signature does not verify ({e})")))?;
    let sequence = signed.channel.sequence;
    let (status, text) = fetch_text(
        "PUT",
        &api_url(origin, &address),
        Some(&signed.to_json()),
        64 * 1024,
    )
    .await
    .map_err(|e| failed(format!("the channel server could not be reached ({e})")))?;
    if !(200..300).contains(&status) {
        let reason = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("error")?
                    .as_str()
                    .map(|s| crate::tip::error::one_line(s, 200))
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(failed(format!(
            "the channel server refused the update: {reason}"
        )));
    }
    Ok((sequence, format!("{origin}/@{}", address.to_checksum())))
}
