//! The native driver's HTTP client for web seeds (BEP 19): one `Range` GET, blocking (the async
//! driver runs it in `spawn_blocking`). ureq 3 is already the CLI's client; a blocking call per
//! request keeps tokio out of this file and reqwest out of the build.
//!
//! Bounded: one overall timeout ([`REQUEST_TIMEOUT`]), at most `max_body` body bytes read, at
//! most [`MAX_REDIRECTS`] redirects, each followed by hand so its target can be checked: a web
//! seed on a public host may not redirect us to a private, loopback or link-local address (a
//! torrent's URL must not become a way to probe the user's network). Known gap: the check
//! resolves the name itself, and ureq resolves it again (DNS rebinding between the two).

use std::io::Read;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::OnceLock;

pub use crate::session::webseed::REQUEST_TIMEOUT;

/// Redirects followed per request: CDNs use one or two; more is a loop or abuse.
pub const MAX_REDIRECTS: usize = 3;

/// What a web seed answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSeedBody {
    pub status: u16,
    pub content_range: Option<String>,
    pub retry_after: Option<String>,
    /// At most `max_body` bytes (reading stops there).
    pub body: Vec<u8>,
}

/// `GET url` with `Range: bytes=start-(start+len-1)`, following redirects as described in the
/// module notes; reads at most `max_body` bytes of the body. `len` must be > 0.
pub fn fetch_range(
    url: &str,
    start: u64,
    len: u64,
    max_body: usize,
) -> Result<WebSeedBody, String> {
    fetch_with(agent(), url, start, len, max_body, &host_is_private)
}

/// One agent for the process: its connection pool is reused across requests.
fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("seedcast/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    })
}

fn fetch_with(
    agent: &ureq::Agent,
    url: &str,
    start: u64,
    len: u64,
    max_body: usize,
    is_private: &dyn Fn(&str) -> bool,
) -> Result<WebSeedBody, String> {
    if len == 0 {
        return Err("empty range".into());
    }
    let range = format!("bytes={}-{}", start, start + len - 1);
    let origin_private = is_private(&host_of(url).ok_or_else(|| format!("{url}: no host"))?);
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let mut response = agent
            .get(&url)
            .header("range", &range)
            // Bytes as stored: a compressed answer would not be the range asked for.
            .header("accept-encoding", "identity")
            .call()
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if (300..400).contains(&status) && status != 304 {
            let location =
                header("location").ok_or_else(|| format!("{url}: {status} without Location"))?;
            let next = resolve(&url, &location)
                .ok_or_else(|| format!("{url}: bad redirect to {location:.200}"))?;
            let host = host_of(&next).ok_or_else(|| format!("{url}: redirect without a host"))?;
            if !origin_private && is_private(&host) {
                return Err(format!(
                    "{url}: refused redirect to a private address ({host})"
                ));
            }
            url = next;
            continue;
        }
        let content_range = header("content-range");
        let retry_after = header("retry-after");
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(max_body as u64)
            .read_to_end(&mut body)
            .map_err(|e| format!("{url}: reading the answer: {e}"))?;
        return Ok(WebSeedBody {
            status,
            content_range,
            retry_after,
            body,
        });
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// `scheme://authority` of an http(s) URL and the rest (path onwards, at least `/`).
fn split(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

/// The host of an http(s) URL (brackets of an IPv6 literal removed, port and userinfo dropped).
fn host_of(url: &str) -> Option<String> {
    let (_, authority, _) = split(url)?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A `Location` value made absolute against `base` (absolute, scheme-relative, absolute-path
/// and relative-path forms).
fn resolve(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.len() > crate::metainfo::MAX_URL_BYTES {
        return None;
    }
    if split(location).is_some() {
        return Some(location.to_string());
    }
    let (scheme, authority, path) = split(base)?;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    if location.contains("://") {
        return None; // another scheme
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{scheme}://{authority}{dir}{location}"))
}

/// True if `host` is, or resolves to, an address that is not on the public internet.
fn host_is_private(host: &str) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip_is_private(ip);
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match (host, 0).to_socket_addrs() {
        Ok(addrs) => addrs.into_iter().any(|a| ip_is_private(a.ip())),
        // Unresolvable: ureq will fail on it anyway; treat as private so it is not followed.
        Err(_) => true,
    }
}

fn ip_is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return ip_is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A one-thread HTTP server answering each request with `answer(path, range header)`;
    /// returns its base URL and the requests it saw (path, range).
    fn server(
        answer: impl Fn(&str, &str) -> String + Send + 'static,
    ) -> (String, mpsc::Receiver<(String, String)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let path = first.split(' ').nth(1).unwrap_or("").to_string();
                let mut range = String::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("range:") {
                        range = v.trim().to_string();
                    }
                }
                let _ = tx.send((path.clone(), range.clone()));
                let _ = stream.write_all(answer(&path, &range).as_bytes());
            }
        });
        (base, rx)
    }

    fn ranged(body: &str, first: u64, total: u64) -> String {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {first}-{}/{total}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            first + body.len() as u64 - 1,
            body.len()
        )
    }

    #[test]
    fn sends_the_range_and_returns_status_headers_and_body() {
        let (base, seen) = server(|_, _| ranged("hello", 10, 100));
        let got = fetch_range(&format!("{base}/f.bin"), 10, 5, 6).unwrap();
        assert_eq!(got.status, 206);
        assert_eq!(got.content_range.as_deref(), Some("bytes 10-14/100"));
        assert_eq!(got.body, b"hello");
        assert_eq!(
            seen.recv().unwrap(),
            ("/f.bin".into(), "bytes=10-14".into())
        );
    }

    #[test]
    fn reads_at_most_max_body_bytes() {
        let big = "x".repeat(100_000);
        let (base, _) = server(move |_, _| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
                big.len()
            )
        });
        let got = fetch_range(&format!("{base}/f"), 0, 10, 11).unwrap();
        assert_eq!(got.status, 200);
        assert_eq!(got.body.len(), 11);
    }

    #[test]
    fn follows_a_few_redirects_relative_or_absolute() {
        let (base, seen) = server(|path, _| {
            match path {
            "/a" => "HTTP/1.1 302 Found\r\nLocation: b/c\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            "/b/c" => "HTTP/1.1 301 Moved\r\nLocation: /final\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
            _ => ranged("ok", 0, 2),
        }
        });
        let got = fetch_range(&format!("{base}/a"), 0, 2, 3).unwrap();
        assert_eq!(got.body, b"ok");
        let paths: Vec<String> = seen.try_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["/a", "/b/c", "/final"]);
    }

    #[test]
    fn a_redirect_loop_ends_in_an_error() {
        let (base, _) = server(|_, _| {
            "HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
        });
        let err = fetch_range(&format!("{base}/x"), 0, 1, 2).unwrap_err();
        assert!(err.contains("redirects"), "{err}");
    }

    #[test]
    fn a_public_seed_may_not_redirect_to_a_private_address() {
        // 127.0.0.1 plays a public host here and "localhost" a private one.
        let (target, target_seen) = server(|_, _| ranged("secret", 0, 6));
        let port = target.rsplit(':').next().unwrap().to_string();
        let (base, _) = server(move |_, _| {
            format!(
                "HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        });
        let private = |h: &str| h == "localhost";
        let err = fetch_with(agent(), &format!("{base}/f"), 0, 6, 7, &private).unwrap_err();
        assert!(err.contains("private address"), "{err}");
        assert!(
            target_seen.try_recv().is_err(),
            "the private host was contacted"
        );
        // A private seed (a LAN server) may redirect within private space.
        let everything_private = |_: &str| true;
        let got = fetch_with(agent(), &format!("{base}/f"), 0, 6, 7, &everything_private).unwrap();
        assert_eq!(got.body, b"secret");
    }

    #[test]
    fn private_addresses_are_recognised() {
        for p in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "localhost",
        ] {
            assert!(host_is_private(p), "{p}");
        }
        for p in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!host_is_private(p), "{p}");
        }
        assert_eq!(host_of("http://user@[::1]:80/x").as_deref(), Some("::1"));
        assert_eq!(
            host_of("https://Example.COM:8443").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            resolve("http://h/a/b?q", "c").as_deref(),
            Some("http://h/a/c")
        );
        assert_eq!(
            resolve("http://h/a/b", "//o/x").as_deref(),
            Some("http://o/x")
        );
        assert_eq!(resolve("http://h/a/b", "ftp://o/x"), None);
    }
}
