//! Torrents and magnets from arbitrary bytes: no panics, and whatever is accepted keeps the
//! invariants the engine relies on and survives a re-encode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::magnet::Magnet;
use seedcast::metainfo::path::is_safe_component;
use seedcast::metainfo::{Info, InfoHash, Metainfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(torrent) = Metainfo::from_bytes(data) {
        assert_eq!(
            torrent.info_hash,
            InfoHash::of_info_bytes(&torrent.info_bytes)
        );
        check_info(&torrent.info);
        let reread = Metainfo::from_bytes(&torrent.to_bytes()).expect("re-encoded torrent parses");
        assert_eq!(reread, torrent);
        let magnet = Magnet::parse(&torrent.magnet().to_uri()).expect("own magnet parses");
        assert_eq!(magnet.info_hash, torrent.info_hash);
    }
    if let Ok(info) = Info::from_bytes(data) {
        check_info(&info);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(magnet) = Magnet::parse(text) {
            assert_eq!(
                Magnet::parse(&magnet.to_uri()).as_ref(),
                Ok(&magnet),
                "to_uri round-trips"
            );
        }
    }
});

fn check_info(info: &Info) {
    assert!(info.piece_length > 0 && info.total_length > 0);
    let expected = info.total_length.div_ceil(u64::from(info.piece_length));
    assert_eq!(info.pieces.len() as u64, expected);
    let last = info.num_pieces() - 1;
    assert!(info.piece_size(last) > 0 && info.piece_size(last) <= info.piece_length);
    let mut offset = 0;
    for file in &info.files {
        assert_eq!(file.start, offset, "files are contiguous");
        offset += file.length;
        assert!(!file.path.is_empty());
        assert!(
            file.path.iter().all(|c| is_safe_component(c)),
            "{:?}",
            file.path
        );
    }
    assert_eq!(offset, info.total_length);
    // Renaming left no two written files at one path, and no file where a folder must be
    // (ASCII case ignored, as on Windows and macOS disks).
    let mut paths: Vec<Vec<String>> = info
        .files
        .iter()
        .filter(|f| !f.padding)
        .map(|f| f.path.iter().map(|c| c.to_ascii_lowercase()).collect())
        .collect();
    paths.sort_unstable();
    for pair in paths.windows(2) {
        assert!(!pair[1].starts_with(&pair[0]), "collision at {:?}", pair[0]);
    }
}
