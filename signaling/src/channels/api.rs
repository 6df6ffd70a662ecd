//! The HTTP handlers of `/api/channels/<address>`. Every error is one line of JSON, `{"error": "…"}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use seedcast::channel::{ChannelError, MAX_MANIFEST_BYTES, SignedChannel};
use seedcast::creator::{Address, keccak256};
use serde_json::json;

use super::rate_limit::ip_key;
use super::store::{PutOutcome, Stored};
use super::{BODY_TIMEOUT, Channels};
use crate::client_ip::client_ip;
use crate::metrics::Metrics as Metric;

/// The route's prefix; the rest of the path is the address.
pub const PREFIX: &str = "/api/channels/";

/// A refusal: status, message, and for 429 the wait.
struct Refusal {
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn rate_limited(message: &str, wait: Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("{message}; retry in {secs} s"),
            retry_after: Some(Duration::from_secs(secs.max(1))),
        }
    }

    fn into_response(self) -> Response {
        // One line whatever the message holds (error texts from parsers are one line already).
        let message = self.message.replace(['\n', '\r'], " ");
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{}\n", json!({ "error": message })),
        )
            .into_response();
        if let Some(wait) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        response
    }
}

/// The address in the URL: `0x` + 40 hex digits, lower case or EIP-55 checksummed (or all upper case).
fn path_address(uri: &Uri) -> Result<Address, Refusal> {
    let text = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    Address::parse(text).map_err(|e| {
        let shown: String = text.chars().take(50).collect();
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("invalid address {shown:?} in the URL ({e}): expected 0x and 40 hex digits, lower case or checksummed"),
        )
    })
}

/// Reads for any origin: the manifest is public and signed, and no request carries credentials.
fn allow_any_origin(response: &mut Response) {
    crate::web_headers::allow_any_origin(response.headers_mut(), "ETag");
}

/// `OPTIONS /api/channels/<address>`: the CORS preflight allows GET and HEAD (with `If-None-Match`) from any
/// origin, and not PUT: a page elsewhere cannot upload through its visitors' browsers. Nothing would be gained
/// by it (the signature, not the origin, authenticates an upload) but nothing is needed either: the app
/// uploads from its own origin and the CLI is not a browser.
pub async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    allow_any_origin(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("If-None-Match"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

/// `GET` (and `HEAD`) `/api/channels/<address>`: the stored manifest, byte for byte, with a strong ETag.
/// `no-cache`: caches may keep it but must revalidate, so a new sequence shows at once.
pub async fn get_channel(
    State(channels): State<Arc<Channels>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut response = match read(&channels, &uri, &headers).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    };
    allow_any_origin(&mut response);
    response
}

async fn read(channels: &Channels, uri: &Uri, headers: &HeaderMap) -> Result<Response, Refusal> {
    let address = path_address(uri)?;
    let stored = channels
        .db
        .call(move |store| store.get(&address.0))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading a channel");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "database error")
        })?
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                format!("no channel for {}", address.to_checksum()),
            )
        })?;
    let etag = HeaderValue::from_str(&stored.etag)
        .unwrap_or_else(|_| HeaderValue::from_static("\"invalid\""));
    let cache = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if if_none_match(headers, &stored.etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((
        cache,
        [(header::CONTENT_TYPE, "application/json")],
        stored.manifest,
    )
        .into_response())
}

/// RFC 9110 §13.1.2: `*` or any listed tag matching by the weak comparison.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

/// The strong ETag of a stored manifest: its sequence and a hash of its text (an edited row gets a new tag).
pub fn etag_for(sequence: u64, manifest: &str) -> String {
    let hash = keccak256(manifest.as_bytes());
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{sequence}-{hex}\"")
}

/// `PUT /api/channels/<address>`: the body is the signed manifest. 200 `{"sequence", "url"}` when stored.
pub async fn put_channel(
    State(channels): State<Arc<Channels>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ip = client_ip(peer, &headers, channels.trust_proxy);
    match upload(&channels, ip, &uri, &headers, body).await {
        Ok(response) => {
            Metric::inc(&channels.metrics.stored);
            response
        }
        Err(refusal) => {
            let m = &channels.metrics;
            Metric::inc(match refusal.status {
                StatusCode::CONFLICT => &m.stale,
                StatusCode::PAYLOAD_TOO_LARGE => &m.too_large,
                StatusCode::TOO_MANY_REQUESTS => &m.rate_limited,
                StatusCode::REQUEST_TIMEOUT => &m.timeout,
                StatusCode::INTERNAL_SERVER_ERROR => &m.error,
                _ => &m.invalid,
            });
            tracing::debug!(%ip, status = %refusal.status, error = %refusal.message, "channel upload refused");
            refusal.into_response()
        }
    }
}

fn too_large(bytes: impl std::fmt::Display) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("manifest is {bytes} bytes, over the {MAX_MANIFEST_BYTES}-byte limit"),
    )
}

async fn upload(
    channels: &Channels,
    ip: std::net::IpAddr,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let address = path_address(uri)?;
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(bytes) = declared
        && bytes > MAX_MANIFEST_BYTES as u64
    {
        return Err(too_large(bytes));
    }
    channels
        .per_ip
        .try_take(&ip_key(ip), Instant::now())
        .map_err(|wait| {
            Refusal::rate_limited("too many channel uploads from your address", wait)
        })?;

    // Bounded memory and threads: at most MAX_CONCURRENT_UPLOADS bodies are read and verified at once.
    let permit = channels
        .uploads
        .acquire()
        .await
        .map_err(|_| Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "server shutting down"))?;
    let bytes = tokio::time::timeout(BODY_TIMEOUT, read_body(body))
        .await
        .map_err(|_| {
            Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the manifest did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })??;
    // Parsing (up to 2 MiB of JSON) and recovering the signer cost milliseconds of CPU: off the async workers,
    // so the tracker's relays never wait behind them.
    let (sequence, manifest) = tokio::task::spawn_blocking(move || check(&bytes, address))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "manifest check panicked");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        })??;
    drop(permit);

    // Counted only now: a verified upload is the creator's own, so junk cannot use up their allowance.
    channels
        .per_address
        .try_take(&address.0, Instant::now())
        .map_err(|wait| Refusal::rate_limited("too many uploads for this channel", wait))?;

    let stored = Stored {
        sequence,
        etag: etag_for(sequence, &manifest),
        manifest,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let outcome = channels
        .db
        .call(move |store| store.put(&address.0, &stored, now))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storing a channel");
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "database error")
        })?;
    match outcome {
        PutOutcome::Stale { current } => Err(Refusal::new(
            StatusCode::CONFLICT,
            format!("stale sequence {sequence}; the channel is at {current}"),
        )),
        PutOutcome::Stored { created } => {
            if created {
                Metric::inc(&channels.metrics.channels);
            }
            let url = format!("/@{}", address.to_checksum());
            tracing::info!(%ip, channel = %address, sequence, "channel stored");
            Ok((
                [(header::CONTENT_TYPE, "application/json")],
                format!("{}\n", json!({ "sequence": sequence, "url": url })),
            )
                .into_response())
        }
    }
}

/// The body, refused as soon as it passes [`MAX_MANIFEST_BYTES`] (chunked bodies declare no length).
async fn read_body(body: Body) -> Result<Vec<u8>, Refusal> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        })?;
        if bytes.len() + chunk.len() > MAX_MANIFEST_BYTES {
            return Err(too_large(format!(
                "more than {}",
                bytes.len() + chunk.len()
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Parses and verifies a manifest for `address`; returns its sequence and the canonical JSON to store.
fn check(bytes: &[u8], address: Address) -> Result<(u64, String), Refusal> {
    let refuse = |e: ChannelError| match e {
        ChannelError::TooLarge { .. } => Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        _ => Refusal::new(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Refusal::new(StatusCode::BAD_REQUEST, "the manifest is not UTF-8 text"))?;
    let signed = SignedChannel::parse_json(text).map_err(refuse)?;
    if signed.channel.address != address {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the manifest is for {}, not for {} (the URL's address)",
                signed.channel.address.to_checksum(),
                address.to_checksum()
            ),
        ));
    }
    signed.verify().map_err(refuse)?;
    Ok((signed.channel.sequence, signed.to_json()))
}
