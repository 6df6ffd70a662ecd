//! `signal-loadgen`: holds N WebTorrent-like peers on a tracker across many swarms, drives offer/answer
//! traffic at a set rate, and reports peers held, messages lost, relay rate, relay latency, and the server's
//! CPU per relayed message and memory per peer (from /proc, given its pid).

mod histogram;
mod peer;
mod server_process;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use futures_util::StreamExt;
use rand::Rng;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use peer::{Command, Identity, Shared};
use server_process::ServerProcess;

#[derive(Debug, Parser)]
#[command(about = "Load generator for WebTorrent WebSocket trackers")]
struct Args {
    /// Tracker URL.
    #[arg(long, default_value = "ws://127.0.0.1:8000/announce")]
    url: String,
    /// Peers (connections) to hold.
    #[arg(long, default_value_t = 1000)]
    peers: usize,
    /// Peers per swarm.
    #[arg(long, default_value_t = 10)]
    swarm_size: usize,
    /// Offers per announce (each relayed to a different peer, each answered).
    #[arg(long, default_value_t = 5)]
    offers: usize,
    /// Bytes of filler in each SDP, for realistic message sizes.
    #[arg(long, default_value_t = 400)]
    sdp_bytes: usize,
    /// Spread connections over this many source addresses 127.0.0.1, 127.0.0.2, ...
    #[arg(long, default_value_t = 4)]
    sources: u8,
    /// Connections opened at once while joining.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Announces per second in a first, light steady phase (0 skips it).
    #[arg(long, default_value_t = 0)]
    steady_low_rate: u64,
    #[arg(long, default_value_t = 15)]
    steady_low_secs: u64,
    /// Announces per second in the (heavier) steady phase (each relays `offers` offers and as many answers).
    #[arg(long, default_value_t = 200)]
    steady_rate: u64,
    #[arg(long, default_value_t = 10)]
    steady_secs: u64,
    /// Announces per second in the burst phase (0 skips it).
    #[arg(long, default_value_t = 0)]
    burst_rate: u64,
    #[arg(long, default_value_t = 5)]
    burst_secs: u64,
    /// Pid of the tracker process, for CPU and memory figures.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Name in the report.
    #[arg(long, default_value = "tracker")]
    label: String,
    /// Also print the report as one JSON line starting with `RESULT `.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    label: String,
    peers_wanted: usize,
    peers_joined: u64,
    peers_held: u64,
    join_secs: f64,
    server_rss_kib_idle: u64,
    server_rss_kib_loaded: u64,
    rss_bytes_per_peer: u64,
    phases: Vec<PhaseReport>,
}

#[derive(Debug, Serialize)]
struct PhaseReport {
    name: &'static str,
    target_announces_per_sec: u64,
    announces: u64,
    offers_expected: u64,
    offers_received: u64,
    answers_sent: u64,
    answers_received: u64,
    lost: u64,
    relayed: u64,
    secs: f64,
    relayed_per_sec: f64,
    server_cpu_ms: u64,
    cpu_ms_per_1000_relayed: f64,
    /// The same split into user space (the server's own code) and kernel (mostly loopback TCP).
    user_cpu_ms_per_1000_relayed: f64,
    system_cpu_ms_per_1000_relayed: f64,
    /// Cores the server and this load generator kept busy on average (CPU time ÷ phase time): the two
    /// share the machine, so the generator must not be the limit.
    server_cores: f64,
    loadgen_cpu_ms_per_1000_relayed: f64,
    loadgen_cores: f64,
    offer_p50_ms: f64,
    offer_p99_ms: f64,
    answer_p50_ms: f64,
    answer_p99_ms: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Every connection is a file; take all the hard limit allows.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&args))?;
    print_report(&report);
    if args.json {
        println!("RESULT {}", serde_json::to_string(&report)?);
    }
    // Dropping 20k sockets through the runtime's shutdown is slow and measures nothing.
    std::process::exit(0);
}

async fn run(args: &Args) -> anyhow::Result<Report> {
    let server_addr = server_addr(&args.url)?;
    let server = args.server_pid.map(ServerProcess::new);
    let rss = || server.and_then(|s| s.rss_kib()).unwrap_or(0);
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        offers_per_announce: args.offers,
        padding: "a".repeat(args.sdp_bytes),
        joined: Default::default(),
        announces_sent: Default::default(),
        offers_received: Default::default(),
        answers_sent: Default::default(),
        answers_received: Default::default(),
        failures: Default::default(),
        offer_latency: histogram::Histogram::new(),
        answer_latency: histogram::Histogram::new(),
    });
    let rss_idle = rss();

    // Join: connect and announce `started`, a bounded number at a time.
    let started = Instant::now();
    let joins = futures_util::stream::iter(0..args.peers)
        .map(|i| {
            let source = Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(args.sources.max(1))) as u8);
            let me = Identity::new(i, i / args.swarm_size.max(1));
            async move {
                let mut ws = peer::connect(server_addr, &args.url, source).await?;
                peer::join(&mut ws, &me).await?;
                anyhow::Ok((ws, me))
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1));
    let mut senders = Vec::with_capacity(args.peers);
    let mut tasks = Vec::with_capacity(args.peers);
    let mut swarm_of = Vec::with_capacity(args.peers);
    let mut join_errors = 0usize;
    futures_util::pin_mut!(joins);
    while let Some(joined) = joins.next().await {
        match joined {
            Ok((ws, me)) => {
                shared.joined.fetch_add(1, Relaxed);
                let (tx, rx) = mpsc::unbounded_channel();
                swarm_of.push(me.index / args.swarm_size.max(1));
                senders.push(tx);
                tasks.push(tokio::spawn(peer::run(ws, me, rx, shared.clone())));
            }
            Err(e) => {
                if join_errors < 3 {
                    eprintln!("{}: a peer could not join: {e:#}", args.label);
                }
                join_errors += 1;
            }
        }
    }
    let join_secs = started.elapsed().as_secs_f64();
    let joined = shared.joined.load(Relaxed);
    eprintln!(
        "{}: {joined} of {} peers joined in {join_secs:.1} s ({join_errors} failed)",
        args.label, args.peers
    );

    // Let the server settle (Node collects garbage) before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_loaded = rss();
    let swarm_members = count_members(&swarm_of);

    let mut phases = Vec::new();
    let plan = [
        ("steady-low", args.steady_low_rate, args.steady_low_secs),
        ("steady-high", args.steady_rate, args.steady_secs),
        ("burst", args.burst_rate, args.burst_secs),
    ];
    for (name, rate, secs) in plan {
        if rate == 0 || secs == 0 || senders.is_empty() {
            continue;
        }
        let phase = drive_phase(
            name,
            rate,
            secs,
            &senders,
            &swarm_of,
            &swarm_members,
            &shared,
            server,
            args.offers,
        )
        .await;
        eprintln!(
            "{}: {name} phase done: {} relayed, {} lost",
            args.label, phase.relayed, phase.lost
        );
        phases.push(phase);
    }

    // Every peer announces once more; those that get a reply are held.
    for tx in &senders {
        let _ = tx.send(Command::Finish);
    }
    let mut held = 0u64;
    let mut sockets = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok((alive, ws)) = task.await {
            held += u64::from(alive);
            sockets.push(ws);
        }
    }
    Ok(Report {
        label: args.label.clone(),
        peers_wanted: args.peers,
        peers_joined: joined,
        peers_held: held,
        join_secs,
        server_rss_kib_idle: rss_idle,
        server_rss_kib_loaded: rss_loaded,
        rss_bytes_per_peer: (rss_loaded.saturating_sub(rss_idle) * 1024)
            .checked_div(joined)
            .unwrap_or(0),
        phases,
    })
}

fn count_members(swarm_of: &[usize]) -> Vec<u64> {
    let mut members = vec![0u64; swarm_of.iter().max().map_or(0, |m| m + 1)];
    swarm_of.iter().for_each(|&s| members[s] += 1);
    members
}

#[allow(clippy::too_many_arguments)]
async fn drive_phase(
    name: &'static str,
    rate: u64,
    secs: u64,
    senders: &[mpsc::UnboundedSender<Command>],
    swarm_of: &[usize],
    swarm_members: &[u64],
    shared: &Shared,
    server: Option<ServerProcess>,
    offers: usize,
) -> PhaseReport {
    let before = Counters::read(shared);
    shared.offer_latency.reset();
    shared.answer_latency.reset();
    let cpu_before = server.and_then(|s| s.cpu_ms()).unwrap_or_default();
    let myself = ServerProcess::new(std::process::id());
    let own_cpu_before = myself.cpu_ms().unwrap_or_default();
    let started = Instant::now();

    // Commands go out every 10 ms to random peers; each relays min(offers, other peers in its swarm) offers.
    let ticks = secs * 100;
    let mut offers_expected = 0u64;
    let mut rng = rand::rng();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut owed = 0f64;
    for _ in 0..ticks {
        tick.tick().await;
        owed += rate as f64 / 100.0;
        while owed >= 1.0 {
            owed -= 1.0;
            let i = rng.random_range(0..senders.len());
            if senders[i].send(Command::Announce).is_ok() {
                offers_expected +=
                    (offers as u64).min(swarm_members[swarm_of[i]].saturating_sub(1));
            }
        }
    }

    // Wait for the relays in flight to arrive (or give up after 30 s: those are lost).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last_progress = (Instant::now(), 0u64);
    loop {
        let now = Counters::read(shared).since(&before);
        if now.offers_received >= offers_expected && now.answers_received >= now.answers_sent {
            break;
        }
        let progress = now.offers_received + now.answers_received;
        if progress != last_progress.1 {
            last_progress = (Instant::now(), progress);
        }
        if Instant::now() > deadline || last_progress.0.elapsed() > Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs_taken = started.elapsed().as_secs_f64();
    let cpu = server
        .and_then(|s| s.cpu_ms())
        .unwrap_or_default()
        .since(cpu_before);
    let own_cpu = myself.cpu_ms().unwrap_or_default().since(own_cpu_before);
    let c = Counters::read(shared).since(&before);
    let relayed = c.offers_received + c.answers_received;
    let lost = offers_expected.saturating_sub(c.offers_received)
        + c.answers_sent.saturating_sub(c.answers_received);
    let ms = |us: u64| us as f64 / 1000.0;
    let per_1000 = |cpu_ms: u64| {
        if relayed > 0 {
            cpu_ms as f64 * 1000.0 / relayed as f64
        } else {
            0.0
        }
    };
    PhaseReport {
        name,
        target_announces_per_sec: rate,
        announces: c.announces_sent,
        offers_expected,
        offers_received: c.offers_received,
        answers_sent: c.answers_sent,
        answers_received: c.answers_received,
        lost,
        relayed,
        secs: secs_taken,
        relayed_per_sec: relayed as f64 / secs_taken,
        server_cpu_ms: cpu.total_ms(),
        cpu_ms_per_1000_relayed: per_1000(cpu.total_ms()),
        user_cpu_ms_per_1000_relayed: per_1000(cpu.user_ms),
        system_cpu_ms_per_1000_relayed: per_1000(cpu.system_ms),
        server_cores: cpu.total_ms() as f64 / 1000.0 / secs_taken,
        loadgen_cpu_ms_per_1000_relayed: per_1000(own_cpu.total_ms()),
        loadgen_cores: own_cpu.total_ms() as f64 / 1000.0 / secs_taken,
        offer_p50_ms: ms(shared.offer_latency.quantile(0.5)),
        offer_p99_ms: ms(shared.offer_latency.quantile(0.99)),
        answer_p50_ms: ms(shared.answer_latency.quantile(0.5)),
        answer_p99_ms: ms(shared.answer_latency.quantile(0.99)),
    }
}

#[derive(Debug, Clone, Copy)]
struct Counters {
    announces_sent: u64,
    offers_received: u64,
    answers_sent: u64,
    answers_received: u64,
}

impl Counters {
    fn read(s: &Shared) -> Self {
        Self {
            announces_sent: s.announces_sent.load(Relaxed),
            offers_received: s.offers_received.load(Relaxed),
            answers_sent: s.answers_sent.load(Relaxed),
            answers_received: s.answers_received.load(Relaxed),
        }
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            announces_sent: self.announces_sent - before.announces_sent,
            offers_received: self.offers_received - before.offers_received,
            answers_sent: self.answers_sent - before.answers_sent,
            answers_received: self.answers_received - before.answers_received,
        }
    }
}

fn server_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("ws://")
        .context("only ws:// URLs are supported")?;
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port
        .parse()
        .with_context(|| format!("{host_port} is not an IP:port"))
}

fn print_report(r: &Report) {
    println!("== {} ==", r.label);
    println!(
        "peers: wanted {}, joined {} in {:.1} s, held at the end {}",
        r.peers_wanted, r.peers_joined, r.join_secs, r.peers_held
    );
    println!(
        "server RSS: idle {} KiB, with peers {} KiB → {} bytes per peer",
        r.server_rss_kib_idle, r.server_rss_kib_loaded, r.rss_bytes_per_peer
    );
    for p in &r.phases {
        println!(
            "{:>11}: {} announces → {} relayed in {:.1} s ({:.0}/s), lost {}, server CPU {} ms = {:.1} ms per 1000 relayed ({:.1} user + {:.1} kernel), \
             offer p50/p99 {:.1}/{:.1} ms, answer p50/p99 {:.1}/{:.1} ms; cores busy: server {:.2}, loadgen {:.2}",
            p.name,
            p.announces,
            p.relayed,
            p.secs,
            p.relayed_per_sec,
            p.lost,
            p.server_cpu_ms,
            p.cpu_ms_per_1000_relayed,
            p.user_cpu_ms_per_1000_relayed,
            p.system_cpu_ms_per_1000_relayed,
            p.offer_p50_ms,
            p.offer_p99_ms,
            p.answer_p50_ms,
            p.answer_p99_ms,
            p.server_cores,
            p.loadgen_cores
        );
    }
}
