//! Real-world-shaped torrents: written byte by byte (unsorted keys, unknown keys, sloppy
//! optional fields) so the parser sees what clients in the wild produce.

use seedcast::metainfo::{FileEntry, Info, InfoHash, Metainfo};
use sha1::{Digest, Sha1};

/// Encodes in the order given (NOT sorted), to mimic non-canonical torrents.
enum B<'a> {
    I(i64),
    S(&'a [u8]),
    L(Vec<B<'a>>),
    D(Vec<(&'a str, B<'a>)>),
}

fn s(text: &str) -> B<'_> {
    B::S(text.as_bytes())
}

fn enc(value: &B<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    write(value, &mut out);
    out
}

fn write(value: &B<'_>, out: &mut Vec<u8>) {
    match value {
        B::I(i) => out.extend(format!("i{i}e").bytes()),
        B::S(bytes) => {
            out.extend(format!("{}:", bytes.len()).bytes());
            out.extend_from_slice(bytes);
        }
        B::L(items) => {
            out.push(b'l');
            items.iter().for_each(|item| write(item, out));
            out.push(b'e');
        }
        B::D(entries) => {
            out.push(b'd');
            for (key, value) in entries {
                write(&s(key), out);
                write(value, out);
            }
            out.push(b'e');
        }
    }
}

fn pieces(count: usize) -> Vec<u8> {
    (0..count * 20).map(|i| (i % 251) as u8).collect()
}

fn file<'a>(length: i64, path: &[&'a str]) -> B<'a> {
    B::D(vec![
        ("length", B::I(length)),
        ("path", B::L(path.iter().map(|p| s(p)).collect())),
    ])
}

fn sha1(bytes: &[u8]) -> [u8; 20] {
    Sha1::digest(bytes).into()
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn info_hash_covers_the_raw_info_bytes_even_when_unsorted_with_unknown_keys() {
    let pieces = pieces(2);
    let info = B::D(vec![
        ("pieces", B::S(&pieces)),
        ("name", s("video.mp4")),
        ("x-custom", B::L(vec![B::I(1), s("kept")])),
        ("piece length", B::I(32768)),
        ("length", B::I(40000)),
    ]);
    let info_bytes = enc(&info);
    let torrent_bytes = enc(&B::D(vec![
        ("info", info),
        ("announce", s("wss://tracker.example/announce")),
        ("zz-unknown-top", s("keep me")),
        ("creation date", B::I(1_600_000_000)),
        ("comment", s("old comment")),
        ("comment.utf-8", s("commentaire é")),
    ]));

    let torrent = Metainfo::from_bytes(&torrent_bytes).unwrap();
    assert_eq!(torrent.info_hash, InfoHash(sha1(&info_bytes)));
    assert_eq!(torrent.info_bytes, info_bytes);
    assert_eq!(torrent.info.name, "video.mp4");
    assert_eq!(
        torrent.info.files,
        [FileEntry {
            path: vec!["video.mp4".into()],
            length: 40000,
            start: 0,
            padding: false
        }]
    );
    assert_eq!(torrent.comment.as_deref(), Some("commentaire é"));
    assert_eq!(torrent.creation_date, Some(1_600_000_000));
    assert_eq!(
        torrent.trackers,
        [vec!["wss://tracker.example/announce".to_string()]]
    );

    // Re-encoding keeps the info bytes verbatim (same hash) and the unknown top-level key.
    let reencoded = torrent.to_bytes();
    assert_ne!(
        reencoded, torrent_bytes,
        "top level is rewritten canonically"
    );
    let again = Metainfo::from_bytes(&reencoded).unwrap();
    assert_eq!(again, torrent);
    assert!(find(&reencoded, b"14:zz-unknown-top7:keep me") > 0);
    assert!(find(&reencoded, b"8:x-custom") > 0, "unknown info key kept");
}

#[test]
fn info_from_bytes_matches_the_torrent_info() {
    let pieces = pieces(1);
    let info = B::D(vec![
        ("name", s("a")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
        ("length", B::I(5)),
    ]);
    let torrent = Metainfo::from_bytes(&enc(&B::D(vec![("info", info)]))).unwrap();
    assert_eq!(Info::from_bytes(&torrent.info_bytes).unwrap(), torrent.info);
}

#[test]
fn announce_list_tiers_win_over_announce_and_are_cleaned() {
    let pieces = pieces(1);
    let info = B::D(vec![
        ("name", s("a")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
        ("length", B::I(5)),
    ]);
    let bytes = enc(&B::D(vec![
        ("announce", s("http://ignored.example/announce")),
        (
            "announce-list",
            B::L(vec![
                B::L(vec![s("wss://a"), s("wss://b"), s("wss://a")]),
                B::L(vec![]),
                B::I(7),
                B::L(vec![s("  "), B::I(3), s("udp://c:80"), s("wss://b")]),
            ]),
        ),
        ("info", info),
    ]));
    let torrent = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(
        torrent.trackers,
        [vec!["wss://a", "wss://b"], vec!["udp://c:80"]]
    );
    assert_eq!(
        torrent.magnet().trackers,
        ["wss://a", "wss://b", "udp://c:80"]
    );
}

#[test]
fn empty_announce_list_falls_back_to_announce() {
    let pieces = pieces(1);
    let info = B::D(vec![
        ("name", s("a")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
        ("length", B::I(5)),
    ]);
    let bytes = enc(&B::D(vec![
        ("announce", s("wss://only")),
        ("announce-list", B::L(vec![B::L(vec![])])),
        ("info", info),
    ]));
    assert_eq!(
        Metainfo::from_bytes(&bytes).unwrap().trackers,
        [vec!["wss://only"]]
    );
}

#[test]
fn url_list_may_be_a_string_or_a_list() {
    let pieces = pieces(1);
    let info = || {
        B::D(vec![
            ("name", s("a")),
            ("piece length", B::I(16384)),
            ("pieces", B::S(&pieces)),
            ("length", B::I(5)),
        ])
    };
    let single = enc(&B::D(vec![
        ("info", info()),
        ("url-list", s("https://seed.example/a")),
    ]));
    assert_eq!(
        Metainfo::from_bytes(&single).unwrap().web_seeds,
        ["https://seed.example/a"]
    );
    let list = enc(&B::D(vec![
        ("info", info()),
        (
            "url-list",
            B::L(vec![s("https://one/"), B::I(1), s(""), s("https://two/")]),
        ),
    ]));
    assert_eq!(
        Metainfo::from_bytes(&list).unwrap().web_seeds,
        ["https://one/", "https://two/"]
    );
}

#[test]
fn multi_file_torrent_with_bep47_pad_files() {
    // Two files aligned to a 16 KiB piece boundary by a pad file, as libtorrent and qBittorrent create them.
    let pieces = pieces(3);
    let files = B::L(vec![
        file(10_000, &["Season 1", "ep1.mkv"]),
        B::D(vec![
            ("attr", s("p")),
            ("length", B::I(6384)),
            ("path", B::L(vec![s(".pad"), s("6384")])),
        ]),
        file(20_000, &["Season 1", "ep2.mkv"]),
        B::D(vec![
            ("attr", s("p")),
            ("length", B::I(0)),
            ("path", B::L(vec![s(".pad"), s("6384")])),
        ]),
    ]);
    let info = B::D(vec![
        ("files", files),
        ("name", s("Show")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
    ]);
    let torrent = Metainfo::from_bytes(&enc(&B::D(vec![("info", info)]))).unwrap();
    let info = &torrent.info;
    let summary: Vec<_> = info
        .files
        .iter()
        .map(|f| (f.path_string(), f.start, f.length, f.padding))
        .collect();
    assert_eq!(
        summary,
        [
            ("Show/Season 1/ep1.mkv".to_string(), 0, 10_000, false),
            ("Show/.pad/6384".to_string(), 10_000, 6384, true),
            ("Show/Season 1/ep2.mkv".to_string(), 16_384, 20_000, false),
            ("Show/.pad/6384".to_string(), 36_384, 0, true),
        ]
    );
    assert_eq!(info.total_length, 36_384);
    assert_eq!(info.num_pieces(), 3);
    assert_eq!(info.piece_size(0), 16384);
    assert_eq!(
        info.piece_size(2),
        36_384 - 2 * 16384,
        "last piece is short"
    );
    assert_eq!(info.piece_size(3), 0);
    assert_eq!(
        info.piece_hash(2),
        Some(&<[u8; 20]>::try_from(&pieces[40..60]).unwrap())
    );
    assert_eq!(info.piece_hash(3), None);
    assert_eq!(info.file_range(2), Some((16_384, 20_000)));
    assert_eq!(info.file_range(9), None);

    // Which parts of which pieces a byte range covers (pieces 16,384 bytes; 36,384 in all).
    let spans = |start, end| info.piece_spans(start, end).collect::<Vec<_>>();
    assert_eq!(
        spans(16_384, 36_384),
        [(1, 0, 16_384), (2, 0, 3616)],
        "ep2.mkv"
    );
    assert_eq!(spans(10_000, 20_000), [(0, 10_000, 16_384), (1, 0, 3616)]);
    assert_eq!(spans(5, 6), [(0, 5, 6)]);
    assert_eq!(
        spans(30_000, u64::MAX),
        [(1, 13_616, 16_384), (2, 0, 3616)],
        "clipped"
    );
    assert!(spans(7, 7).is_empty() && spans(40_000, 50_000).is_empty());
}

#[test]
fn hybrid_v1_v2_torrent_is_read_by_its_v1_hash() {
    let pieces = pieces(1);
    let file_tree = B::D(vec![(
        "a.txt",
        B::D(vec![(
            "",
            B::D(vec![("length", B::I(5)), ("pieces root", B::S(&[7u8; 32]))]),
        )]),
    )]);
    let info = B::D(vec![
        ("file tree", file_tree),
        ("files", B::L(vec![file(5, &["a.txt"])])),
        ("meta version", B::I(2)),
        ("name", s("hybrid")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
    ]);
    let info_bytes = enc(&info);
    let bytes = enc(&B::D(vec![("info", info), ("piece layers", B::D(vec![]))]));
    let torrent = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(torrent.info_hash, InfoHash(sha1(&info_bytes)));
    assert_eq!(torrent.info.files[0].path_string(), "hybrid/a.txt");
    assert!(
        torrent.extra_fields.contains_key(&b"piece layers"[..]),
        "v2 data kept for re-encoding"
    );
}

fn paths(torrent: &Metainfo) -> Vec<String> {
    torrent
        .info
        .files
        .iter()
        .map(FileEntry::path_string)
        .collect()
}

#[test]
fn duplicate_paths_are_renamed_as_libtorrent_renames_them() {
    let pieces = pieces(1);
    let pad = || {
        B::D(vec![
            ("attr", s("p")),
            ("length", B::I(1)),
            ("path", B::L(vec![s(".pad"), s("1")])),
        ])
    };
    let files = B::L(vec![
        file(1, &["bar.txt"]),
        file(1, &["bar.txt"]),
        // Case is ignored, as on Windows and macOS disks.
        file(1, &["BAR.txt"]),
        // A rename does not make room for a file that really has that name.
        file(1, &["bar.1.txt"]),
        // A folder some file needs wins over a file of its name, whatever the order.
        file(1, &["bar"]),
        file(1, &["bar", "x"]),
        // Distinct in the torrent, identical once sanitized.
        file(1, &["a:"]),
        file(1, &["a_"]),
        pad(),
        pad(),
        file(1, &["sub", ".hidden"]),
        file(1, &["sub", ".hidden"]),
    ]);
    let info = B::D(vec![
        ("files", files),
        ("name", s("Show")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
    ]);
    let torrent = Metainfo::from_bytes(&enc(&B::D(vec![("info", info)]))).unwrap();
    assert_eq!(
        paths(&torrent),
        [
            "Show/bar.txt",
            "Show/bar.1.txt",
            "Show/BAR.2.txt",
            "Show/bar.1.1.txt",
            "Show/bar.1",
            "Show/bar/x",
            "Show/a_",
            "Show/a_.1",
            "Show/.pad/1",
            "Show/.pad/1",
            "Show/sub/.hidden",
            "Show/sub/.1.hidden",
        ]
    );
    assert_eq!(Info::from_bytes(&torrent.info_bytes).unwrap(), torrent.info);
}

#[test]
fn many_copies_of_one_name_are_numbered_in_order() {
    let count = 2000;
    let pieces = pieces(1);
    let files = B::L((0..count).map(|_| file(1, &["cover.jpg"])).collect());
    let info = B::D(vec![
        ("files", files),
        ("name", s("album")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
    ]);
    let torrent = Metainfo::from_bytes(&enc(&B::D(vec![("info", info)]))).unwrap();
    let expected: Vec<String> = (0..count)
        .map(|n| match n {
            0 => "album/cover.jpg".to_string(),
            n => format!("album/cover.{n}.jpg"),
        })
        .collect();
    assert_eq!(paths(&torrent), expected);
}

#[test]
fn bep47_pad_files_need_no_path_and_symlinks_no_length() {
    let pieces = pieces(2);
    let symlink = |path, length: Option<i64>| {
        let mut entry = vec![
            ("attr", s("l")),
            ("path", B::L(vec![s(path)])),
            ("symlink path", B::L(vec![s("a.bin")])),
        ];
        entry.extend(length.map(|l| ("length", B::I(l))));
        B::D(entry)
    };
    let files = B::L(vec![
        file(10_000, &["a.bin"]),
        B::D(vec![("attr", s("p")), ("length", B::I(6384))]),
        symlink("link", None),
        // libtorrent ignores a symlink's length: it carries no data.
        symlink("link2", Some(999)),
        file(5, &["b.bin"]),
        B::D(vec![
            ("attr", s("p")),
            ("length", B::I(0)),
            ("path", B::L(vec![])),
        ]),
    ]);
    let info = B::D(vec![
        ("files", files),
        ("name", s("Show")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
    ]);
    let torrent = Metainfo::from_bytes(&enc(&B::D(vec![("info", info)]))).unwrap();
    let summary: Vec<_> = torrent
        .info
        .files
        .iter()
        .map(|f| (f.path_string(), f.start, f.length, f.padding))
        .collect();
    assert_eq!(
        summary,
        [
            ("Show/a.bin".to_string(), 0, 10_000, false),
            ("Show/.pad/6384".to_string(), 10_000, 6384, true),
            ("Show/link".to_string(), 16_384, 0, false),
            ("Show/link2".to_string(), 16_384, 0, false),
            ("Show/b.bin".to_string(), 16_384, 5, false),
            ("Show/.pad/0".to_string(), 16_389, 0, true),
        ]
    );
    assert_eq!(torrent.info.total_length, 16_389);
}

#[test]
fn hostile_paths_are_sanitized_inside_the_download_folder() {
    let pieces = pieces(1);
    let files = B::L(vec![
        file(1, &["..", "..", "etc", "passwd"]),
        file(1, &["/absolute"]),
        file(1, &["C:", "Windows"]),
        file(1, &["CON"]),
        file(1, &["", "."]),
        file(1, &["a\\b"]),
        B::D(vec![
            ("length", B::I(1)),
            ("path", B::L(vec![B::S(b"caf\xe9")])),
        ]),
        B::D(vec![
            ("length", B::I(1)),
            ("path", B::L(vec![B::S(b"legacy-name")])),
            ("path.utf-8", B::L(vec![s("unicode-名前")])),
        ]),
    ]);
    let info = B::D(vec![
        ("files", files),
        ("name", s("../evil")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
    ]);
    let torrent = Metainfo::from_bytes(&enc(&B::D(vec![("info", info)]))).unwrap();
    let paths: Vec<_> = torrent
        .info
        .files
        .iter()
        .map(FileEntry::path_string)
        .collect();
    assert_eq!(
        paths,
        [
            ".._evil/__/__/etc/passwd",
            ".._evil/_absolute",
            ".._evil/C_/Windows",
            ".._evil/_CON",
            ".._evil/_/_",
            ".._evil/a_b",
            ".._evil/caf\u{fffd}",
            ".._evil/unicode-名前",
        ]
    );
    for file in &torrent.info.files {
        for component in &file.path {
            assert!(!component.is_empty() && component != "." && component != "..");
            assert!(!component.contains(['/', '\\', '\0', ':']));
        }
    }
}

#[test]
fn magnet_from_a_torrent_round_trips() {
    let pieces = pieces(1);
    let info = B::D(vec![
        ("name", s("my file.txt")),
        ("piece length", B::I(16384)),
        ("pieces", B::S(&pieces)),
        ("length", B::I(5)),
    ]);
    let bytes = enc(&B::D(vec![
        ("announce", s("wss://t/announce")),
        ("info", info),
        ("url-list", s("https://w/")),
    ]));
    let torrent = Metainfo::from_bytes(&bytes).unwrap();
    let magnet = torrent.magnet();
    let parsed = seedcast::magnet::Magnet::parse(&magnet.to_uri()).unwrap();
    assert_eq!(parsed.info_hash, torrent.info_hash);
    assert_eq!(parsed.name.as_deref(), Some("my file.txt"));
    assert_eq!(parsed.trackers, ["wss://t/announce"]);
    assert_eq!(parsed.web_seeds, ["https://w/"]);
}

/// Same generator as tests/interop/formats-fixtures.mjs (xorshift32), used to make the fixture.
fn xorshift32_bytes(length: usize, seed: u32) -> Vec<u8> {
    let mut state = if seed == 0 { 1 } else { seed };
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// `data/create-torrent-folder.torrent` was made by WebTorrent's create-torrent 6.1.3; the
/// expected values are what parse-torrent 11 reports for it.
#[test]
fn reads_a_torrent_made_by_create_torrent_and_recreates_its_info_hash() {
    use seedcast::create::{CreateOptions, FileSpec, TorrentBuilder};

    let torrent =
        Metainfo::from_bytes(include_bytes!("data/create-torrent-folder.torrent")).unwrap();
    assert_eq!(
        torrent.info_hash.to_hex(),
        "0d1321e223cd20e6bf150859cfbd3071e7bcb77b"
    );
    let files: Vec<_> = torrent
        .info
        .files
        .iter()
        .map(|f| (f.path_string(), f.length))
        .collect();
    assert_eq!(
        files,
        [
            ("webtorrent-folder/one.bin".to_string(), 40000),
            ("webtorrent-folder/sub/two.txt".to_string(), 1234)
        ]
    );
    assert_eq!(torrent.info.piece_length, 16384);
    assert_eq!(
        torrent.info.piece_hash(0).map(hex),
        Some("9d0dd2c8694a260c36d4d3f36fc2425b27effb6c".into())
    );
    assert_eq!(
        torrent.info.piece_hash(2).map(hex),
        Some("5f81b0d001106ef00d4e8a5d098c8c178fbd81b6".into())
    );
    assert_eq!(torrent.trackers, [vec!["wss://tracker.example/announce"]]);
    assert_eq!(torrent.web_seeds, ["https://seed.example/"]);
    assert_eq!(torrent.creation_date, Some(1_700_000_000));
    assert_eq!(torrent.created_by.as_deref(), Some("create-torrent 6.1.3"));
    assert_eq!(torrent.comment.as_deref(), Some("golden fixture"));

    let one = xorshift32_bytes(40000, 7);
    let two = xorshift32_bytes(1234, 8);
    let options = CreateOptions {
        name: "webtorrent-folder".into(),
        piece_length: Some(16384),
        ..CreateOptions::default()
    };
    let specs = vec![
        FileSpec {
            path: vec!["one.bin".into()],
            length: 40000,
        },
        FileSpec {
            path: vec!["sub".into(), "two.txt".into()],
            length: 1234,
        },
    ];
    let mut builder = TorrentBuilder::folder(options, specs).unwrap();
    builder.update(&one).unwrap();
    builder.update(&two).unwrap();
    let ours = builder.finish().unwrap();
    assert_eq!(
        ours.info_hash, torrent.info_hash,
        "byte-identical info dictionary"
    );
}

fn hex(bytes: &[u8; 20]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
