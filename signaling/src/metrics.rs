//! Counters for `/stats` and `/metrics`. Plain relaxed atomics: they are statistics, not synchronisation.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub connections_refused: AtomicU64,
    pub announces: AtomicU64,
    pub answers: AtomicU64,
    pub scrapes: AtomicU64,
    pub offers_relayed: AtomicU64,
    pub answers_relayed: AtomicU64,
    /// Answers whose offerer had left, and relays to a queue that was full or closed.
    pub messages_dropped: AtomicU64,
    pub failures_sent: AtomicU64,
    pub closed_slow_reader: AtomicU64,
    /// Times a socket stopped taking bytes and the server began holding them for it (backpressure).
    pub write_stalls: AtomicU64,
    pub closed_flooding: AtomicU64,
    pub closed_idle: AtomicU64,
    pub closed_bad_frame: AtomicU64,
    pub peers_expired: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// The swarm totals, computed from the registry when asked.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct SwarmTotals {
    pub swarms: usize,
    pub peers: usize,
    pub seeders: usize,
    pub leechers: usize,
}

/// The `/stats` document.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    #[serde(flatten)]
    pub totals: SwarmTotals,
    pub connections: u64,
    pub messages_relayed: u64,
    pub offers_relayed: u64,
    pub answers_relayed: u64,
    pub messages_dropped: u64,
    pub announces: u64,
    pub answers: u64,
    pub scrapes: u64,
    pub failures_sent: u64,
    pub connections_total: u64,
    pub connections_refused: u64,
    pub closed_slow_reader: u64,
    pub write_stalls: u64,
    pub closed_flooding: u64,
    pub closed_idle: u64,
    pub closed_bad_frame: u64,
    pub peers_expired: u64,
}

impl Stats {
    pub fn new(totals: SwarmTotals, m: &Metrics) -> Self {
        let offers = m.offers_relayed.load(Relaxed);
        let answers = m.answers_relayed.load(Relaxed);
        Self {
            totals,
            connections: m.connections_open.load(Relaxed),
            messages_relayed: offers + answers,
            offers_relayed: offers,
            answers_relayed: answers,
            messages_dropped: m.messages_dropped.load(Relaxed),
            announces: m.announces.load(Relaxed),
            answers: m.answers.load(Relaxed),
            scrapes: m.scrapes.load(Relaxed),
            failures_sent: m.failures_sent.load(Relaxed),
            connections_total: m.connections_total.load(Relaxed),
            connections_refused: m.connections_refused.load(Relaxed),
            closed_slow_reader: m.closed_slow_reader.load(Relaxed),
            write_stalls: m.write_stalls.load(Relaxed),
            closed_flooding: m.closed_flooding.load(Relaxed),
            closed_idle: m.closed_idle.load(Relaxed),
            closed_bad_frame: m.closed_bad_frame.load(Relaxed),
            peers_expired: m.peers_expired.load(Relaxed),
        }
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP seedcast_signal_{name} {help}\n# TYPE seedcast_signal_{name} {kind}\nseedcast_signal_{name} {value}"
            );
        };
        let t = &self.totals;
        metric(
            "swarms",
            "gauge",
            "Swarms with at least one peer.",
            t.swarms as u64,
        );
        metric("peers", "gauge", "Peers in all swarms.", t.peers as u64);
        metric(
            "seeders",
            "gauge",
            "Peers with the whole torrent.",
            t.seeders as u64,
        );
        metric(
            "leechers",
            "gauge",
            "Peers still downloading.",
            t.leechers as u64,
        );
        metric(
            "connections",
            "gauge",
            "Open WebSocket connections.",
            self.connections,
        );
        metric(
            "connections_total",
            "counter",
            "WebSocket connections accepted.",
            self.connections_total,
        );
        metric(
            "connections_refused_total",
            "counter",
            "Upgrades refused at the connection limit.",
            self.connections_refused,
        );
        metric(
            "offers_relayed_total",
            "counter",
            "Offers relayed to peers.",
            self.offers_relayed,
        );
        metric(
            "answers_relayed_total",
            "counter",
            "Answers forwarded to offerers.",
            self.answers_relayed,
        );
        metric(
            "messages_dropped_total",
            "counter",
            "Relays dropped (target gone or too slow).",
            self.messages_dropped,
        );
        metric(
            "announces_total",
            "counter",
            "Announces handled.",
            self.announces,
        );
        metric(
            "answers_total",
            "counter",
            "Answers received.",
            self.answers,
        );
        metric("scrapes_total", "counter", "Scrapes handled.", self.scrapes);
        metric(
            "failures_total",
            "counter",
            "Failure replies sent.",
            self.failures_sent,
        );
        metric(
            "closed_slow_reader_total",
            "counter",
            "Connections closed because their queue was full.",
            self.closed_slow_reader,
        );
        metric(
            "write_stalls_total",
            "counter",
            "Times a socket stopped taking bytes and the server held them for it.",
            self.write_stalls,
        );
        metric(
            "closed_flooding_total",
            "counter",
            "Connections closed for exceeding the rate limit.",
            self.closed_flooding,
        );
        metric(
            "closed_idle_total",
            "counter",
            "Connections closed after going silent.",
            self.closed_idle,
        );
        metric(
            "closed_bad_frame_total",
            "counter",
            "Connections closed for an oversized or malformed frame.",
            self.closed_bad_frame,
        );
        metric(
            "peers_expired_total",
            "counter",
            "Peers removed for not re-announcing.",
            self.peers_expired,
        );
        out
    }
}
