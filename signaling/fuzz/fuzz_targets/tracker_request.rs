//! Fuzzes the parsing of client messages and the relays built from them.
//!
//! Beyond "never panics", it checks for every message the parser accepts:
//! * ids are exactly 20 bytes, offers are within the limit and each carries an object payload;
//! * the relays the tracker would send for it (offers, answers), the announce reply and any failure
//!   reply are valid JSON, name the same info hash, and carry the payload unchanged;
//! * an id written as a JSON binary string reads back as the same id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::session::tracker_proto::Id20;
use seedcast::session::tracker_proto::request::{self, Action, ParseLimits, Request};
use seedcast::session::tracker_proto::response::{self, SignalKind, SwarmCounts};
use serde_json::Value;
use serde_json::value::RawValue;

const LIMITS: ParseLimits = ParseLimits {
    max_offers: 5,
    max_scrape_hashes: 10,
};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The id as the JSON string a client would send, read back.
fn round_trip(id: &Id20) {
    let mut out = String::new();
    id.write_json(&mut out);
    let Value::String(text) = json(&out) else {
        panic!("id written as {out}")
    };
    assert_eq!(Id20::from_binary_str(&text).as_ref(), Ok(id));
}

fn check_relay(
    info_hash: &Id20,
    from: &Id20,
    offer_id: &Id20,
    kind: SignalKind,
    payload: &RawValue,
) {
    let text = response::relayed_signal(info_hash, from, offer_id, kind, payload);
    let relayed = json(&text);
    let field = match kind {
        SignalKind::Offer => "offer",
        SignalKind::Answer => "answer",
    };
    assert_eq!(
        relayed[field],
        json(payload.get()),
        "payload changed in {text}"
    );
    assert_eq!(relayed["action"], "announce");
    let hash = relayed["info_hash"]
        .as_str()
        .expect("info_hash is a string");
    assert_eq!(Id20::from_binary_str(hash).as_ref(), Ok(info_hash));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match request::parse(text, LIMITS) {
        Err(rejection) => {
            let reply = response::failure(
                rejection.action,
                rejection.info_hash.as_ref(),
                &rejection.error.to_string(),
            );
            let reply = json(&reply);
            assert!(reply["failure reason"].is_string());
            if rejection.action == Some(Action::Announce) {
                assert_eq!(reply["action"], "announce");
            }
        }
        Ok(Request::Announce(a)) => {
            assert!(a.offers.len() <= LIMITS.max_offers);
            round_trip(&a.info_hash);
            round_trip(&a.peer_id);
            json(&response::announce_reply(
                &a.info_hash,
                120,
                SwarmCounts::default(),
            ));
            for offer in &a.offers {
                assert!(
                    json(offer.offer.get()).is_object(),
                    "offer payload {}",
                    offer.offer.get()
                );
                check_relay(
                    &a.info_hash,
                    &a.peer_id,
                    &offer.offer_id,
                    SignalKind::Offer,
                    offer.offer,
                );
            }
        }
        Ok(Request::Answer(a)) => {
            round_trip(&a.to_peer_id);
            check_relay(
                &a.info_hash,
                &a.peer_id,
                &a.offer_id,
                SignalKind::Answer,
                a.answer,
            );
        }
        Ok(Request::Scrape(scrape)) => {
            let hashes = match scrape {
                request::Scrape::Some(hashes) => hashes,
                request::Scrape::All => Vec::new(),
            };
            assert!(hashes.len() <= LIMITS.max_scrape_hashes);
            let counts = SwarmCounts::default();
            let reply = json(&response::scrape_reply(hashes.iter().map(|h| (*h, counts))));
            assert_eq!(reply["action"], "scrape");
        }
    }
});
