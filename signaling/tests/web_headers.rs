//! The web app's pages are served with a Content-Security-Policy, may not be framed (except the embeddable
//! player page), and no response may be content-sniffed or leak its URL (magnet links) as a Referer.
mod common;

use common::{Config, TestServer, http_get, http_head_of};

/// A throwaway `www` directory with the pages whose headers differ.
fn www_dir(test: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("seedcast-signal-www-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, body) in [
        ("index.html", "<!doctype html><title>app</title>"),
        ("embed.html", "<!doctype html><title>embed</title>"),
        ("creator.html", "<!doctype html><title>Creator page</title>"),
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
    let dir = www_dir("frames");
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

/// `/@<address>` serves the creator page for a well-formed address only, with the app's policy; every page may
/// reach the operator's chain RPC (the creator page reads tips with `eth_getLogs`), and no other host.
#[tokio::test]
async fn creator_pages_and_the_chain_rpc_in_connect_src() {
    let dir = www_dir("creator");
    let server = TestServer::start(Config {
        www_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await;
    let checksummed = "/@0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let lower = checksummed.to_ascii_lowercase();
    for path in [checksummed, lower.as_str()] {
        let (status, body) = http_get(server.addr, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("Creator page"), "{path}: {body}");
        let (_, headers) = http_head_of(server.addr, path).await;
        let csp = header(&headers, "content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' blob: ws: wss: http: https: https://rpc.bittorrentchain.io https://rpc.bt.io;"),
            "mainnet RPC by default: {csp}"
        );
    }
    for path in [
        "/@0x5fbDB2315678afecb367f032d93F642f64180aa3", // wrong checksum
        "/@0x5FbDB2315678afecb367f032d93F642f64180aa",
        "/@0x5FbDB2315678afecb367f032d93F642f64180aa3/",
        "/@alice",
        "/@",
    ] {
        assert_eq!(http_get(server.addr, path).await.0, 404, "{path}");
    }
    server.shutdown.cancel();

    let mut chain = seedcast_signal::chain::Chain::donau();
    chain.rpc_urls = vec!["http://127.0.0.1:8545/".into()];
    let local = TestServer::start(Config {
        www_dir: Some(dir.clone()),
        chain: Some(chain),
        ..Config::default()
    })
    .await;
    for path in ["/", checksummed] {
        let (_, headers) = http_head_of(local.addr, path).await;
        let csp = header(&headers, "content-security-policy").unwrap();
        assert!(
            csp.contains("connect-src 'self' blob: ws: wss: http: https: http://127.0.0.1:8545;"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("bittorrentchain"), "{csp}");
    }
    local.shutdown.cancel();
    let _ = std::fs::remove_dir_all(dir);
}
