//! The WebTorrent tracker protocol on arbitrary text, read by both ends: as a client message (what a
//! tracker parses) and as a tracker message (what a peer parses). No panics, and whatever parses
//! survives the trip through the other end unchanged:
//! * an accepted announce's offers, relayed by the tracker, read back at the peer as the same offers
//!   (ids and SDP), as do answers; the SDP payload is relayed verbatim (a payload a peer reads
//!   differently, with duplicate keys, may be refused, but not once written plainly);
//! * a refused client message gets a failure reply a peer reads, one line;
//! * a tracker message a peer accepts, written again by the tracker side, reads back the same;
//!   failure and warning texts are bounded and free of control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::session::tracker_proto::request::{self, Request, Scrape};
use seedcast::session::tracker_proto::response::{self, SignalKind};
use seedcast::session::tracker_proto::response_parse::{self, TrackerMessage};
use seedcast::session::tracker_proto::{
    AnnounceOut, Event, Id20, MAX_SDP_CHARS, OfferOut, ParseLimits, SwarmCounts, request_build,
};

const LIMITS: ParseLimits = ParseLimits {
    max_offers: 5,
    max_scrape_hashes: 10,
};

/// The relay of `payload` (an offer or answer from `from`) as the peer reads it.
fn relay_reads_back(
    info_hash: &Id20,
    from: &Id20,
    offer_id: &Id20,
    kind: SignalKind,
    payload: &str,
) {
    let raw: &serde_json::value::RawValue = serde_json::from_str(payload).expect("payload is JSON");
    let text = response::relayed_signal(info_hash, from, offer_id, kind, raw);
    // A payload with a lone surrogate escape (`\uD800`) passes as raw JSON and JavaScript reads it,
    // but not serde_json's `Value`: the relay carries it verbatim, which is all there is to check.
    if serde_json::from_str::<serde_json::Value>(payload).is_err() {
        assert!(text.contains(payload));
        return;
    }
    let value: serde_json::Value = serde_json::from_str(&text).expect("relay is JSON");
    let field = if kind == SignalKind::Offer {
        "offer"
    } else {
        "answer"
    };
    assert_eq!(
        value[field],
        serde_json::from_str::<serde_json::Value>(payload).unwrap()
    );
    // A peer takes the relay iff the payload is a well-formed description of that kind.
    let wanted = value[field]["type"] == field
        && value[field]["sdp"]
            .as_str()
            .is_some_and(|s| !s.is_empty() && s.len() <= MAX_SDP_CHARS);
    match response_parse::parse(&text) {
        Ok(TrackerMessage::Offer {
            info_hash: h,
            peer_id,
            offer_id: o,
            sdp,
        })
        | Ok(TrackerMessage::Answer {
            info_hash: h,
            peer_id,
            offer_id: o,
            sdp,
        }) => {
            assert!(wanted, "took {text}");
            assert_eq!((&h, &peer_id, &o), (info_hash, from, offer_id));
            assert_eq!(value[field]["sdp"].as_str(), Some(&*sdp));
        }
        Ok(other) => panic!("{text} read as {other:?}"),
        // Refused: fine for payloads a peer reads differently (duplicate keys); the same
        // description written plainly must pass.
        Err(e) if wanted && text.len() <= response_parse::MAX_MESSAGE_CHARS => {
            let plain = serde_json::to_string(&value[field]).unwrap();
            assert_ne!(plain, payload, "{e}: {text}");
            relay_reads_back(info_hash, from, offer_id, kind, &plain);
        }
        Err(_) => {}
    }
}

fn as_client_message(text: &str) {
    match request::parse(text, LIMITS) {
        Err(rejection) => {
            let reply = response::failure(
                rejection.action,
                rejection.info_hash.as_ref(),
                &rejection.error.to_string(),
            );
            match response_parse::parse(&reply) {
                Ok(TrackerMessage::Failure { info_hash, .. }) => {
                    assert_eq!(info_hash, rejection.info_hash)
                }
                other => panic!("{reply} read as {other:?}"),
            }
        }
        Ok(Request::Announce(a)) => {
            assert!(a.offers.len() <= LIMITS.max_offers);
            for offer in &a.offers {
                relay_reads_back(
                    &a.info_hash,
                    &a.peer_id,
                    &offer.offer_id,
                    SignalKind::Offer,
                    offer.offer.get(),
                );
            }
        }
        Ok(Request::Answer(a)) => {
            relay_reads_back(
                &a.info_hash,
                &a.peer_id,
                &a.offer_id,
                SignalKind::Answer,
                a.answer.get(),
            );
        }
        Ok(Request::Scrape(Scrape::Some(hashes))) => {
            assert!(hashes.len() <= LIMITS.max_scrape_hashes);
            assert!(matches!(
                request::parse(&request_build::scrape(Some(&hashes)), LIMITS),
                Ok(Request::Scrape(Scrape::Some(h))) if h == hashes
            ));
        }
        Ok(Request::Scrape(Scrape::All)) => assert!(matches!(
            request::parse(&request_build::scrape(None), LIMITS),
            Ok(Request::Scrape(Scrape::All))
        )),
    }
}

fn as_tracker_message(text: &str) {
    let Ok(message) = response_parse::parse(text) else {
        return;
    };
    let again = match &message {
        TrackerMessage::Offer {
            info_hash,
            peer_id,
            offer_id,
            sdp,
        } => {
            // The peer's announce, through the tracker, to the next peer.
            let offers = [OfferOut {
                offer_id: *offer_id,
                sdp,
            }];
            let announce = AnnounceOut {
                info_hash,
                peer_id,
                event: Event::Update,
                uploaded: 0,
                downloaded: 0,
                left: None,
                offers: &offers,
            }
            .to_json();
            let Ok(Request::Announce(a)) = request::parse(&announce, LIMITS) else {
                panic!("{announce} refused")
            };
            response::relayed_signal(
                info_hash,
                peer_id,
                offer_id,
                SignalKind::Offer,
                a.offers[0].offer,
            )
        }
        TrackerMessage::Answer {
            info_hash,
            peer_id,
            offer_id,
            sdp,
        } => {
            let answer = request_build::answer(info_hash, peer_id, peer_id, offer_id, sdp);
            let Ok(Request::Answer(a)) = request::parse(&answer, LIMITS) else {
                panic!("{answer} refused")
            };
            response::relayed_signal(info_hash, peer_id, offer_id, SignalKind::Answer, a.answer)
        }
        TrackerMessage::Announced {
            info_hash,
            interval,
            complete,
            incomplete,
        } => {
            let (Some(interval), Some(complete), Some(incomplete)) =
                (interval, complete, incomplete)
            else {
                return;
            };
            let counts = SwarmCounts {
                complete: *complete as usize,
                incomplete: *incomplete as usize,
                downloaded: 0,
            };
            response::announce_reply(info_hash, u64::from(*interval), counts)
        }
        TrackerMessage::Failure { info_hash, reason } => {
            assert!(reason.chars().count() <= 200 && !reason.chars().any(char::is_control));
            response::failure(None, info_hash.as_ref(), reason)
        }
        TrackerMessage::Warning { info_hash, message } => {
            assert!(message.chars().count() <= 200 && !message.chars().any(char::is_control));
            let Some(info_hash) = info_hash else { return };
            response::warning(info_hash, message)
        }
    };
    assert_eq!(
        response_parse::parse(&again).as_ref(),
        Ok(&message),
        "{again}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    as_client_message(text);
    as_tracker_message(text);
});
