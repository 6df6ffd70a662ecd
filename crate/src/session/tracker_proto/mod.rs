//! The WebTorrent WebSocket tracker protocol, both ends: the one implementation the browser driver,
//! `seedcast-signal` (the tracker) and its load generator share. Sans-IO: text in, values out, and back.
//!
//! Messages are JSON text frames. Ids (`info_hash`, `peer_id`, `offer_id`) travel as 20-character binary
//! strings ([`id`]). A peer announces with complete-SDP offers; the tracker relays each to another peer of
//! the swarm, and relays that peer's answer back.
//!
//! | direction        | write                | read                  |
//! |------------------|----------------------|-----------------------|
//! | peer → tracker   | [`request_build`]    | [`request`] (borrowed: SDP relayed verbatim) |
//! | tracker → peer   | [`response`]         | [`response_parse`]    |

pub mod id;
mod json;
pub mod request;
pub mod request_build;
pub mod response;
pub mod response_parse;

pub use id::{Id20, IdBytes, IdError};
pub use request::{Action, Event, ParseLimits, Rejection, Request, RequestError};
pub use request_build::{AnnounceOut, OfferOut};
pub use response::{SignalKind, SwarmCounts};
pub use response_parse::{MAX_MESSAGE_CHARS, MAX_SDP_CHARS, MessageError, TrackerMessage};

/// A deterministic generator for the tests that mangle messages (the crate has no `rand`).
#[cfg(test)]
pub(crate) mod test_rng {
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }

        /// xorshift64*: plenty for picking mutations.
        pub fn below_range(&mut self, range: std::ops::Range<usize>) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let n = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
            range.start + (n % (range.end - range.start) as u64) as usize
        }
    }
}
