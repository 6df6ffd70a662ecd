//! Hostile and broken input: each gets a `failure reason` or a close for that connection only, and every
//! other peer keeps working.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A swarm of two healthy peers; `check` proves they still relay offers to each other.
struct Bystanders {
    offerer: Client,
    receiver: Client,
}

impl Bystanders {
    async fn join(server: &TestServer) -> Self {
        let mut receiver = server.client().await;
        receiver.announce(&announce(&id(200), &id(201))).await;
        let mut offerer = server.client().await;
        offerer.announce(&announce(&id(200), &id(202))).await;
        Self { offerer, receiver }
    }

    async fn check(&mut self) {
        let mut message = with_offers(announce(&id(200), &id(202)), &[id(203)]);
        message["event"] = json!("update");
        assert_eq!(self.offerer.announce(&message).await["action"], "announce");
        assert_eq!(
            self.receiver.recv("an offer between healthy peers").await["offer_id"],
            id(203)
        );
    }
}

async fn failure_for(client: &mut Client, text: String) -> Value {
    client.send_text(text).await;
    let reply = client.recv("a failure reason").await;
    assert!(
        reply["failure reason"].is_string(),
        "expected a failure, got {reply}"
    );
    reply
}

#[tokio::test]
async fn malformed_messages_get_a_failure_reason_and_the_connection_stays_usable() {
    let server = TestServer::start(Config::default()).await;
    let mut bystanders = Bystanders::join(&server).await;
    let mut client = server.client().await;
    let (hash, peer) = (id(1), id(2));
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "message is not a JSON object"),
        ("[1,2,3]".into(), "message is not a JSON object"),
        (r#"{"info_hash":"x"}"#.into(), "missing action"),
        (r#"{"action":"teleport"}"#.into(), "unknown action"),
        (r#"{"action":["announce"]}"#.into(), "action must be a string"),
        (json!({"action":"announce","peer_id":peer}).to_string(), "missing info_hash"),
        (json!({"action":"announce","info_hash":42,"peer_id":peer}).to_string(), "info_hash must be a string"),
        (json!({"action":"announce","info_hash":"abc","peer_id":peer}).to_string(), "invalid info_hash: has 3 characters, expected 20"),
        (json!({"action":"announce","info_hash":hash,"peer_id":"é".repeat(19) + "\u{0100}"}).to_string(), "invalid peer_id: contains a character above U+00FF"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"event":"exploded"}).to_string(), "invalid event"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"numwant":-1}).to_string(), "numwant must be a non-negative number"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"left":"lots"}).to_string(), "left must be a non-negative number"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"offers":"x"}).to_string(), "offers must be an array"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"offers":[{"offer_id":peer}]}).to_string(), "missing offer"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"offers":[{"offer_id":"short","offer":{}}]}).to_string(), "invalid offer_id"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"answer":{},"to_peer_id":peer}).to_string(), "missing offer_id"),
        (json!({"action":"announce","info_hash":hash,"peer_id":peer,"answer":"sdp","to_peer_id":peer,"offer_id":peer}).to_string(), "answer must be a JSON object"),
        (json!({"action":"scrape","info_hash":[hash, 7]}).to_string(), "info_hash must be a string"),
    ];
    for (text, expected) in cases {
        let reply = failure_for(&mut client, text.clone()).await;
        let reason = reply["failure reason"].as_str().unwrap();
        assert!(
            reason.contains(expected),
            "{text} → {reason:?}, expected it to mention {expected:?}"
        );
    }
    // Context that was valid is echoed, so WebTorrent routes the failure to the right torrent.
    let reply = failure_for(
        &mut client,
        json!({"action":"announce","info_hash":hash,"peer_id":"x"}).to_string(),
    )
    .await;
    assert_eq!(
        (reply["action"].as_str(), reply["info_hash"].as_str()),
        (Some("announce"), Some(hash.as_str()))
    );

    client.ws.send_binary(vec![1, 2, 3]).await;
    assert!(
        client.recv("binary refusal").await["failure reason"]
            .as_str()
            .unwrap()
            .contains("binary")
    );

    assert_eq!(
        client.announce(&announce(&hash, &peer)).await["action"],
        "announce",
        "still usable"
    );
    bystanders.check().await;
}

trait SendBinary {
    async fn send_binary(&mut self, bytes: Vec<u8>);
}

impl SendBinary
    for tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>
{
    async fn send_binary(&mut self, bytes: Vec<u8>) {
        futures_util::SinkExt::send(self, Message::Binary(bytes.into()))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn too_many_offers_is_refused() {
    let limits = Limits {
        max_offers: 2,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let mut client = server.client().await;
    let message = with_offers(announce(&id(1), &id(2)), &[id(3), id(4), id(5)]);
    let reply = failure_for(&mut client, message.to_string()).await;
    assert_eq!(reply["failure reason"], "too many offers (at most 2)");
}

#[tokio::test]
async fn an_oversized_message_closes_only_that_connection() {
    let limits = Limits {
        max_message_bytes: 8 * 1024,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let mut bystanders = Bystanders::join(&server).await;
    let mut client = server.client().await;
    client
        .send_text(format!(
            r#"{{"action":"announce","pad":"{}"}}"#,
            "x".repeat(20_000)
        ))
        .await;
    let frame = client.expect_close("an oversized message").await;
    assert_eq!(frame.map(|f| f.code), Some(CloseCode::Size));
    bystanders.check().await;
}

#[tokio::test]
async fn a_flood_is_warned_then_closed_while_others_keep_working() {
    let limits = Limits {
        max_messages_per_window: 5,
        rate_window: Duration::from_secs(60),
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let mut bystanders = Bystanders::join(&server).await;
    let mut flooder = server.client().await;
    for _ in 0..5 {
        flooder.announce(&announce(&id(1), &id(2))).await;
    }
    let warning = failure_for(&mut flooder, announce(&id(1), &id(2)).to_string()).await;
    assert!(
        warning["failure reason"]
            .as_str()
            .unwrap()
            .contains("rate limit")
    );
    for _ in 0..10 {
        let _ = futures_util::SinkExt::send(
            &mut flooder.ws,
            Message::Text(announce(&id(1), &id(2)).to_string().into()),
        )
        .await;
    }
    let frame = flooder.expect_close("flooding").await;
    assert_eq!(frame.map(|f| f.code), Some(CloseCode::Policy));
    bystanders.check().await;
    server
        .wait_for_stats("the flooder's peer to be removed", |s| {
            s["closed_flooding"] == 1 && s["peers"] == 2
        })
        .await;
}

#[tokio::test]
async fn answers_cannot_cross_swarms_or_come_from_strangers() {
    let server = TestServer::start(Config::default()).await;
    let mut victim = server.client().await;
    victim.announce(&announce(&id(1), &id(10))).await;
    let mut attacker = server.client().await;
    attacker.announce(&announce(&id(2), &id(20))).await;

    // Answer in the attacker's own swarm naming a peer of another swarm: nobody there by that id.
    attacker
        .send(&answer(&id(2), &id(20), &id(10), &id(99)))
        .await;
    // Answer in the victim's swarm, where the attacker never announced.
    let reply = failure_for(
        &mut attacker,
        answer(&id(1), &id(20), &id(10), &id(99)).to_string(),
    )
    .await;
    assert!(
        reply["failure reason"]
            .as_str()
            .unwrap()
            .contains("has not announced in this swarm")
    );
    // Answer impersonating the victim's own peer id from another connection.
    let reply = failure_for(
        &mut attacker,
        answer(&id(1), &id(10), &id(10), &id(99)).to_string(),
    )
    .await;
    assert!(
        reply["failure reason"]
            .as_str()
            .unwrap()
            .contains("has not announced in this swarm")
    );
    victim.expect_nothing("an answer from another swarm").await;
    assert_eq!(server.stats().await["answers_relayed"], 0);
}

#[tokio::test]
async fn a_peer_id_cannot_be_taken_over_by_another_connection() {
    let server = TestServer::start(Config::default()).await;
    let mut owner = server.client().await;
    owner.announce(&announce(&id(1), &id(10))).await;
    let mut thief = server.client().await;
    let reply = failure_for(&mut thief, announce(&id(1), &id(10)).to_string()).await;
    assert_eq!(
        reply["failure reason"],
        "peer_id is already used in this swarm by another connection"
    );
    // The thief cannot make the owner leave either.
    let mut stop = announce(&id(1), &id(10));
    stop["event"] = json!("stopped");
    thief.announce(&stop).await;
    assert_eq!(server.stats().await["peers"], 1);
}

#[tokio::test]
async fn swarm_and_connection_limits_are_enforced() {
    let limits = Limits {
        max_swarms_per_connection: 2,
        max_peers_per_swarm: 2,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let mut client = server.client().await;
    client.announce(&announce(&id(1), &id(10))).await;
    client.announce(&announce(&id(2), &id(10))).await;
    let reply = failure_for(&mut client, announce(&id(3), &id(10)).to_string()).await;
    assert_eq!(
        reply["failure reason"],
        "too many swarms on one connection (at most 2)"
    );
    // Leaving one frees a place.
    let mut stop = announce(&id(2), &id(10));
    stop["event"] = json!("stopped");
    client.announce(&stop).await;
    assert_eq!(
        client.announce(&announce(&id(3), &id(10))).await["action"],
        "announce"
    );

    let mut second = server.client().await;
    second.announce(&announce(&id(1), &id(11))).await;
    let mut third = server.client().await;
    let reply = failure_for(&mut third, announce(&id(1), &id(12)).to_string()).await;
    assert_eq!(reply["failure reason"], "swarm is full (at most 2 peers)");
}

#[tokio::test]
async fn allow_list_refuses_other_info_hashes() {
    let allowed = seedcast::session::tracker_proto::Id20([1; 20]);
    let config = Config {
        allow_list: Some([allowed].into_iter().collect()),
        ..Config::default()
    };
    let server = TestServer::start(config).await;
    let mut client = server.client().await;
    assert_eq!(
        client.announce(&announce(&id(1), &id(10))).await["incomplete"],
        1
    );
    let reply = failure_for(&mut client, announce(&id(2), &id(10)).to_string()).await;
    assert_eq!(
        reply["failure reason"],
        "info_hash is not allowed on this tracker"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_with_503_and_existing_ones_keep_working() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let mut a = server.client().await;
    a.announce(&announce(&id(1), &id(10))).await;
    let mut b = server.client().await;
    b.announce(&announce(&id(1), &id(11))).await;
    match tokio_tungstenite::connect_async(format!("ws://{}/announce", server.addr)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!(
            "third connection should get 503, got {:?}",
            other.map(|_| "a WebSocket")
        ),
    }
    a.announce(&with_offers(announce(&id(1), &id(10)), &[id(12)]))
        .await;
    assert_eq!(
        b.recv("an offer after the refusal").await["offer_id"],
        id(12)
    );
    drop(a);
    server
        .wait_for_stats("the slot to free up", |s| s["connections"] == 1)
        .await;
    let mut c = server.client().await;
    assert_eq!(
        c.announce(&announce(&id(1), &id(13))).await["action"],
        "announce"
    );
}

#[tokio::test]
async fn a_reader_that_falls_behind_is_dropped_and_the_sender_is_unaffected() {
    let limits = Limits {
        outbound_queue: 4,
        write_timeout: Duration::from_millis(500),
        max_messages_per_window: 100_000,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let hash = id(1);
    // Announces, then never reads again: the server's writes to it back up.
    let mut slow = server.client().await;
    slow.announce(&announce(&hash, &id(10))).await;
    let mut sender = server.client().await;
    sender.announce(&announce(&hash, &id(11))).await;

    let big_sdp = "a".repeat(50_000);
    let mut sent = 0;
    while server.stats().await["peers"] == 2 {
        assert!(sent < 4_000, "the slow reader was never dropped");
        for _ in 0..20 {
            let mut message = announce(&hash, &id(11));
            message["event"] = json!("update");
            message["offers"] =
                json!([{"offer_id": id(12), "offer": {"type": "offer", "sdp": big_sdp}}]);
            sender.announce(&message).await;
            sent += 1;
        }
    }
    let stats = server.stats().await;
    assert_eq!(
        stats["closed_slow_reader"].as_u64().unwrap() + stats["peers"].as_u64().unwrap(),
        2,
        "{stats}"
    );
    assert_eq!(
        sender.announce(&announce(&hash, &id(11))).await["incomplete"],
        1,
        "the sender still works"
    );
}

#[tokio::test]
async fn a_reader_that_pauses_then_catches_up_gets_every_relay_whole_and_in_order() {
    // Room for everything below to wait at the server: this reader is slow, not too slow.
    let limits = Limits {
        max_message_bytes: 8 * 1024 * 1024,
        outbound_queue: 1024,
        max_messages_per_window: 100_000,
        ..Limits::default()
    };
    let server = TestServer::with_limits(limits).await;
    let hash = id(1);
    let mut paused = server.client().await;
    paused.announce(&announce(&hash, &id(10))).await;
    let mut sender = server.client().await;
    sender.announce(&announce(&hash, &id(11))).await;

    // Offers of 50 kB go to the reader, which does not read, until the kernel's buffers are full and the
    // server holds the rest (`write_stalls`); a few more then wait behind those.
    let sdp = |n: usize| {
        format!(
            "v=0\r\n{}",
            char::from(b'a' + (n % 26) as u8).to_string().repeat(50_000)
        )
    };
    let offer_id = |n: usize| format!("{n:020}");
    let mut sent = 0;
    let mut extra = 5;
    while extra > 0 {
        assert!(sent < 600, "30 MB sent and the server never held any of it");
        let mut message = announce(&hash, &id(11));
        message["event"] = json!("update");
        message["offers"] =
            json!([{"offer_id": offer_id(sent), "offer": {"type": "offer", "sdp": sdp(sent)}}]);
        sender.announce(&message).await;
        sent += 1;
        if server.stats().await["write_stalls"] != 0 {
            extra -= 1;
        }
    }
    let stats = server.stats().await;
    assert_eq!(stats["closed_slow_reader"], 0, "{stats}");

    for n in 0..sent {
        let offer = paused.recv("a relayed offer").await;
        assert_eq!(offer["offer_id"], offer_id(n), "offer {n} arrives in order");
        assert!(
            offer["offer"]["sdp"] == sdp(n),
            "offer {n} arrives whole ({} bytes of SDP)",
            offer["offer"]["sdp"].as_str().map_or(0, str::len)
        );
    }
    paused.expect_nothing("more offers than were sent").await;
    let stats = server.stats().await;
    assert_eq!(stats["peers"], 2, "nobody was dropped: {stats}");
    assert_eq!(stats["messages_dropped"], 0, "{stats}");
}
