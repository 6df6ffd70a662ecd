//! The native tracker WebSocket (`seedcast::native::tracker_socket`) against a local server:
//! open, messages both ways, close reported — and a hostile tracker's oversized message ends
//! the socket with a reason instead of being buffered.
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use seedcast::native::tracker_socket::{TrackerEvent, TrackerSocket};
use seedcast::session::tracker_proto::MAX_MESSAGE_CHARS;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

async fn next(rx: &mut mpsc::Receiver<(u64, TrackerEvent)>) -> (u64, TrackerEvent) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("queue open")
}

/// A one-connection WebSocket server that echoes one text message, then sends `then`.
async fn server(then: Message) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        if let Some(Ok(Message::Text(text))) = ws.next().await {
            ws.send(Message::text(format!("echo {}", text.as_str())))
                .await
                .unwrap();
        }
        let _ = ws.send(then).await;
        // Hold the socket until the client goes.
        while let Some(Ok(_)) = ws.next().await {}
    });
    url
}

#[tokio::test]
async fn reports_open_messages_and_close() {
    let url = server(Message::Close(None)).await;
    let (tx, mut rx) = mpsc::channel(16);
    let socket = TrackerSocket::connect(7, url, tx);
    assert_eq!(next(&mut rx).await, (7, TrackerEvent::Open));
    socket.send("{\"action\":\"announce\"}".into());
    assert_eq!(
        next(&mut rx).await,
        (
            7,
            TrackerEvent::Message("echo {\"action\":\"announce\"}".into())
        )
    );
    match next(&mut rx).await {
        (7, TrackerEvent::Closed(reason)) => assert!(reason.contains("closed by the tracker")),
        other => panic!("expected a close, got {other:?}"),
    }
}

#[tokio::test]
async fn an_oversized_message_closes_the_socket() {
    let url = server(Message::text("x".repeat(MAX_MESSAGE_CHARS + 1))).await;
    let (tx, mut rx) = mpsc::channel(16);
    let socket = TrackerSocket::connect(1, url, tx);
    assert_eq!(next(&mut rx).await, (1, TrackerEvent::Open));
    socket.send("hi".into());
    assert_eq!(
        next(&mut rx).await,
        (1, TrackerEvent::Message("echo hi".into()))
    );
    match next(&mut rx).await {
        (1, TrackerEvent::Closed(reason)) => assert!(
            reason.to_lowercase().contains("size") || reason.to_lowercase().contains("long"),
            "{reason}"
        ),
        other => panic!("expected the socket to close, got {other:?}"),
    }
}

#[tokio::test]
async fn refuses_urls_that_are_not_websockets() {
    let (tx, mut rx) = mpsc::channel(16);
    let _socket = TrackerSocket::connect(2, "http://127.0.0.1:1/announce".into(), tx);
    match next(&mut rx).await {
        (2, TrackerEvent::Closed(reason)) => assert!(reason.contains("not a WebSocket URL")),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
