//! The native run loop: one task owns the [`Session`] and everything it asks for — tracker
//! WebSockets ([`tracker_socket`](super::tracker_socket)) and peer connections
//! ([`rtc`](super::rtc)) — and feeds their news back in. Sockets and connections run as their
//! own tokio tasks and report over bounded channels; nothing is shared with them but those
//! channels, so no locks. The loop decides nothing: it runs `poll_output`, sleeps until
//! `poll_timeout`, and hands every [`SessionEvent`] to an [`Observer`] (progress, exit rules).
//!
//! Shutdown (a signal, or the observer says stop): every torrent is removed — the session
//! queues the `stopped` announces and closes its connections — the outputs are run, and the
//! loop waits (bounded) for sockets to flush and connections to close.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sha1::Digest;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::rtc::{Conn, ConnEvent, RtcConfig};
use super::tracker_socket::{TrackerEvent, TrackerSocket};
use super::webseed_http::fetch_range;
use crate::session::webseed::{RequestId, WebSeedEvent, WebSeedResponse, WebSeeds};
use crate::session::{ConnId, Output, Session, SessionEvent, TorrentId, TrackerId};

/// A web seed's answer (or why there is none), for the torrent's [`WebSeeds`].
type WebSeedResult = (TorrentId, RequestId, Result<WebSeedResponse, String>);

/// Queued events from connections and trackers. Bounded so a flood (a fast peer, a chatty
/// tracker) waits in the kernel and SCTP windows rather than in our memory.
const EVENT_QUEUE: usize = 1024;
/// How long shutdown waits for `stopped` announces to flush and connections to close before
/// exiting anyway (a tracker that does not answer must not hold the process).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How often the observer's [`Observer::on_tick`] runs (progress lines, exit checks).
pub const TICK: Duration = Duration::from_millis(500);
/// Closed sockets and connections still shutting down that we keep handles for (to await at
/// exit); beyond it the oldest are forgotten (they finish on their own).
const MAX_CLOSING: usize = 4096;

/// Whether the loop goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Shut down gracefully and return `Ok`.
    Stop,
}

/// What the driver's owner wants to see: every event, and a periodic look at the session.
pub trait Observer {
    fn on_event(&mut self, session: &Session, event: &SessionEvent) -> Flow;
    /// `web_seeds`: each torrent's web seeds (for progress displays).
    fn on_tick(&mut self, session: &Session, web_seeds: &HashMap<TorrentId, WebSeeds>) -> Flow;
    /// A web seed was dropped or backs off (for a log line).
    fn on_webseed(&mut self, _torrent: &TorrentId, _event: &WebSeedEvent) {}
}

/// Why the loop ended other than by a stop.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("event queue closed")]
    QueueClosed,
}

/// The loop's state. Build with [`Driver::new`], add torrents through [`Driver::session_mut`],
/// then [`Driver::run`].
pub struct Driver {
    session: Session,
    origin: Instant,
    rtc: Arc<RtcConfig>,
    conns: HashMap<ConnId, Conn>,
    /// Open tracker sockets, with the serial that tags their events (a reconnect under the
    /// same id must not receive the old socket's late news).
    trackers: HashMap<TrackerId, (u64, TrackerSocket)>,
    next_serial: u64,
    closing: Vec<JoinHandle<()>>,
    conn_tx: mpsc::Sender<(ConnId, ConnEvent)>,
    conn_rx: mpsc::Receiver<(ConnId, ConnEvent)>,
    tracker_tx: mpsc::Sender<(u64, TrackerEvent)>,
    tracker_rx: mpsc::Receiver<(u64, TrackerEvent)>,
    /// Web seeds (BEP 19) per torrent: the planner decides, the driver fetches.
    webseeds: HashMap<TorrentId, WebSeeds>,
    webseed_tx: mpsc::Sender<WebSeedResult>,
    webseed_rx: mpsc::Receiver<WebSeedResult>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("conns", &self.conns.len())
            .field("trackers", &self.trackers.len())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// `make_session` gets the driver's clock origin (`now` = 0).
    pub fn new(rtc: RtcConfig, make_session: impl FnOnce(Duration) -> Session) -> Driver {
        let (conn_tx, conn_rx) = mpsc::channel(EVENT_QUEUE);
        let (tracker_tx, tracker_rx) = mpsc::channel(EVENT_QUEUE);
        let (webseed_tx, webseed_rx) = mpsc::channel(EVENT_QUEUE);
        Driver {
            session: make_session(Duration::ZERO),
            origin: Instant::now(),
            rtc: Arc::new(rtc),
            conns: HashMap::new(),
            trackers: HashMap::new(),
            next_serial: 0,
            closing: Vec::new(),
            conn_tx,
            conn_rx,
            tracker_tx,
            tracker_rx,
            webseeds: HashMap::new(),
            webseed_tx,
            webseed_rx,
        }
    }

    /// Uses `urls` (a torrent's `url-list`, a magnet's `ws=`) as web seeds of `torrent`;
    /// returns one warning line per URL refused.
    pub fn add_web_seeds(&mut self, torrent: TorrentId, urls: &[String]) -> Vec<String> {
        let seeds = self.webseeds.entry(torrent).or_default();
        urls.iter()
            .filter_map(|url| {
                let e = seeds.add(url).err()?;
                Some(format!("web seed {url:.200} is not used: {e}"))
            })
            .collect()
    }

    /// Time for the session: monotonic, since [`Driver::new`].
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Runs until `shutdown` resolves (a signal) or the observer says stop, then shuts down
    /// gracefully. Must run inside a tokio runtime (it spawns the socket and connection tasks).
    pub async fn run(
        &mut self,
        observer: &mut dyn Observer,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), DriverError> {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.drive_webseeds(observer);
            if self.run_outputs(observer) == Flow::Stop {
                break;
            }
            let deadline = self.poll_timeout().map(|d| self.origin + d);
            // Unbiased: a flood of channel data must not starve the timer or the signal.
            let flow = tokio::select! {
                () = &mut shutdown => Flow::Stop,
                event = self.conn_rx.recv() => {
                    let (conn, event) = event.ok_or(DriverError::QueueClosed)?;
                    self.conn_event(conn, event);
                    Flow::Continue
                }
                event = self.tracker_rx.recv() => {
                    let (serial, event) = event.ok_or(DriverError::QueueClosed)?;
                    self.tracker_event(serial, event);
                    Flow::Continue
                }
                result = self.webseed_rx.recv() => {
                    let (torrent, id, result) = result.ok_or(DriverError::QueueClosed)?;
                    self.webseed_result(torrent, id, result);
                    Flow::Continue
                }
                // Handled below, with timers that came due while events kept arriving.
                () = sleep_until(deadline) => Flow::Continue,
                _ = tick.tick() => observer.on_tick(&self.session, &self.webseeds),
            };
            if flow == Flow::Stop {
                break;
            }
            if deadline.is_some_and(|at| at <= Instant::now()) {
                let now = self.now();
                for (id, seeds) in &mut self.webseeds {
                    if seeds.poll_timeout().is_some_and(|t| t <= now) {
                        if let Some(engine) = self.session.torrent_mut(id) {
                            seeds.handle_timeout(engine, now);
                        }
                    }
                }
                self.session.handle_timeout(now);
            }
        }
        self.shutdown(observer).await;
        Ok(())
    }

    /// The session's next timer or a web seed's, whichever is first.
    fn poll_timeout(&self) -> Option<Duration> {
        let seeds = self.webseeds.values().filter_map(WebSeeds::poll_timeout);
        self.session.poll_timeout().into_iter().chain(seeds).min()
    }

    /// Shows the web seeds' events and starts the requests their planners want, each a
    /// blocking GET on tokio's blocking pool reporting back over `webseed_tx`.
    fn drive_webseeds(&mut self, observer: &mut dyn Observer) {
        let now = self.now();
        for (id, seeds) in &mut self.webseeds {
            while let Some(event) = seeds.poll_event() {
                observer.on_webseed(id, &event);
            }
            let Some(engine) = self.session.torrent_mut(id) else {
                continue; // removed: its requests' answers are ignored
            };
            while let Some(request) = seeds.poll_request(engine, now) {
                let tx = self.webseed_tx.clone();
                let torrent = *id;
                tokio::task::spawn_blocking(move || {
                    let len = request.range.end - request.range.start;
                    let result =
                        fetch_range(&request.url, request.range.start, len, request.max_body).map(
                            |r| WebSeedResponse {
                                status: r.status,
                                content_range: r.content_range,
                                retry_after: r.retry_after,
                                body: r.body,
                            },
                        );
                    // Closed at shutdown: the answer is not needed any more.
                    let _ = tx.blocking_send((torrent, request.id, result));
                });
            }
        }
    }

    /// Hands a web seed's answer to its planner (which gives verified pieces to the engine),
    /// then lets the session transmit what the engine now wants (`have`s, completion).
    fn webseed_result(
        &mut self,
        torrent: TorrentId,
        id: RequestId,
        result: Result<WebSeedResponse, String>,
    ) {
        let now = self.now();
        let (Some(seeds), Some(engine)) = (
            self.webseeds.get_mut(&torrent),
            self.session.torrent_mut(&torrent),
        ) else {
            return;
        };
        match result {
            Ok(response) => seeds.handle_response(engine, id, response, now),
            Err(reason) => seeds.handle_failed(engine, id, &reason, now),
        }
        self.session.handle_timeout(now);
    }

    /// Runs every output the session has; `Stop` if the observer asked for it.
    fn run_outputs(&mut self, observer: &mut dyn Observer) -> Flow {
        let mut flow = Flow::Continue;
        while let Some(output) = self.session.poll_output() {
            if let Output::Event(event) = &output {
                if observer.on_event(&self.session, event) == Flow::Stop {
                    flow = Flow::Stop;
                }
                continue;
            }
            self.run_output(output);
        }
        flow
    }

    fn run_output(&mut self, output: Output) {
        match output {
            Output::ConnectTracker { tracker, url } => {
                let serial = self.next_serial;
                self.next_serial += 1;
                let socket = TrackerSocket::connect(serial, url, self.tracker_tx.clone());
                if let Some((_, old)) = self.trackers.insert(tracker, (serial, socket)) {
                    self.closing(old.close());
                }
            }
            Output::CloseTracker { tracker } => {
                if let Some((_, socket)) = self.trackers.remove(&tracker) {
                    self.closing(socket.close());
                }
            }
            Output::SendToTracker { tracker, text } => {
                if let Some((_, socket)) = self.trackers.get(&tracker) {
                    socket.send(text);
                }
            }
            Output::CreateOffer { conn } => {
                let c = Conn::offer(conn, self.rtc.clone(), self.conn_tx.clone());
                self.replace_conn(conn, c);
            }
            Output::AcceptOffer { conn, sdp } => {
                let c = Conn::answer(conn, self.rtc.clone(), sdp, self.conn_tx.clone());
                self.replace_conn(conn, c);
            }
            Output::AcceptAnswer { conn, sdp } => {
                if let Some(c) = self.conns.get(&conn) {
                    c.accept_answer(sdp);
                }
            }
            Output::Send { conn, bytes } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.send(bytes);
                }
            }
            Output::Close { conn } => {
                if let Some(c) = self.conns.remove(&conn) {
                    self.closing(c.close());
                }
            }
            // Only with the engine's `external_hashing`, which the native peer leaves off.
            Output::HashPiece {
                torrent,
                index,
                token,
            } => {
                let digest = self
                    .session
                    .piece_to_hash(&torrent, index, token)
                    .map(|data| <[u8; 20]>::from(sha1::Sha1::digest(data)));
                if let Some(digest) = digest {
                    let now = self.now();
                    self.session
                        .handle_piece_hash(&torrent, index, token, digest, now);
                }
            }
            Output::Event(_) => unreachable!("handled by run_outputs"),
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn replace_conn(&mut self, conn: ConnId, c: Conn) {
        // Ids are never reused, so this only guards against a session bug.
        if let Some(old) = self.conns.insert(conn, c) {
            self.closing(old.close());
        }
    }

    fn closing(&mut self, task: JoinHandle<()>) {
        self.closing.retain(|t| !t.is_finished());
        if self.closing.len() >= MAX_CLOSING {
            self.closing.remove(0);
        }
        self.closing.push(task);
    }

    fn conn_event(&mut self, conn: ConnId, event: ConnEvent) {
        // News from a connection the session already closed is stale.
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let now = self.now();
        match event {
            ConnEvent::LocalSdp(sdp) => self.session.handle_local_sdp(conn, sdp, now),
            ConnEvent::Open => self.session.handle_channel_open(conn, now),
            ConnEvent::Data(bytes) => self.session.handle_channel_data(conn, &bytes, now),
            ConnEvent::Buffered {
                outstanding,
                processed,
            } => {
                let buffered = c.buffered(outstanding, processed);
                self.session.handle_buffered(conn, buffered, now);
            }
            ConnEvent::Failed(reason) => {
                self.conns.remove(&conn);
                self.session.handle_conn_failed(conn, &reason, now);
            }
            ConnEvent::Closed(_) => {
                self.conns.remove(&conn);
                self.session.handle_channel_closed(conn, now);
            }
        }
    }

    fn tracker_event(&mut self, serial: u64, event: TrackerEvent) {
        let Some(&tracker) = self
            .trackers
            .iter()
            .find(|(_, (s, _))| *s == serial)
            .map(|(id, _)| id)
        else {
            return; // a socket the session closed or replaced
        };
        let now = self.now();
        match event {
            TrackerEvent::Open => self.session.handle_tracker_open(tracker, now),
            TrackerEvent::Message(text) => self.session.handle_tracker_message(tracker, &text, now),
            TrackerEvent::Closed(_) => {
                self.trackers.remove(&tracker);
                self.session.handle_tracker_closed(tracker, now);
            }
        }
    }

    /// Removes every torrent (the session queues `stopped` announces and closes connections),
    /// runs the outputs, closes what is left and waits up to [`SHUTDOWN_GRACE`] for the
    /// sockets to flush and the connections to close. A second signal ends the wait.
    async fn shutdown(&mut self, observer: &mut dyn Observer) {
        let now = self.now();
        let torrents: Vec<_> = self.session.torrents().copied().collect();
        for id in torrents {
            self.session.remove_torrent(&id, now);
        }
        let _ = self.run_outputs(observer);
        for (_, c) in self.conns.drain().collect::<Vec<_>>() {
            self.closing(c.close());
        }
        // Nobody reads connection news any more: a task waiting to report into a full queue
        // fails at once and closes its connection, instead of waiting out the grace period.
        // (Tracker news stays open: a socket must not stop before its `stopped` is sent.)
        self.conn_rx.close();
        self.webseed_rx.close();
        for (_, (_, socket)) in self.trackers.drain().collect::<Vec<_>>() {
            self.closing(socket.close());
        }
        let tasks = std::mem::take(&mut self.closing);
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(SHUTDOWN_GRACE, all) => {}
            () = shutdown_signal() => {}
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C only where there is no SIGTERM).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
