//! The HTTP side: one port for the tracker's WebSocket (`/` and `/announce`), `/stats`, `/metrics`, and the
//! web app's static files; plus the connection limit, the expiry sweep and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{ConnectInfo, FromRef, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::chain::Chain;
use crate::channels::{self, Channels};
use crate::client_ip::client_ip;
use crate::config::Config;
use crate::connection;
use crate::creator_page;
use crate::static_files;
use crate::tracker::Tracker;
use crate::web_headers::{self, WebHeaders};

#[derive(Clone)]
struct AppState {
    tracker: Arc<Tracker>,
    config: Arc<Config>,
    shutdown: CancellationToken,
    sockets: TaskTracker,
    channels: Arc<Channels>,
}

impl FromRef<AppState> for Arc<Channels> {
    fn from_ref(state: &AppState) -> Self {
        state.channels.clone()
    }
}

/// Serves until `shutdown` is cancelled, then closes every WebSocket with a close frame (waiting up to the
/// configured grace period) and returns. Opens the channel database first (see [`Channels::open`]).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let channels = Channels::open(&config).map_err(|e| io::Error::other(e.to_string()))?;
    serve_with_channels(listener, config, channels, shutdown).await
}

/// [`serve`] with the channel database already open (the binary opens it before listening, so a database it
/// cannot use stops it before it announces an address).
pub async fn serve_with_channels(
    listener: TcpListener,
    config: Config,
    channels: Arc<Channels>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let config = Arc::new(config);
    let tracker = Arc::new(Tracker::new(&config));
    let sockets = TaskTracker::new();
    let state = AppState {
        tracker: tracker.clone(),
        config: config.clone(),
        shutdown: shutdown.clone(),
        sockets: sockets.clone(),
        channels,
    };
    let sweeper = tokio::spawn(expire_peers(tracker, shutdown.clone()));
    let app = router(state);

    // Our own accept loop (rather than axum::serve) so upgraded connections come back as plain TcpStreams.
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_transient(&e) => continue,
            Err(e) => {
                // Out of descriptors (EMFILE) and the like: existing connections keep working; retry shortly.
                tracing::error!(error = %e, "cannot accept connections");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(std::time::Duration::from_millis(250)) => continue,
                }
            }
        };
        // Relays are small and latency-sensitive: no Nagle delay behind a delayed ACK.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        sockets.spawn(serve_http(tcp, peer, app.clone(), shutdown.clone()));
    }

    sockets.close();
    if tokio::time::timeout(config.limits.shutdown_grace, sockets.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = sockets.len(),
            "some connections did not close within the grace period"
        );
    }
    sweeper.abort();
    Ok(())
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// One HTTP/1.1 connection: static files, stats, or a WebSocket upgrade.
async fn serve_http(tcp: TcpStream, peer: SocketAddr, app: Router, shutdown: CancellationToken) {
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

fn router(state: AppState) -> Router {
    let web_headers = Arc::new(
        state
            .config
            .chain
            .as_ref()
            .map_or_else(WebHeaders::default, WebHeaders::new),
    );
    let router = Router::new()
        .route("/", get(root))
        .route("/announce", get(announce))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/chain.json", get(chain))
        .route(
            "/api/channels/{address}",
            get(channels::get_channel)
                .put(channels::put_channel)
                .options(channels::preflight),
        )
        .fallback(fallback);
    // Security headers on everything, the tracker's answers included (see web_headers).
    router
        .layer(axum::middleware::from_fn_with_state(
            web_headers,
            web_headers::security_headers,
        ))
        .with_state(state)
}

/// `/@<address>` is a creator's page; every other path is a file of the web app.
async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let www = state.config.www_dir.as_deref();
    if request.uri().path().starts_with("/@") {
        return creator_page::serve(www, request).await;
    }
    match www {
        Some(dir) => static_files::serve(dir, request).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `/` is both the tracker (for WebSocket upgrades) and the app's index page.
async fn root(state: State<AppState>, peer: ConnectInfo<SocketAddr>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return upgrade(state, peer, request).await;
    }
    match &state.config.www_dir {
        Some(dir) => static_files::serve(dir, request).await,
        None => (
            StatusCode::NOT_FOUND,
            "no web app configured; the tracker is at ws://this-host/announce\n",
        )
            .into_response(),
    }
}

async fn announce(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    upgrade(state, peer, request).await
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Completes the WebSocket handshake (RFC 6455 §4.2) and hands the raw TCP stream to a connection task.
async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let key = match handshake_key(request.headers()) {
        Ok(key) => key,
        Err(problem) => return (StatusCode::BAD_REQUEST, problem).into_response(),
    };
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return (
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded\n",
        )
            .into_response();
    };
    let Some(slot) = ConnectionSlot::acquire(&state.tracker) else {
        tracing::warn!(%peer, "connection limit reached; refusing a WebSocket");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    };
    let client = client_ip(peer, request.headers(), state.config.trust_proxy);
    let AppState {
        tracker,
        shutdown,
        sockets,
        ..
    } = state;
    sockets.spawn(async move {
        let _slot = slot;
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => return tracing::debug!(%peer, error = %e, "upgrade failed"),
        };
        // Our accept loop hands hyper plain TCP streams; taking ours back skips a layer of boxing and buffering.
        match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                // `read_buf` shares hyper's whole read buffer: copy out the few early bytes and let it go.
                let early = parts.read_buf.to_vec();
                drop(parts.read_buf);
                connection::run(parts.io.into_inner(), early, tracker, client, shutdown).await;
            }
            Err(_) => tracing::error!("upgraded connection is not a TCP stream"),
        }
    });
    let accept = derive_accept_key(key.as_bytes());
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(axum::body::Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The client's `Sec-WebSocket-Key`, if the request is a valid version-13 upgrade.
fn handshake_key(headers: &HeaderMap) -> Result<String, &'static str> {
    let has_token = |name, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !is_websocket_upgrade(headers) || !has_token(header::CONNECTION, "upgrade") {
        return Err("expected a WebSocket upgrade\n");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return Err("unsupported WebSocket version (need 13)\n");
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or("missing Sec-WebSocket-Key\n")?;
    Ok(key.trim().to_owned())
}

/// One of `max_connections` places; released when dropped (also when an upgrade fails halfway).
struct ConnectionSlot(Arc<Tracker>);

impl ConnectionSlot {
    fn acquire(tracker: &Arc<Tracker>) -> Option<Self> {
        let open = &tracker.metrics.connections_open;
        let max = tracker.limits().max_connections as u64;
        let taken = open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if taken {
            tracker
                .metrics
                .connections_total
                .fetch_add(1, Ordering::Relaxed);
            Some(Self(tracker.clone()))
        } else {
            tracker
                .metrics
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0
            .metrics
            .connections_open
            .fetch_sub(1, Ordering::AcqRel);
    }
}

async fn stats(State(state): State<AppState>) -> Response {
    let mut stats = serde_json::to_value(state.tracker.stats()).unwrap_or_default();
    stats["channels"] = serde_json::to_value(state.channels.metrics.stats()).unwrap_or_default();
    let body = stats.to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = state.tracker.stats().to_prometheus();
    body.push_str(&state.channels.metrics.to_prometheus());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The operator's chain for the web app's tips. `no-store`: a changed `--chain` takes effect on the next page
/// load, never mixed with a cached one.
async fn chain(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state
            .config
            .chain
            .as_ref()
            .map_or_else(|| Chain::bttc().to_json(), Chain::to_json)
            .to_string(),
    )
        .into_response()
}

/// Removes peers that stopped re-announcing, a few times per TTL.
async fn expire_peers(tracker: Arc<Tracker>, shutdown: CancellationToken) {
    let period = (tracker.limits().peer_ttl / 4).max(std::time::Duration::from_millis(100));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {
                let removed = tracker.expire_stale(tokio::time::Instant::now());
                if removed > 0 {
                    tracing::debug!(removed, "expired peers that stopped announcing");
                }
            }
        }
    }
}
