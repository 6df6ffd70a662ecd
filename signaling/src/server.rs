//! The HTTP side: one port for the tracker's WebSocket (`/` and `/announce`), `/stats`, `/metrics`, and the
//! web app's static files; plus the connection limit, the expiry sweep and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::client_ip::client_ip;
use crate::config::Config;
use crate::connection;
use crate::tracker::Tracker;

/// Relays are batched into writes of about this size.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

#[derive(Clone)]
struct AppState {
    tracker: Arc<Tracker>,
    config: Arc<Config>,
    shutdown: CancellationToken,
    sockets: TaskTracker,
}

/// Serves until `shutdown` is cancelled, then closes every WebSocket with a close frame (waiting up to the
/// configured grace period) and returns.
pub async fn serve(listener: TcpListener, config: Config, shutdown: CancellationToken) -> io::Result<()> {
    let config = Arc::new(config);
    let tracker = Arc::new(Tracker::new(&config));
    let sockets = TaskTracker::new();
    let state = AppState { tracker: tracker.clone(), config: config.clone(), shutdown: shutdown.clone(), sockets: sockets.clone() };
    let sweeper = tokio::spawn(expire_peers(tracker, shutdown.clone()));

    let app = router(state);
    // Relays are small and latency-sensitive: no Nagle delay behind a delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await;
    // Sockets see the same token and send their close frames.
    shutdown.cancel();
    sockets.close();
    if tokio::time::timeout(config.limits.shutdown_grace, sockets.wait()).await.is_err() {
        tracing::warn!(open = sockets.len(), "some sockets did not close within the grace period");
    }
    sweeper.abort();
    served
}

fn router(state: AppState) -> Router {
    let static_files = state.config.www_dir.clone();
    let router = Router::new()
        .route("/", get(root))
        .route("/announce", get(announce))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics));
    let router = match static_files {
        Some(dir) => router.fallback_service(ServeDir::new(dir)),
        None => router,
    };
    router.with_state(state)
}

/// `/` is both the tracker (for WebSocket upgrades) and the app's index page.
async fn root(state: State<AppState>, peer: ConnectInfo<SocketAddr>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return upgrade(state, peer, request).await;
    }
    match &state.config.www_dir {
        Some(dir) => match ServeDir::new(dir).oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        },
        None => (StatusCode::NOT_FOUND, "no web app configured; the tracker is at ws://this-host/announce\n").into_response(),
    }
}

async fn announce(state: State<AppState>, peer: ConnectInfo<SocketAddr>, request: Request) -> Response {
    upgrade(state, peer, request).await
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn upgrade(State(state): State<AppState>, ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(slot) = ConnectionSlot::acquire(&state.tracker) else {
        tracing::warn!(%peer, "connection limit reached; refusing a WebSocket");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections\n").into_response();
    };
    let client = client_ip(peer, &parts.headers, state.config.trust_proxy);
    let limits = &state.config.limits;
    let AppState { tracker, shutdown, sockets, .. } = state.clone();
    ws.read_buffer_size(limits.socket_read_buffer)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(WRITE_BUFFER_BYTES + 2 * limits.max_message_bytes)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .on_upgrade(move |socket| {
            sockets.track_future(async move {
                connection::run(socket, tracker, client, shutdown).await;
                drop(slot);
            })
        })
}

/// One of `max_connections` places; released when dropped (also when an upgrade fails halfway).
struct ConnectionSlot(Arc<Tracker>);

impl ConnectionSlot {
    fn acquire(tracker: &Arc<Tracker>) -> Option<Self> {
        let open = &tracker.metrics.connections_open;
        let max = tracker.limits().max_connections as u64;
        let taken = open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok();
        if taken {
            tracker.metrics.connections_total.fetch_add(1, Ordering::Relaxed);
            Some(Self(tracker.clone()))
        } else {
            tracker.metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.metrics.connections_open.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn stats(State(state): State<AppState>) -> Response {
    let body = serde_json::to_string(&state.tracker.stats()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.tracker.stats().to_prometheus();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
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
