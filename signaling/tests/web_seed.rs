//! `--www` files can serve as a BEP 19 web seed: `Range` requests are answered with the bytes asked
//! for, and any origin may read them (CORS).
mod common;

use common::{Config, HttpResponse, TestServer, http_request};

/// A throwaway `www` directory with one file of known bytes (ASCII, so the test client's text
/// body is the bytes).
fn www_dir() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("seedcast-signal-webseed-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pack")).unwrap();
    let body: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    std::fs::write(dir.join("pack").join("file.bin"), &body).unwrap();
    (dir, body)
}

async fn get(server: &TestServer, range: Option<&str>) -> HttpResponse {
    let mut headers = vec![("Origin", "https://elsewhere.example")];
    if let Some(r) = range {
        headers.push(("Range", r));
    }
    http_request(server.addr, "GET", "/pack/file.bin", &headers, b"").await
}

#[tokio::test]
async fn files_answer_single_ranges_with_206_and_any_origin_may_read_them() {
    let (dir, body) = www_dir();
    let server = TestServer::start(Config {
        www_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await;

    let r = get(&server, Some("bytes=10-19")).await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(r.body, body[10..20]);
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.contains("Content-Range"), "{exposed}");
    assert!(r.header("access-control-allow-credentials").is_none());

    // The last bytes, open-ended.
    let r = get(&server, Some("bytes=990-")).await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 990-999/1000"));
    assert_eq!(r.body, body[990..]);

    // Past the end: 416 with the real size.
    let r = get(&server, Some("bytes=5000-5009")).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1000"));

    // Several ranges: the whole file (RFC 9110 lets a server ignore Range).
    let r = get(&server, Some("bytes=0-1, 5-6")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);

    // No Range: the whole file, still readable from anywhere.
    let r = get(&server, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, body);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let _ = std::fs::remove_dir_all(dir);
}
