//! Peers leaving without saying so, shutdown, and the HTTP side (static files, /stats, /metrics).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn a_socket_that_stops_answering_pings_is_closed_and_leaves_its_swarms() {
    let limits = Limits {
        ping_interval: Duration::from_millis(100),
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let mut alive = server.client().await;
    alive.announce(&announce(&id(1), &id(10))).await;
    // Never read again: tungstenite only answers pings while it is being polled.
    let mut silent = server.client().await;
    silent.announce(&announce(&id(1), &id(11))).await;

    // The live client keeps answering pings as it reads.
    let reader = tokio::spawn(async move {
        let _ =
            tokio::time::timeout(Duration::from_secs(2), alive.recv("nothing, only pings")).await;
        alive
    });
    let stats = server
        .wait_for_stats("the silent socket to be dropped", |s| s["peers"] == 1)
        .await;
    assert_eq!(stats["closed_idle"], 1);
    let mut alive = reader.await.unwrap();
    assert_eq!(
        alive.announce(&announce(&id(1), &id(10))).await["incomplete"],
        1,
        "the live peer stayed"
    );
}

#[tokio::test]
async fn peers_that_stop_announcing_expire() {
    let limits = Limits {
        peer_ttl: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let mut peer = server.client().await;
    peer.announce(&announce(&id(1), &id(10))).await;
    assert_eq!(server.stats().await["peers"], 1);
    let stats = server
        .wait_for_stats("the peer to expire", |s| s["peers"] == 0)
        .await;
    assert_eq!(stats["peers_expired"], 1);
    assert_eq!(stats["swarms"], 0);
    // Its connection is still open and may announce again.
    assert_eq!(
        peer.announce(&announce(&id(1), &id(10))).await["incomplete"],
        1
    );
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_a_close_frame() {
    let server = TestServer::start(Config::default()).await;
    let mut a = server.client().await;
    a.announce(&announce(&id(1), &id(10))).await;
    let mut b = server.client().await;
    b.announce(&announce(&id(2), &id(11))).await;
    server.shutdown.cancel();
    for client in [&mut a, &mut b] {
        let frame = client
            .expect_close("shutdown")
            .await
            .expect("a close frame");
        assert_eq!(frame.code, CloseCode::Away);
    }
    let result = tokio::time::timeout(PATIENCE, server.task)
        .await
        .expect("server stops in time");
    result.unwrap().expect("server exits cleanly");
}

#[tokio::test]
async fn stats_and_metrics_report_the_traffic() {
    let server = TestServer::start(Config::default()).await;
    let mut answerer = server.client().await;
    answerer.announce(&announce(&id(1), &id(10))).await;
    let mut offerer = server.client().await;
    let mut seed = with_offers(announce(&id(1), &id(11)), &[id(50)]);
    seed["left"] = json!(0);
    offerer.announce(&seed).await;
    answerer.recv("offer").await;
    answerer
        .send(&answer(&id(1), &id(10), &id(11), &id(50)))
        .await;
    offerer.recv("answer").await;

    let stats = server.stats().await;
    for (key, value) in [
        ("swarms", 1),
        ("peers", 2),
        ("seeders", 1),
        ("leechers", 1),
        ("connections", 2),
        ("messages_relayed", 2),
    ] {
        assert_eq!(stats[key], value, "{key} in {stats}");
    }
    let (status, metrics) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("# TYPE seedcast_signal_peers gauge\nseedcast_signal_peers 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("seedcast_signal_offers_relayed_total 1\n"));
    assert!(metrics.contains("seedcast_signal_answers_relayed_total 1\n"));
}

#[tokio::test]
async fn the_web_app_is_served_from_the_www_directory() {
    let dir = std::env::temp_dir().join(format!("seedcast-signal-www-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("js")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>seedcast</h1>").unwrap();
    std::fs::write(dir.join("js/app.js"), "console.log(1)").unwrap();
    let server = TestServer::start(Config {
        www_dir: Some(dir.clone()),
        ..Config::default()
    })
    .await;

    assert_eq!(
        http_get(server.addr, "/").await,
        (200, "<h1>seedcast</h1>".to_owned())
    );
    assert_eq!(
        http_get(server.addr, "/js/app.js").await,
        (200, "console.log(1)".to_owned())
    );
    assert_eq!(http_get(server.addr, "/missing.css").await.0, 404);
    assert_eq!(
        http_get(server.addr, "/../Cargo.toml").await.0,
        404,
        "no escaping the www directory"
    );
    // The same port still speaks WebSocket on `/`.
    let mut peer = Client::connect(server.addr, "/").await;
    assert_eq!(
        peer.announce(&announce(&id(1), &id(2))).await["action"],
        "announce"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
