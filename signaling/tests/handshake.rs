//! The HTTP upgrade, byte for byte: what a client that is not a WebSocket library might send.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\n{extra}\r\n"
    )
}

/// A masked client text frame.
fn text_frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126);
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

async fn read_some(stream: &mut TcpStream, until: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(until.len()).any(|w| w == until) {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
            .await
            .expect("reply in time")
            .unwrap();
        assert!(
            n > 0,
            "connection closed; got {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[tokio::test]
async fn handshake_answers_with_the_rfc_accept_key_and_takes_a_frame_sent_right_behind_it() {
    let server = TestServer::start(Config::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // The request and the first frame in one write: the frame must not be lost in the HTTP layer.
    let mut bytes = upgrade_request("/announce", "Sec-WebSocket-Version: 13\r\n").into_bytes();
    bytes.extend(text_frame(r#"{"action":"scrape"}"#));
    stream.write_all(&bytes).await.unwrap();

    let reply = read_some(&mut stream, b"files").await;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // The example key and accept value from RFC 6455 section 1.3.
    assert!(
        text.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{text}"
    );
    assert!(
        text.ends_with(r#"{"action":"scrape","files":{}}"#),
        "{text}"
    );
}

#[tokio::test]
async fn requests_that_are_not_valid_upgrades_get_400() {
    let server = TestServer::start(Config::default()).await;
    for request in [
        upgrade_request("/announce", "Sec-WebSocket-Version: 8\r\n"),
        upgrade_request("/announce", ""),
        "GET /announce HTTP/1.1\r\nHost: localhost\r\n\r\n".to_owned(),
    ] {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let reply = read_some(&mut stream, b"\r\n").await;
        assert!(
            reply.starts_with(b"HTTP/1.1 400"),
            "{request:?} → {:?}",
            String::from_utf8_lossy(&reply)
        );
    }
}
