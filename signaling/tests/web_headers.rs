//! The web app's pages are served with a Content-Security-Policy, may not be framed (except the embeddable
//! player page), and no response may be content-sniffed or leak its URL (magnet links) as a Referer.
mod common;

use common::{Config, TestServer, http_head_of};

/// A throwaway `www` directory with the pages whose headers differ.
fn www_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("seedcast-signal-www-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in [
        ("index.html", "<!doctype html><title>app</title>"),
        ("embed.html", "<!doctype html><title>embed</title>"),
        ("app.js", "export {};"),
    ] {
        std::fs::write(dir.join(name), body).unwrap();
    }
    dir
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn pages_carry_a_policy_and_only_the_embed_page_may_be_framed() {
    let dir = www_dir();
    let server = TestServer::start(Config {
        www_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await;

    for path in ["/", "/index.html", "/app.js"] {
        let (status, headers) = http_head_of(server.addr, path).await;
        assert_eq!(status, 200, "{path}");
        let csp = header(&headers, "content-security-policy")
            .unwrap_or_else(|| panic!("{path} has no Content-Security-Policy"));
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header(&headers, "x-frame-options"), Some("DENY"), "{path}");
    }

    let (status, headers) = http_head_of(server.addr, "/embed.html").await;
    assert_eq!(status, 200);
    let csp = header(&headers, "content-security-policy").expect("embed.html has a policy");
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(!csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(&headers, "x-frame-options"), None);

    // Every response, files, errors and the tracker's own pages alike.
    for path in [
        "/",
        "/embed.html",
        "/app.js",
        "/missing.js",
        "/stats",
        "/metrics",
    ] {
        let (_, headers) = http_head_of(server.addr, path).await;
        assert_eq!(
            header(&headers, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&headers, "referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
    }

    server.shutdown.cancel();
    let _ = std::fs::remove_dir_all(dir);
}
