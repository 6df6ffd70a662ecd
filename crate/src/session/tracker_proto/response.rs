//! Writing tracker messages (what a tracker sends). Built by hand into one `String` per message: ids need
//! binary-string escaping and SDP payloads are copied verbatim from the client's JSON, so there is no
//! intermediate value tree.

use std::fmt::Write;

use serde_json::value::RawValue;

use super::id::Id20;
use super::json::write_str;
use super::request::Action;

/// Peer counts of one swarm, as announces and scrapes report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwarmCounts {
    pub complete: usize,
    pub incomplete: usize,
    pub downloaded: u64,
}

/// `{"action":"announce","info_hash":..,"interval":..,"complete":..,"incomplete":..}`
pub fn announce_reply(info_hash: &Id20, interval_secs: u64, counts: SwarmCounts) -> String {
    let mut out = String::with_capacity(128);
    out.push_str(r#"{"action":"announce","info_hash":"#);
    info_hash.write_json(&mut out);
    let _ = write!(
        out,
        r#","interval":{interval_secs},"complete":{},"incomplete":{}}}"#,
        counts.complete, counts.incomplete
    );
    out
}

/// An offer or answer as relayed: `{"action":"announce","info_hash":..,"peer_id":<sender>,"offer_id":..,"<kind>":..}`
pub fn relayed_signal(
    info_hash: &Id20,
    from: &Id20,
    offer_id: &Id20,
    kind: SignalKind,
    payload: &RawValue,
) -> String {
    let mut out = String::with_capacity(payload.get().len() + 160);
    out.push_str(r#"{"action":"announce","info_hash":"#);
    info_hash.write_json(&mut out);
    out.push_str(r#","peer_id":"#);
    from.write_json(&mut out);
    out.push_str(r#","offer_id":"#);
    offer_id.write_json(&mut out);
    out.push_str(match kind {
        SignalKind::Offer => r#","offer":"#,
        SignalKind::Answer => r#","answer":"#,
    });
    out.push_str(payload.get());
    out.push('}');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    Offer,
    Answer,
}

/// `{"action":"scrape","files":{<binary info hash>:{complete,incomplete,downloaded},..}}`. Keys are binary
/// strings too (WebTorrent indexes the files by them).
pub fn scrape_reply(files: impl IntoIterator<Item = (Id20, SwarmCounts)>) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(r#"{"action":"scrape","files":{"#);
    for (i, (hash, c)) in files.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        hash.write_json(&mut out);
        let _ = write!(
            out,
            r#":{{"complete":{},"incomplete":{},"downloaded":{}}}"#,
            c.complete, c.incomplete, c.downloaded
        );
    }
    out.push_str("}}");
    out
}

/// `{"warning message":..}` with `action` and `info_hash`: advice a client logs, not an error.
pub fn warning(info_hash: &Id20, message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 96);
    out.push_str(r#"{"action":"announce","info_hash":"#);
    info_hash.write_json(&mut out);
    out.push_str(r#","warning message":"#);
    write_str(&mut out, message);
    out.push('}');
    out
}

/// `{"failure reason":..}` plus `action` and `info_hash` when known: WebTorrent drops messages for other
/// info hashes and treats a message without `action` as a broken tracker.
pub fn failure(action: Option<Action>, info_hash: Option<&Id20>, reason: &str) -> String {
    let mut out = String::with_capacity(reason.len() + 96);
    out.push('{');
    if let Some(action) = action {
        out.push_str(match action {
            Action::Announce => r#""action":"announce","#,
            Action::Scrape => r#""action":"scrape","#,
        });
    }
    if let Some(hash) = info_hash {
        out.push_str(r#""info_hash":"#);
        hash.write_json(&mut out);
        out.push(',');
    }
    out.push_str(r#""failure reason":"#);
    write_str(&mut out, reason);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn messages_are_valid_json_with_binary_ids() {
        let hash = Id20([0xff; 20]);
        let peer = Id20(*b"\"\\\x00\x01abcdefghijklmnop");
        let v: Value = serde_json::from_str(&announce_reply(
            &hash,
            120,
            SwarmCounts {
                complete: 1,
                incomplete: 2,
                downloaded: 0,
            },
        ))
        .unwrap();
        assert_eq!(v["info_hash"], hash.to_binary_string());
        assert_eq!(v["complete"], 1);
        let payload: Box<RawValue> =
            serde_json::from_str(r#"{"type":"offer","sdp":"x\r\n"}"#).unwrap();
        let v: Value = serde_json::from_str(&relayed_signal(
            &hash,
            &peer,
            &peer,
            SignalKind::Offer,
            &payload,
        ))
        .unwrap();
        assert_eq!(v["peer_id"], peer.to_binary_string());
        assert_eq!(v["offer"]["sdp"], "x\r\n");
        let v: Value = serde_json::from_str(&scrape_reply([
            (hash, SwarmCounts::default()),
            (peer, SwarmCounts::default()),
        ]))
        .unwrap();
        assert_eq!(v["files"].as_object().unwrap().len(), 2);
        let v: Value =
            serde_json::from_str(&failure(Some(Action::Scrape), None, "bad \"thing\"")).unwrap();
        assert_eq!(v["failure reason"], "bad \"thing\"");
        assert_eq!(v["action"], "scrape");
    }
}
