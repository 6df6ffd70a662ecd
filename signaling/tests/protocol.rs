//! Every message of the WebTorrent tracker protocol, as a client sees it.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::json;

#[tokio::test]
async fn announce_is_answered_with_interval_and_swarm_counts() {
    let server = TestServer::start(Config::default()).await;
    let mut leecher = server.client().await;
    let reply = leecher.announce(&announce(&id(1), &id(10))).await;
    assert_eq!(reply["action"], "announce");
    assert_eq!(reply["info_hash"], id(1));
    assert_eq!(reply["interval"], 120);
    assert_eq!(
        (reply["complete"].as_u64(), reply["incomplete"].as_u64()),
        (Some(0), Some(1))
    );

    let mut seeder = server.client().await;
    let mut message = announce(&id(1), &id(11));
    message["left"] = json!(0);
    let reply = seeder.announce(&message).await;
    assert_eq!(
        (reply["complete"].as_u64(), reply["incomplete"].as_u64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn each_offer_goes_to_a_different_random_peer_and_never_back() {
    let server = TestServer::start(Config::default()).await;
    let hash = id(1);
    let mut others = Vec::new();
    for n in 0..4u8 {
        let mut c = server.client().await;
        c.announce(&announce(&hash, &id(20 + n))).await;
        others.push(c);
    }
    let mut offerer = server.client().await;
    let offer_ids: Vec<String> = (0..3u8).map(|n| id(100 + n)).collect();
    offerer
        .announce(&with_offers(announce(&hash, &id(1)), &offer_ids))
        .await;

    let mut received = Vec::new();
    for c in &mut others {
        if let Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) =
            tokio::time::timeout(
                std::time::Duration::from_millis(500),
                futures_util::StreamExt::next(&mut c.ws),
            )
            .await
        {
            let offer: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(offer["action"], "announce");
            assert_eq!(offer["info_hash"], hash);
            assert_eq!(
                offer["peer_id"],
                id(1),
                "relayed offers carry the offerer's peer_id"
            );
            assert_eq!(offer["offer"]["type"], "offer");
            received.push(offer["offer_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        received.len(),
        3,
        "3 offers reach 3 of the 4 other peers, one each"
    );
    assert_eq!(
        received.iter().collect::<HashSet<_>>().len(),
        3,
        "each offer is sent once"
    );
    offerer
        .expect_nothing("an offer relayed back to its sender")
        .await;
}

#[tokio::test]
async fn answer_is_forwarded_to_the_offerer_only() {
    let server = TestServer::start(Config::default()).await;
    let hash = id(1);
    let mut answerer = server.client().await;
    answerer.announce(&announce(&hash, &id(2))).await;
    let mut offerer = server.client().await;
    offerer
        .announce(&with_offers(announce(&hash, &id(1)), &[id(50)]))
        .await;

    let offer = answerer.recv("the relayed offer").await;
    assert_eq!(
        offer["offer"]["sdp"], "v=0\r\no=20\r\n",
        "SDP is relayed byte for byte"
    );
    answerer.send(&answer(&hash, &id(2), &id(1), &id(50))).await;

    let forwarded = offerer.recv("the forwarded answer").await;
    assert_eq!(forwarded["action"], "announce");
    assert_eq!(forwarded["info_hash"], hash);
    assert_eq!(forwarded["peer_id"], id(2), "the answer names the answerer");
    assert_eq!(forwarded["offer_id"], id(50));
    assert_eq!(
        forwarded["answer"],
        json!({"type": "answer", "sdp": "v=0\r\na=answer\r\n"})
    );
    answerer.expect_nothing("a reply to an answer").await;
}

#[tokio::test]
async fn ids_with_any_byte_value_survive_the_round_trip() {
    let server = TestServer::start(Config::default()).await;
    // Quote, backslash, control bytes and bytes ≥ 0x80 (two UTF-8 bytes each on the wire).
    let hash: String = [0u8, b'"', b'\\', 0x1f, 0x7f, 0x80, 0xff]
        .iter()
        .cycle()
        .take(20)
        .map(|&b| char::from(b))
        .collect();
    let offerer_id: String = (0xec..=0xff).map(char::from).collect();
    let offer_id: String = (0..20).map(char::from).collect();
    let mut answerer = server.client().await;
    answerer.announce(&announce(&hash, &id(2))).await;
    let mut offerer = server.client().await;
    let reply = offerer
        .announce(&with_offers(
            announce(&hash, &offerer_id),
            std::slice::from_ref(&offer_id),
        ))
        .await;
    assert_eq!(reply["info_hash"], hash);

    let offer = answerer.recv("the relayed offer").await;
    assert_eq!(offer["info_hash"], hash);
    assert_eq!(offer["peer_id"], offerer_id);
    assert_eq!(offer["offer_id"], offer_id);
    answerer
        .send(&answer(&hash, &id(2), &offerer_id, &offer_id))
        .await;
    assert_eq!(
        offerer.recv("the forwarded answer").await["offer_id"],
        offer_id
    );
}

#[tokio::test]
async fn completed_turns_a_leecher_into_a_seeder_and_counts_a_download() {
    let server = TestServer::start(Config::default()).await;
    let hash = id(1);
    let mut peer = server.client().await;
    peer.announce(&announce(&hash, &id(2))).await;
    let mut done = announce(&hash, &id(2));
    done["event"] = json!("completed");
    done["left"] = json!(0);
    let reply = peer.announce(&done).await;
    assert_eq!(
        (reply["complete"].as_u64(), reply["incomplete"].as_u64()),
        (Some(1), Some(0))
    );

    peer.send(&json!({"action": "scrape", "info_hash": hash}))
        .await;
    let scrape = peer.recv("scrape reply").await;
    assert_eq!(
        scrape["files"][&hash],
        json!({"complete": 1, "incomplete": 0, "downloaded": 1})
    );
}

#[tokio::test]
async fn update_without_event_keeps_the_peer_and_stopped_removes_it() {
    let server = TestServer::start(Config::default()).await;
    let hash = id(1);
    let mut peer = server.client().await;
    peer.announce(&announce(&hash, &id(2))).await;
    let mut update = announce(&hash, &id(2));
    update.as_object_mut().unwrap().remove("event");
    assert_eq!(peer.announce(&update).await["incomplete"], 1);

    let mut stop = announce(&hash, &id(2));
    stop["event"] = json!("stopped");
    assert_eq!(peer.announce(&stop).await["incomplete"], 0);

    // A stopped peer gets no more offers.
    let mut offerer = server.client().await;
    offerer
        .announce(&with_offers(announce(&hash, &id(3)), &[id(60)]))
        .await;
    peer.expect_nothing("an offer after stopping").await;
}

#[tokio::test]
async fn seeders_offers_only_reach_leechers() {
    let server = TestServer::start(Config::default()).await;
    let hash = id(1);
    let mut other_seeder = server.client().await;
    let mut message = announce(&hash, &id(2));
    message["left"] = json!(0);
    other_seeder.announce(&message).await;
    let mut leecher = server.client().await;
    leecher.announce(&announce(&hash, &id(3))).await;

    let mut seeder = server.client().await;
    let mut message = with_offers(announce(&hash, &id(4)), &[id(70), id(71)]);
    message["left"] = json!(0);
    seeder.announce(&message).await;
    assert_eq!(
        leecher.recv("an offer from the seeder").await["peer_id"],
        id(4)
    );
    other_seeder
        .expect_nothing("an offer from one seeder to another")
        .await;
}

#[tokio::test]
async fn numwant_caps_how_many_peers_get_offers() {
    let server = TestServer::start(Config::default()).await;
    let hash = id(1);
    let mut peers = Vec::new();
    for n in 0..3u8 {
        let mut c = server.client().await;
        c.announce(&announce(&hash, &id(20 + n))).await;
        peers.push(c);
    }
    let mut offerer = server.client().await;
    let mut message = with_offers(announce(&hash, &id(1)), &[id(80), id(81), id(82)]);
    message["numwant"] = json!(1);
    offerer.announce(&message).await;
    server
        .wait_for_stats("one offer relayed", |s| s["offers_relayed"] == 1)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        server.stats().await["offers_relayed"],
        1,
        "numwant 1 relays one offer only"
    );
}

#[tokio::test]
async fn scrape_one_many_and_all() {
    let server = TestServer::start(Config::default()).await;
    let mut a = server.client().await;
    a.announce(&announce(&id(1), &id(10))).await;
    let mut b = server.client().await;
    let mut seed = announce(&id(2), &id(11));
    seed["left"] = json!(0);
    b.announce(&seed).await;

    a.send(&json!({"action": "scrape", "info_hash": id(1)}))
        .await;
    let one = a.recv("scrape of one").await;
    assert_eq!(one["action"], "scrape");
    assert_eq!(one["files"].as_object().unwrap().len(), 1);
    assert_eq!(one["files"][id(1)]["incomplete"], 1);

    a.send(&json!({"action": "scrape", "info_hash": [id(1), id(2), id(3)]}))
        .await;
    let many = a.recv("scrape of many").await;
    assert_eq!(
        many["files"][id(2)],
        json!({"complete": 1, "incomplete": 0, "downloaded": 0})
    );
    assert_eq!(
        many["files"][id(3)],
        json!({"complete": 0, "incomplete": 0, "downloaded": 0}),
        "unknown swarms are empty"
    );

    a.send(&json!({"action": "scrape"})).await;
    let all = a.recv("scrape of all").await;
    let files = all["files"].as_object().unwrap();
    assert_eq!(files.len(), 2);
    assert!(files.contains_key(&id(1)) && files.contains_key(&id(2)));
}

#[tokio::test]
async fn one_socket_serves_many_swarms_and_closing_it_leaves_them_all() {
    let server = TestServer::start(Config::default()).await;
    let mut multi = server.client().await;
    for n in 1..=3u8 {
        assert_eq!(
            multi.announce(&announce(&id(n), &id(9))).await["info_hash"],
            id(n)
        );
    }
    // Offers in swarm 2 reach the multi-swarm socket, tagged with swarm 2.
    let mut offerer = server.client().await;
    offerer
        .announce(&with_offers(announce(&id(2), &id(8)), &[id(90)]))
        .await;
    assert_eq!(multi.recv("an offer in swarm 2").await["info_hash"], id(2));
    let stats = server.stats().await;
    assert_eq!(
        (stats["swarms"].as_u64(), stats["peers"].as_u64()),
        (Some(3), Some(4))
    );

    drop(multi);
    let stats = server
        .wait_for_stats("the closed socket's peers to leave", |s| s["peers"] == 1)
        .await;
    assert_eq!(stats["swarms"], 1);
}

#[tokio::test]
async fn websocket_on_root_path_works_too() {
    let server = TestServer::start(Config::default()).await;
    let mut peer = Client::connect(server.addr, "/").await;
    assert_eq!(
        peer.announce(&announce(&id(1), &id(2))).await["action"],
        "announce"
    );
}
