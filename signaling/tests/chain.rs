//! `/chain.json` serves the operator's chain (never cached), whatever the request asks for; without one,
//! BitTorrent Chain mainnet.
mod common;

use common::{Config, TestServer, http_get, http_head_of};
use seedcast_signal::chain;

async fn served(server: &TestServer) -> serde_json::Value {
    let (status, body) = http_get(server.addr, "/chain.json?chain=donau&tipJar=0x01").await;
    assert_eq!(status, 200, "{body}");
    let (_, headers) = http_head_of(server.addr, "/chain.json").await;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("cache-control"), Some("no-store"));
    assert_eq!(header("content-type"), Some("application/json"));
    serde_json::from_str(&body).expect("/chain.json is JSON")
}

#[tokio::test]
async fn serves_the_configured_chain_and_mainnet_by_default() {
    let default = TestServer::start(Config::default()).await;
    let json = served(&default).await;
    assert_eq!(json["id"], 199);
    assert_eq!(json["tipJar"], serde_json::Value::Null);
    default.shutdown.cancel();

    let jar = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let donau = chain::resolve("donau", Some(jar)).unwrap();
    let server = TestServer::start(Config {
        chain: Some(donau),
        ..Config::default()
    })
    .await;
    let json = served(&server).await;
    assert_eq!(json["id"], 1029);
    assert_eq!(json["explorer"], "https://testscan.bt.io");
    assert_eq!(json["tipJar"], jar);
    server.shutdown.cancel();
}
