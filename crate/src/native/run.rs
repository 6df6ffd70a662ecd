//! `seedcast seed` and `seedcast download`: prepare one torrent, start the session and the
//! [`Driver`] on a tokio runtime, and run until a signal (or, with `--exit-when-done`, until
//! every piece is verified and written). stdout carries only the magnet link of `seed`;
//! everything else goes to stderr.

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use thiserror::Error;

use super::args::{DownloadArgs, SeedArgs};
use super::driver::{Driver, DriverError, Flow, Observer, shutdown_signal};
use super::rtc::{RtcConfig, RtcConfigError};
use super::standin;
use crate::engine::{self, MemoryStorage};
use crate::session::{AddError, Session, SessionConfig, SessionEvent, TorrentId, TrackerState};

/// Connections per torrent (open + being negotiated), as the browser's default.
pub const MAX_PEERS: usize = 30;
/// The progress line is printed at most this often (and only when something changed).
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Why `seed` or `download` stopped with an error (one line).
#[derive(Debug, Error)]
pub enum RunError {
    #[error("{0}")]
    Prepare(String),
    #[error("{0}")]
    Network(#[from] RtcConfigError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot add the torrent: {0}")]
    Add(#[from] AddError),
    #[error("{0}")]
    Driver(#[from] DriverError),
    #[error("cannot write the download: {0}")]
    Write(String),
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
}

/// Seeds `args.path` until SIGINT/SIGTERM.
pub fn seed(args: SeedArgs) -> Result<(), RunError> {
    let rtc = RtcConfig::from_env()?;
    let creator = match &args.creator {
        None => None,
        Some(c) => match c.signer().map_err(|e| RunError::Prepare(e.to_string()))? {
            Some(signer) => Some(crate::create::CreatorOptions {
                name: c.name.clone(),
                signer,
            }),
            None => {
                return Err(RunError::Prepare(
                    "seed needs a creator key or signature (--creator-key, or --creator-address with --creator-signature)".into(),
                ));
            }
        },
    };
    let options = create_options(&args, creator);
    let runtime = runtime()?;
    let _guard = runtime.enter();
    let mut driver = Driver::new(rtc, |now| Session::new(session_config(args.upload_limit), now));
    let now = driver.now();
    let session = driver.session();
    let prepared = standin::prepare_seed(
        &args.path,
        options,
        args.torrent_out.as_deref(),
        |h| session.engine_config(&h.0),
        now,
    )
    .map_err(RunError::Prepare)?;
    // The magnet is the first and only line on stdout.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", prepared.magnet)
        .and_then(|()| stdout.flush())
        .map_err(RunError::Stdout)?;
    drop(stdout);
    let id = driver
        .session_mut()
        .add_torrent(prepared.torrent, &prepared.trackers, now)?;
    let mut observer = Cli::new(id, false, None, PathBuf::new());
    runtime.block_on(driver.run(&mut observer, shutdown_signal()))?;
    observer.result
}

/// Downloads `args.source` into `args.out_dir/NAME`, then seeds until SIGINT/SIGTERM unless
/// `args.exit_when_done`.
pub fn download(args: DownloadArgs) -> Result<(), RunError> {
    let rtc = RtcConfig::from_env()?;
    let runtime = runtime()?;
    let _guard = runtime.enter();
    let mut driver = Driver::new(rtc, |now| Session::new(session_config(args.upload_limit), now));
    let now = driver.now();
    let session = driver.session();
    let prepared = standin::prepare_download(
        &args.source,
        &args.trackers,
        |h| session.engine_config(&h.0),
        now,
    )
    .map_err(RunError::Prepare)?;
    let id = driver
        .session_mut()
        .add_torrent(prepared.torrent, &prepared.trackers, now)?;
    let mut observer = Cli::new(id, args.exit_when_done, prepared.memory, args.out_dir.clone());
    // A torrent that is complete from the start (resume) is done at once.
    if observer.on_tick(driver.session()) == Flow::Stop {
        return observer.result;
    }
    runtime.block_on(driver.run(&mut observer, shutdown_signal()))?;
    observer.result
}

fn create_options(
    args: &SeedArgs,
    creator: Option<crate::create::CreatorOptions>,
) -> crate::create::CreateOptions {
    crate::create::CreateOptions {
        name: args.name.clone().unwrap_or_default(),
        piece_length: args.piece_length,
        trackers: args.trackers.clone(),
        created_by: Some(concat!("seedcast/", env!("CARGO_PKG_VERSION")).to_owned()),
        creator,
        ..Default::default()
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)
}

/// A fresh peer id and seed per process (time and pid): two runs on one host must not
/// share a peer id, or trackers and peers take one for the other.
fn session_config(upload_limit: Option<u64>) -> SessionConfig {
    use sha1::Digest;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = sha1::Sha1::new()
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize();
    let seed = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    SessionConfig {
        peer_id: engine::Config::peer_id_from_seed(seed),
        seed,
        max_peers: MAX_PEERS,
        upload_limit,
        browser_limits: false,
        engine: engine::Config::default(),
    }
}

/// What the commands show and when they stop.
struct Cli {
    torrent: TorrentId,
    exit_when_done: bool,
    memory: Option<Rc<RefCell<MemoryStorage>>>,
    out_dir: PathBuf,
    written: bool,
    last_line: Option<String>,
    last_progress: Option<std::time::Instant>,
    result: Result<(), RunError>,
}

impl Cli {
    fn new(
        torrent: TorrentId,
        exit_when_done: bool,
        memory: Option<Rc<RefCell<MemoryStorage>>>,
        out_dir: PathBuf,
    ) -> Cli {
        Cli {
            torrent,
            exit_when_done,
            memory,
            out_dir,
            written: false,
            last_line: None,
            last_progress: None,
            result: Ok(()),
        }
    }

    /// Every piece is verified (and, for the in-memory stand-in, written out).
    fn finished(&mut self, session: &Session) -> Flow {
        let Some(torrent) = session.torrent(&self.torrent) else {
            return Flow::Continue;
        };
        if !torrent.is_complete() {
            return Flow::Continue;
        }
        if !self.written {
            self.written = true;
            if let Some(memory) = &self.memory {
                if let Err(e) = standin::write_out(torrent, memory, &self.out_dir) {
                    self.result = Err(RunError::Write(e));
                    return Flow::Stop;
                }
                log("download complete");
            }
        }
        if self.exit_when_done {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

impl Observer for Cli {
    fn on_event(&mut self, session: &Session, event: &SessionEvent) -> Flow {
        match event {
            SessionEvent::Tracker { url, state, .. } => match state {
                TrackerState::Open => log(&format!("tracker {url}: connected")),
                TrackerState::Closed { retry_in } => log(&format!(
                    "tracker {url}: closed, retrying in {}s",
                    retry_in.as_secs()
                )),
                TrackerState::Failed(message) => log(&format!("tracker {url}: {message}")),
                _ => {}
            },
            SessionEvent::MetadataReady { .. } => {
                if let Some(info) = session.torrent(&self.torrent).and_then(|t| t.info()) {
                    log(&format!(
                        "metadata: {} ({} bytes, {} files)",
                        info.name,
                        info.total_length,
                        info.files.len()
                    ));
                }
            }
            SessionEvent::PeerConnected { peer_id, .. } => {
                log(&format!("peer connected: {}", String::from_utf8_lossy(&peer_id[..8])))
            }
            SessionEvent::Warning { message, .. } => log(&format!("warning: {message}")),
            SessionEvent::StorageError { message, .. } => log(&format!("storage error: {message}")),
            SessionEvent::Completed { .. } => return self.finished(session),
            _ => {}
        }
        Flow::Continue
    }

    fn on_tick(&mut self, session: &Session) -> Flow {
        if let Some(torrent) = session.torrent(&self.torrent) {
            let due = self
                .last_progress
                .is_none_or(|t| t.elapsed() >= PROGRESS_EVERY);
            if due {
                let line = progress_line(torrent);
                if self.last_line.as_deref() != Some(&line) {
                    log(&line);
                    self.last_line = Some(line);
                }
                self.last_progress = Some(std::time::Instant::now());
            }
        }
        self.finished(session)
    }
}

fn progress_line(torrent: &engine::Torrent) -> String {
    let s = torrent.stats();
    let name = torrent.info().map_or("(metadata pending)", |i| i.name.as_str());
    format!(
        "{name}: {}/{} pieces, {} peers, down {:.0} KiB/s, up {:.0} KiB/s",
        s.pieces_verified,
        s.num_pieces,
        s.peers,
        s.download_rate / 1024.0,
        s.upload_rate / 1024.0
    )
}

fn log(line: &str) {
    eprintln!("{line}");
}
