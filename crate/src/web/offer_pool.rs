//! Offers made ahead of need. Every announce carries complete-SDP offers, and making one
//! costs a peer connection, `createOffer`, `setLocalDescription` and ICE gathering: 60–100 ms
//! for an announce's five on a busy page (measured: `add()` → announce sent). A client keeps
//! [`SPARES`] of them ready, so an `add()` made once the client exists announces at once;
//! one made while they are still gathering takes them over instead of starting more.
//!
//! States of a spare: *making* (its offer is being created) → *ready* (SDP known) → taken by
//! a `CreateOffer` (then it is an ordinary connection of `ClientInner::conns`); a spare taken
//! while making gets its SDP routed to its connection when done. Invariants: a spare is in
//! the pool or in `conns`, never both; its `target` is set exactly when it left the pool;
//! spares are not counted by `liveConnections` until taken; a ready spare older than
//! [`MAX_AGE`] is dropped rather than used (the machine's addresses may have changed).

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use super::peer_conn::PeerConn;
use crate::session::ConnId;
use crate::session::core::OFFERS_PER_ANNOUNCE;

/// Spares kept: one announce's worth of offers.
pub const SPARES: usize = OFFERS_PER_ANNOUNCE;
/// A ready spare older than this is dropped instead of used.
pub const MAX_AGE: Duration = Duration::from_secs(120);
/// The pool is refilled this long after spares were taken, not at once: the moments right
/// after an announce (connections opening, a video starting) are the busiest.
pub const REFILL_DELAY: Duration = Duration::from_secs(2);

/// The connection a spare now belongs to (`None` while it is in the pool); read by its
/// event sink and by its offer task.
pub type Target = Rc<Cell<Option<ConnId>>>;

pub struct Spare {
    pub id: u64,
    pub peer: PeerConn,
    pub target: Target,
    /// The complete offer SDP, once made.
    pub sdp: Option<String>,
    pub made_at: Duration,
}

/// What a `CreateOffer` gets from the pool.
pub enum Taken {
    /// SDP known: hand it to the session now.
    Ready(PeerConn, String),
    /// Still gathering: its SDP goes to the connection when done.
    Making(PeerConn),
}

#[derive(Default)]
pub struct OfferPool {
    spares: VecDeque<Spare>,
    next_id: u64,
}

impl OfferPool {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn len(&self) -> usize {
        self.spares.len()
    }

    /// Spares whose offer is still being made.
    pub fn making(&self) -> usize {
        self.spares.iter().filter(|s| s.sdp.is_none()).count()
    }

    pub fn push(&mut self, spare: Spare) {
        self.spares.push_back(spare);
    }

    /// Takes a spare for `conn`: a ready one first, else one still making its offer. Stale
    /// ready spares met on the way are dropped.
    pub fn take(&mut self, conn: ConnId, now: Duration) -> Option<Taken> {
        self.spares
            .retain(|s| s.sdp.is_none() || now.saturating_sub(s.made_at) < MAX_AGE);
        let index = self
            .spares
            .iter()
            .position(|s| s.sdp.is_some())
            .or_else(|| (!self.spares.is_empty()).then_some(0))?;
        let spare = self.spares.remove(index)?;
        spare.target.set(Some(conn));
        let mut peer = spare.peer;
        peer.count_as_live();
        Some(match spare.sdp {
            Some(sdp) => Taken::Ready(peer, sdp),
            None => Taken::Making(peer),
        })
    }

    /// Spare `id`'s offer is done: kept if the spare is still in the pool (dropped if it
    /// failed). Returns the result when the spare left the pool: it goes to its connection.
    pub fn offer_done(
        &mut self,
        id: u64,
        result: Result<String, String>,
        now: Duration,
    ) -> Option<Result<String, String>> {
        let Some(index) = self.spares.iter().position(|s| s.id == id) else {
            return Some(result);
        };
        match result {
            Ok(sdp) => {
                let spare = &mut self.spares[index];
                spare.sdp = Some(sdp);
                spare.made_at = now;
            }
            Err(_) => {
                self.spares.remove(index);
            }
        }
        None
    }

    pub fn clear(&mut self) {
        self.spares.clear();
    }
}
