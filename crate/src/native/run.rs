//! `seedcast seed` and `seedcast download`: prepare one torrent ([`super::prepare`]), start the
//! session and the [`Driver`] on a tokio runtime, and run until SIGINT/SIGTERM (or, with
//! `--exit-when-done`, until every piece is verified and written). stdout carries only the
//! magnet link of `seed`; progress and logs go to stderr ([`super::progress`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::args::{DownloadArgs, SeedArgs};
use super::driver::{Driver, DriverError, Flow, Observer, shutdown_signal};
use super::prepare::{PrepareError, Prepared, prepare_download, prepare_seed};
use super::progress::Progress;
use super::resume::{ResumeStore, SAVE_INTERVAL};
use super::rtc::{RtcConfig, RtcConfigError};
use crate::engine;
use crate::session::webseed::{WebSeedEvent, WebSeeds};
use crate::session::{AddError, Session, SessionConfig, SessionEvent, TorrentId, TrackerState};

/// Connections per torrent (open + being negotiated), as the browser's default.
pub const MAX_PEERS: usize = 30;

/// Why `seed` or `download` stopped with an error (one line).
#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Network(#[from] RtcConfigError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot add the torrent: {0}")]
    Add(#[from] AddError),
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("storage: {0}")]
    Storage(String),
    #[error("cannot save the resume state: {0}")]
    Resume(std::io::Error),
}

/// Seeds `args.path` until SIGINT/SIGTERM.
pub fn seed(args: SeedArgs) -> Result<(), RunError> {
    start(args.upload_limit, false, |session, now| {
        // One torrent per process: the session's random seed is all its engine needs (the
        // info hash, which `engine_config` would mix in, is only known after hashing).
        let prepared = prepare_seed(&args, session.engine_config(&[0; 20]), now)?;
        // The magnet is the first and only line on stdout, before anything can fail late.
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", prepared.magnet)
            .and_then(|()| stdout.flush())
            .map_err(RunError::Stdout)?;
        Ok(prepared)
    })
}

/// Downloads `args.source` into `args.out_dir/NAME`, verifying every piece, then seeds until
/// SIGINT/SIGTERM, or exits once done with `args.exit_when_done`.
pub fn download(args: DownloadArgs) -> Result<(), RunError> {
    start(args.upload_limit, args.exit_when_done, |session, now| {
        Ok(prepare_download(
            &args,
            session.engine_config(&[0; 20]),
            now,
        )?)
    })
}

/// The shared body: runtime, session, one torrent, the loop, resume saved at exit.
fn start(
    upload_limit: Option<u64>,
    exit_when_done: bool,
    prepare: impl FnOnce(&Session, Duration) -> Result<Prepared, RunError>,
) -> Result<(), RunError> {
    let rtc = RtcConfig::from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let entered = runtime.enter();
    let mut driver = Driver::new(rtc, |now| Session::new(session_config(upload_limit), now));
    let now = driver.now();
    let prepared = prepare(driver.session(), now)?;
    let trackers = prepared.trackers.clone();
    let id = driver
        .session_mut()
        .add_torrent(prepared.engine, &trackers, now)?;
    let mut cli = Cli::new(id, exit_when_done, prepared.name, prepared.resume);
    for warning in driver.add_web_seeds(id, &prepared.web_seeds) {
        cli.progress.log(&format!("warning: {warning}"));
    }
    // Done from the start (a finished download run again): exit without connecting.
    let result = if cli.on_tick(driver.session(), &HashMap::new()) == Flow::Stop {
        Ok(())
    } else {
        runtime.block_on(driver.run(&mut cli, shutdown_signal()))
    };
    cli.progress.finish();
    let saved = cli.save_resume(driver.session());
    // Web seed requests still running on the blocking pool (a slow server) cannot be
    // cancelled, and dropping the runtime would wait for them (up to their REQUEST_TIMEOUT);
    // their answers are not needed any more, so they are left behind.
    drop(driver);
    drop(entered);
    runtime.shutdown_background();
    result?;
    cli.failure.map_or(Ok(()), Err)?;
    saved
}

/// A fresh peer id and seed per process (time and pid): two runs on one host must not share
/// a peer id, or trackers and peers take one for the other.
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
        // Its peers are data channels too (browsers' and its own).
        engine: engine::Config {
            initial_pipeline: engine::config::DATA_CHANNEL_INITIAL_PIPELINE,
            ..engine::Config::default()
        },
    }
}

/// What the commands show, save and when they stop.
struct Cli {
    torrent: TorrentId,
    exit_when_done: bool,
    /// The magnet's `dn` until the metadata is known.
    name: Option<String>,
    resume: Option<ResumeStore>,
    last_resume: Instant,
    progress: Progress,
    line: usize,
    announced_done: bool,
    failure: Option<RunError>,
}

impl Cli {
    fn new(
        torrent: TorrentId,
        exit_when_done: bool,
        name: Option<String>,
        resume: Option<ResumeStore>,
    ) -> Cli {
        let mut progress = Progress::new();
        let line = progress.add();
        Cli {
            torrent,
            exit_when_done,
            name,
            resume,
            last_resume: Instant::now(),
            progress,
            line,
            announced_done: false,
            failure: None,
        }
    }

    fn save_resume(&mut self, session: &Session) -> Result<(), RunError> {
        self.last_resume = Instant::now();
        match (&self.resume, session.torrent(&self.torrent)) {
            (Some(store), Some(engine)) => store.save(engine).map_err(RunError::Resume),
            _ => Ok(()),
        }
    }

    /// Every piece verified — and written: the storage writes a piece before the engine
    /// counts it.
    fn done(&mut self, session: &Session) -> Flow {
        let complete = session
            .torrent(&self.torrent)
            .is_some_and(engine::Torrent::is_complete);
        if !complete {
            return Flow::Continue;
        }
        if !self.announced_done && self.resume.is_some() {
            self.announced_done = true;
            self.progress
                .log("download complete: every piece verified and written");
            if let Err(e) = self.save_resume(session) {
                self.progress.log(&format!("warning: {e}"));
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
        let log = |text: String| self.progress.log(&text);
        match event {
            SessionEvent::Tracker { url, state, .. } => match state {
                TrackerState::Open => log(format!("tracker {url}: connected")),
                TrackerState::Closed { retry_in } => log(format!(
                    "tracker {url}: closed, retrying in {}s",
                    retry_in.as_secs().max(1)
                )),
                TrackerState::Failed(message) => log(format!("tracker {url}: {message}")),
                _ => {}
            },
            SessionEvent::MetadataReady { .. } => {
                if let Some(info) = session.torrent(&self.torrent).and_then(|t| t.info()) {
                    log(format!(
                        "metadata: {} ({} bytes in {} files)",
                        info.name,
                        info.total_length,
                        info.files.iter().filter(|f| !f.padding).count()
                    ));
                }
            }
            SessionEvent::PeerConnected { peer_id, .. } => log(format!(
                "peer connected: {}",
                String::from_utf8_lossy(&peer_id[..8])
            )),
            SessionEvent::PeerBanned { reason, .. } => log(format!("peer banned: {reason}")),
            SessionEvent::Warning { message, .. } => log(format!("warning: {message}")),
            SessionEvent::StorageError { message, .. } => {
                // A download that cannot write cannot finish: stop with the reason.
                self.failure = Some(RunError::Storage(message.clone()));
                return Flow::Stop;
            }
            SessionEvent::Completed { .. } => return self.done(session),
            SessionEvent::TorrentStopped { reason, .. } => {
                self.failure = Some(RunError::Storage(reason.clone()));
                return Flow::Stop;
            }
            _ => {}
        }
        Flow::Continue
    }

    fn on_webseed(&mut self, _torrent: &TorrentId, event: &WebSeedEvent) {
        let line = match event {
            WebSeedEvent::Dropped { url, reason, .. } => {
                format!("web seed {url:.200} dropped: {reason}")
            }
            WebSeedEvent::Backoff { url, reason, .. } => {
                format!("web seed {url:.200}: {reason}; trying again later")
            }
        };
        self.progress.log(&line);
    }

    fn on_tick(&mut self, session: &Session, web_seeds: &HashMap<TorrentId, WebSeeds>) -> Flow {
        if let Some(torrent) = session.torrent(&self.torrent) {
            let name = self.name.as_deref().unwrap_or("(metadata pending)");
            let web = web_seeds.get(&self.torrent);
            self.progress
                .show(self.line, name, torrent, web, Instant::now());
        }
        if self.last_resume.elapsed() >= SAVE_INTERVAL {
            if let Err(e) = self.save_resume(session) {
                self.progress.log(&format!("warning: {e}"));
            }
        }
        self.done(session)
    }
}
