//! Security headers on every HTTP response: the web app's pages get a Content-Security-Policy that allows
//! only what the app needs, and may not be framed (clickjacking), except the embeddable player page.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The one page other sites may put in an `<iframe>` (the `<seedcast-player>` embed).
pub const EMBED_PAGE: &str = "/embed.html";

/// What the app needs, nothing more: its own scripts and the wasm engine (`wasm-unsafe-eval` compiles it),
/// its own stylesheets, WebSocket trackers anywhere (a magnet's `tr=`), blob: URLs for finished files (to
/// link, play and read back), posters from anywhere, its own service worker and the storage worker (a
/// blob: worker built from its own script, crate/src/web/piece_store.js). No inline script or style.
const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' blob: data: https:; media-src 'self' blob:; connect-src 'self' blob: ws: wss:; \
     worker-src 'self' blob:; frame-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
     object-src 'none'";

/// The full policy for a request path: only [`EMBED_PAGE`] may be framed, by anyone.
pub fn content_security_policy(path: &str) -> String {
    let ancestors = if path == EMBED_PAGE { "*" } else { "'none'" };
    format!("{POLICY}; frame-ancestors {ancestors}")
}

/// Adds the security headers for a response to a request for `path`. Headers a handler set are kept.
pub fn add_security_headers(path: &str, headers: &mut HeaderMap) {
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.entry(name).or_insert(value);
        }
    };
    // Every response: no content sniffing, and no Referer (page URLs carry magnet links in the fragment and
    // query: `?src=magnet:...` would otherwise leak to poster hosts and trackers).
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(
        header::CONTENT_SECURITY_POLICY,
        &content_security_policy(path),
    );
    if path != EMBED_PAGE {
        // For browsers that predate `frame-ancestors`.
        set(header::X_FRAME_OPTIONS, "DENY");
    }
}

/// Axum middleware applying [`add_security_headers`] to every response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    add_security_headers(&path, response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_embed_page_may_be_framed() {
        let mut page = HeaderMap::new();
        add_security_headers("/", &mut page);
        assert!(
            page[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .ends_with("frame-ancestors 'none'")
        );
        assert_eq!(page[header::X_FRAME_OPTIONS], "DENY");

        let mut embed = HeaderMap::new();
        add_security_headers(EMBED_PAGE, &mut embed);
        assert!(
            embed[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .ends_with("frame-ancestors *")
        );
        assert!(!embed.contains_key(header::X_FRAME_OPTIONS));
        assert_eq!(embed[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn keeps_a_policy_the_handler_chose() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox"),
        );
        add_security_headers("/", &mut headers);
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    }
}
