//! Runs the built `seedcast` binary the way a user would.

mod cli_support;
use cli_support::{TempDir, assert_clean_failure, seedcast, stdout};

use std::fs;
use std::path::Path;
use std::process::Output;

use seedcast::metainfo::Metainfo;
use serde_json::Value as Json;

fn json(output: &Output) -> Json {
    serde_json::from_str(&stdout(output)).expect("one JSON object")
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn content(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn write(path: &str, bytes: &[u8]) {
    let path = Path::new(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

#[test]
fn create_single_file_then_info_json() {
    let dir = TempDir::new();
    let data = content(1_234_567, 1);
    write(&dir.path("movie.bin"), &data);
    let out = dir.path("movie.torrent");
    stdout(&seedcast(&["create", &dir.path("movie.bin"), "-o", &out]));

    let torrent = Metainfo::from_bytes(&fs::read(&out).unwrap()).unwrap();
    let info = json(&seedcast(&["info", &out, "--json"]));
    assert_eq!(info["info_hash"], torrent.info_hash.to_hex());
    assert_eq!(info["name"], "movie.bin");
    assert_eq!(info["length"], 1_234_567);
    assert_eq!(
        info["piece_length"], 16384,
        "automatic: smallest power of two giving <= 2000 pieces"
    );
    assert_eq!(info["num_pieces"], 76);
    assert_eq!(
        info["files"],
        serde_json::json!([{"path": "movie.bin", "length": 1_234_567, "padding": false}])
    );
    assert_eq!(info["trackers"], serde_json::json!([]));
    assert_eq!(
        info["creation_date"],
        Json::Null,
        "no date: output is deterministic"
    );
    let magnet = info["magnet"].as_str().unwrap();
    assert!(magnet.starts_with(&format!(
        "magnet:?xt=urn:btih:{}&dn=movie.bin",
        torrent.info_hash
    )));
}

#[test]
fn create_folder_with_options_is_deterministic() {
    let dir = TempDir::new();
    write(&dir.path("album/b/track2.flac"), &content(300_001, 2));
    write(&dir.path("album/a.txt"), b"notes");
    write(&dir.path("album/b/track1.flac"), &content(200_003, 3));
    let args = |out: &str| {
        [
            "create",
            &dir.path("album"),
            "-o",
            out,
            "--tracker",
            "wss://t1.example/announce",
            "--tracker=wss://t2.example",
            "--web-seed",
            "https://seed.example/files/",
            "--piece-length",
            "32768",
            "--name",
            "My Album",
            "--private",
            "--comment",
            "hello",
        ]
        .map(str::to_owned)
    };
    let first = dir.path("one.torrent");
    let second = dir.path("two.torrent");
    stdout(&seedcast(
        &args(&first).iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    stdout(&seedcast(
        &args(&second).iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert_eq!(
        fs::read(&first).unwrap(),
        fs::read(&second).unwrap(),
        "byte-identical"
    );

    let info = json(&seedcast(&["info", &first, "--json"]));
    assert_eq!(info["name"], "My Album");
    assert_eq!(info["piece_length"], 32768);
    assert_eq!(info["num_pieces"], 16);
    assert_eq!(info["private"], true);
    assert_eq!(info["comment"], "hello");
    assert_eq!(
        info["trackers"],
        serde_json::json!(["wss://t1.example/announce", "wss://t2.example"])
    );
    assert_eq!(
        info["web_seeds"],
        serde_json::json!(["https://seed.example/files/"])
    );
    let files: Vec<_> = info["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["length"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        files,
        [
            ("My Album/a.txt", 5),
            ("My Album/b/track1.flac", 200_003),
            ("My Album/b/track2.flac", 300_001)
        ]
    );

    let human = stdout(&seedcast(&["info", &first]));
    assert!(human.contains("My Album/b/track2.flac"), "{human}");
    assert!(human.contains(info["info_hash"].as_str().unwrap()));
}

#[test]
fn info_on_a_magnet_leaves_metadata_fields_null() {
    let hash = "c9e15763f722f23e98a29decdfae341b98d53056";
    let magnet = format!(
        "magnet:?xt=urn:btih:{hash}&dn=Some%20Name&tr=wss%3A%2F%2Ft.example&ws=https://w.example/"
    );
    let info = json(&seedcast(&["info", &magnet, "--json"]));
    assert_eq!(info["info_hash"], hash);
    assert_eq!(info["name"], "Some Name");
    for field in ["piece_length", "num_pieces", "length", "files", "private"] {
        assert_eq!(info[field], Json::Null, "{field}");
    }
    assert_eq!(info["trackers"], serde_json::json!(["wss://t.example"]));
    assert_eq!(info["web_seeds"], serde_json::json!(["https://w.example/"]));
    let base32 = json(&seedcast(&[
        "info",
        "magnet:?xt=urn:btih:ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW",
        "--json",
    ]));
    assert_eq!(base32["info_hash"], hash);
    assert_eq!(base32["name"], Json::Null);
}

#[test]
fn hostile_torrent_shows_only_sanitized_paths() {
    let dir = TempDir::new();
    let torrent = b"d4:infod5:filesld6:lengthi5e4:pathl2:..2:..6:passwdeee4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
    write(&dir.path("evil.torrent"), torrent);
    let info = json(&seedcast(&["info", &dir.path("evil.torrent"), "--json"]));
    assert_eq!(info["files"][0]["path"], "x/__/__/passwd");
}

/// Shapes libtorrent loads and we once refused: a final newline, 512 MiB pieces, the same
/// path twice, a pad file without a path, a symlink without a length.
#[test]
fn info_json_shows_renamed_duplicates_of_a_libtorrent_style_torrent() {
    use seedcast::bencode::OwnedValue as V;
    use std::collections::BTreeMap;

    let dict = |entries: Vec<(&str, V)>| {
        V::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    let file = |length: i64, path: &str| {
        dict(vec![
            ("length", V::Int(length)),
            ("path", V::string_list([path])),
        ])
    };
    let files = vec![
        file(3, "bar.txt"),
        dict(vec![("attr", V::from("p")), ("length", V::Int(5))]),
        file(3, "bar.txt"),
        dict(vec![
            ("attr", V::from("l")),
            ("path", V::string_list(["link"])),
            ("symlink path", V::string_list(["bar.txt"])),
        ]),
    ];
    let info = dict(vec![
        ("files", V::List(files)),
        ("name", V::from("x")),
        ("piece length", V::Int(512 * 1024 * 1024)),
        ("pieces", V::Bytes(vec![0; 20])),
    ]);
    let mut bytes = dict(vec![("info", info)]).encode();
    bytes.push(b'\n');
    let dir = TempDir::new();
    write(&dir.path("lt.torrent"), &bytes);

    let info = json(&seedcast(&["info", &dir.path("lt.torrent"), "--json"]));
    let files: Vec<_> = info["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["length"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        files,
        [
            ("x/bar.txt", 3),
            ("x/.pad/5", 5),
            ("x/bar.1.txt", 3),
            ("x/link", 0)
        ]
    );
    assert_eq!(info["piece_length"], 512 * 1024 * 1024);
    assert_eq!(info["length"], 11);
}

#[test]
fn help_and_version() {
    let help = stdout(&seedcast(&["--help"]));
    assert!(help.contains("seedcast create PATH -o OUT.torrent") && help.contains("--json"));
    assert_eq!(
        stdout(&seedcast(&["--version"])),
        format!("seedcast {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_input_fails_with_one_error_line() {
    let dir = TempDir::new();
    write(&dir.path("garbage.torrent"), b"\x00\xffnot a torrent");
    write(&dir.path("truncated.torrent"), b"d4:infod4:name1:x");
    write(
        &dir.path("v2.torrent"),
        b"d4:infod9:file treede12:meta versioni2e4:name1:x12:piece lengthi16384eee",
    );
    write(
        &dir.path("hybrid.torrent"),
        b"d4:infod9:file treed5:a.txtd0:d6:lengthi6eeee5:filesld6:lengthi5e4:pathl5:a.txteee12:meta versioni2e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
    );
    write(&dir.path("data/file"), b"x");

    let missing = assert_clean_failure(&seedcast(&["info", &dir.path("nope.torrent")]), 1);
    assert!(missing.contains("nope.torrent"));
    assert_clean_failure(&seedcast(&["info", &dir.path("garbage.torrent")]), 1);
    assert_clean_failure(
        &seedcast(&["info", &dir.path("truncated.torrent"), "--json"]),
        1,
    );
    let v2 = assert_clean_failure(&seedcast(&["info", &dir.path("v2.torrent")]), 1);
    assert!(v2.contains("v2-only"), "{v2}");
    let hybrid = assert_clean_failure(&seedcast(&["info", &dir.path("hybrid.torrent")]), 1);
    assert!(hybrid.contains("disagree"), "{hybrid}");
    assert_clean_failure(&seedcast(&["info", &dir.path("data")]), 1);
    assert_clean_failure(&seedcast(&["info", "magnet:?xt=urn:btih:123"]), 1);
    assert_clean_failure(&seedcast(&["info", "magnet:?dn=%zz"]), 1);
    assert_clean_failure(
        &seedcast(&[
            "create",
            &dir.path("empty-dir-missing"),
            "-o",
            &dir.path("o.torrent"),
        ]),
        1,
    );
    assert_clean_failure(
        &seedcast(&[
            "create",
            &dir.path("data"),
            "-o",
            &dir.path("o.torrent"),
            "--piece-length",
            "1000",
        ]),
        1,
    );
    assert_clean_failure(
        &seedcast(&[
            "create",
            &dir.path("data"),
            "-o",
            &dir.path("no/such/dir/o.torrent"),
        ]),
        1,
    );
    assert!(
        !Path::new(&dir.path("o.torrent")).exists(),
        "nothing written on failure"
    );

    // Command-line mistakes exit 2.
    assert_clean_failure(&seedcast(&[]), 2);
    assert_clean_failure(&seedcast(&["frobnicate"]), 2);
    assert_clean_failure(&seedcast(&["info"]), 2);
    assert_clean_failure(&seedcast(&["info", "a", "b"]), 2);
    assert_clean_failure(&seedcast(&["info", "x", "--jsn"]), 2);
    assert_clean_failure(&seedcast(&["create", &dir.path("data")]), 2);
    assert_clean_failure(&seedcast(&["create", &dir.path("data"), "-o"]), 2);
    assert_clean_failure(
        &seedcast(&[
            "create",
            &dir.path("data"),
            "-o",
            "x",
            "--piece-length",
            "lots",
        ]),
        2,
    );
    assert_clean_failure(
        &seedcast(&["create", &dir.path("data"), "-o", "x", "--private=yes"]),
        2,
    );
}

// ---- creators ----------------------------------------------------------------------------

/// web3.js's documented example key; its address is 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23.
const KEY_HEX: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const KEY_ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

#[test]
fn create_with_creator_key_then_info_json() {
    let dir = TempDir::new();
    write(&dir.path("clip.webm"), &content(100_003, 9));
    write(&dir.path("creator.key"), format!("{KEY_HEX}\n").as_bytes());
    let out = dir.path("clip.torrent");
    let created = stdout(&seedcast(&[
        "create",
        &dir.path("clip.webm"),
        "-o",
        &out,
        "--creator-key",
        &dir.path("creator.key"),
        "--creator-name",
        "Alice",
    ]));
    assert!(
        created.contains(&format!("creator: Alice <{KEY_ADDRESS}> (verified)")),
        "{created}"
    );
    assert!(!created.contains(&KEY_HEX[2..]), "the key is never printed");

    let info = json(&seedcast(&["info", &out, "--json"]));
    let creator = &info["creator"];
    assert_eq!(creator["address"], KEY_ADDRESS);
    assert_eq!(creator["name"], "Alice");
    assert_eq!(creator["verified"], true);
    assert_eq!(creator["error"], Json::Null);
    let signature = creator["signature"].as_str().unwrap();
    assert!(signature.starts_with("0x") && signature.len() == 132);
    let typed = &creator["typed_data"];
    assert_eq!(typed["primaryType"], "CreatorRecord");
    assert_eq!(
        typed["domain"],
        serde_json::json!({"name": "Seedcast", "version": "1"})
    );
    assert_eq!(typed["message"]["creator"], KEY_ADDRESS);
    assert_eq!(typed["message"]["name"], "Alice");
    // `content` commits to info without the record: the same file unsigned hashes to it.
    stdout(&seedcast(&[
        "create",
        &dir.path("clip.webm"),
        "-o",
        &dir.path("plain.torrent"),
    ]));
    let plain = Metainfo::from_bytes(&fs::read(dir.path("plain.torrent")).unwrap()).unwrap();
    let content = seedcast::creator::keccak256(&plain.info_bytes);
    assert_eq!(
        typed["message"]["content"],
        format!(
            "0x{}",
            content
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    );
    assert_eq!(
        json(&seedcast(&["info", &dir.path("plain.torrent"), "--json"]))["creator"],
        Json::Null
    );
    let text = stdout(&seedcast(&["info", &out]));
    assert!(
        text.contains(&format!("creator:    Alice <{KEY_ADDRESS}> (verified)")),
        "{text}"
    );
}

#[test]
fn creator_signature_made_elsewhere_is_embedded_only_if_it_verifies() {
    use seedcast::creator::{Address, CreatorKey, creator_signing_hash};
    let dir = TempDir::new();
    write(&dir.path("clip.webm"), &content(70_000, 11));
    let key = CreatorKey::from_key_file(KEY_HEX).unwrap();
    let out = dir.path("clip.torrent");
    let base = [
        "create",
        &dir.path("clip.webm"),
        "-o",
        &out,
        "--creator-address",
        KEY_ADDRESS,
        "--creator-name",
        "Alice",
    ];
    // Without a signature: the typed data to sign, and no torrent.
    let typed: Json = serde_json::from_str(&stdout(&seedcast(&base))).unwrap();
    assert!(!Path::new(&out).exists());
    let content_hex = typed["message"]["content"].as_str().unwrap();
    let content: Vec<u8> = (2..66)
        .step_by(2)
        .map(|i| u8::from_str_radix(&content_hex[i..i + 2], 16).unwrap())
        .collect();
    let address = Address::parse(KEY_ADDRESS).unwrap();
    let digest = creator_signing_hash(&address, "Alice", &content.try_into().unwrap());
    let signature = key.sign_prehash(&digest).to_hex();

    let mut signed = base.to_vec();
    signed.extend(["--creator-signature", &signature]);
    stdout(&seedcast(&signed));
    let info = json(&seedcast(&["info", &out, "--json"]));
    assert_eq!(info["creator"]["verified"], true);
    assert_eq!(info["creator"]["signature"], signature.as_str());
    assert_eq!(info["creator"]["typed_data"], typed);
    fs::remove_file(&out).unwrap();

    // The same signature for another name does not verify: refused, nothing written.
    let mut renamed = signed.clone();
    renamed[7] = "Mallory";
    let error = assert_clean_failure(&seedcast(&renamed), 1);
    assert!(error.contains("signed by 0x"), "{error}");
    assert!(!Path::new(&out).exists());
}

#[test]
fn tampered_creator_record_is_shown_unverified() {
    let dir = TempDir::new();
    write(&dir.path("clip.webm"), &content(20_000, 12));
    write(&dir.path("creator.key"), KEY_HEX.as_bytes());
    let out = dir.path("clip.torrent");
    stdout(&seedcast(&[
        "create",
        &dir.path("clip.webm"),
        "-o",
        &out,
        "--creator-key",
        &dir.path("creator.key"),
        "--creator-name",
        "Alice",
    ]));
    let mut bytes = fs::read(&out).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"4:name5:Alice")
        .unwrap();
    bytes[at + 12] = b'f';
    fs::write(&out, &bytes).unwrap();

    let info = json(&seedcast(&["info", &out, "--json"]));
    assert_eq!(info["creator"]["verified"], false);
    assert_eq!(info["creator"]["name"], "Alicf");
    assert!(
        info["creator"]["error"]
            .as_str()
            .unwrap()
            .contains("signed by")
    );
    let text = stdout(&seedcast(&["info", &out]));
    assert!(text.contains("creator:    UNVERIFIED"), "{text}");

    // A malformed record (address of 3 bytes) still loads; only the record is refused.
    let at = bytes.windows(11).position(|w| w == b"7:address20").unwrap();
    let mut malformed = bytes[..at].to_vec();
    malformed.extend_from_slice(b"7:address3:abc");
    malformed.extend_from_slice(&bytes[at + 11 + 1 + 20..]);
    fs::write(&out, &malformed).unwrap();
    let info = json(&seedcast(&["info", &out, "--json"]));
    assert_eq!(info["length"], 20_000);
    assert_eq!(info["creator"]["verified"], false);
    assert_eq!(info["creator"]["address"], Json::Null);
    assert!(
        info["creator"]["error"]
            .as_str()
            .unwrap()
            .contains("3 bytes")
    );
}

#[test]
fn creator_options_fail_with_one_error_line() {
    let dir = TempDir::new();
    write(&dir.path("data"), b"x");
    write(&dir.path("no-prefix.key"), &KEY_HEX.as_bytes()[2..]);
    write(
        &dir.path("two-lines.key"),
        format!("{KEY_HEX}\n\n").as_bytes(),
    );
    write(
        &dir.path("zero.key"),
        format!("0x{}", "0".repeat(64)).as_bytes(),
    );
    let data = dir.path("data");
    let out = dir.path("o.torrent");
    let create = |extra: &[&str]| {
        let mut args = vec!["create", &data, "-o", &out];
        args.extend(extra);
        seedcast(&args)
    };
    for file in ["no-prefix.key", "two-lines.key"] {
        let error = assert_clean_failure(&create(&["--creator-key", &dir.path(file)]), 1);
        assert!(error.contains("not a private key"), "{error}");
        assert!(!error.contains(&KEY_HEX[2..20]), "key not echoed: {error}");
    }
    let zero = assert_clean_failure(&create(&["--creator-key", &dir.path("zero.key")]), 1);
    assert!(zero.contains("out of range"), "{zero}");
    assert_clean_failure(&create(&["--creator-key", &dir.path("missing.key")]), 1);
    write(&dir.path("ok.key"), KEY_HEX.as_bytes());
    let long_name = "n".repeat(65);
    let long = assert_clean_failure(
        &create(&[
            "--creator-key",
            &dir.path("ok.key"),
            "--creator-name",
            &long_name,
        ]),
        1,
    );
    assert!(long.contains("64-byte"), "{long}");
    assert!(!Path::new(&out).exists(), "nothing written on failure");

    // Command-line mistakes exit 2.
    assert_clean_failure(&create(&["--creator-name", "Alice"]), 2);
    assert_clean_failure(
        &create(&["--creator-signature", &format!("0x{}", "1b".repeat(65))]),
        2,
    );
    assert_clean_failure(
        &create(&[
            "--creator-key",
            &dir.path("ok.key"),
            "--creator-address",
            KEY_ADDRESS,
        ]),
        2,
    );
    let checksum = assert_clean_failure(
        &create(&[
            "--creator-address",
            &KEY_ADDRESS.replace('E', "e").replace('D', "d"),
        ]),
        2,
    );
    assert!(checksum.contains("checksum"), "{checksum}");
    assert_clean_failure(&create(&["--creator-address", "0x1234"]), 2);
    assert_clean_failure(
        &create(&[
            "--creator-address",
            KEY_ADDRESS,
            "--creator-signature",
            "0xzz",
        ]),
        2,
    );
}
