//! Writing client messages (what a peer sends its tracker): announces with offers, stop and complete
//! events, answers to relayed offers, scrapes. Shaped as WebTorrent sends them, so any WebTorrent tracker
//! reads them; [`super::request::parse`] is the reading side.

use std::fmt::Write;

use super::id::Id20;
use super::json::write_str;
use super::request::Event;

/// One of our WebRTC offers, sent in an announce.
#[derive(Debug, Clone, Copy)]
pub struct OfferOut<'a> {
    pub offer_id: Id20,
    /// Complete SDP (ICE candidates included): trickle ICE does not exist in this protocol.
    pub sdp: &'a str,
}

/// An announce: joins or updates a swarm (with offers), or tells it we stopped or completed.
#[derive(Debug, Clone)]
pub struct AnnounceOut<'a> {
    pub info_hash: &'a Id20,
    pub peer_id: &'a Id20,
    /// [`Event::Update`] sends no `event` field.
    pub event: Event,
    pub uploaded: u64,
    pub downloaded: u64,
    /// Bytes still missing; `None` before the size is known (a magnet link's start).
    pub left: Option<u64>,
    /// Empty for `stopped` and `completed`. `numwant` is their count: one peer per offer.
    pub offers: &'a [OfferOut<'a>],
}

/// The `left` WebTorrent sends when it does not know the size yet.
const UNKNOWN_LEFT: u64 = u32::MAX as u64;

impl AnnounceOut<'_> {
    pub fn to_json(&self) -> String {
        let sdp_len: usize = self.offers.iter().map(|o| o.sdp.len() + 80).sum();
        let mut out = String::with_capacity(sdp_len + 220);
        out.push_str(r#"{"action":"announce","info_hash":"#);
        self.info_hash.write_json(&mut out);
        out.push_str(r#","peer_id":"#);
        self.peer_id.write_json(&mut out);
        let _ = write!(
            out,
            r#","numwant":{},"uploaded":{},"downloaded":{},"left":{}"#,
            self.offers.len(),
            self.uploaded,
            self.downloaded,
            self.left.unwrap_or(UNKNOWN_LEFT)
        );
        if let Some(name) = event_name(self.event) {
            let _ = write!(out, r#","event":"{name}""#);
        }
        out.push_str(r#","offers":["#);
        for (i, offer) in self.offers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"offer":"#);
            write_description(&mut out, "offer", offer.sdp);
            out.push_str(r#","offer_id":"#);
            offer.offer_id.write_json(&mut out);
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

fn event_name(event: Event) -> Option<&'static str> {
    match event {
        Event::Started => Some("started"),
        Event::Completed => Some("completed"),
        Event::Stopped => Some("stopped"),
        Event::Update => None,
    }
}

/// Our answer to `to_peer_id`'s offer `offer_id`.
pub fn answer(
    info_hash: &Id20,
    peer_id: &Id20,
    to_peer_id: &Id20,
    offer_id: &Id20,
    sdp: &str,
) -> String {
    let mut out = String::with_capacity(sdp.len() + 200);
    out.push_str(r#"{"action":"announce","info_hash":"#);
    info_hash.write_json(&mut out);
    out.push_str(r#","peer_id":"#);
    peer_id.write_json(&mut out);
    out.push_str(r#","to_peer_id":"#);
    to_peer_id.write_json(&mut out);
    out.push_str(r#","offer_id":"#);
    offer_id.write_json(&mut out);
    out.push_str(r#","answer":"#);
    write_description(&mut out, "answer", sdp);
    out.push('}');
    out
}

/// A scrape of some swarms (`Some(&[])`: of none), or of every swarm the tracker will report (`None`).
pub fn scrape(info_hashes: Option<&[Id20]>) -> String {
    let mut out = String::from(r#"{"action":"scrape""#);
    if let Some(hashes) = info_hashes {
        out.push_str(r#","info_hash":["#);
        for (i, hash) in hashes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            hash.write_json(&mut out);
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// `{"type":kind,"sdp":..}`, an RTCSessionDescription as JSON.
fn write_description(out: &mut String, kind: &str, sdp: &str) {
    let _ = write!(out, r#"{{"type":"{kind}","sdp":"#);
    write_str(out, sdp);
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::super::request::{ParseLimits, Request, Scrape, parse};
    use super::*;

    const LIMITS: ParseLimits = ParseLimits {
        max_offers: 10,
        max_scrape_hashes: 10,
    };
    const SDP: &str = "v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\na=candidate:1 1 udp 1 \"x\" 9\r\n";

    fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    #[test]
    fn announce_with_offers_reads_back_as_sent() {
        let (hash, peer) = (Id20([0xff; 20]), Id20(*b"\"\\\x00\x01-SC0001-abcdefgh"));
        let offers = [
            OfferOut {
                offer_id: Id20([1; 20]),
                sdp: SDP,
            },
            OfferOut {
                offer_id: Id20([0x80; 20]),
                sdp: "v=0\r\n",
            },
        ];
        let text = AnnounceOut {
            info_hash: &hash,
            peer_id: &peer,
            event: Event::Started,
            uploaded: 5,
            downloaded: 7,
            left: Some(0),
            offers: &offers,
        }
        .to_json();
        let Ok(Request::Announce(a)) = parse(&text, LIMITS) else {
            panic!("not an announce: {text}")
        };
        assert_eq!((a.info_hash, a.peer_id), (hash, peer));
        assert_eq!(a.event, Event::Started);
        assert_eq!(a.seeder, Some(true));
        assert_eq!(a.numwant, Some(2));
        assert_eq!(a.offers.len(), 2);
        assert_eq!(a.offers[1].offer_id, Id20([0x80; 20]));
        let offer = json(a.offers[0].offer.get());
        assert_eq!(offer["type"], "offer");
        assert_eq!(offer["sdp"], SDP);
        let v = json(&text);
        assert_eq!(
            (v["uploaded"].as_u64(), v["downloaded"].as_u64()),
            (Some(5), Some(7))
        );
    }

    #[test]
    fn unknown_size_and_events() {
        let id = Id20(*b"-SC0001-aaaaaaaaaaaa");
        let announce = |event, left| {
            json(
                &AnnounceOut {
                    info_hash: &id,
                    peer_id: &id,
                    event,
                    uploaded: 0,
                    downloaded: 0,
                    left,
                    offers: &[],
                }
                .to_json(),
            )
        };
        let magnet_start = announce(Event::Update, None);
        // A magnet link's start: WebTorrent's "unknown" `left`, and no `event` for an update.
        assert_eq!(magnet_start["left"], u64::from(u32::MAX));
        assert!(magnet_start.get("event").is_none());
        assert_eq!(magnet_start["numwant"], 0);
        assert_eq!(announce(Event::Stopped, Some(3))["event"], "stopped");
        assert_eq!(announce(Event::Completed, Some(0))["event"], "completed");
    }

    #[test]
    fn answer_reads_back_as_sent() {
        let (hash, me, them, offer) = (
            Id20([3; 20]),
            Id20([4; 20]),
            Id20([0xe9; 20]),
            Id20([0; 20]),
        );
        let text = answer(&hash, &me, &them, &offer, SDP);
        let Ok(Request::Answer(a)) = parse(&text, LIMITS) else {
            panic!("not an answer: {text}")
        };
        assert_eq!(
            (a.info_hash, a.peer_id, a.to_peer_id, a.offer_id),
            (hash, me, them, offer)
        );
        assert_eq!(json(a.answer.get())["sdp"], SDP);
        assert_eq!(json(a.answer.get())["type"], "answer");
    }

    #[test]
    fn scrape_reads_back_as_sent() {
        let hashes = [Id20([1; 20]), Id20([2; 20])];
        for hashes in [&hashes[..], &[]] {
            let text = scrape(Some(hashes));
            assert!(
                matches!(parse(&text, LIMITS), Ok(Request::Scrape(Scrape::Some(h))) if h == hashes),
                "{text}"
            );
        }
        assert!(matches!(
            parse(&scrape(None), LIMITS),
            Ok(Request::Scrape(Scrape::All))
        ));
    }
}
