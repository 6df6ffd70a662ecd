//! The native peer's files: seeding from the original files, downloads written in place
//! across file boundaries, resume that re-verifies, and paths that never leave DIR.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use seedcast::bencode::OwnedValue as V;
use seedcast::engine::{Bitfield, Config, Storage};
use seedcast::metainfo::Metainfo;
use seedcast::native::args::{CreatorArgs, CreatorSource, DownloadArgs, SeedArgs};
use seedcast::native::files::{FileStorage, FilesError, Layout, allocate};
use seedcast::native::prepare::{PrepareError, Prepared, prepare_download, prepare_seed};
use seedcast::native::resume::ResumeStore;
use sha1::{Digest, Sha1};

const PIECE: usize = 16 * 1024;

/// A fresh directory per test, removed on drop.
struct Tmp(PathBuf);

impl Tmp {
    fn new() -> Tmp {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("seedcast-files-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Tmp(dir)
    }

    fn join(&self, path: &str) -> PathBuf {
        self.0.join(path)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random bytes (xorshift).
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

enum Entry<'a> {
    File(&'a str, Vec<u8>),
    /// A BEP 47 pad file of this many zero bytes.
    Pad(usize),
}

fn dict(entries: Vec<(&str, V)>) -> V {
    V::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A folder torrent named `name` of `entries` with 16 KiB pieces, and its concatenated data.
fn folder_torrent(name: &str, entries: &[Entry<'_>]) -> (Metainfo, Vec<u8>) {
    let mut data = Vec::new();
    let mut files = Vec::new();
    for entry in entries {
        match entry {
            Entry::File(path, bytes) => {
                data.extend_from_slice(bytes);
                let path: Vec<&str> = path.split('/').collect();
                files.push(dict(vec![
                    ("length", V::Int(bytes.len() as i64)),
                    ("path", V::string_list(path)),
                ]));
            }
            Entry::Pad(len) => {
                data.extend(std::iter::repeat_n(0, *len));
                files.push(dict(vec![
                    ("attr", V::from("p")),
                    ("length", V::Int(*len as i64)),
                    ("path", V::string_list([".pad", &len.to_string()])),
                ]));
            }
        }
    }
    let pieces: Vec<u8> = data.chunks(PIECE).flat_map(Sha1::digest).collect();
    let info = dict(vec![
        ("files", V::List(files)),
        ("name", V::from(name)),
        ("piece length", V::Int(PIECE as i64)),
        ("pieces", V::Bytes(pieces)),
    ]);
    let bytes = dict(vec![("info", info)]).encode();
    (Metainfo::from_bytes(&bytes).unwrap(), data)
}

/// Three files whose boundaries fall inside pieces, an empty file and a pad file.
fn album() -> (Metainfo, Vec<u8>) {
    folder_torrent(
        "album",
        &[
            Entry::File("a.bin", content(10_000, 1)),
            Entry::File("sub/b.bin", content(1, 2)),
            Entry::File("sub/empty", Vec::new()),
            Entry::File("c.bin", content(30_000, 3)),
            Entry::Pad(PIECE * 3 - 40_001),
            Entry::File("d.bin", content(20_000, 4)),
        ],
    )
}

fn write_torrent(tmp: &Tmp, torrent: &Metainfo) -> String {
    let path = tmp.join("t.torrent");
    fs::write(&path, torrent.to_bytes()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn download_args(source: &str, out_dir: &Path) -> DownloadArgs {
    DownloadArgs {
        source: source.to_owned(),
        out_dir: out_dir.to_path_buf(),
        trackers: Vec::new(),
        exit_when_done: false,
        upload_limit: None,
    }
}

fn download(source: &str, out_dir: &Path) -> Result<Prepared, PrepareError> {
    prepare_download(
        &download_args(source, out_dir),
        Config::default(),
        Duration::ZERO,
    )
}

fn have(prepared: &Prepared) -> Vec<u32> {
    prepared.engine.have().unwrap().iter_ones().collect()
}

/// Writes `pieces` of `data` as the engine would (verified pieces, in place) and saves the
/// resume record claiming them: what a run that got that far leaves behind.
fn download_pieces(out: &Path, torrent: &Metainfo, data: &[u8], pieces: &[u32]) {
    let layout = Layout::for_download(out, &torrent.info).unwrap();
    allocate(out, &layout).unwrap();
    let mut storage = FileStorage::download(out, layout.clone());
    let mut have = Bitfield::new(torrent.info.num_pieces());
    for &i in pieces {
        let chunk = data.chunks(PIECE).nth(i as usize).unwrap();
        storage.write_piece(i, chunk).unwrap();
        have.set(i);
    }
    ResumeStore::new(out, torrent.info_hash)
        .save_record(&have, &layout)
        .unwrap();
}

fn all(torrent: &Metainfo) -> Vec<u32> {
    (0..torrent.info.num_pieces()).collect()
}

#[test]
fn pieces_spanning_files_are_written_in_place_and_read_back() {
    let tmp = Tmp::new();
    let (torrent, data) = album();
    let out = tmp.join("out");
    let prepared = download(&write_torrent(&tmp, &torrent), &out).unwrap();
    assert!(have(&prepared).is_empty());
    // Pre-allocated at full length; the pad file is not created.
    assert_eq!(fs::metadata(out.join("album/c.bin")).unwrap().len(), 30_000);
    assert!(out.join("album/sub/empty").is_file());
    assert!(!out.join("album/.pad").exists());

    let layout = Layout::for_download(&out, &torrent.info).unwrap();
    let mut storage = FileStorage::download(&out, layout);
    let pieces: Vec<&[u8]> = data.chunks(PIECE).collect();
    for (i, piece) in pieces.iter().enumerate().rev() {
        storage.write_piece(i as u32, piece).unwrap();
    }
    assert_eq!(
        fs::read(out.join("album/a.bin")).unwrap(),
        content(10_000, 1)
    );
    assert_eq!(
        fs::read(out.join("album/sub/b.bin")).unwrap(),
        content(1, 2)
    );
    assert_eq!(
        fs::read(out.join("album/c.bin")).unwrap(),
        content(30_000, 3)
    );
    assert_eq!(
        fs::read(out.join("album/d.bin")).unwrap(),
        content(20_000, 4)
    );
    assert!(!out.join("album/.pad").exists());
    // A block across the a.bin | b.bin | c.bin boundaries, and one inside the padding.
    let mut block = Vec::new();
    storage.read_block(0, 9_990, 20, &mut block).unwrap();
    assert_eq!(block, data[9_990..10_010]);
    block.clear();
    storage.read_block(2, 7_300, 50, &mut block).unwrap(); // torrent bytes 40068..40118
    assert_eq!(block, vec![0; 50]);
    assert!(
        storage
            .read_block(0, PIECE as u32 - 1, 2, &mut block)
            .is_err()
    );
}

#[test]
fn a_finished_download_run_again_downloads_nothing() {
    let tmp = Tmp::new();
    let (torrent, data) = album();
    let out = tmp.join("out");
    let source = write_torrent(&tmp, &torrent);
    download_pieces(&out, &torrent, &data, &all(&torrent));
    let prepared = download(&source, &out).unwrap();
    assert_eq!(have(&prepared), all(&torrent));
    assert!(prepared.engine.is_complete());
}

#[test]
fn a_partial_download_resumes_with_only_the_missing_pieces() {
    let tmp = Tmp::new();
    let (torrent, data) = album();
    let out = tmp.join("out");
    let source = write_torrent(&tmp, &torrent);
    download_pieces(&out, &torrent, &data, &[0, 3]);
    let prepared = download(&source, &out).unwrap();
    assert_eq!(have(&prepared), [0, 3]);
    // The record is saved again at start: a second rerun agrees.
    assert_eq!(have(&download(&source, &out).unwrap()), [0, 3]);
}

#[test]
fn a_corrupted_region_is_downloaded_again_even_if_the_file_looks_unchanged() {
    let tmp = Tmp::new();
    let (torrent, data) = album();
    let out = tmp.join("out");
    let source = write_torrent(&tmp, &torrent);
    download_pieces(&out, &torrent, &data, &all(&torrent));
    // Piece 1 lies inside c.bin (bytes 16384..32768 of the torrent, c.bin starts at 10001).
    let path = out.join("album/c.bin");
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[20_000 - 10_001] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    let prepared = download(&source, &out).unwrap();
    let expected: Vec<u32> = all(&torrent).into_iter().filter(|&i| i != 1).collect();
    assert_eq!(have(&prepared), expected);
}

#[test]
fn pieces_written_after_the_last_save_are_found_in_changed_files() {
    let tmp = Tmp::new();
    let (torrent, data) = album();
    let out = tmp.join("out");
    let source = write_torrent(&tmp, &torrent);
    download_pieces(&out, &torrent, &data, &[0]);
    // Piece 3 (d.bin) was written, then the process died before saving.
    let layout = Layout::for_download(&out, &torrent.info).unwrap();
    let path = out.join("album/d.bin");
    let saved = fs::metadata(&path).unwrap().modified().unwrap();
    FileStorage::download(&out, layout)
        .write_piece(3, data.chunks(PIECE).nth(3).unwrap())
        .unwrap();
    // Coarse file-system clocks could give the write the same mtime as the save.
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(saved + Duration::from_secs(1)).unwrap();
    assert_eq!(have(&download(&source, &out).unwrap()), [0, 3]);
}

#[test]
fn without_a_record_complete_files_are_hash_checked() {
    let tmp = Tmp::new();
    let (torrent, _) = album();
    let out = tmp.join("out");
    let source = write_torrent(&tmp, &torrent);
    // Files copied in by hand: all but d.bin, which is short.
    fs::create_dir_all(out.join("album/sub")).unwrap();
    fs::write(out.join("album/a.bin"), content(10_000, 1)).unwrap();
    fs::write(out.join("album/sub/b.bin"), content(1, 2)).unwrap();
    fs::write(out.join("album/sub/empty"), b"").unwrap();
    fs::write(out.join("album/c.bin"), content(30_000, 3)).unwrap();
    fs::write(out.join("album/d.bin"), &content(20_000, 4)[..100]).unwrap();
    let prepared = download(&source, &out).unwrap();
    // Pieces 0..=2 hold a, b, c and padding; 3 and 4 need d.bin.
    assert_eq!(have(&prepared), [0, 1, 2]);
}

#[test]
fn a_record_of_another_torrent_is_ignored() {
    let tmp = Tmp::new();
    let (ours, data) = folder_torrent("x", &[Entry::File("f.bin", content(40_000, 7))]);
    let (theirs, _) = folder_torrent("x", &[Entry::File("f.bin", content(40_000, 8))]);
    let out = tmp.join("out");
    let source = write_torrent(&tmp, &ours);
    download_pieces(&out, &ours, &data, &all(&ours));
    // Our record is lost; one of the other torrent, claiming nothing, describing our files
    // exactly as they are now, sits in its place.
    let layout = Layout::for_download(&out, &ours.info).unwrap();
    let other = ResumeStore::new(&out, theirs.info_hash);
    other
        .save_record(&Bitfield::new(ours.info.num_pieces()), &layout)
        .unwrap();
    let mine = ResumeStore::new(&out, ours.info_hash);
    fs::rename(other.record_path(), mine.record_path()).unwrap();
    assert_eq!(have(&download(&source, &out).unwrap()), all(&ours));
}

#[test]
fn a_magnet_rerun_uses_the_saved_metadata_and_resumes() {
    let tmp = Tmp::new();
    let (torrent, data) = album();
    let out = tmp.join("out");
    let magnet = torrent.magnet().to_uri();
    let first = download(&magnet, &out).unwrap();
    assert!(first.engine.info().is_none(), "nothing known yet");
    // What the engine does once the metadata is fetched and verified.
    let mut storage =
        FileStorage::awaiting_metadata(&out, ResumeStore::new(&out, torrent.info_hash));
    let held = storage
        .metadata_ready(&torrent.info, &torrent.info_bytes)
        .unwrap();
    assert_eq!(held, Some(Bitfield::new(torrent.info.num_pieces())));
    assert_eq!(fs::metadata(out.join("album/d.bin")).unwrap().len(), 20_000);
    storage
        .write_piece(4, data.chunks(PIECE).nth(4).unwrap())
        .unwrap();
    let record = ResumeStore::new(&out, torrent.info_hash);
    let mut have_4 = Bitfield::new(torrent.info.num_pieces());
    have_4.set(4);
    record
        .save_record(&have_4, storage.layout().unwrap())
        .unwrap();

    let again = download(&magnet, &out).unwrap();
    assert_eq!(again.engine.info_bytes(), Some(&torrent.info_bytes[..]));
    assert_eq!(again.name.as_deref(), Some("album"));
    assert_eq!(have(&again), [4]);
}

#[test]
fn a_saved_torrent_of_another_info_hash_is_not_used() {
    let tmp = Tmp::new();
    let (ours, _) = album();
    let (theirs, _) = folder_torrent("album", &[Entry::File("a.bin", content(10_000, 9))]);
    let out = tmp.join("out");
    // Another torrent's metadata sits where ours would be saved: a magnet rerun must not
    // believe it (its SHA-1 is not our info hash) and fetches the metadata again.
    let mine = ResumeStore::new(&out, ours.info_hash);
    ResumeStore::new(&out, theirs.info_hash)
        .save_torrent(&theirs.info_bytes)
        .unwrap();
    fs::rename(
        ResumeStore::new(&out, theirs.info_hash).torrent_path(),
        mine.torrent_path(),
    )
    .unwrap();
    assert!(mine.load_torrent().is_none());
    let prepared = download(&ours.magnet().to_uri(), &out).unwrap();
    assert!(prepared.engine.info().is_none());
    // Our own saved metadata is used.
    mine.save_torrent(&ours.info_bytes).unwrap();
    assert_eq!(
        mine.load_torrent().map(|m| m.info_hash),
        Some(ours.info_hash)
    );
}

#[test]
fn hostile_paths_stay_inside_the_download_folder() {
    let tmp = Tmp::new();
    let out = tmp.join("out");
    let (torrent, _) = folder_torrent("x", &[Entry::File("../../passwd", content(100, 9))]);
    download(&write_torrent(&tmp, &torrent), &out).unwrap();
    assert!(out.join("x/__/__/passwd").is_file());
    assert!(!tmp.join("passwd").exists() && !tmp.0.parent().unwrap().join("passwd").exists());

    // Even if a path reached the storage unsanitised, it is refused, not joined.
    let mut info = torrent.info.clone();
    info.files[0].path = vec!["..".into(), "passwd".into()];
    assert!(matches!(
        Layout::for_download(&out, &info),
        Err(FilesError::Outside(_))
    ));
    info.files[0].path = vec!["x".into(), "/etc/passwd".into()];
    assert!(matches!(
        Layout::for_download(&out, &info),
        Err(FilesError::Outside(_))
    ));
}

#[test]
fn a_symlink_inside_the_download_folder_is_not_followed_outside() {
    let tmp = Tmp::new();
    let out = tmp.join("out");
    let elsewhere = tmp.join("elsewhere");
    fs::create_dir_all(&out).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("x")).unwrap();
    let (torrent, _) = folder_torrent("x", &[Entry::File("f.bin", content(100, 9))]);
    let err = download(&write_torrent(&tmp, &torrent), &out).unwrap_err();
    assert!(
        matches!(err, PrepareError::Files(FilesError::Outside(_))),
        "{err}"
    );
    assert!(!elsewhere.join("f.bin").exists());
}

fn seed_args(path: &Path) -> SeedArgs {
    SeedArgs {
        path: path.to_path_buf(),
        trackers: Vec::new(),
        name: None,
        torrent_out: None,
        upload_limit: None,
        creator: None,
        piece_length: Some(PIECE as u32),
    }
}

#[test]
fn seeding_reads_the_original_files_and_writes_the_torrent_first() {
    let tmp = Tmp::new();
    let share = tmp.join("share");
    fs::create_dir_all(share.join("sub")).unwrap();
    fs::write(share.join("a.bin"), content(10_000, 1)).unwrap();
    fs::write(share.join("sub/b.bin"), content(30_000, 2)).unwrap();
    let mut args = seed_args(&share);
    args.name = Some("renamed".into());
    args.trackers = vec![
        "wss://one.example/announce".into(),
        "ws://127.0.0.1:8000".into(),
    ];
    args.torrent_out = Some(tmp.join("out/share.torrent"));
    let prepared = prepare_seed(&args, Config::default(), Duration::ZERO).unwrap();

    let written = fs::read(tmp.join("out/share.torrent")).unwrap();
    assert_eq!(Some(&written), prepared.torrent_bytes.as_ref());
    let torrent = Metainfo::from_bytes(&written).unwrap();
    assert_eq!(torrent.info.name, "renamed");
    assert_eq!(torrent.info_hash, prepared.info_hash);
    assert_eq!(
        prepared.magnet,
        format!(
            "magnet:?xt=urn:btih:{}&dn=renamed&tr=wss%3A%2F%2Fone.example%2Fannounce&tr=ws%3A%2F%2F127.0.0.1%3A8000",
            torrent.info_hash
        )
    );
    assert_eq!(prepared.trackers, args.trackers);
    assert!(prepared.engine.is_complete());
    assert!(prepared.resume.is_none());

    // The seed storage serves the original bytes across the file boundary, and never writes.
    let mut storage = FileStorage::seed(Layout::for_seed(&share, &torrent.info));
    let mut block = Vec::new();
    storage.read_block(0, 9_000, 2_000, &mut block).unwrap();
    let mut expected = content(10_000, 1)[9_000..].to_vec();
    expected.extend_from_slice(&content(30_000, 2)[..1_000]);
    assert_eq!(block, expected);
    assert!(storage.write_piece(0, &[0; PIECE]).is_err());
    assert_eq!(fs::read(share.join("a.bin")).unwrap(), content(10_000, 1));

    // a.bin is edited while seeding: its bytes are no longer served; b.bin's still are.
    let mtime = fs::metadata(share.join("a.bin"))
        .unwrap()
        .modified()
        .unwrap();
    let mut edited = content(10_000, 1);
    edited[5] ^= 1;
    fs::write(share.join("a.bin"), &edited).unwrap();
    let file = fs::File::options()
        .write(true)
        .open(share.join("a.bin"))
        .unwrap();
    file.set_modified(mtime + Duration::from_secs(1)).unwrap();
    drop(file);
    block.clear();
    let err = storage.read_block(0, 0, 100, &mut block).unwrap_err();
    assert!(
        err.to_string().contains("changed since it was hashed"),
        "{err}"
    );
    assert!(block.is_empty());
    storage.read_block(1, 0, 100, &mut block).unwrap();
    assert_eq!(block, content(30_000, 2)[PIECE - 10_000..][..100]);
}

#[test]
fn seeding_one_file_with_a_creator_record() {
    let tmp = Tmp::new();
    let file = tmp.join("movie.bin");
    fs::write(&file, content(50_000, 5)).unwrap();
    let key = tmp.join("key");
    fs::write(&key, format!("0x{}\n", "11".repeat(32))).unwrap();
    let mut args = seed_args(&file);
    args.creator = Some(CreatorArgs {
        name: "Ada".into(),
        source: CreatorSource::KeyFile(key),
    });
    let prepared = prepare_seed(&args, Config::default(), Duration::ZERO).unwrap();
    let torrent = Metainfo::from_bytes(prepared.torrent_bytes.as_ref().unwrap()).unwrap();
    assert!(matches!(
        torrent.info.creator_status(),
        Some(seedcast::creator::CreatorStatus::Verified { ref name, .. }) if name == "Ada"
    ));
    let mut storage = FileStorage::seed(Layout::for_seed(&file, &torrent.info));
    let mut piece = Vec::new();
    storage.read_piece(3, &mut piece).unwrap();
    assert_eq!(piece, content(50_000, 5)[3 * PIECE..]);

    // Typed-data mode cannot seed.
    args.creator = Some(CreatorArgs {
        name: String::new(),
        source: CreatorSource::External(seedcast::creator::Address([1; 20]), None),
    });
    let err = prepare_seed(&args, Config::default(), Duration::ZERO).unwrap_err();
    assert!(matches!(err, PrepareError::NeedsSignature), "{err}");
}

#[test]
fn download_trackers_merge_without_duplicates() {
    let tmp = Tmp::new();
    let (mut torrent, _) = folder_torrent("x", &[Entry::File("f.bin", content(100, 9))]);
    torrent.trackers = vec![vec!["wss://a/".into()], vec!["wss://b/".into()]];
    let mut args = download_args(&write_torrent(&tmp, &torrent), &tmp.join("out"));
    args.trackers = vec!["wss://b/".into(), "wss://c/".into()];
    let prepared = prepare_download(&args, Config::default(), Duration::ZERO).unwrap();
    assert_eq!(prepared.trackers, ["wss://a/", "wss://b/", "wss://c/"]);
    assert_eq!(prepared.magnet.matches("&tr=").count(), 3);
    args.trackers = vec![" ".into()];
    let err = prepare_download(&args, Config::default(), Duration::ZERO).unwrap_err();
    assert!(matches!(err, PrepareError::BadTracker(_)), "{err}");
}

#[test]
fn a_magnet_without_saved_state_finds_finished_files_when_the_metadata_arrives() {
    let tmp = Tmp::new();
    let (torrent, data) = album();
    let out = tmp.join("out");
    download_pieces(&out, &torrent, &data, &[1, 2, 4]);
    fs::remove_dir_all(out.join(".seedcast")).unwrap();
    let magnet = torrent.magnet().to_uri();
    assert!(download(&magnet, &out).unwrap().engine.info().is_none());
    let store = ResumeStore::new(&out, torrent.info_hash);
    let mut storage = FileStorage::awaiting_metadata(&out, store.clone());
    let held = storage
        .metadata_ready(&torrent.info, &torrent.info_bytes)
        .unwrap()
        .unwrap();
    assert_eq!(held.iter_ones().collect::<Vec<_>>(), [1, 2, 4]);
    // Saved at once: the next run starts with the metadata and the same pieces.
    assert_eq!(have(&download(&magnet, &out).unwrap()), [1, 2, 4]);
}

#[test]
fn a_symlinked_file_pointing_outside_is_refused() {
    let tmp = Tmp::new();
    let out = tmp.join("out");
    let secret = content(100, 9);
    fs::write(tmp.join("secret"), &secret).unwrap();
    fs::create_dir_all(out.join("x")).unwrap();
    std::os::unix::fs::symlink(tmp.join("secret"), out.join("x/f.bin")).unwrap();
    // A torrent whose piece hash matches the file outside: writing through the link would
    // overwrite it, and keeping it would serve it.
    let (torrent, _) = folder_torrent("x", &[Entry::File("f.bin", secret)]);
    let err = download(&write_torrent(&tmp, &torrent), &out).unwrap_err();
    assert!(
        matches!(err, PrepareError::Files(FilesError::Outside(_))),
        "{err}"
    );
}
