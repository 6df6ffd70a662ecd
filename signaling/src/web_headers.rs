//! Security headers on every HTTP response: the web app's pages get a Content-Security-Policy that allows
//! only what the app needs, and may not be framed (clickjacking), except the embeddable player page.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::chain::Chain;

/// Lets pages of any origin read a response and the `exposed` headers: for public content that no request
/// authenticates by cookie (static files a web seed serves, signed channel manifests).
pub fn allow_any_origin(headers: &mut HeaderMap, exposed: &'static str) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(exposed),
    );
}

/// The one page other sites may put in an `<iframe>` (the `<seedcast-player>` embed).
pub const EMBED_PAGE: &str = "/embed.html";

/// What the app needs, nothing more: its own scripts and the wasm engine (`wasm-unsafe-eval` compiles it),
/// its own stylesheets, WebSocket trackers anywhere (a magnet's `tr=`), blob: URLs for finished files (to
/// link, play and read back), posters from anywhere, its own service worker and the storage worker (a
/// blob: worker built from its own script, crate/src/web/piece_store.js). No inline script or style.
/// `connect-src` also allows any http(s) origin: BEP 19 web seeds (a torrent's `url-list`, a magnet's `ws=`)
/// live on any host, as trackers do (`ws: wss:` already reach anywhere, so this opens no new way out), and the
/// operator's chain RPC origins are listed too (see [`WebHeaders::new`]).
const POLICY_HEAD: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
     img-src 'self' blob: data: https:; media-src 'self' blob:; connect-src 'self' blob: ws: wss: http: https:";
const POLICY_TAIL: &str = "worker-src 'self' blob:; frame-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";

/// The headers for this server's chain, computed once at startup.
#[derive(Debug, Clone)]
pub struct WebHeaders {
    /// The policy without `frame-ancestors`.
    policy: String,
}

impl WebHeaders {
    /// The pages (the creator page above all) read tips from the chain's JSON-RPC (`eth_getLogs`) in the
    /// browser, so the chain's RPC origins join `connect-src`. The chain was validated at startup (http(s)
    /// URLs); an URL whose origin cannot be written as a CSP source is left out, never spliced in raw.
    pub fn new(chain: &Chain) -> Self {
        let mut origins: Vec<String> = Vec::new();
        for url in &chain.rpc_urls {
            match rpc_origin(url) {
                Some(origin) if !origins.contains(&origin) => origins.push(origin),
                Some(_) => {}
                None => {
                    tracing::warn!(%url, "chain RPC URL left out of connect-src: not a plain http(s) origin")
                }
            }
        }
        let extra: String = origins.iter().map(|o| format!(" {o}")).collect();
        Self {
            policy: format!("{POLICY_HEAD}{extra}; {POLICY_TAIL}"),
        }
    }

    /// The full policy for a request path: only [`EMBED_PAGE`] may be framed, by anyone.
    pub fn content_security_policy(&self, path: &str) -> String {
        let ancestors = if path == EMBED_PAGE { "*" } else { "'none'" };
        format!("{}; frame-ancestors {ancestors}", self.policy)
    }

    /// Adds the security headers for a response to a request for `path`. Headers a handler set are kept.
    pub fn add_security_headers(&self, path: &str, headers: &mut HeaderMap) {
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
            &self.content_security_policy(path),
        );
        if path != EMBED_PAGE {
            // For browsers that predate `frame-ancestors`.
            set(header::X_FRAME_OPTIONS, "DENY");
        }
    }
}

impl Default for WebHeaders {
    /// For BitTorrent Chain mainnet, the default chain.
    fn default() -> Self {
        Self::new(&Chain::bttc())
    }
}

/// `https://host[:port]` of an http(s) URL, if it is one a CSP source expression can name exactly: scheme,
/// then a host of letters, digits, `.`, `-` (or a bracketed IPv6 address) and an optional port. No userinfo,
/// and nothing (`;`, `,`, spaces, quotes) that would end or add a directive.
fn rpc_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if authority.is_empty() || !authority.chars().all(allowed) {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Axum middleware applying [`WebHeaders::add_security_headers`] to every response.
pub async fn security_headers(
    State(headers): State<Arc<WebHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    headers.add_security_headers(&path, response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_embed_page_may_be_framed() {
        let web = WebHeaders::default();
        let mut page = HeaderMap::new();
        web.add_security_headers("/", &mut page);
        assert!(
            page[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .ends_with("frame-ancestors 'none'")
        );
        assert_eq!(page[header::X_FRAME_OPTIONS], "DENY");

        let mut embed = HeaderMap::new();
        web.add_security_headers(EMBED_PAGE, &mut embed);
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
        WebHeaders::default().add_security_headers("/", &mut headers);
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], "sandbox");
    }

    #[test]
    fn connect_src_names_the_chain_rpc_origins_only() {
        let mut chain = Chain::bttc();
        chain.rpc_urls = vec![
            "https://RPC.example.org/v1/key?x=1".into(),
            "http://127.0.0.1:8545".into(),
            "https://rpc.example.org/other".into(),
            "https://evil.example; script-src *".into(),
            "https://user@host.example".into(),
        ];
        let csp = WebHeaders::new(&chain).content_security_policy("/");
        assert!(
            csp.contains(
                "connect-src 'self' blob: ws: wss: http: https: https://rpc.example.org http://127.0.0.1:8545; worker-src"
            ),
            "{csp}"
        );
        assert!(!csp.contains("evil") && !csp.contains("user@"), "{csp}");
        let default = WebHeaders::default().content_security_policy("/");
        assert!(
            default.contains("https://rpc.bittorrentchain.io https://rpc.bt.io;"),
            "{default}"
        );
    }
}
