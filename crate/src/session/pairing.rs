//! Connections to one remote peer: which signals (offers, answers) from it are wanted, and
//! which connection stays when two open. WebRTC signaling runs both ways at once (each side's
//! announce carries offers), so two peers may answer each other's offers simultaneously, and
//! a peer that leaves (a removed torrent) tells nobody about the offers it abandoned.
//!
//! Rules, the same at both ends so they agree without talking:
//! * only an open connection makes a remote's signals unwanted ([`wants_signal`]); one still
//!   being negotiated may never open (the remote left, or waits on our answer while we wait
//!   on its), and refusing meanwhile left the pair unable to connect until the driver's
//!   connect timeout (30 s; measured in the lifecycle browser test);
//! * a remote's new offer supersedes its older ones we answered that have not opened
//!   ([`superseded_by_new_offer`]): at most one such answer per remote;
//! * when a second connection to the same remote opens, the one negotiated from the smaller
//!   offer id stays ([`keeps_new`]): both ends know both ids, so both keep the same one.

/// A WebRTC offer's id (the tracker protocol's `offer_id`).
pub type OfferId = [u8; 20];

/// Whose offer a connection comes from, and that offer's id (known to both ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Ours(OfferId),
    Theirs(OfferId),
}

impl Origin {
    pub fn offer_id(self) -> OfferId {
        match self {
            Origin::Ours(id) | Origin::Theirs(id) => id,
        }
    }
}

/// Whether an offer or answer from a remote is wanted, given whether each connection the
/// driver has with that remote is open.
pub fn wants_signal(mut open: impl Iterator<Item = bool>) -> bool {
    !open.any(|o| o)
}

/// Whether a connection to a remote is dropped when that remote's new offer is answered.
pub fn superseded_by_new_offer(origin: Origin, open: bool) -> bool {
    !open && matches!(origin, Origin::Theirs(_))
}

/// When a connection from `new` opens while one from `old` to the same remote is open:
/// true if `new` stays and `old` closes, false if `new` closes.
pub fn keeps_new(new: Origin, old: Origin) -> bool {
    new.offer_id() < old.offer_id()
}

#[cfg(test)]
mod tests {
    //! Two ends, A and B, each with its list of connections to the other, driven through the
    //! signaling races seen in the browser. A connection works once both ends hold it (same
    //! offer id) and both have it open.
    use super::*;

    #[derive(Default)]
    struct End {
        links: Vec<(Origin, bool)>,
    }

    impl End {
        fn offer(&mut self, id: u8) {
            self.links.push((Origin::Ours([id; 20]), false));
        }
        /// The remote's offer `id` arrives; returns whether we answer it.
        fn on_offer(&mut self, id: u8) -> bool {
            if !wants_signal(self.links.iter().map(|l| l.1)) {
                return false;
            }
            self.links
                .retain(|&(o, open)| !superseded_by_new_offer(o, open));
            self.links.push((Origin::Theirs([id; 20]), false));
            true
        }
        /// The answer to our offer `id` arrives; returns whether we apply it.
        fn on_answer(&mut self, id: u8) -> bool {
            wants_signal(self.links.iter().map(|l| l.1))
                && self.links.iter().any(|l| l.0 == Origin::Ours([id; 20]))
        }
        fn open(&mut self, id: u8) {
            let Some(i) = self.links.iter().position(|l| l.0.offer_id() == [id; 20]) else {
                return;
            };
            let new = self.links[i].0;
            if let Some(j) = self.links.iter().position(|l| l.1) {
                if !keeps_new(new, self.links[j].0) {
                    self.links.remove(i);
                    return;
                }
                self.links.remove(j);
            }
            if let Some(l) = self.links.iter_mut().find(|l| l.0 == new) {
                l.1 = true;
            }
        }
        fn open_ids(&self) -> Vec<OfferId> {
            self.links
                .iter()
                .filter(|l| l.1)
                .map(|l| l.0.offer_id())
                .collect()
        }
    }

    /// Opens offer `id` at both ends if both still hold it (ICE between live ends succeeds).
    fn connect(a: &mut End, b: &mut End, id: u8) {
        let held = |e: &End| e.links.iter().any(|l| l.0.offer_id() == [id; 20]);
        if held(a) && held(b) {
            a.open(id);
            b.open(id);
        }
    }

    #[test]
    fn crossed_offers_end_in_one_connection_both_ends_agree_on() {
        for (first, second) in [(1, 2), (2, 1)] {
            let (mut a, mut b) = (End::default(), End::default());
            a.offer(first);
            b.offer(second);
            // Each answers the other's offer before either answer arrives.
            assert!(b.on_offer(first));
            assert!(a.on_offer(second));
            // Each answer then reaches its offerer, which already answered the other way.
            let a_applies = a.on_answer(first);
            let b_applies = b.on_answer(second);
            assert!(a_applies && b_applies, "an end refused the crossing answer");
            connect(&mut a, &mut b, first);
            connect(&mut a, &mut b, second);
            assert_eq!(a.open_ids(), vec![[1; 20]]);
            assert_eq!(b.open_ids(), a.open_ids());
        }
    }

    #[test]
    fn a_peer_that_left_mid_negotiation_can_connect_again_at_once() {
        let mut b = End::default();
        // A's offer 1 was answered by B, then A removed the torrent (its end is gone).
        assert!(b.on_offer(1));
        // A adds it again: its new offer reaches B, which answers; the stale answer goes.
        let mut a = End::default();
        a.offer(2);
        assert!(b.on_offer(2), "B refused A's new offer");
        assert!(a.on_answer(2));
        connect(&mut a, &mut b, 2);
        assert_eq!(b.open_ids(), vec![[2; 20]]);
        assert_eq!(b.links.len(), 1, "the stale answer was dropped");
        // A's answer to B's offer works too while B holds only a stale answer.
        let mut b = End::default();
        assert!(b.on_offer(1));
        b.offer(3);
        assert!(b.on_answer(3), "B refused A's answer");
    }

    #[test]
    fn an_open_connection_refuses_further_signals() {
        let (mut a, mut b) = (End::default(), End::default());
        a.offer(1);
        assert!(b.on_offer(1));
        assert!(a.on_answer(1));
        connect(&mut a, &mut b, 1);
        assert!(!b.on_offer(2));
        b.offer(3);
        assert!(!b.on_answer(3));
        assert_eq!(b.open_ids(), vec![[1; 20]]);
    }
}
