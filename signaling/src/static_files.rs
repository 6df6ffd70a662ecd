//! The `--www` directory's files, also usable as a BEP 19 web seed: `Range` requests are answered
//! by tower-http's `ServeDir` (one range: 206 with `Content-Range`; unsatisfiable: 416; `Accept-Ranges:
//! bytes` on every file). A request for several ranges gets the whole file (200): `ServeDir` would
//! refuse it (416, no multipart support), and RFC 9110 lets a server ignore `Range`.
//!
//! CORS: the files are public, so any origin may read them with `fetch` (a page served elsewhere
//! downloading from this web seed) — `Access-Control-Allow-Origin: *`, and `Content-Range` exposed so
//! the page can check which bytes came. Credentials are never allowed (`*` forbids them).

use std::path::Path;

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::web_headers::allow_any_origin;

/// Headers a cross-origin page may read besides the CORS-safelisted ones.
pub const EXPOSED_HEADERS: &str = "Content-Range, Content-Length, Accept-Ranges, Retry-After";

/// Serves a file of `dir` for `request`.
pub async fn serve(dir: &Path, mut request: Request) -> Response {
    let multiple = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(','));
    if multiple {
        request.headers_mut().remove(header::RANGE);
    }
    let mut response = match ServeDir::new(dir).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    allow_any_origin(response.headers_mut(), EXPOSED_HEADERS);
    response
}
