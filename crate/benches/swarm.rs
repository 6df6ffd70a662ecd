//! Swarm benchmark in the session simulator: one upload-limited seeder and N upload-limited
//! leechers, all starting at once through a WebTorrent tracker relay, run to completion on a
//! virtual clock (`crate/tests/session_harness`: in-order channels, no latency, the session's
//! own upload bucket as each node's uplink). Prints the time until every leecher is done
//! against the fluid-model bound T* = max(F/U_seed, N·F/(U_seed + N·U_leech)), how many times
//! the seeder sent the content, and each leecher's upload rate as a share of its limit while
//! others still needed data.
//!
//! `make bench-swarm` (or `cargo bench -p seedcast --bench swarm`). Deterministic: the same
//! seeds give the same numbers; SEEDS=n runs n different seeds per scenario. TIMELINE=1 also
//! prints, every 2 s, each node's upload as a share of its limit and each leecher's progress
//! (how upload-limited leechers drifting apart was found: `session/core/upload_order.rs`).

#[path = "../tests/session_harness/mod.rs"]
mod session_harness;

use std::time::Duration;

use seedcast::create::auto_piece_length;
use session_harness::{Net, session_config};

struct Scenario {
    name: &'static str,
    mib: usize,
    seed_rate: u64,
    leechers: usize,
    leech_rate: u64,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "1 seeder 1.5 MB/s, 4 leechers 1.0 MB/s, 24 MiB",
        mib: 24,
        seed_rate: 1_500_000,
        leechers: 4,
        leech_rate: 1_000_000,
    },
    Scenario {
        name: "1 seeder 1.0 MB/s, 8 leechers 0.5 MB/s, 16 MiB",
        mib: 16,
        seed_rate: 1_000_000,
        leechers: 8,
        leech_rate: 500_000,
    },
    Scenario {
        name: "1 seeder 0.5 MB/s, 4 leechers 2.0 MB/s, 16 MiB (seeder-bound)",
        mib: 16,
        seed_rate: 500_000,
        leechers: 4,
        leech_rate: 2_000_000,
    },
];

struct Outcome {
    all_done: Duration,
    seeder_copies: f64,
    /// Per leecher: bytes uploaded / (limit × time until the last leecher finished).
    leecher_share: Vec<f64>,
    /// Bytes the leechers received and threw away (duplicates), as copies of the content.
    wasted: f64,
}

fn run(s: &Scenario, seed: u64) -> Outcome {
    let len = s.mib * 1024 * 1024;
    let mut net = Net::new(len, auto_piece_length(len as u64));
    net.record_outputs = false;
    let config = |node: usize, rate: u64| {
        let mut c = session_config(node + seed as usize * 100);
        c.upload_limit = Some(rate);
        c
    };
    let seeder = net.add_seeder(config(0, s.seed_rate));
    let leechers: Vec<usize> = (1..=s.leechers)
        .map(|i| net.add_leecher(config(i, s.leech_rate)))
        .collect();
    let hash = net.info_hash();
    let nodes: Vec<usize> = std::iter::once(seeder)
        .chain(leechers.iter().copied())
        .collect();
    let limits: Vec<u64> = std::iter::once(s.seed_rate)
        .chain(leechers.iter().map(|_| s.leech_rate))
        .collect();
    let timeline = std::env::var("TIMELINE").is_ok_and(|v| v == "1");
    let step = Duration::from_secs(if timeline { 2 } else { 3600 });
    let mut last: Vec<(u64, u64)> = nodes.iter().map(|&n| totals(&net, &hash, n)).collect();
    let mut until = Duration::ZERO;
    let done = loop {
        until = (until + step).min(Duration::from_secs(3600));
        let finished = net.run_until(until, |net| leechers.iter().all(|&l| net.is_complete(l)));
        if timeline {
            print_timeline(&net, &hash, &nodes, &limits, &mut last, step, len);
        }
        if finished || until >= Duration::from_secs(3600) {
            break finished;
        }
    };
    assert!(
        done,
        "{}: the leechers did not finish within an hour",
        s.name
    );
    let all_done = net.now;
    // Read only: `Net::with` would also run the session's outputs.
    let uploaded = |net: &Net, node: usize| {
        net.nodes[node]
            .session
            .torrent(&hash)
            .map_or(0, |t| t.stats().uploaded)
    };
    let seeder_copies = uploaded(&net, seeder) as f64 / len as f64;
    let leecher_share = leechers
        .iter()
        .map(|&l| uploaded(&net, l) as f64 / (s.leech_rate as f64 * all_done.as_secs_f64()))
        .collect();
    let wasted = leechers
        .iter()
        .map(|&l| {
            net.nodes[l]
                .session
                .torrent(&hash)
                .map_or(0, |t| t.stats().wasted)
        })
        .sum::<u64>() as f64
        / len as f64;
    Outcome {
        all_done,
        seeder_copies,
        leecher_share,
        wasted,
    }
}

/// `(uploaded, downloaded)` bytes of `node` so far.
fn totals(net: &Net, hash: &[u8; 20], node: usize) -> (u64, u64) {
    net.nodes[node].session.torrent(hash).map_or((0, 0), |t| {
        let s = t.stats();
        (s.uploaded, s.downloaded)
    })
}

/// TIMELINE=1: one line per step of simulated time, the seeder first: each node's upload in
/// that step as a share of its limit and, for leechers, how much of the content it has.
fn print_timeline(
    net: &Net,
    hash: &[u8; 20],
    nodes: &[usize],
    limits: &[u64],
    last: &mut [(u64, u64)],
    step: Duration,
    len: usize,
) {
    let cells: Vec<String> = nodes
        .iter()
        .zip(limits)
        .zip(last.iter_mut())
        .map(|((&node, &limit), last)| {
            let now = totals(net, hash, node);
            let up = (now.0 - last.0) as f64 / step.as_secs_f64() / limit as f64 * 100.0;
            *last = now;
            if node == nodes[0] {
                format!("{up:3.0}%")
            } else {
                format!("{up:3.0}%/{:3.0}", now.1 as f64 / len as f64 * 100.0)
            }
        })
        .collect();
    println!(
        "    t={:5.1}  up%/have%: {}",
        net.now.as_secs_f64(),
        cells.join("  ")
    );
}

fn main() {
    let seeds: u64 = std::env::var("SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    println!("swarm (session simulator): time until every leecher is done vs the fluid bound T*");
    for s in SCENARIOS {
        let f = (s.mib * 1024 * 1024) as f64;
        let n = s.leechers as f64;
        let t_star =
            (f / s.seed_rate as f64).max(n * f / (s.seed_rate as f64 + n * s.leech_rate as f64));
        println!("\n{}  (T* = {t_star:.1} s)", s.name);
        for seed in 0..seeds {
            let o = run(s, seed);
            let t = o.all_done.as_secs_f64();
            let shares: Vec<String> = o
                .leecher_share
                .iter()
                .map(|x| format!("{:.0}%", x * 100.0))
                .collect();
            println!(
                "  seed {seed}: all done {t:6.1} s = {:.2}× T*; seeder sent the content {:.2}×; \
                 leecher upload / limit: {}; duplicates {:.2}×",
                t / t_star,
                o.seeder_copies,
                shares.join(" "),
                o.wasted
            );
        }
    }
}
