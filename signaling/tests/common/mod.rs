//! Shared helpers: an in-process server on 127.0.0.1:0 and a small JSON WebSocket client.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use tokio_util::sync::CancellationToken;

pub use seedcast_signal::{Config, Limits};

/// How long a test waits for a message it expects before failing.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(seedcast_signal::serve(listener, config, shutdown.clone()));
        Self {
            addr,
            shutdown,
            task,
        }
    }

    pub async fn with_limits(limits: Limits) -> Self {
        Self::start(Config {
            limits,
            ..Config::default()
        })
        .await
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr, "/announce").await
    }

    pub async fn stats(&self) -> Value {
        let (status, body) = http_get(self.addr, "/stats").await;
        assert_eq!(status, 200, "/stats answered {status}: {body}");
        serde_json::from_str(&body).expect("/stats is JSON")
    }

    /// Polls `/stats` until `check` holds, failing after `PATIENCE`.
    pub async fn wait_for_stats(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let stats = self.stats().await;
            if check(&stats) {
                return stats;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; last stats: {stats}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A 20-byte id as a binary string: `n` repeated, so tests can tell ids apart at a glance.
pub fn id(n: u8) -> String {
    std::iter::repeat_n(char::from(n), 20).collect()
}

pub fn announce(hash: &str, peer: &str) -> Value {
    json!({"action": "announce", "info_hash": hash, "peer_id": peer, "numwant": 10,
           "uploaded": 0, "downloaded": 0, "left": 1000, "event": "started"})
}

pub fn with_offers(mut message: Value, offer_ids: &[String]) -> Value {
    message["offers"] = offer_ids
        .iter()
        .map(|oid| json!({"offer_id": oid, "offer": {"type": "offer", "sdp": format!("v=0\r\no={}\r\n", oid.len())}}))
        .collect();
    message
}

pub fn answer(hash: &str, from: &str, to: &str, offer_id: &str) -> Value {
    json!({"action": "announce", "info_hash": hash, "peer_id": from, "to_peer_id": to,
           "offer_id": offer_id, "answer": {"type": "answer", "sdp": "v=0\r\na=answer\r\n"}})
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        let (ws, _) = connect_async(format!("ws://{addr}{path}"))
            .await
            .expect("WebSocket connect");
        Self { ws }
    }

    pub async fn send(&mut self, message: &Value) {
        self.send_text(message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// The next JSON message, or a test failure naming what was expected.
    pub async fn recv(&mut self, what: &str) -> Value {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await {
                Err(_) => panic!("timed out waiting for {what}"),
                Ok(None) => panic!("connection ended while waiting for {what}"),
                Ok(Some(Err(e))) => panic!("connection failed while waiting for {what}: {e}"),
                Ok(Some(Ok(Message::Text(text)))) => {
                    return serde_json::from_str(&text).expect("tracker sent JSON");
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    panic!("closed ({frame:?}) while waiting for {what}")
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Sends an announce and returns the tracker's reply to it.
    pub async fn announce(&mut self, message: &Value) -> Value {
        self.send(message).await;
        self.recv("announce reply").await
    }

    /// Asserts nothing arrives for a while (used to show a message was *not* relayed).
    pub async fn expect_nothing(&mut self, what: &str) {
        if let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_millis(300), self.ws.next()).await
        {
            panic!("expected no message ({what}), got {text}");
        }
    }

    /// Reads until the server closes; returns its close frame.
    pub async fn expect_close(&mut self, what: &str) -> Option<CloseFrame> {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await {
                Err(_) => panic!("timed out waiting for the server to close ({what})"),
                Ok(Some(Ok(Message::Close(frame)))) => return frame,
                Ok(None | Some(Err(_))) => return None,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// A bare HTTP/1.1 GET (`Connection: close`).
async fn http_exchange(addr: SocketAddr, path: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_response(stream).await
}

/// A bare HTTP/1.1 GET; returns status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = http_exchange(addr, path).await;
    (response.status, response.body)
}

/// A bare HTTP/1.1 GET; returns the status and the response headers (names lower-cased).
pub async fn http_head_of(addr: SocketAddr, path: &str) -> (u16, Vec<(String, String)>) {
    let response = http_exchange(addr, path).await;
    (response.status, response.headers)
}

/// A parsed HTTP response: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.1 request (`Connection: close`) with extra headers and a body sent with its Content-Length.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    read_response(stream).await
}

/// Reads a whole `Connection: close` response.
pub async fn read_response(mut stream: TcpStream) -> HttpResponse {
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("HTTP response in time")
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}
