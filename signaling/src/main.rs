//! `seedcast-signal`: run the tracker and serve the web app on one port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use seedcast_signal::channels::{ChannelLimits, Channels, DEFAULT_DATA_DIR, rate_limit::Rate};
use seedcast_signal::{Config, Limits, chain, config::load_allow_list};
use tokio_util::sync::CancellationToken;

/// WebTorrent-compatible WebSocket tracker that also serves the Seedcast web app.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (use 0.0.0.0:PORT to accept other machines).
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Directory of the web app's static files, served on `/`.
    #[arg(long, default_value = "www")]
    www: PathBuf,
    /// Take the client address from X-Forwarded-For (only when a proxy you run sits in front).
    #[arg(long)]
    trust_proxy: bool,
    /// The chain the web app's Tip buttons send BTT on, served as /chain.json: `bttc` (BitTorrent Chain
    /// mainnet, id 199), `donau` (its testnet, id 1029), or a JSON file of at most 4 KiB
    /// {"id", "name", "rpcUrls": [...], "explorer", "tipJar"?} (e.g. a local anvil node). Only this flag
    /// chooses it: no link or page parameter can.
    #[arg(long, value_name = "bttc|donau|FILE.json", default_value = "bttc")]
    chain: String,
    /// Send tips through this TipJar contract (0x and 40 hex digits) on that chain instead of straight to the
    /// creator; replaces the chain file's tipJar.
    #[arg(long, value_name = "0x…")]
    tip_jar: Option<String>,
    /// Directory of the creator channel database (channels.sqlite3, SQLite in WAL mode; created if missing).
    /// Relative paths are from the current directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Channel uploads (PUT /api/channels/…) one client IP (IPv6: one /64) may make per minute; beyond it 429.
    #[arg(long, value_name = "N", default_value_t = ChannelLimits::default().per_ip.burst)]
    channel_puts_per_ip_per_minute: u32,
    /// Verified channel uploads one creator address may make per hour; beyond it 429.
    #[arg(long, value_name = "N", default_value_t = ChannelLimits::default().per_address.burst)]
    channel_puts_per_address_per_hour: u32,
    /// File of hex info hashes (one per line); when given, only these swarms are tracked.
    #[arg(long, value_name = "FILE")]
    allow_list: Option<PathBuf>,
    /// Largest WebSocket message accepted, in bytes.
    #[arg(long, default_value_t = Limits::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Most offers one announce may carry.
    #[arg(long, default_value_t = Limits::default().max_offers)]
    max_offers: usize,
    /// Most peers one announce's offers are relayed to.
    #[arg(long, default_value_t = Limits::default().max_numwant)]
    max_numwant: usize,
    /// Messages a connection may send per rate window.
    #[arg(long, default_value_t = Limits::default().max_messages_per_window)]
    max_messages_per_window: u32,
    /// Length of the rate window, in seconds.
    #[arg(long, default_value_t = Limits::default().rate_window.as_secs())]
    rate_window_secs: u64,
    /// Swarms one connection may join.
    #[arg(long, default_value_t = Limits::default().max_swarms_per_connection)]
    max_swarms_per_connection: usize,
    /// Peers one swarm may hold.
    #[arg(long, default_value_t = Limits::default().max_peers_per_swarm)]
    max_peers_per_swarm: usize,
    /// Info hashes one scrape may name, and the most swarms a scrape without info_hash lists.
    #[arg(long, default_value_t = Limits::default().max_scrape_hashes)]
    max_scrape_hashes: usize,
    /// Open WebSocket connections [default: the open-file limit minus a reserve (1/16, 32..=256) for the
    /// listener, refused sockets, static files and logs, so the limit is met with a clean 503, never EMFILE].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Messages queued for one socket before it is closed as too slow.
    #[arg(long, default_value_t = Limits::default().outbound_queue)]
    outbound_queue: usize,
    /// Announce interval told to clients, in seconds.
    #[arg(long, default_value_t = Limits::default().announce_interval.as_secs())]
    interval_secs: u64,
    /// Peers that do not re-announce within this many seconds are removed.
    #[arg(long, default_value_t = Limits::default().peer_ttl.as_secs())]
    peer_ttl_secs: u64,
    /// Ping sockets that have been silent this long, in seconds; close those silent for 2.5 times as long.
    #[arg(long, default_value_t = Limits::default().ping_interval.as_secs())]
    ping_secs: u64,
    /// Worker threads; 0 = one per core. One thread runs tokio's single-threaded scheduler,
    /// which spends the least CPU per relayed message (no hand-offs between workers) and
    /// relays ~80,000 messages/s on one core; more help only beyond that.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG overrides it.
    #[arg(long, default_value = "info")]
    log: String,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

/// Descriptors kept free for the listener, accepted-but-refused sockets, static files and logs.
fn spare_files(open_files: u64) -> u64 {
    (open_files / 16).clamp(32, 256)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(&args.log, args.log_json);
    let mut runtime = match args.threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        0 => tokio::runtime::Builder::new_multi_thread(),
        threads => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(threads);
            b
        }
    };
    runtime.enable_all().build()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let open_files = raise_open_file_limit();
    let max_connections = args
        .max_connections
        .unwrap_or_else(|| open_files.saturating_sub(spare_files(open_files)).max(1) as usize);
    let ping_interval = Duration::from_secs(args.ping_secs.max(1));
    let limits = Limits {
        max_message_bytes: args.max_message_bytes,
        max_offers: args.max_offers,
        max_numwant: args.max_numwant,
        max_messages_per_window: args.max_messages_per_window,
        rate_window: Duration::from_secs(args.rate_window_secs.max(1)),
        max_swarms_per_connection: args.max_swarms_per_connection,
        max_peers_per_swarm: args.max_peers_per_swarm,
        max_connections,
        max_scrape_hashes: args.max_scrape_hashes,
        outbound_queue: args.outbound_queue.max(1),
        announce_interval: Duration::from_secs(args.interval_secs),
        peer_ttl: Duration::from_secs(args.peer_ttl_secs.max(1)),
        ping_interval,
        idle_timeout: ping_interval * 5 / 2,
        channels: ChannelLimits {
            per_ip: Rate {
                burst: args.channel_puts_per_ip_per_minute.max(1),
                per: Duration::from_secs(60),
            },
            per_address: Rate {
                burst: args.channel_puts_per_address_per_hour.max(1),
                per: Duration::from_secs(3600),
            },
            ..ChannelLimits::default()
        },
        ..Limits::default()
    };
    let chain = chain::resolve(&args.chain, args.tip_jar.as_deref())?;
    let allow_list = args
        .allow_list
        .as_deref()
        .map(load_allow_list)
        .transpose()?;
    let www_dir = if args.www.is_dir() {
        Some(args.www.clone())
    } else {
        tracing::warn!(www = %args.www.display(), "web app directory not found; serving the tracker only");
        None
    };
    let config = Config {
        limits,
        allow_list,
        trust_proxy: args.trust_proxy,
        www_dir,
        chain: Some(chain),
        data_dir: Some(args.data.clone()),
    };
    // Before listening: a database this server cannot use (unwritable, or from a newer version) stops it with
    // one line, before it announces an address.
    let channels = Channels::open(&config)?;
    tracing::info!(database = %seedcast_signal::channels::database_path(&args.data).display(), "channel database open");

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, max_connections, chain = ?config.chain.as_ref().map(|c| c.id), "seedcast-signal listening");
    // The one line meant for a human (and for test scripts): where to point a browser and a client.
    println!("seedcast-signal: open http://{addr}/ — tracker ws://{addr}/announce");

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    seedcast_signal::serve_with_channels(listener, config, channels, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

fn init_logging(filter: &str, json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init()
    } else {
        builder.init()
    }
}

/// Raises the soft open-file limit to the hard one (every socket is a file); returns the limit in force.
fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read or raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: closing sockets"),
        _ = int.recv() => tracing::info!("SIGINT: closing sockets"),
    }
    shutdown.cancel();
}
