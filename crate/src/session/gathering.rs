//! When a complete-SDP offer or answer (the WebTorrent tracker protocol has no trickle ICE)
//! has enough candidates to be sent, before the browser says gathering is complete.
//!
//! Why: Chromium gathers UDP host candidates within milliseconds, then TCP host candidates
//! ~120 ms later, and only then reports `complete` (measured here: UDP at 3–20 ms, TCP and
//! `complete` at 117–138 ms after `setLocalDescription`). Browser peers talk over UDP; ICE-TCP
//! only helps two hosts whose UDP is blocked *between them*, which the STUN/TURN candidates
//! already cover. Waiting for `complete` put ~120 ms in front of every connection.
//!
//! Rule (invariant: an early SDP never lacks a kind of candidate the configuration asks for):
//! ready once it has a UDP candidate, plus a server-reflexive one when STUN servers are
//! configured and a relay one when TURN servers are; then [`SETTLE`] more for the rest of
//! the same burst (other interfaces). Otherwise the browser's `complete` (or the driver's
//! cap) decides, as before.

use std::time::Duration;

/// After the rule is met, candidates of the same burst (other interfaces, IPv6) still get
/// this long to arrive; the burst measured here spans ≤ 3 ms.
pub const SETTLE: Duration = Duration::from_millis(15);

/// A candidate's type (`RTCIceCandidate.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateType {
    Host,
    ServerReflexive,
    PeerReflexive,
    Relay,
}

impl CandidateType {
    /// `host`, `srflx`, `prflx` or `relay`; anything else is not a candidate we count.
    pub fn parse(s: &str) -> Option<CandidateType> {
        match s {
            "host" => Some(CandidateType::Host),
            "srflx" => Some(CandidateType::ServerReflexive),
            "prflx" => Some(CandidateType::PeerReflexive),
            "relay" => Some(CandidateType::Relay),
            _ => None,
        }
    }
}

/// What gathering has found so far, against what the ICE configuration asks for.
#[derive(Clone, Debug, Default)]
pub struct Gathering {
    want_reflexive: bool,
    want_relay: bool,
    udp: bool,
    reflexive: bool,
    relay: bool,
}

impl Gathering {
    /// From the `urls` of the configured ICE servers (`stun:`/`stuns:` ask for a reflexive
    /// candidate, `turn:`/`turns:` for a relay one; case as in RFC 7064/7065: schemes are
    /// case-insensitive).
    pub fn new<'a>(server_urls: impl IntoIterator<Item = &'a str>) -> Gathering {
        let mut g = Gathering::default();
        for url in server_urls {
            let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
            match scheme.as_str() {
                "stun" | "stuns" => g.want_reflexive = true,
                "turn" | "turns" => g.want_relay = true,
                _ => {}
            }
        }
        g
    }

    /// Records one candidate (`protocol` is `udp` or `tcp`). Returns whether the SDP is now
    /// ready (after [`SETTLE`]).
    pub fn on_candidate(&mut self, kind: Option<CandidateType>, protocol: &str) -> bool {
        let udp = protocol.eq_ignore_ascii_case("udp");
        match kind {
            Some(CandidateType::Relay) => self.relay = true,
            Some(CandidateType::ServerReflexive) if udp => self.reflexive = true,
            _ => {}
        }
        if udp && kind.is_some() {
            self.udp = true;
        }
        self.ready()
    }

    pub fn ready(&self) -> bool {
        self.udp && (self.reflexive || !self.want_reflexive) && (self.relay || !self.want_relay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CandidateType::*;

    #[test]
    fn without_servers_the_first_udp_candidate_is_enough() {
        let mut g = Gathering::new([]);
        assert!(!g.ready());
        assert!(
            !g.on_candidate(Some(Host), "tcp"),
            "TCP alone is not what browsers use"
        );
        assert!(g.on_candidate(Some(Host), "udp"));
    }

    #[test]
    fn stun_waits_for_a_reflexive_candidate() {
        let mut g = Gathering::new(["stun:stun.example.org:3478"]);
        assert!(!g.on_candidate(Some(Host), "udp"));
        assert!(!g.on_candidate(Some(Host), "tcp"));
        assert!(g.on_candidate(Some(ServerReflexive), "udp"));
    }

    #[test]
    fn turn_waits_for_a_relay_candidate_as_well() {
        let mut g = Gathering::new(["STUN:a.example", "turns:b.example:443?transport=tcp"]);
        assert!(!g.on_candidate(Some(Host), "udp"));
        assert!(!g.on_candidate(Some(ServerReflexive), "udp"));
        assert!(g.on_candidate(Some(Relay), "udp"));
    }

    #[test]
    fn unknown_types_and_schemes_count_for_nothing() {
        let mut g = Gathering::new(["https://not-ice.example", ""]);
        assert!(!g.on_candidate(None, "udp"));
        assert!(g.on_candidate(Some(PeerReflexive), "UDP"));
    }
}
