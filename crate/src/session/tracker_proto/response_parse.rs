//! Reading tracker messages (what a peer receives): replies to our announces, offers and answers relayed
//! from other peers, failures and warnings. The tracker is untrusted: the message is bounded, every field
//! checked, SDP bounded; anything malformed is refused with a one-line error, never guessed at.
//! [`super::response`] is the writing side.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::id::Id20;
use super::json::{self, present};

/// Largest tracker message we parse. A complete-SDP offer is a few KiB; the browser driver checks the
/// same number in UTF-16 units before copying the text into wasm memory.
pub const MAX_MESSAGE_CHARS: usize = 256 * 1024;
/// Largest SDP we hand to a WebRTC stack.
pub const MAX_SDP_CHARS: usize = 64 * 1024;
/// Tracker-provided text (failure reasons, warnings) is cut to this many characters: it is shown to users.
const MAX_REASON_CHARS: usize = 200;

/// A message from the tracker that a peer acts on. SDP stays borrowed from the message when it has no
/// escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackerMessage<'a> {
    /// Another peer's offer relayed to us: answer it.
    Offer {
        info_hash: Id20,
        peer_id: Id20,
        offer_id: Id20,
        sdp: Cow<'a, str>,
    },
    /// The answer to one of our offers.
    Answer {
        info_hash: Id20,
        peer_id: Id20,
        offer_id: Id20,
        sdp: Cow<'a, str>,
    },
    /// Reply to our announce; counts the tracker left out or got wrong are `None`.
    Announced {
        info_hash: Id20,
        interval: Option<u32>,
        complete: Option<u32>,
        incomplete: Option<u32>,
    },
    /// `failure reason` (with the swarm when known), cleaned for display.
    Failure {
        info_hash: Option<Id20>,
        reason: String,
    },
    /// `warning message`: logged, not fatal.
    Warning {
        info_hash: Option<Id20>,
        message: String,
    },
}

/// Why a tracker message was ignored (one line, for the console).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("tracker message of {0} bytes is over the limit")]
    TooLong(usize),
    #[error("tracker message is not a JSON object")]
    NotJson,
    #[error("tracker message has an invalid `{0}`")]
    BadField(&'static str),
    #[error("tracker message of an unknown kind")]
    Unknown,
}

/// The fields we read, each kept as unparsed JSON; others (`min interval`, `files` …) are ignored.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    action: Option<&'a RawValue>,
    #[serde(borrow)]
    info_hash: Option<&'a RawValue>,
    #[serde(borrow)]
    peer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    offer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    offer: Option<&'a RawValue>,
    #[serde(borrow)]
    answer: Option<&'a RawValue>,
    #[serde(borrow)]
    interval: Option<&'a RawValue>,
    #[serde(borrow)]
    complete: Option<&'a RawValue>,
    #[serde(borrow)]
    incomplete: Option<&'a RawValue>,
    #[serde(rename = "failure reason", borrow)]
    failure: Option<&'a RawValue>,
    #[serde(rename = "warning message", borrow)]
    warning: Option<&'a RawValue>,
}

/// An RTCSessionDescription: `{type, sdp}`.
#[derive(Deserialize)]
struct Description<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sdp: Option<Cow<'a, str>>,
}

/// Parses one text message from a tracker.
pub fn parse(text: &str) -> Result<TrackerMessage<'_>, MessageError> {
    if text.len() > MAX_MESSAGE_CHARS {
        return Err(MessageError::TooLong(text.len()));
    }
    // serde reads a struct from an array too (fields by position): only an object is a message.
    if !json::is_object_text(text) {
        return Err(MessageError::NotJson);
    }
    let fields: Fields<'_> = serde_json::from_str(text).map_err(|_| MessageError::NotJson)?;
    let info_hash = present(fields.info_hash)
        .map(|raw| id(raw, "info_hash"))
        .transpose()?;
    if let Some(reason) = present(fields.failure).and_then(display_text) {
        return Ok(TrackerMessage::Failure { info_hash, reason });
    }
    if let Some(message) = present(fields.warning).and_then(display_text) {
        return Ok(TrackerMessage::Warning { info_hash, message });
    }
    if present(fields.action).and_then(|raw| json::string(raw).ok()) != Some("announce".into()) {
        return Err(MessageError::Unknown);
    }
    let info_hash = info_hash.ok_or(MessageError::BadField("info_hash"))?;
    for (key, raw) in [("offer", fields.offer), ("answer", fields.answer)] {
        let Some(sdp) = present(raw).map(|raw| description(raw, key)).transpose()? else {
            continue;
        };
        let peer_id = id(
            fields.peer_id.ok_or(MessageError::BadField("peer_id"))?,
            "peer_id",
        )?;
        let offer_id = id(
            fields.offer_id.ok_or(MessageError::BadField("offer_id"))?,
            "offer_id",
        )?;
        return Ok(if key == "offer" {
            TrackerMessage::Offer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            }
        } else {
            TrackerMessage::Answer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            }
        });
    }
    Ok(TrackerMessage::Announced {
        info_hash,
        interval: fields.interval.and_then(count),
        complete: fields.complete.and_then(count),
        incomplete: fields.incomplete.and_then(count),
    })
}

fn id(raw: &RawValue, key: &'static str) -> Result<Id20, MessageError> {
    json::id(raw).map_err(|_| MessageError::BadField(key))
}

/// `{type: key, sdp}` with a non-empty, bounded SDP; the type must match the key.
fn description<'a>(raw: &'a RawValue, key: &'static str) -> Result<Cow<'a, str>, MessageError> {
    match serde_json::from_str::<Description<'a>>(raw.get()) {
        Ok(Description {
            kind: Some(kind),
            sdp: Some(sdp),
        }) if kind == key && !sdp.is_empty() && sdp.len() <= MAX_SDP_CHARS => Ok(sdp),
        _ => Err(MessageError::BadField(key)),
    }
}

/// A non-negative integer that fits u32, else `None`.
fn count(raw: &RawValue) -> Option<u32> {
    let n = json::number(raw)?;
    (n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n)).then_some(n as u32)
}

/// A string field as text fit to show: control characters dropped, at most [`MAX_REASON_CHARS`].
fn display_text(raw: &RawValue) -> Option<String> {
    let text = json::string(raw).ok()?;
    Some(
        text.chars()
            .filter(|c| !c.is_control())
            .take(MAX_REASON_CHARS)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::response::{self, SignalKind, SwarmCounts};
    use super::*;

    const HASH: &str = "aaaaaaaaaaaaaaaaaaaa";
    const PEER: &str = "bbbbbbbbbbbbbbbbbbbb";
    const SDP: &str = "v=0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n";

    fn raw(text: &str) -> Box<RawValue> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn relayed_offers_and_answers_read_back_as_the_tracker_sent_them() {
        let (hash, from, offer_id) = (
            Id20([0xff; 20]),
            Id20(*b"\"\\\x00\x01-WW0300-abcdefgh"),
            Id20([7; 20]),
        );
        for (kind, name) in [(SignalKind::Offer, "offer"), (SignalKind::Answer, "answer")] {
            let payload = raw(&format!(
                r#"{{"type":"{name}","sdp":{}}}"#,
                serde_json::to_string(SDP).unwrap()
            ));
            let text = response::relayed_signal(&hash, &from, &offer_id, kind, &payload);
            let message = parse(&text).unwrap();
            let (got_hash, got_from, got_offer, sdp) = match (&message, kind) {
                (
                    TrackerMessage::Offer {
                        info_hash,
                        peer_id,
                        offer_id,
                        sdp,
                    },
                    SignalKind::Offer,
                )
                | (
                    TrackerMessage::Answer {
                        info_hash,
                        peer_id,
                        offer_id,
                        sdp,
                    },
                    SignalKind::Answer,
                ) => (info_hash, peer_id, offer_id, sdp),
                _ => panic!("{name} read as {message:?}"),
            };
            assert_eq!((got_hash, got_from, got_offer), (&hash, &from, &offer_id));
            assert_eq!(sdp, SDP);
        }
    }

    #[test]
    fn announce_replies_carry_counts_and_interval() {
        let hash = Id20([9; 20]);
        let counts = SwarmCounts {
            complete: 3,
            incomplete: 4,
            downloaded: 0,
        };
        assert_eq!(
            parse(&response::announce_reply(&hash, 120, counts)),
            Ok(TrackerMessage::Announced {
                info_hash: hash,
                interval: Some(120),
                complete: Some(3),
                incomplete: Some(4),
            })
        );
        // Counts that are not u32 integers are dropped, not the reply.
        let text = format!(
            r#"{{"action":"announce","info_hash":"{HASH}","interval":-1,"complete":1.5,"incomplete":"9"}}"#
        );
        assert!(matches!(
            parse(&text),
            Ok(TrackerMessage::Announced {
                interval: None,
                complete: None,
                incomplete: None,
                ..
            })
        ));
    }

    #[test]
    fn failures_and_warnings_are_cleaned_for_display() {
        let hash = Id20([1; 20]);
        let long = format!("no\nway {}", "x".repeat(500));
        let text = response::failure(Some(super::super::Action::Announce), Some(&hash), &long);
        let Ok(TrackerMessage::Failure { info_hash, reason }) = parse(&text) else {
            panic!("not a failure: {text}")
        };
        assert_eq!(info_hash, Some(hash));
        assert!(reason.starts_with("noway x"), "{reason}");
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS);
        assert_eq!(
            parse(r#"{"failure reason":"gone"}"#),
            Ok(TrackerMessage::Failure {
                info_hash: None,
                reason: "gone".into()
            })
        );
        assert_eq!(
            parse(&response::warning(&hash, "slow down")),
            Ok(TrackerMessage::Warning {
                info_hash: Some(hash),
                message: "slow down".into()
            })
        );
    }

    #[test]
    fn malformed_messages_are_refused_with_the_reason() {
        let offer = |extra: &str| {
            format!(
                r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","offer_id":"{PEER}",{extra}}}"#
            )
        };
        let long = format!(
            r#"{{"action":"announce","info_hash":"{HASH}","x":"{}"}}"#,
            "a".repeat(MAX_MESSAGE_CHARS)
        );
        let cases = [
            ("[1,2]".to_owned(), MessageError::NotJson),
            // Ten values in field order would fill the fields of a relayed offer.
            (
                format!(
                    r#"["announce","{HASH}","{PEER}","{PEER}",{{"type":"offer","sdp":"x"}},null,null,null,null,null,null]"#
                ),
                MessageError::NotJson,
            ),
            ("{nope".to_owned(), MessageError::NotJson),
            (
                format!(r#"{{"action":"scrape","info_hash":"{HASH}"}}"#),
                MessageError::Unknown,
            ),
            (r#"{"interval":120}"#.to_owned(), MessageError::Unknown),
            (
                r#"{"action":"announce","interval":120}"#.to_owned(),
                MessageError::BadField("info_hash"),
            ),
            (
                r#"{"action":"announce","info_hash":"short"}"#.to_owned(),
                MessageError::BadField("info_hash"),
            ),
            (
                format!(
                    r#"{{"action":"announce","info_hash":"{}\u0100"}}"#,
                    &HASH[1..]
                ),
                MessageError::BadField("info_hash"),
            ),
            (
                offer(r#""offer":{"type":"answer","sdp":"v=0"}"#),
                MessageError::BadField("offer"),
            ),
            (
                offer(r#""offer":{"type":"offer","sdp":""}"#),
                MessageError::BadField("offer"),
            ),
            (offer(r#""offer":"v=0""#), MessageError::BadField("offer")),
            (
                offer(r#""answer":{"type":"answer"}"#),
                MessageError::BadField("answer"),
            ),
            (
                offer(&format!(
                    r#""offer":{{"type":"offer","sdp":"{}"}}"#,
                    "a".repeat(MAX_SDP_CHARS + 1)
                )),
                MessageError::BadField("offer"),
            ),
            (
                format!(
                    r#"{{"action":"announce","info_hash":"{HASH}","offer_id":"{PEER}","offer":{{"type":"offer","sdp":"v"}}}}"#
                ),
                MessageError::BadField("peer_id"),
            ),
            (
                format!(
                    r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","answer":{{"type":"answer","sdp":"v"}}}}"#
                ),
                MessageError::BadField("offer_id"),
            ),
            (long.clone(), MessageError::TooLong(long.len())),
        ];
        for (text, error) in cases {
            assert_eq!(
                parse(&text),
                Err(error.clone()),
                "{}",
                &text[..text.len().min(200)]
            );
            assert!(!error.to_string().contains('\n'));
        }
        // A null offer is no offer (WebTorrent reads it so).
        assert!(matches!(
            parse(&offer(r#""offer":null"#)),
            Ok(TrackerMessage::Announced { .. })
        ));
    }

    #[test]
    fn mangled_messages_never_panic() {
        let mut rng = super::super::test_rng::Rng::new(5);
        let valid = format!(
            r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","offer_id":"{PEER}","offer":{{"type":"offer","sdp":"v=0\r\n"}},"interval":120,"failure reason":null}}"#
        );
        assert!(matches!(parse(&valid), Ok(TrackerMessage::Offer { .. })));
        let alphabet = br#"{}[]",:\u0aZ 9-.e"#;
        for _ in 0..5_000 {
            let mut bytes = valid.clone().into_bytes();
            for _ in 0..rng.below_range(1..6) {
                let i = rng.below_range(0..bytes.len());
                let c = alphabet[rng.below_range(0..alphabet.len())];
                match rng.below_range(0..3) {
                    0 => bytes[i] = c,
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, c),
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = parse(text);
            }
        }
    }
}
