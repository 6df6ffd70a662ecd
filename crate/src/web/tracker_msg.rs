//! The WebTorrent WebSocket tracker's JSON messages: parsing what the tracker sends (untrusted,
//! bounded) and building what we send.
//!
//! Ids (`info_hash`, `peer_id`, `offer_id`) travel as "binary strings": 20 characters, one
//! code point U+0000–U+00FF per byte. Anything else is rejected, never guessed at.

use js_sys::{Array, JSON, Object};
use wasm_bindgen::JsValue;

use super::js_glue::{get, set};

/// Largest tracker message we parse (UTF-16 units on arrival, UTF-8 bytes once copied);
/// a complete-SDP offer is a few KiB.
pub const MAX_MESSAGE_CHARS: usize = 256 * 1024;
/// Largest SDP we hand to the browser.
pub const MAX_SDP_CHARS: usize = 64 * 1024;
/// Tracker-provided text (failure reasons) is cut to this many characters.
const MAX_REASON_CHARS: usize = 200;

pub type Id = [u8; 20];

/// A message from the tracker that we act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Another peer's offer relayed to us: answer it.
    Offer {
        info_hash: Id,
        peer_id: Id,
        offer_id: Id,
        sdp: String,
    },
    /// The answer to one of our offers.
    Answer {
        info_hash: Id,
        peer_id: Id,
        offer_id: Id,
        sdp: String,
    },
    /// Reply to our announce.
    Announced {
        info_hash: Id,
        interval: Option<u32>,
        seeders: Option<u32>,
        leechers: Option<u32>,
    },
    /// `failure reason` (with the swarm when known).
    Failure {
        info_hash: Option<Id>,
        reason: String,
    },
    /// `warning message`: logged, not fatal.
    Warning {
        info_hash: Option<Id>,
        message: String,
    },
}

/// Why a tracker message was ignored (one line, for the console).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("tracker message of {0} characters is over the limit")]
    TooLong(usize),
    #[error("tracker message is not a JSON object")]
    NotJson,
    #[error("tracker message has an invalid `{0}`")]
    BadField(&'static str),
    #[error("tracker message of an unknown kind")]
    Unknown,
}

pub fn to_binary_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Exactly 20 characters, each U+0000–U+00FF.
pub fn from_binary_string(text: &str) -> Option<Id> {
    let mut id = [0u8; 20];
    let mut chars = text.chars();
    for byte in &mut id {
        *byte = u8::try_from(u32::from(chars.next()?)).ok()?;
    }
    chars.next().is_none().then_some(id)
}

pub fn parse(text: &str) -> Result<Incoming, MessageError> {
    if text.len() > MAX_MESSAGE_CHARS {
        return Err(MessageError::TooLong(text.len()));
    }
    let value = JSON::parse(text).map_err(|_| MessageError::NotJson)?;
    if !value.is_object() || Array::is_array(&value) {
        return Err(MessageError::NotJson);
    }
    let info_hash = optional_id(&value, "info_hash")?;
    if let Some(reason) = get(&value, "failure reason").as_string() {
        return Ok(Incoming::Failure {
            info_hash,
            reason: clip(&reason),
        });
    }
    if let Some(message) = get(&value, "warning message").as_string() {
        return Ok(Incoming::Warning {
            info_hash,
            message: clip(&message),
        });
    }
    if get(&value, "action").as_string().as_deref() != Some("announce") {
        return Err(MessageError::Unknown);
    }
    let info_hash = info_hash.ok_or(MessageError::BadField("info_hash"))?;
    if let Some(sdp) = description(&value, "offer")? {
        let (peer_id, offer_id) = (
            required_id(&value, "peer_id")?,
            required_id(&value, "offer_id")?,
        );
        return Ok(Incoming::Offer {
            info_hash,
            peer_id,
            offer_id,
            sdp,
        });
    }
    if let Some(sdp) = description(&value, "answer")? {
        let (peer_id, offer_id) = (
            required_id(&value, "peer_id")?,
            required_id(&value, "offer_id")?,
        );
        return Ok(Incoming::Answer {
            info_hash,
            peer_id,
            offer_id,
            sdp,
        });
    }
    Ok(Incoming::Announced {
        info_hash,
        interval: count(&value, "interval"),
        seeders: count(&value, "complete"),
        leechers: count(&value, "incomplete"),
    })
}

fn optional_id(value: &JsValue, key: &'static str) -> Result<Option<Id>, MessageError> {
    let field = get(value, key);
    if field.is_undefined() {
        return Ok(None);
    }
    let text = field.as_string().ok_or(MessageError::BadField(key))?;
    from_binary_string(&text)
        .map(Some)
        .ok_or(MessageError::BadField(key))
}

fn required_id(value: &JsValue, key: &'static str) -> Result<Id, MessageError> {
    optional_id(value, key)?.ok_or(MessageError::BadField(key))
}

/// `{type: kind, sdp}` under `key`, if present; the type must match the key.
fn description(value: &JsValue, key: &'static str) -> Result<Option<String>, MessageError> {
    let desc = get(value, key);
    if desc.is_undefined() || desc.is_null() {
        return Ok(None);
    }
    let kind = get(&desc, "type").as_string();
    let sdp = get(&desc, "sdp").as_string();
    match (kind, sdp) {
        (Some(kind), Some(sdp)) if kind == key && !sdp.is_empty() && sdp.len() <= MAX_SDP_CHARS => {
            Ok(Some(sdp))
        }
        _ => Err(MessageError::BadField(key)),
    }
}

/// A non-negative integer field that fits u32, else `None`.
fn count(value: &JsValue, key: &str) -> Option<u32> {
    let n = get(value, key).as_f64()?;
    (n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n)).then_some(n as u32)
}

fn clip(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect()
}

/// The announce lifecycle event (`None` = a regular update).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceEvent {
    Started,
    Completed,
    Stopped,
}

#[derive(Debug, Clone)]
pub struct Announce<'a> {
    pub info_hash: &'a Id,
    pub peer_id: &'a Id,
    pub event: Option<AnnounceEvent>,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: Option<u64>,
    /// `(offer_id, sdp)`; empty for `stopped` and `completed`.
    pub offers: Vec<(Id, String)>,
}

impl Announce<'_> {
    pub fn to_json(&self) -> String {
        let msg = Object::new();
        set(&msg, "action", "announce");
        set(&msg, "info_hash", to_binary_string(self.info_hash));
        set(&msg, "peer_id", to_binary_string(self.peer_id));
        set(&msg, "numwant", self.offers.len() as u32);
        set(&msg, "uploaded", self.uploaded as f64);
        set(&msg, "downloaded", self.downloaded as f64);
        // WebTorrent sends a huge `left` when it does not know the size yet (magnet start).
        set(
            &msg,
            "left",
            self.left.map_or(f64::from(u32::MAX), |l| l as f64),
        );
        if let Some(event) = self.event {
            let name = match event {
                AnnounceEvent::Started => "started",
                AnnounceEvent::Completed => "completed",
                AnnounceEvent::Stopped => "stopped",
            };
            set(&msg, "event", name);
        }
        let offers = Array::new();
        for (offer_id, sdp) in &self.offers {
            let desc = Object::new();
            set(&desc, "type", "offer");
            set(&desc, "sdp", sdp.as_str());
            let entry = Object::new();
            set(&entry, "offer", desc);
            set(&entry, "offer_id", to_binary_string(offer_id));
            offers.push(&entry);
        }
        set(&msg, "offers", offers);
        stringify(&msg)
    }
}

/// Our answer to `to_peer_id`'s offer `offer_id`.
pub fn answer_json(
    info_hash: &Id,
    peer_id: &Id,
    to_peer_id: &Id,
    offer_id: &Id,
    sdp: &str,
) -> String {
    let desc = Object::new();
    set(&desc, "type", "answer");
    set(&desc, "sdp", sdp);
    let msg = Object::new();
    set(&msg, "action", "announce");
    set(&msg, "info_hash", to_binary_string(info_hash));
    set(&msg, "peer_id", to_binary_string(peer_id));
    set(&msg, "to_peer_id", to_binary_string(to_peer_id));
    set(&msg, "offer_id", to_binary_string(offer_id));
    set(&msg, "answer", desc);
    stringify(&msg)
}

fn stringify(msg: &Object) -> String {
    // Plain objects of strings and numbers always stringify.
    JSON::stringify(msg).map(String::from).unwrap_or_default()
}
