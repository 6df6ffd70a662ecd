//! The trackers a client talks to: one entry (one socket) per URL, reference-counted by the
//! torrents that announce on it.
//!
//! A tracker is only trusted with the torrents announced on it: a tracker that one link
//! brought in must not learn which other torrents the page holds, nor get a connection (and
//! the user's address) for them. So a relayed offer or answer is acted on only when
//! [`TrackerSet::serves`] the torrent, and a tracker nobody uses any more is removed (its
//! socket closed, no reconnects).
//!
//! Invariants:
//! * at most one entry per URL, at most `capacity` entries;
//! * an entry exists iff it is pinned or some torrent uses it ([`TrackerSet::release`]
//!   returns the others for the driver to close);
//! * ids are never reused, so news from a socket closed meanwhile cannot reach a newer
//!   tracker.

use std::collections::{BTreeMap, BTreeSet};

/// Names one tracker entry for as long as it exists.
pub type TrackerId = u32;
/// A torrent, by info hash.
pub type TorrentId = [u8; 20];

/// Trackers by id, each with the driver's state `S` (its socket, reconnect timer …).
#[derive(Debug)]
pub struct TrackerSet<S> {
    entries: BTreeMap<TrackerId, Entry<S>>,
    next_id: TrackerId,
    capacity: usize,
}

#[derive(Debug)]
struct Entry<S> {
    url: String,
    /// Torrents announcing here.
    users: BTreeSet<TorrentId>,
    /// Held by the client itself (the trackers the page configured), whatever torrents do.
    pinned: bool,
    state: S,
}

/// No room for another tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("already talking to {0} trackers, the most at once")]
pub struct TrackersFull(pub usize);

impl<S: Default> TrackerSet<S> {
    /// An empty set of at most `capacity` trackers.
    pub fn new(capacity: usize) -> Self {
        TrackerSet {
            entries: BTreeMap::new(),
            next_id: 0,
            capacity,
        }
    }

    /// Keeps `url` for the client's lifetime (until [`TrackerSet::drain`]).
    pub fn pin(&mut self, url: &str) -> Result<TrackerId, TrackersFull> {
        let id = self.entry(url)?;
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.pinned = true;
        }
        Ok(id)
    }

    /// Records that `torrent` announces on `url`, adding the tracker if it is new.
    pub fn acquire(&mut self, url: &str, torrent: TorrentId) -> Result<TrackerId, TrackersFull> {
        let id = self.entry(url)?;
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.users.insert(torrent);
        }
        Ok(id)
    }

    fn entry(&mut self, url: &str) -> Result<TrackerId, TrackersFull> {
        if let Some((&id, _)) = self.entries.iter().find(|(_, e)| e.url == url) {
            return Ok(id);
        }
        if self.entries.len() >= self.capacity {
            return Err(TrackersFull(self.capacity));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(
            id,
            Entry {
                url: url.to_owned(),
                users: BTreeSet::new(),
                pinned: false,
                state: S::default(),
            },
        );
        Ok(id)
    }
}

impl<S> TrackerSet<S> {
    /// `torrent` stopped: forgets it everywhere and removes the trackers nobody uses any
    /// more, returning their state so the driver closes them.
    pub fn release(&mut self, torrent: &TorrentId) -> Vec<(TrackerId, S)> {
        let unused: Vec<TrackerId> = self
            .entries
            .iter_mut()
            .filter_map(|(&id, entry)| {
                let was_user = entry.users.remove(torrent);
                (was_user && entry.users.is_empty() && !entry.pinned).then_some(id)
            })
            .collect();
        unused
            .into_iter()
            .filter_map(|id| self.entries.remove(&id).map(|e| (id, e.state)))
            .collect()
    }

    /// Whether `torrent` announces on tracker `id`: only then may that tracker's offers and
    /// answers for it be acted on.
    pub fn serves(&self, id: TrackerId, torrent: &TorrentId) -> bool {
        self.entries
            .get(&id)
            .is_some_and(|e| e.users.contains(torrent))
    }

    /// The trackers `torrent` announces on.
    pub fn used_by<'a>(&'a self, torrent: &'a TorrentId) -> impl Iterator<Item = TrackerId> + 'a {
        self.entries
            .iter()
            .filter(|(_, e)| e.users.contains(torrent))
            .map(|(&id, _)| id)
    }

    pub fn url(&self, id: TrackerId) -> Option<&str> {
        self.entries.get(&id).map(|e| e.url.as_str())
    }

    pub fn get(&self, id: TrackerId) -> Option<&S> {
        self.entries.get(&id).map(|e| &e.state)
    }

    pub fn get_mut(&mut self, id: TrackerId) -> Option<&mut S> {
        self.entries.get_mut(&id).map(|e| &mut e.state)
    }

    pub fn ids(&self) -> Vec<TrackerId> {
        self.entries.keys().copied().collect()
    }

    /// The pinned trackers' URLs, in the order they were pinned.
    pub fn pinned_urls(&self) -> Vec<String> {
        self.entries
            .values()
            .filter(|e| e.pinned)
            .map(|e| e.url.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every tracker (the client is destroyed).
    pub fn drain(&mut self) -> Vec<S> {
        std::mem::take(&mut self.entries)
            .into_values()
            .map(|e| e.state)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: TorrentId = [0xaa; 20];
    const B: TorrentId = [0xbb; 20];
    const HOSTILE: &str = "wss://hostile.example";
    const HONEST: &str = "wss://honest.example";

    #[test]
    fn one_entry_per_url_shared_by_torrents() {
        let mut set: TrackerSet<()> = TrackerSet::new(4);
        let first = set.acquire(HONEST, A).unwrap();
        assert_eq!(set.acquire(HONEST, B), Ok(first));
        assert_eq!(set.len(), 1);
        assert!(set.serves(first, &A) && set.serves(first, &B));
    }

    #[test]
    fn a_tracker_serves_only_the_torrents_announced_on_it() {
        let mut set: TrackerSet<()> = TrackerSet::new(4);
        let honest = set.acquire(HONEST, A).unwrap();
        let hostile = set.acquire(HOSTILE, B).unwrap();
        assert!(set.serves(honest, &A));
        assert!(
            !set.serves(hostile, &A),
            "B's tracker must not signal for A"
        );
        assert!(set.serves(hostile, &B));
        assert!(!set.serves(99, &A), "an unknown tracker serves nothing");
        assert_eq!(set.used_by(&A).collect::<Vec<_>>(), vec![honest]);
    }

    #[test]
    fn the_last_user_leaving_closes_the_tracker() {
        let mut set: TrackerSet<&str> = TrackerSet::new(4);
        let id = set.acquire(HONEST, A).unwrap();
        set.acquire(HONEST, B).unwrap();
        *set.get_mut(id).unwrap() = "socket";
        assert!(set.release(&A).is_empty(), "B still uses it");
        assert!(
            !set.serves(id, &A),
            "A's offers are no longer accepted there"
        );
        assert_eq!(set.release(&B), vec![(id, "socket")]);
        assert!(set.is_empty());
        assert!(set.release(&B).is_empty(), "releasing twice is harmless");
    }

    #[test]
    fn pinned_trackers_stay_but_serve_only_their_users() {
        let mut set: TrackerSet<()> = TrackerSet::new(4);
        let own = set.pin(HONEST).unwrap();
        assert!(
            !set.serves(own, &A),
            "pinned, but no torrent announced there yet"
        );
        assert_eq!(set.acquire(HONEST, A), Ok(own));
        assert!(set.serves(own, &A));
        assert!(
            set.release(&A).is_empty(),
            "the client keeps its own tracker"
        );
        assert!(!set.serves(own, &A));
        assert_eq!(set.pinned_urls(), vec![HONEST.to_owned()]);
    }

    #[test]
    fn capacity_is_freed_by_closing_and_ids_are_not_reused() {
        let mut set: TrackerSet<()> = TrackerSet::new(1);
        let first = set.acquire(HOSTILE, A).unwrap();
        assert_eq!(set.acquire(HONEST, B), Err(TrackersFull(1)));
        assert_eq!(set.release(&A).len(), 1);
        let second = set.acquire(HONEST, B).unwrap();
        assert_ne!(
            first, second,
            "a late event of the closed socket must not reach this one"
        );
        assert_eq!(set.url(first), None);
        assert_eq!(set.url(second), Some(HONEST));
    }

    #[test]
    fn drain_removes_everything() {
        let mut set: TrackerSet<u8> = TrackerSet::new(4);
        set.pin(HONEST).unwrap();
        set.acquire(HOSTILE, A).unwrap();
        assert_eq!(set.drain().len(), 2);
        assert!(set.is_empty() && set.ids().is_empty());
    }
}
