//! Engine benchmarks: `cargo bench -p seedcast --bench engine`.
//!
//! Prints CPU cost, not wall time: the simulator's links are made fast enough that the
//! engine (framing, picking, copying, SHA-1) is the bottleneck, and CPU time is read from
//! /proc so a busy machine does not distort the figure as much as wall time would.

#[path = "../tests/sim/mod.rs"]
mod sim;

use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use sim::{LinkSpec, Sim};

const MIB: usize = 1024 * 1024;

/// CPU time of this thread in nanoseconds (Linux schedstat; falls back to wall time).
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let (c0, w0) = (cpu_ns(), Instant::now());
    let out = f();
    let secs = match (c0, cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => w0.elapsed().as_secs_f64(),
    };
    (out, secs)
}

fn swarm(leechers: usize, size: usize) {
    let (moved, secs) = measure(|| {
        let mut sim = Sim::new(size, None, 42);
        let seeder = sim.add_seeder(1 << 30);
        let ls: Vec<_> = (0..leechers).map(|_| sim.add_leecher(1 << 30)).collect();
        let link = LinkSpec {
            latency: Duration::from_millis(5),
            ..LinkSpec::default()
        };
        for (i, &l) in ls.iter().enumerate() {
            sim.connect(seeder, l, link);
            for &o in &ls[i + 1..] {
                sim.connect(l, o, link);
            }
        }
        assert!(
            sim.run_to_completion(Duration::from_secs(3600)),
            "bench swarm did not finish"
        );
        ls.iter()
            .map(|&l| sim.nodes[l].torrent.stats().downloaded)
            .sum::<u64>()
    });
    let mib = moved as f64 / MIB as f64;
    println!(
        "engine swarm 1 seeder + {leechers} leechers, {} MiB: {:.0} MiB moved per CPU second ({:.2} ms CPU per MiB, all peers together)",
        size / MIB,
        mib / secs,
        secs * 1000.0 / mib
    );
}

fn sha1_native() {
    let data = vec![0xa5u8; 4 * MIB];
    let mut rounds = 0u64;
    let (_, secs) = measure(|| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(1) {
            std::hint::black_box(Sha1::digest(std::hint::black_box(&data)));
            rounds += 1;
        }
    });
    println!(
        "sha1 verify native: {:.0} MB/s",
        (rounds as f64 * data.len() as f64) / secs / 1e6
    );
}

fn main() {
    sha1_native();
    swarm(1, 64 * MIB);
    swarm(4, 64 * MIB);
}
