//! Parsing and validating client messages (what a tracker reads). Every field of a client message is
//! untrusted: the raw JSON is first split into borrowed fields (no copies of SDP: a tracker relays offers and
//! answers verbatim as [`RawValue`]s), then each field is checked on its own, so a rejection can still name
//! the action and info hash when those were valid.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::id::{Id20, IdError};
use super::json::{self, IdFieldError, is_object, present, string};

/// What a client asked for.
#[derive(Debug)]
pub enum Request<'a> {
    Announce(Announce<'a>),
    Answer(Answer<'a>),
    Scrape(Scrape),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Announce,
    Scrape,
}

/// `event` of an announce; absent, `""`, `update` and `paused` are all updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Started,
    Update,
    Completed,
    Stopped,
}

#[derive(Debug)]
pub struct Announce<'a> {
    pub info_hash: Id20,
    pub peer_id: Id20,
    pub event: Event,
    /// `Some(true)` when `left` is 0, `None` when `left` is absent.
    pub seeder: Option<bool>,
    /// Peers the client wants offers sent to; `None` means "as many as offers".
    pub numwant: Option<usize>,
    pub offers: Vec<Offer<'a>>,
}

/// One WebRTC offer, relayed verbatim.
#[derive(Debug)]
pub struct Offer<'a> {
    pub offer_id: Id20,
    pub offer: &'a RawValue,
}

/// An answer to an offer, forwarded to the offerer `to_peer_id`.
#[derive(Debug)]
pub struct Answer<'a> {
    pub info_hash: Id20,
    pub peer_id: Id20,
    pub to_peer_id: Id20,
    pub offer_id: Id20,
    pub answer: &'a RawValue,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Scrape {
    /// No `info_hash`: every swarm (up to the scrape limit).
    All,
    Some(Vec<Id20>),
}

/// Why a message was refused; the text becomes the `failure reason`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("message is not a JSON object: {0}")]
    NotJsonObject(String),
    #[error("missing action")]
    MissingAction,
    #[error("unknown action")]
    UnknownAction,
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{0} must be a string")]
    NotAString(&'static str),
    #[error("invalid {field}: {error}")]
    BadId { field: &'static str, error: IdError },
    #[error("invalid event")]
    BadEvent,
    #[error("{0} must be a non-negative number")]
    BadNumber(&'static str),
    #[error("offers must be an array of {{offer, offer_id}} objects")]
    BadOffers,
    #[error("too many offers (at most {0})")]
    TooManyOffers(usize),
    #[error("{0} must be a JSON object")]
    NotAnObject(&'static str),
    #[error("info_hash must be a string or an array of strings")]
    BadScrapeHashes,
    #[error("too many info hashes in one scrape (at most {0})")]
    TooManyScrapeHashes(usize),
}

/// A refused message with whatever context was valid, so the reply can carry `action` and `info_hash`.
#[derive(Debug)]
pub struct Rejection {
    pub action: Option<Action>,
    pub info_hash: Option<Id20>,
    pub error: RequestError,
}

/// Bounds applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    pub max_offers: usize,
    pub max_scrape_hashes: usize,
}

/// The message split into fields, each kept as unparsed JSON. Unknown fields (`uploaded`, ...) are ignored.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    action: Option<&'a RawValue>,
    #[serde(borrow)]
    info_hash: Option<&'a RawValue>,
    #[serde(borrow)]
    peer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    to_peer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    offer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    numwant: Option<&'a RawValue>,
    #[serde(borrow)]
    left: Option<&'a RawValue>,
    #[serde(borrow)]
    offers: Option<&'a RawValue>,
    #[serde(borrow)]
    answer: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawOffer<'a> {
    #[serde(borrow)]
    offer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    offer: Option<&'a RawValue>,
}

/// Parses one text message from a client.
pub fn parse(text: &str, limits: ParseLimits) -> Result<Request<'_>, Rejection> {
    let reject = |action, info_hash, error| Rejection {
        action,
        info_hash,
        error,
    };
    // serde reads a struct from an array too (fields by position): only an object is a message.
    if !json::is_object_text(text) {
        let error = RequestError::NotJsonObject("expected `{`".into());
        return Err(reject(None, None, error));
    }
    let fields: Fields<'_> = serde_json::from_str(text)
        .map_err(|e| reject(None, None, RequestError::NotJsonObject(e.to_string())))?;

    let action = match fields.action.map(string).transpose() {
        Ok(Some(a)) if a == "announce" => Action::Announce,
        Ok(Some(a)) if a == "scrape" => Action::Scrape,
        Ok(Some(_)) => return Err(reject(None, None, RequestError::UnknownAction)),
        Ok(None) => return Err(reject(None, None, RequestError::MissingAction)),
        Err(_) => return Err(reject(None, None, RequestError::NotAString("action"))),
    };

    if action == Action::Scrape {
        return parse_scrape(fields.info_hash, limits.max_scrape_hashes)
            .map(Request::Scrape)
            .map_err(|error| reject(Some(action), None, error));
    }

    let info_hash =
        required_id(fields.info_hash, "info_hash").map_err(|e| reject(Some(action), None, e))?;
    let fail = |error| reject(Some(action), Some(info_hash), error);
    let peer_id = required_id(fields.peer_id, "peer_id").map_err(fail)?;

    if let Some(answer) = present(fields.answer) {
        if !is_object(answer) {
            return Err(fail(RequestError::NotAnObject("answer")));
        }
        return Ok(Request::Answer(Answer {
            info_hash,
            peer_id,
            to_peer_id: required_id(fields.to_peer_id, "to_peer_id").map_err(fail)?,
            offer_id: required_id(fields.offer_id, "offer_id").map_err(fail)?,
            answer,
        }));
    }

    let event = match fields
        .event
        .map(string)
        .transpose()
        .map_err(|_| fail(RequestError::NotAString("event")))?
    {
        None => Event::Update,
        Some(e) => match e.as_ref() {
            "started" => Event::Started,
            "completed" => Event::Completed,
            "stopped" => Event::Stopped,
            "" | "update" | "paused" => Event::Update,
            _ => return Err(fail(RequestError::BadEvent)),
        },
    };
    let numwant = fields
        .numwant
        .map(|raw| number(raw, "numwant"))
        .transpose()
        .map_err(fail)?;
    let seeder = fields
        .left
        .map(|raw| number(raw, "left").map(|left| left == 0))
        .transpose()
        .map_err(fail)?;
    let offers = match present(fields.offers) {
        Some(raw) => parse_offers(raw, limits.max_offers).map_err(fail)?,
        None => Vec::new(),
    };
    Ok(Request::Announce(Announce {
        info_hash,
        peer_id,
        event,
        seeder,
        numwant,
        offers,
    }))
}

fn parse_offers(raw: &RawValue, max_offers: usize) -> Result<Vec<Offer<'_>>, RequestError> {
    let raw_offers: Vec<RawOffer<'_>> =
        serde_json::from_str(raw.get()).map_err(|_| RequestError::BadOffers)?;
    if raw_offers.len() > max_offers {
        return Err(RequestError::TooManyOffers(max_offers));
    }
    raw_offers
        .into_iter()
        .map(|o| {
            let offer = o.offer.ok_or(RequestError::Missing("offer"))?;
            if !is_object(offer) {
                return Err(RequestError::NotAnObject("offer"));
            }
            Ok(Offer {
                offer_id: required_id(o.offer_id, "offer_id")?,
                offer,
            })
        })
        .collect()
}

fn parse_scrape(raw: Option<&RawValue>, max: usize) -> Result<Scrape, RequestError> {
    let Some(raw) = present(raw) else {
        return Ok(Scrape::All);
    };
    if raw.get().starts_with('"') {
        return Ok(Scrape::Some(vec![id(raw, "info_hash")?]));
    }
    let list: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|_| RequestError::BadScrapeHashes)?;
    if list.len() > max {
        return Err(RequestError::TooManyScrapeHashes(max));
    }
    list.into_iter()
        .map(|raw| id(raw, "info_hash"))
        .collect::<Result<_, _>>()
        .map(Scrape::Some)
}

fn id(raw: &RawValue, field: &'static str) -> Result<Id20, RequestError> {
    json::id(raw).map_err(|e| match e {
        IdFieldError::NotAString => RequestError::NotAString(field),
        IdFieldError::Bad(error) => RequestError::BadId { field, error },
    })
}

fn required_id(raw: Option<&RawValue>, field: &'static str) -> Result<Id20, RequestError> {
    id(raw.ok_or(RequestError::Missing(field))?, field)
}

/// A non-negative JSON number, saturated to `usize` (fractions are truncated; `left` may exceed 2^53).
fn number(raw: &RawValue, field: &'static str) -> Result<usize, RequestError> {
    match json::number(raw) {
        Some(n) if n >= 0.0 => Ok(n as usize),
        _ => Err(RequestError::BadNumber(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ParseLimits = ParseLimits {
        max_offers: 2,
        max_scrape_hashes: 3,
    };
    const HASH: &str = "aaaaaaaaaaaaaaaaaaaa";
    const PEER: &str = "bbbbbbbbbbbbbbbbbbbb";

    fn err(text: &str) -> Rejection {
        parse(text, LIMITS).expect_err("should be rejected")
    }

    #[test]
    fn announce_with_offers() {
        let text = format!(
            r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","numwant":5,"left":0,"event":"started",
               "uploaded":0,"offers":[{{"offer":{{"type":"offer","sdp":"v=0\r\n"}},"offer_id":"{PEER}"}}]}}"#
        );
        let Ok(Request::Announce(a)) = parse(&text, LIMITS) else {
            panic!("not an announce")
        };
        assert_eq!(a.event, Event::Started);
        assert_eq!(a.seeder, Some(true));
        assert_eq!(a.numwant, Some(5));
        assert_eq!(a.offers.len(), 1);
        assert_eq!(
            a.offers[0].offer.get(),
            r#"{"type":"offer","sdp":"v=0\r\n"}"#
        );
    }

    #[test]
    fn escaped_binary_ids_decode() {
        let text = r#"{"action":"announce","info_hash":"\u0000\"\\\u00ff\u0001aaaaaaaaaaaaaaa","peer_id":"bbbbbbbbbbbbbbbbbbbb"}"#;
        let Ok(Request::Announce(a)) = parse(text, LIMITS) else {
            panic!("not an announce")
        };
        assert_eq!(&a.info_hash.0[..5], &[0, b'"', b'\\', 0xff, 1]);
    }

    #[test]
    fn rejections_keep_valid_context() {
        let r = err(&format!(
            r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"short"}}"#
        ));
        assert_eq!(r.action, Some(Action::Announce));
        assert!(r.info_hash.is_some());
        assert_eq!(
            r.error.to_string(),
            "invalid peer_id: has 5 characters, expected 20"
        );

        assert!(matches!(err("{nope").error, RequestError::NotJsonObject(_)));
        assert!(matches!(err("[1,2]").error, RequestError::NotJsonObject(_)));
        // Ten values in field order would fill every field of an announce.
        let positional =
            format!(r#"["announce","{HASH}","{PEER}",null,null,null,null,null,null,null]"#);
        assert!(matches!(
            err(&positional).error,
            RequestError::NotJsonObject(_)
        ));
        assert_eq!(
            err(r#"{"info_hash":"x"}"#).error,
            RequestError::MissingAction
        );
        assert_eq!(
            err(r#"{"action":"dance"}"#).error,
            RequestError::UnknownAction
        );
        assert_eq!(
            err(r#"{"action":5}"#).error,
            RequestError::NotAString("action")
        );
        assert_eq!(
            err(&format!(r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","event":"exploded"}}"#)).error,
            RequestError::BadEvent
        );
        assert_eq!(
            err(&format!(r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","numwant":"lots"}}"#)).error,
            RequestError::BadNumber("numwant")
        );
        assert_eq!(
            err(&format!(
                r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","offers":{{}}}}"#
            ))
            .error,
            RequestError::BadOffers
        );
        assert_eq!(
            err(&format!(r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","offers":[{{"offer":"x","offer_id":"{PEER}"}}]}}"#)).error,
            RequestError::NotAnObject("offer")
        );
        assert_eq!(
            err(&format!(r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","offers":[{{}},{{}},{{}}]}}"#)).error,
            RequestError::TooManyOffers(2)
        );
        assert_eq!(
            err(&format!(
                r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","answer":{{}}}}"#
            ))
            .error,
            RequestError::Missing("to_peer_id")
        );
    }

    #[test]
    fn scrape_one_many_all() {
        let one = format!(r#"{{"action":"scrape","info_hash":"{HASH}"}}"#);
        let one = parse(&one, LIMITS).unwrap();
        assert!(matches!(one, Request::Scrape(Scrape::Some(ref v)) if v.len() == 1));
        let many = format!(r#"{{"action":"scrape","info_hash":["{HASH}","{PEER}"]}}"#);
        let many = parse(&many, LIMITS).unwrap();
        assert!(matches!(many, Request::Scrape(Scrape::Some(ref v)) if v.len() == 2));
        assert!(matches!(
            parse(r#"{"action":"scrape"}"#, LIMITS).unwrap(),
            Request::Scrape(Scrape::All)
        ));
        let too_many =
            format!(r#"{{"action":"scrape","info_hash":["{HASH}","{HASH}","{HASH}","{HASH}"]}}"#);
        assert_eq!(err(&too_many).error, RequestError::TooManyScrapeHashes(3));
        assert_eq!(
            err(r#"{"action":"scrape","info_hash":7}"#).error,
            RequestError::BadScrapeHashes
        );
    }

    #[test]
    fn mangled_messages_are_rejected_without_panicking() {
        let mut rng = super::super::test_rng::Rng::new(11);
        let valid = format!(
            r#"{{"action":"announce","info_hash":"{HASH}","peer_id":"{PEER}","numwant":2,"left":0,"event":"started","offers":[{{"offer":{{"sdp":"x"}},"offer_id":"{PEER}"}}],"answer":null}}"#
        );
        assert!(parse(&valid, LIMITS).is_ok());
        let alphabet = br#"{}[]",:\u0aZ 9-.e"#;
        for _ in 0..5_000 {
            let mut bytes = valid.clone().into_bytes();
            for _ in 0..rng.below_range(1..6) {
                let i = rng.below_range(0..bytes.len());
                match rng.below_range(0..3) {
                    0 => bytes[i] = alphabet[rng.below_range(0..alphabet.len())],
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, alphabet[rng.below_range(0..alphabet.len())]),
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes)
                && let Err(rejection) = parse(text, LIMITS)
            {
                // Failure reasons go back to clients verbatim: one line each.
                assert!(
                    !rejection.error.to_string().contains('\n'),
                    "{}",
                    rejection.error
                );
            }
        }
    }
}
