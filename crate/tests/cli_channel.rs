//! `seedcast channel …` against a stand-in for seedcast-signal: a local HTTP server that
//! records each request and answers with canned responses, in order.

mod cli_support;
use cli_support::{TempDir, assert_clean_failure, seedcast, stdout};

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use seedcast::channel::{Channel, SignedChannel, Work};
use seedcast::create::{CreateOptions, CreatorOptions, CreatorSigner, TorrentBuilder};
use seedcast::creator::{CreatorKey, keccak256};
use seedcast::metainfo::Metainfo;
use serde_json::Value as Json;

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    body: String,
}

/// Answers connection after connection with `answers` in order (then 500), one request each.
struct FakeServer {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeServer {
    fn start(answers: Vec<(u16, String)>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        // Detached: it ends with the test process.
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let path = parts.next().unwrap_or_default().to_owned();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                recorded.lock().unwrap().push(Request {
                    method,
                    path,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
                let (status, answer) = answers
                    .next()
                    .unwrap_or((500, r#"{"error":"no more canned answers"}"#.into()));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        FakeServer { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn key(label: &str) -> CreatorKey {
    CreatorKey::from_bytes(&keccak256(label.as_bytes())).unwrap()
}

fn key_file(dir: &TempDir, label: &str) -> String {
    let hex: String = keccak256(label.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.path(&format!("{label}.key"));
    fs::write(&path, format!("0x{hex}\n")).unwrap();
    path
}

/// A .torrent of `name` with distinct content per `seed`, optionally with a creator record.
fn torrent(
    dir: &TempDir,
    name: &str,
    seed: u8,
    creator: Option<&CreatorKey>,
) -> (String, Metainfo) {
    let options = CreateOptions {
        name: name.into(),
        piece_length: Some(16384),
        trackers: vec!["wss://tracker.example/announce".into()],
        creator: creator.map(|key| CreatorOptions {
            name: "Ada".into(),
            signer: CreatorSigner::Key(key.clone()),
        }),
        ..CreateOptions::default()
    };
    let data = vec![seed; 30_000];
    let mut builder = TorrentBuilder::single_file(options, data.len() as u64).unwrap();
    builder.update(&data).unwrap();
    let metainfo = builder.finish().unwrap();
    let path = dir.path(&format!("{name}.torrent"));
    fs::write(&path, metainfo.to_bytes()).unwrap();
    (path, metainfo)
}

fn put_body(server: &FakeServer) -> SignedChannel {
    let requests = server.requests();
    let put = requests
        .iter()
        .find(|r| r.method == "PUT")
        .expect("a PUT was made");
    SignedChannel::parse_json(&put.body).expect("the body is a manifest")
}

#[test]
fn add_to_an_empty_channel_uploads_sequence_1_signed() {
    let dir = TempDir::new();
    let ada = key("ada");
    let (path, metainfo) = torrent(&dir, "first film.webm", 1, Some(&ada));
    let server = FakeServer::start(vec![
        (404, r#"{"error":"no channel"}"#.into()),
        (200, "{}".into()),
    ]);
    let out = stdout(&seedcast(&[
        "channel",
        "add",
        "--key",
        &key_file(&dir, "ada"),
        "--server",
        &format!("{}/", server.url),
        &path,
    ]));
    let address = ada.address().to_checksum();
    assert_eq!(
        out.lines().last(),
        Some(format!("{}/@{address}", server.url).as_str()),
        "{out}"
    );

    let requests = server.requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str()))
            .collect::<Vec<_>>(),
        [
            ("GET", format!("/api/channels/{address}").as_str()),
            ("PUT", format!("/api/channels/{address}").as_str())
        ]
    );
    let signed = put_body(&server);
    assert_eq!(signed.verify(), Ok(()));
    let channel = &signed.channel;
    assert_eq!(channel.address, ada.address());
    assert_eq!(channel.sequence, 1);
    assert_eq!(
        channel.name, "Ada",
        "a new channel takes the creator record's name"
    );
    assert_eq!(channel.works.len(), 1);
    let work = &channel.works[0];
    assert_eq!(work.info_hash, metainfo.info_hash.0);
    assert_eq!(work.title, "first film.webm");
    assert_eq!(work.poster, None);
    let magnet = seedcast::magnet::Magnet::parse(&work.magnet).unwrap();
    assert_eq!(magnet.trackers, ["wss://tracker.example/announce"]);
    assert_eq!(magnet.name.as_deref(), Some("first film.webm"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(work.published <= now && work.published + 600 > now);
}

#[test]
fn add_to_an_existing_channel_keeps_its_works_and_bumps_the_sequence() {
    let dir = TempDir::new();
    let ada = key("ada");
    let (_, old) = torrent(&dir, "old.webm", 2, None);
    let mut existing = Channel::empty(ada.address(), "Ada L.");
    existing.sequence = 41;
    existing.works.push(Work::from_torrent(
        &old,
        Some("The old one"),
        None,
        1_700_000_000,
    ));
    let served = existing.sign(&ada).to_json();
    let (path, new) = torrent(&dir, "new.webm", 3, None);
    let poster = dir.path("poster.png");
    fs::write(&poster, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();

    let server = FakeServer::start(vec![(200, served), (200, "{}".into())]);
    stdout(&seedcast(&[
        "channel",
        "add",
        "--key",
        &key_file(&dir, "ada"),
        "--server",
        &server.url,
        "--title",
        "Brand new",
        "--poster",
        &poster,
        "--name",
        "Ada Lovelace",
        &path,
    ]));
    let signed = put_body(&server);
    assert_eq!(signed.verify(), Ok(()));
    assert_eq!(signed.channel.sequence, 42);
    assert_eq!(signed.channel.name, "Ada Lovelace");
    let works: Vec<_> = signed
        .channel
        .works
        .iter()
        .map(|w| (w.info_hash, w.title.as_str()))
        .collect();
    assert_eq!(
        works,
        [
            (old.info_hash.0, "The old one"),
            (new.info_hash.0, "Brand new")
        ]
    );
    assert!(
        signed.channel.works[1]
            .poster
            .as_deref()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
}

#[test]
fn server_refusals_are_one_error_line() {
    let dir = TempDir::new();
    let (path, _) = torrent(&dir, "film.webm", 4, None);
    let key = key_file(&dir, "ada");
    for (status, body, expected) in [
        (
            409,
            r#"{"error":"stale sequence: the server has 7"}"#,
            "server answered 409: stale sequence: the server has 7",
        ),
        (
            413,
            r#"{"error":"manifest too large"}"#,
            "server answered 413: manifest too large",
        ),
        (429, "slow down\n", "server answered 429: slow down"),
    ] {
        let server = FakeServer::start(vec![(404, String::new()), (status, body.into())]);
        let error = assert_clean_failure(
            &seedcast(&[
                "channel",
                "add",
                "--key",
                &key,
                "--server",
                &server.url,
                &path,
            ]),
            1,
        );
        assert!(error.contains(expected), "{error}");
        assert_eq!(server.requests().len(), 2);
    }
}

#[test]
fn a_served_channel_that_is_not_ours_is_not_built_on() {
    let dir = TempDir::new();
    let ada = key("ada");
    let (path, old) = torrent(&dir, "film.webm", 5, None);
    let work = Work::from_torrent(&old, None, None, 1);

    // Signed by Mallory but claiming Ada's address.
    let mut channel = Channel::empty(ada.address(), "Ada");
    channel.sequence = 3;
    channel.works.push(work.clone());
    let forged = SignedChannel {
        signature: key("mallory").sign_prehash(&channel.signing_hash()),
        channel: channel.clone(),
    };
    // Validly signed, but Mallory's own channel.
    let mallorys = Channel {
        address: key("mallory").address(),
        ..channel.clone()
    }
    .sign(&key("mallory"));
    // Ada's, with the title edited on the server.
    let mut edited = channel.sign(&ada);
    edited.channel.works[0].title = "Edited".into();

    for (served, expected) in [
        (forged.to_json(), "does not verify"),
        (mallorys.to_json(), "answered with the channel of"),
        (edited.to_json(), "does not verify"),
        ("{\"address\":1}".to_owned(), "invalid channel manifest"),
    ] {
        let server = FakeServer::start(vec![(200, served)]);
        let error = assert_clean_failure(
            &seedcast(&[
                "channel",
                "add",
                "--key",
                &key_file(&dir, "ada"),
                "--server",
                &server.url,
                &path,
            ]),
            1,
        );
        assert!(error.contains(expected), "{error}");
        assert!(
            server.requests().iter().all(|r| r.method == "GET"),
            "nothing uploaded"
        );
    }
}

#[test]
fn a_torrent_naming_another_creator_is_refused_before_any_request() {
    let dir = TempDir::new();
    let (path, _) = torrent(&dir, "bobs.webm", 6, Some(&key("bob")));
    let server = FakeServer::start(vec![]);
    let error = assert_clean_failure(
        &seedcast(&[
            "channel",
            "add",
            "--key",
            &key_file(&dir, "ada"),
            "--server",
            &server.url,
            &path,
        ]),
        1,
    );
    assert!(
        error.contains(&key("bob").address().to_checksum()),
        "{error}"
    );
    assert!(server.requests().is_empty());

    // A poster that is not an image, or too big, is refused the same way.
    let (path, _) = torrent(&dir, "film.webm", 7, None);
    let gif = dir.path("poster.gif");
    fs::write(&gif, b"GIF89a").unwrap();
    let big = dir.path("big.jpg");
    let mut jpeg = vec![0u8; 40_000];
    jpeg[..3].copy_from_slice(&[0xff, 0xd8, 0xff]);
    fs::write(&big, jpeg).unwrap();
    for (poster, expected) in [(gif, "not a JPEG, PNG or WebP"), (big, "make it smaller")] {
        let error = assert_clean_failure(
            &seedcast(&[
                "channel",
                "add",
                "--key",
                &key_file(&dir, "ada"),
                "--server",
                &server.url,
                "--poster",
                &poster,
                &path,
            ]),
            1,
        );
        assert!(error.contains(expected), "{error}");
    }
    assert!(server.requests().is_empty());
}

#[test]
fn show_prints_a_verified_summary_or_the_manifest_with_the_verdict() {
    let dir = TempDir::new();
    let ada = key("ada");
    let (_, film) = torrent(&dir, "film.webm", 8, None);
    let mut channel = Channel::empty(ada.address(), "Ada");
    channel.sequence = 2;
    channel
        .works
        .push(Work::from_torrent(&film, Some("A film"), None, 5));
    let signed = channel.sign(&ada);
    let address = ada.address().to_checksum();

    let server = FakeServer::start(vec![(200, signed.to_json()), (200, signed.to_json())]);
    let text = stdout(&seedcast(&[
        "channel",
        "show",
        "--server",
        &server.url,
        &address.to_lowercase(),
    ]));
    assert!(text.contains("verified:  yes"), "{text}");
    assert!(text.contains(&format!("address:   {address}")));
    assert!(text.contains("  A film\n"), "{text}");
    assert!(text.contains(&signed.channel.works[0].magnet));
    let json: Json = serde_json::from_str(&stdout(&seedcast(&[
        "channel",
        "show",
        "--server",
        &server.url,
        &address,
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(json["error"], Json::Null);
    assert_eq!(json["sequence"], 2);
    assert_eq!(json["signature"], signed.signature.to_hex());

    let mut tampered = signed.clone();
    tampered.channel.name = "Eve".into();
    let server = FakeServer::start(vec![(200, tampered.to_json()), (404, String::new())]);
    let json: Json = serde_json::from_str(&stdout(&seedcast(&[
        "channel",
        "show",
        "--server",
        &server.url,
        &address,
        "--json",
    ])))
    .unwrap();
    assert_eq!(json["verified"], false);
    assert!(json["error"].as_str().unwrap().contains("signed by"));
    let error = assert_clean_failure(
        &seedcast(&["channel", "show", "--server", &server.url, &address]),
        1,
    );
    assert!(error.contains("has no channel for"), "{error}");
}

#[test]
fn sign_and_verify_manifest_files() {
    let dir = TempDir::new();
    let ada = key("ada");
    let (_, film) = torrent(&dir, "film.webm", 9, None);
    let mut channel = Channel::empty(ada.address(), "Ada");
    channel.works.push(Work::from_torrent(&film, None, None, 5));
    let unsigned = dir.path("unsigned.json");
    fs::write(&unsigned, channel.to_json()).unwrap();

    let signed = stdout(&seedcast(&[
        "channel",
        "sign",
        &unsigned,
        "--key",
        &key_file(&dir, "ada"),
    ]));
    let parsed = SignedChannel::parse_json(signed.trim()).unwrap();
    assert_eq!(parsed, channel.clone().sign(&ada));
    let signed_path = dir.path("signed.json");
    fs::write(&signed_path, &signed).unwrap();
    assert!(stdout(&seedcast(&["channel", "verify", &signed_path])).contains("verified:  yes"));

    // The typed data, signed elsewhere, embeds only if it verifies.
    let typed: Json = serde_json::from_str(&stdout(&seedcast(&[
        "channel",
        "sign",
        &unsigned,
        "--typed-data",
    ])))
    .unwrap();
    assert_eq!(typed["primaryType"], "Channel");
    let signature = ada.sign_prehash(&channel.signing_hash()).to_hex();
    let embedded = stdout(&seedcast(&[
        "channel",
        "sign",
        &unsigned,
        "--signature",
        &signature,
    ]));
    assert_eq!(embedded, signed);
    let wrong = key("bob").sign_prehash(&channel.signing_hash()).to_hex();
    assert!(
        assert_clean_failure(
            &seedcast(&["channel", "sign", &unsigned, "--signature", &wrong]),
            1
        )
        .contains("does not verify")
    );
    // Someone else's key does not sign Ada's manifest.
    assert!(
        assert_clean_failure(
            &seedcast(&[
                "channel",
                "sign",
                &unsigned,
                "--key",
                &key_file(&dir, "bob")
            ]),
            1
        )
        .contains("the key is")
    );

    // A manifest edited after signing fails verify with exit 1.
    fs::write(
        &signed_path,
        signed.replace("\"name\":\"Ada\"", "\"name\":\"Eve\""),
    )
    .unwrap();
    let output = seedcast(&["channel", "verify", &signed_path]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("verified:  NO"));
}

#[test]
fn channel_usage_errors_exit_2() {
    for args in [
        &["channel"][..],
        &["channel", "frobnicate"],
        &["channel", "add", "--server", "http://x", "a.torrent"],
        &["channel", "add", "--key", "k", "a.torrent"],
        &[
            "channel",
            "add",
            "--key",
            "k",
            "--server",
            "ftp://x",
            "a.torrent",
        ],
        &["channel", "add", "--key", "k", "--server", "http://x"],
        &[
            "channel", "add", "--key", "k", "--server", "http://x", "--title", "T", "a", "b",
        ],
        &["channel", "show", "--server", "http://x", "0x1234"],
        &[
            "channel",
            "show",
            "--server",
            "http://x",
            "--key",
            "k",
            "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23",
        ],
        &["channel", "sign", "m.json"],
        &["channel", "sign", "m.json", "--typed-data", "--key", "k"],
    ] {
        let output = seedcast(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
}

#[test]
fn an_unreachable_server_is_one_error_line() {
    let dir = TempDir::new();
    let (path, _) = torrent(&dir, "film.webm", 10, None);
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = assert_clean_failure(
        &seedcast(&[
            "channel",
            "add",
            "--key",
            &key_file(&dir, "ada"),
            "--server",
            &format!("http://127.0.0.1:{port}"),
            &path,
        ]),
        1,
    );
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}
