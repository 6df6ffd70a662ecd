//! Creator channels: `PUT`/`GET /api/channels/<address>` store signed manifests in SQLite, check them with
//! the same code as the page, keep only the highest sequence, survive restarts, and refuse hostile uploads
//! (bad JSON, wrong signer, oversized, floods) without harming anyone else.
mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Config, HttpResponse, Limits, TestServer, http_request};
use rand::seq::SliceRandom;
use seedcast::channel::{Channel, SignedChannel, Work};
use seedcast::creator::{Address, CreatorKey};
use seedcast_signal::channels::ChannelLimits;
use seedcast_signal::channels::rate_limit::Rate;
use seedcast_signal::channels::store::{MIGRATIONS, Store};

fn key(n: u8) -> CreatorKey {
    CreatorKey::from_bytes(&[n; 32]).expect("a valid test key")
}

fn work(n: u8) -> Work {
    let info_hash = [n; 20];
    let hex: String = info_hash.iter().map(|b| format!("{b:02x}")).collect();
    Work {
        info_hash,
        magnet: format!("magnet:?xt=urn:btih:{hex}&dn=work{n}&tr=wss%3A%2F%2Ftracker.example.org"),
        title: format!("Work {n}"),
        poster: None,
        published: 1_764_700_000 + u64::from(n),
    }
}

/// A channel of `works` works at `sequence`, signed by `key`.
fn signed(key: &CreatorKey, sequence: u64, works: u8) -> SignedChannel {
    let mut channel = Channel::empty(key.address(), "Ada Lovelace");
    channel.sequence = sequence;
    for n in 1..=works {
        channel.upsert_work(work(n));
    }
    channel.sign(key)
}

fn path(address: &Address) -> String {
    format!("/api/channels/{}", address.to_checksum())
}

async fn put(server: &TestServer, address: &Address, body: &str) -> HttpResponse {
    put_from(server, "192.0.2.1", address, body).await
}

/// A PUT as if from `ip` (the servers in these tests trust X-Forwarded-For).
async fn put_from(server: &TestServer, ip: &str, address: &Address, body: &str) -> HttpResponse {
    http_request(
        server.addr,
        "PUT",
        &path(address),
        &[
            ("X-Forwarded-For", ip),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await
}

async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http_request(server.addr, "GET", path, headers, b"").await
}

fn config(limits: ChannelLimits, data_dir: Option<PathBuf>) -> Config {
    Config {
        trust_proxy: true,
        data_dir,
        limits: Limits {
            channels: limits,
            ..Limits::default()
        },
        ..Config::default()
    }
}

fn generous() -> ChannelLimits {
    let rate = Rate {
        burst: 1000,
        per: Duration::from_secs(60),
    };
    ChannelLimits {
        per_ip: rate,
        per_address: rate,
        ..ChannelLimits::default()
    }
}

/// A fresh directory for one test's database.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "seedcast-signal-{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Asserts a refusal: the status and a one-line JSON `{"error"}` containing `needle`.
fn assert_refused(response: &HttpResponse, status: u16, needle: &str) {
    assert_eq!(response.status, status, "{response:?}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.body.trim_end().lines().count(), 1, "{response:?}");
    let error = response.json()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error text: {response:?}"))
        .to_owned();
    assert!(
        error.contains(needle),
        "{error:?} should mention {needle:?}"
    );
}

#[tokio::test]
async fn put_then_get_round_trip_with_etag_and_cors() {
    let server = TestServer::start(config(generous(), None)).await;
    let ada = key(7);
    let address = ada.address();
    let v1 = signed(&ada, 1, 2);

    let missing = get(&server, &path(&address), &[]).await;
    assert_refused(
        &missing,
        404,
        &format!("no channel for {}", address.to_checksum()),
    );
    assert_eq!(missing.header("access-control-allow-origin"), Some("*"));

    let stored = put(&server, &address, &v1.to_json()).await;
    assert_eq!(stored.status, 200, "{stored:?}");
    assert_eq!(
        stored.json(),
        serde_json::json!({"sequence": 1, "url": format!("/@{}", address.to_checksum())})
    );
    assert_eq!(stored.header("access-control-allow-origin"), None);

    // Checksummed or lower case, the same manifest, exactly as signed and stored.
    let lower = format!(
        "/api/channels/{}",
        address.to_checksum().to_ascii_lowercase()
    );
    for p in [path(&address), lower] {
        let read = get(&server, &p, &[("Origin", "https://elsewhere.example")]).await;
        assert_eq!(read.status, 200, "{read:?}");
        assert_eq!(read.body, v1.to_json());
        assert_eq!(read.header("content-type"), Some("application/json"));
        assert_eq!(read.header("cache-control"), Some("no-cache"));
        assert_eq!(read.header("access-control-allow-origin"), Some("*"));
        let etag = read.header("etag").expect("an ETag");
        assert!(etag.starts_with("\"1-") && etag.ends_with('"'), "{etag}");
    }
    let etag = get(&server, &path(&address), &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();

    let revalidated = get(&server, &path(&address), &[("If-None-Match", &etag)]).await;
    assert_eq!(revalidated.status, 304, "{revalidated:?}");
    assert_eq!(revalidated.body, "");
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));

    // A new sequence replaces it, with a new tag: the old one no longer matches.
    let v2 = signed(&ada, 2, 3);
    assert_eq!(put(&server, &address, &v2.to_json()).await.status, 200);
    let read = get(&server, &path(&address), &[("If-None-Match", &etag)]).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, v2.to_json());
    assert_ne!(read.header("etag"), Some(etag.as_str()));

    // The preflight allows reads from anywhere, and not uploads.
    let preflight = http_request(
        server.addr,
        "OPTIONS",
        &path(&address),
        &[
            ("Origin", "https://elsewhere.example"),
            ("Access-Control-Request-Method", "PUT"),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    let methods = preflight.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("GET") && !methods.contains("PUT"),
        "{methods}"
    );
    assert_eq!(preflight.header("access-control-allow-credentials"), None);

    let metrics = get(&server, "/metrics", &[]).await.body;
    assert!(
        metrics.contains("seedcast_signal_channels 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seedcast_signal_channel_puts_total{result=\"stored\"} 2\n"),
        "{metrics}"
    );
    server.shutdown.cancel();
}

#[tokio::test]
async fn stale_sequences_are_refused_and_the_stored_channel_kept() {
    let server = TestServer::start(config(generous(), None)).await;
    let ada = key(7);
    let address = ada.address();
    let v5 = signed(&ada, 5, 1);
    assert_eq!(put(&server, &address, &v5.to_json()).await.status, 200);

    for sequence in [4, 5] {
        let older = signed(&ada, sequence, 2);
        assert_refused(
            &put(&server, &address, &older.to_json()).await,
            409,
            &format!("stale sequence {sequence}; the channel is at 5"),
        );
    }
    assert_eq!(get(&server, &path(&address), &[]).await.body, v5.to_json());
    let metrics = get(&server, "/metrics", &[]).await.body;
    assert!(
        metrics.contains("seedcast_signal_channel_puts_total{result=\"stale\"} 2\n"),
        "{metrics}"
    );
    server.shutdown.cancel();
}

#[tokio::test]
async fn hostile_uploads_are_refused_without_harming_others() {
    let server = TestServer::start(config(generous(), None)).await;
    let ada = key(7);
    let address = ada.address();
    let eve = key(9);

    // Eve's signature over a manifest that names Ada's address.
    let forged = signed(&eve, 9, 1)
        .to_json()
        .replace(&eve.address().to_checksum(), &address.to_checksum());
    assert!(forged.contains(&address.to_checksum()));
    assert_refused(
        &put(&server, &address, &forged).await,
        400,
        "signature does not verify",
    );

    // Eve's own, genuine manifest uploaded to Ada's URL.
    assert_refused(
        &put(&server, &address, &signed(&eve, 9, 1).to_json()).await,
        400,
        "(the URL's address)",
    );

    for junk in ["{", "[]", "null", "{\"address\": 5}", ""] {
        assert_refused(&put(&server, &address, junk).await, 400, "");
    }

    // Thousands of works: refused by the manifest's bounds (before any signature work).
    let mut huge: serde_json::Value = serde_json::from_str(&signed(&ada, 9, 1).to_json()).unwrap();
    let one = huge["works"][0].clone();
    huge["works"] = serde_json::Value::Array(vec![one; 3000]);
    assert_refused(
        &put(&server, &address, &huge.to_string()).await,
        400,
        "works",
    );

    // 3 MiB declared: 413 at once, without the body being sent at all.
    let big = declared_put(&server, &path(&address), 3 * 1024 * 1024).await;
    assert_refused(&big, 413, "over the 2097152-byte limit");

    // Nothing was stored, and an honest upload still works.
    assert_eq!(get(&server, &path(&address), &[]).await.status, 404);
    let honest = signed(&ada, 1, 1);
    assert_eq!(put(&server, &address, &honest.to_json()).await.status, 200);
    assert_eq!(
        get(&server, &path(&address), &[]).await.body,
        honest.to_json()
    );

    let malformed = get(&server, "/api/channels/0x1234", &[]).await;
    assert_refused(&malformed, 400, "invalid address");
    assert_eq!(malformed.header("access-control-allow-origin"), Some("*"));
    server.shutdown.cancel();
}

/// A PUT that declares `bytes` of body and sends none: the answer must not wait for them.
async fn declared_put(server: &TestServer, path: &str, bytes: usize) -> HttpResponse {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "PUT {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {bytes}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    common::read_response(stream).await
}

#[tokio::test]
async fn floods_get_429_while_other_clients_and_channels_are_served() {
    let per_minute_2 = Rate {
        burst: 2,
        per: Duration::from_secs(60),
    };
    let server = TestServer::start(config(
        ChannelLimits {
            per_ip: Rate {
                burst: 3,
                per: Duration::from_secs(60),
            },
            per_address: per_minute_2,
            ..ChannelLimits::default()
        },
        None,
    ))
    .await;
    let (ada, bob) = (key(7), key(8));

    // Per IP: every attempt counts, junk included.
    for _ in 0..3 {
        assert_eq!(
            put_from(&server, "198.51.100.1", &ada.address(), "{")
                .await
                .status,
            400
        );
    }
    let limited = put_from(&server, "198.51.100.1", &ada.address(), "{").await;
    assert_refused(&limited, 429, "too many channel uploads");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // Forgeries for Ada's address, from many IPs, do not use up her allowance (only verified uploads count).
    let forged = signed(&bob, 9, 1)
        .to_json()
        .replace(&bob.address().to_checksum(), &ada.address().to_checksum());
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_refused(
            &put_from(&server, ip, &ada.address(), &forged).await,
            400,
            "signature does not verify",
        );
    }
    // Another client is served.
    let v1 = signed(&ada, 1, 1);
    assert_eq!(
        put_from(&server, "198.51.100.2", &ada.address(), &v1.to_json())
            .await
            .status,
        200
    );

    // Per address: verified uploads only; a third for Ada is refused from any IP, Bob is still served.
    let v2 = signed(&ada, 2, 1);
    assert_eq!(
        put_from(&server, "198.51.100.3", &ada.address(), &v2.to_json())
            .await
            .status,
        200
    );
    let v3 = signed(&ada, 3, 1);
    assert_refused(
        &put_from(&server, "198.51.100.4", &ada.address(), &v3.to_json()).await,
        429,
        "too many uploads for this channel",
    );
    assert_eq!(
        get(&server, &path(&ada.address()), &[]).await.body,
        v2.to_json()
    );
    let b1 = signed(&bob, 1, 1);
    assert_eq!(
        put_from(&server, "198.51.100.4", &bob.address(), &b1.to_json())
            .await
            .status,
        200
    );
    server.shutdown.cancel();
}

#[tokio::test]
async fn concurrent_uploads_keep_the_highest_sequence() {
    let server = TestServer::start(config(generous(), None)).await;
    let ada = key(7);
    let address = ada.address();
    let mut sequences: Vec<u64> = (1..=20).collect();
    sequences.shuffle(&mut rand::rng());
    let uploads: Vec<_> = sequences
        .iter()
        .map(|&sequence| {
            let body = signed(&ada, sequence, 1).to_json();
            let addr = server.addr;
            tokio::spawn(async move {
                let response = http_request(
                    addr,
                    "PUT",
                    &path(&address),
                    &[("X-Forwarded-For", "192.0.2.1")],
                    body.as_bytes(),
                )
                .await;
                (sequence, response.status)
            })
        })
        .collect();
    for upload in uploads {
        let (sequence, status) = upload.await.unwrap();
        assert!(
            status == 200 || status == 409,
            "sequence {sequence}: {status}"
        );
        if sequence == 20 {
            assert_eq!(status, 200, "the highest sequence is always stored");
        }
    }
    let read = get(&server, &path(&address), &[]).await;
    assert_eq!(read.json()["sequence"], 20);
    assert_eq!(read.body, signed(&ada, 20, 1).to_json());
    server.shutdown.cancel();
}

#[tokio::test]
async fn channels_survive_a_restart_on_the_same_data_dir() {
    let dir = temp_dir("restart");
    let ada = key(7);
    let address = ada.address();
    let v3 = signed(&ada, 3, 2);

    let first = TestServer::start(config(generous(), Some(dir.clone()))).await;
    assert_eq!(put(&first, &address, &v3.to_json()).await.status, 200);
    first.shutdown.cancel();
    first.task.await.unwrap().unwrap();
    assert!(dir.join("channels.sqlite3").is_file());

    let second = TestServer::start(config(generous(), Some(dir.clone()))).await;
    let read = get(&second, &path(&address), &[]).await;
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.body, v3.to_json());
    // And its sequence is still enforced.
    assert_eq!(
        put(&second, &address, &signed(&ada, 2, 1).to_json())
            .await
            .status,
        409
    );
    let stats = second.stats().await;
    assert_eq!(stats["channels"]["channels"], 1, "{stats}");
    second.shutdown.cancel();
    second.task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_version_0_database_is_migrated_and_a_newer_one_refused() {
    let dir = temp_dir("migrate");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("channels.sqlite3");
    {
        // A database as an operator might have created it by hand: version 0, another table in it.
        let conn = rusqlite::Connection::open(&file).unwrap();
        conn.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('kept');")
            .unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 0);
    }
    let mut store = Store::open(&dir).unwrap();
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let stored = seedcast_signal::channels::store::Stored {
        sequence: 1,
        manifest: "{}".into(),
        etag: "\"1\"".into(),
    };
    store.put(&[1; 20], &stored, 0).unwrap();
    assert_eq!(store.get(&[1; 20]).unwrap(), Some(stored));
    drop(store);
    {
        let conn = rusqlite::Connection::open(&file).unwrap();
        let kept: String = conn
            .query_row("SELECT text FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "kept");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
    }
    let error = Store::open(&dir)
        .err()
        .expect("a newer schema is refused")
        .to_string();
    assert!(
        error.contains("schema version 99, newer than this server knows"),
        "{error}"
    );
    assert!(!error.contains('\n'));
    let _ = std::fs::remove_dir_all(dir);
}
