//! The browser's piece cache policy (`session::piece_cache`), driven natively: what stays in
//! memory, what is loaded and written when, and that bytes read back are never trusted
//! without their hash. The "backend" here is a plain byte vector the test answers from.

use seedcast::create::{CreateOptions, TorrentBuilder};
use seedcast::engine::{Storage, StorageError};
use seedcast::metainfo::Metainfo;
use seedcast::session::piece_cache::{
    Backend, DEFAULT_CACHE_BYTES, LoadRun, MAX_LOADS, MAX_UNWRITTEN_BYTES, PieceCache,
    SEED_CACHE_BYTES, StorageFailure, StorageNews,
};

/// A torrent of `pieces` pieces of `piece` bytes (the last one `short` bytes shorter) and its
/// content.
fn torrent(piece: u32, pieces: u32, short: u32) -> (Metainfo, Vec<u8>) {
    let len = u64::from(pieces) * u64::from(piece) - u64::from(short);
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let opts = CreateOptions {
        name: "c.bin".into(),
        piece_length: Some(piece),
        ..Default::default()
    };
    let mut b = TorrentBuilder::single_file(opts, len).unwrap();
    b.update(&data).unwrap();
    (b.finish().unwrap(), data)
}

fn piece_of(data: &[u8], piece: u32, index: u32) -> &[u8] {
    let start = (index * piece) as usize;
    &data[start..(start + piece as usize).min(data.len())]
}

fn cache(backend: Backend, meta: &Metainfo) -> PieceCache {
    let mut c = PieceCache::new(backend);
    c.set_layout(&meta.info);
    c
}

fn read(c: &mut PieceCache, index: u32) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    c.read_block(index, 0, 16, &mut out).map(|()| out)
}

/// Answers every load the cache wants from `data` (checked, as the driver does).
fn serve_loads(c: &mut PieceCache, data: &[u8], piece: u32) -> Vec<LoadRun> {
    let mut runs = Vec::new();
    while let Some(run) = c.next_load() {
        let start = (run.first * piece) as usize;
        let bytes = &data[start..start + run.bytes as usize];
        assert!(c.check_run(run.first, run.count, bytes).is_empty());
        c.load_landed(run, bytes);
        runs.push(run);
    }
    runs
}

fn news(c: &mut PieceCache) -> Vec<StorageNews> {
    std::iter::from_fn(|| c.poll_news()).collect()
}

#[test]
fn memory_keeps_every_piece_whatever_the_budget() {
    let piece = 256 * 1024;
    let (meta, data) = torrent(piece, 40, 0); // 10 MiB, over the 4 MiB budget
    let mut c = cache(Backend::Memory, &meta);
    for i in 0..40 {
        c.write_piece(i, piece_of(&data, piece, i)).unwrap();
    }
    assert_eq!(
        c.cached_bytes(),
        data.len(),
        "nothing is evicted without a backend"
    );
    assert_eq!(read(&mut c, 0).unwrap(), &data[..16]);
    assert!(c.take_writes().is_empty(), "memory writes nothing");
    assert!(!c.should_hold_downloads(false));
}

#[test]
fn store_writes_in_batches_and_evicts_only_written_pieces() {
    let piece = 256 * 1024;
    let (meta, data) = torrent(piece, 40, 0);
    let mut c = cache(Backend::Store, &meta);
    for i in 0..24 {
        c.write_piece(i, piece_of(&data, piece, i)).unwrap();
    }
    // 6 MiB unwritten: over the budget, but nothing unwritten may go.
    assert_eq!(c.cached_bytes(), 24 * piece as usize);
    assert_eq!(c.unsaved_bytes(), 24 * piece as usize);
    let batch = c.take_writes();
    assert_eq!(
        batch.len(),
        24,
        "one batch for everything verified meanwhile"
    );
    assert_eq!(&batch[3].1[..], piece_of(&data, piece, 3));
    assert!(c.take_writes().is_empty());
    let indices: Vec<u32> = batch.iter().map(|(i, _)| *i).collect();
    c.writes_landed(&indices, Ok(()));
    assert_eq!(news(&mut c), vec![StorageNews::Written]);
    assert_eq!(c.unsaved_bytes(), 0);
    assert!(
        c.cached_bytes() <= DEFAULT_CACHE_BYTES,
        "evicted down to the budget once written"
    );
    // Least recently used went first: the last pieces written are still in memory.
    assert!(c.is_cached(23) && !c.is_cached(0));
}

#[test]
fn downloads_are_held_while_writes_lag_with_hysteresis() {
    let piece = 1024 * 1024;
    let (meta, data) = torrent(piece, 8, 0);
    let mut c = cache(Backend::Store, &meta);
    let per = MAX_UNWRITTEN_BYTES / piece as usize; // pieces to reach the bound
    for i in 0..=per as u32 {
        c.write_piece(i, piece_of(&data, piece, i)).unwrap();
    }
    assert!(c.should_hold_downloads(false), "over the bound: hold");
    let batch = c.take_writes();
    // Half of them land: still above half the bound, so a held download stays held...
    let half: Vec<u32> = batch.iter().map(|(i, _)| *i).take(per / 2 - 1).collect();
    c.writes_landed(&half, Ok(()));
    assert!(c.should_hold_downloads(true));
    assert!(
        !c.should_hold_downloads(false),
        "...but would not start holding"
    );
    let rest: Vec<u32> = batch.iter().map(|(i, _)| *i).collect();
    c.writes_landed(&rest, Ok(()));
    assert!(!c.should_hold_downloads(true));
}

#[test]
fn a_failed_write_warns_once_and_keeps_pieces_in_memory() {
    let piece = 1024 * 1024;
    let (meta, data) = torrent(piece, 12, 0);
    let mut c = cache(Backend::Store, &meta);
    c.write_piece(0, piece_of(&data, piece, 0)).unwrap();
    let batch = c.take_writes();
    c.writes_landed(&[batch[0].0], Err("storage is full (quota)".into()));
    let warned = news(&mut c);
    assert!(
        matches!(&warned[..], [StorageNews::Failed { kind: StorageFailure::Full, message: m }] if m.contains("kept in memory only")),
        "{warned:?}"
    );
    for i in 1..12 {
        c.write_piece(i, piece_of(&data, piece, i)).unwrap();
    }
    assert!(c.take_writes().is_empty(), "no more writes after a failure");
    assert_eq!(c.cached_bytes(), data.len(), "every piece stays");
    assert!(
        !c.should_hold_downloads(false),
        "holding would stall the download for good"
    );
    c.writes_landed(&[1], Err("again".into()));
    assert!(news(&mut c).is_empty(), "one warning only");
}

#[test]
fn a_read_that_misses_loads_the_piece_and_the_next_read_finds_it() {
    let piece = 256 * 1024;
    let (meta, data) = torrent(piece, 40, 0);
    let mut c = cache(Backend::Store, &meta);
    assert_eq!(read(&mut c, 5), Err(StorageError::Pending(5)));
    let runs = serve_loads(&mut c, &data, piece);
    assert_eq!(
        runs,
        vec![LoadRun {
            first: 5,
            count: 1,
            bytes: piece
        }]
    );
    assert_eq!(news(&mut c), vec![StorageNews::Loaded]);
    assert_eq!(read(&mut c, 5).unwrap(), &piece_of(&data, piece, 5)[..16]);
    assert_eq!(c.unsaved_bytes(), 0, "a loaded piece is already stored");
}

#[test]
fn consecutive_wanted_pieces_load_in_one_run_within_the_bounds() {
    let piece = 16 * 1024;
    let (meta, data) = torrent(piece, 400, 100);
    let mut c = cache(Backend::Store, &meta);
    for i in 10..30 {
        c.prefetch(i);
    }
    c.prefetch(200);
    let runs = serve_loads(&mut c, &data, piece);
    assert_eq!(
        runs[0],
        LoadRun {
            first: 10,
            count: 20,
            bytes: 20 * piece
        }
    );
    assert_eq!(runs[1].first, 200);
    // The store reads only what was asked for (no read-ahead): piece 30 was not wanted.
    assert!(!c.is_cached(30));
    // The last, short piece loads at its own size.
    assert_eq!(read(&mut c, 399), Err(StorageError::Pending(399)));
    let run = c.next_load().unwrap();
    assert_eq!(run.bytes, piece - 100);
}

#[test]
fn loads_in_flight_are_bounded_in_number_and_bytes() {
    let piece = 512 * 1024;
    let (meta, _) = torrent(piece, 64, 0);
    let mut c = cache(Backend::Store, &meta);
    // Scattered pieces: one load each.
    for i in (0..64).step_by(2) {
        c.prefetch(i);
    }
    let mut started = Vec::new();
    while let Some(run) = c.next_load() {
        started.push(run);
    }
    assert!(started.len() <= MAX_LOADS);
    let bytes: u32 = started.iter().map(|r| r.bytes).sum();
    assert!(bytes as usize <= c.budget() / 2, "{bytes} bytes in flight");
    assert_eq!(c.loads_in_flight(), started.len());
    // When one lands the next one starts.
    c.load_failed(started[0], "worker busy");
    assert!(c.next_load().is_some());
}

#[test]
fn a_seed_reads_the_whole_extent_around_a_piece_in_one_read() {
    let piece = 16 * 1024;
    let (meta, data) = torrent(piece, 400, 0);
    let mut c = cache(Backend::Files, &meta);
    assert_eq!(c.budget(), SEED_CACHE_BYTES);
    // 16 KiB pieces, 1 MiB extents of 64 pieces: 0..64, 64..128, ...
    c.prefetch(5);
    let run = serve_loads(&mut c, &data, piece)[0];
    assert_eq!((run.first, run.count), (0, 64), "the extent around piece 5");
    assert!(c.is_cached(0) && c.is_cached(63) && !c.is_cached(64));
    c.prefetch(140);
    let run = serve_loads(&mut c, &data, piece)[0];
    assert_eq!(
        (run.first, run.count),
        (128, 64),
        "entered mid-extent: still the whole extent"
    );
    // Pieces already in memory bound the read: only what is missing around the piece.
    c.prefetch(70);
    c.write_piece(66, piece_of(&data, piece, 66)).unwrap();
    c.write_piece(75, piece_of(&data, piece, 75)).unwrap();
    let run = serve_loads(&mut c, &data, piece)[0];
    assert_eq!(
        (run.first, run.count),
        (67, 8),
        "between the cached pieces 66 and 75"
    );
    // The last extent is short: up to the torrent's end.
    c.prefetch(399);
    let run = serve_loads(&mut c, &data, piece)[0];
    assert_eq!((run.first, run.count), (384, 16));
}

#[test]
fn the_store_reads_only_the_pieces_asked_for_together() {
    let piece = 16 * 1024;
    let (meta, data) = torrent(piece, 400, 0);
    let mut c = cache(Backend::Store, &meta);
    c.prefetch(5);
    assert_eq!(serve_loads(&mut c, &data, piece)[0].count, 1);
    c.prefetch(10);
    c.prefetch(11);
    c.prefetch(12);
    let run = serve_loads(&mut c, &data, piece)[0];
    assert_eq!((run.first, run.count), (10, 3));
}

#[test]
fn bytes_that_do_not_match_their_hash_are_lost_never_served() {
    let piece = 16 * 1024;
    let (meta, data) = torrent(piece, 20, 0);
    let mut c = cache(Backend::Store, &meta);
    let mut bad = data[..4 * piece as usize].to_vec();
    bad[piece as usize * 2 + 7] ^= 1;
    assert_eq!(
        c.check_run(0, 4, &bad[..3 * piece as usize]),
        vec![2, 3],
        "short run"
    );
    assert_eq!(c.check_run(0, 4, &bad[..]), vec![2]);
    let message = c.lose_stored(vec![2], "their bytes do not match their hash");
    assert!(
        message.starts_with("piece 2 in browser storage was corrupt"),
        "{message}"
    );
    assert_eq!(
        news(&mut c),
        vec![StorageNews::Lost {
            pieces: vec![2],
            message
        }]
    );
    assert_eq!(
        read(&mut c, 2),
        Err(StorageError::Missing(2)),
        "lost: not even loaded"
    );
    assert!(c.next_load().is_none());
    // Downloaded and verified again by the engine: whole again.
    c.write_piece(2, piece_of(&data, piece, 2)).unwrap();
    assert_eq!(read(&mut c, 2).unwrap(), &piece_of(&data, piece, 2)[..16]);
}

#[test]
fn store_and_file_pieces_are_hashed_once_per_session_and_a_created_seed_not_at_all() {
    let piece = 16 * 1024;
    let (meta, data) = torrent(piece, 4, 0);
    let mut store = cache(Backend::Store, &meta);
    assert!(store.check_run(0, 4, &data[..]).is_empty());
    // Checked once: not hashed again (these wrong bytes are not looked at).
    assert!(
        store
            .check_run(0, 1, &vec![0u8; piece as usize][..])
            .is_empty()
    );
    // Files the user shared against a torrent: each piece is checked on its first read; a
    // changed file fails to read in the browser (its snapshot), so one check is enough.
    let mut seed = cache(Backend::Files, &meta);
    assert_eq!(
        seed.check_run(0, 2, &vec![0u8; 2 * piece as usize][..]),
        vec![0, 1],
        "never checked: wrong bytes are caught"
    );
    assert!(seed.check_run(2, 2, &data[2 * piece as usize..]).is_empty());
    assert!(
        seed.check_run(2, 1, &vec![0u8; piece as usize][..])
            .is_empty(),
        "checked once"
    );
    // A seed created from these files in this session: creation hashed every piece.
    let mut created = cache(Backend::Files, &meta);
    created.trust_all();
    assert!(
        created
            .check_run(0, 4, &vec![0u8; 4 * piece as usize][..])
            .is_empty()
    );
    // Except pieces lost since (a changed file): checked again once rewritten.
    let mut lost = cache(Backend::Files, &meta);
    lost.lose_changed_files(&[(0, 10)], &["`a.bin`".into()]);
    lost.trust_all();
    assert!(lost.is_lost(0));
    assert_eq!(
        lost.check_run(0, 2, &vec![0u8; 2 * piece as usize][..]),
        vec![0],
        "the lost piece is not trusted; the others are"
    );
}

#[test]
fn a_changed_shared_file_loses_every_piece_it_touches() {
    let piece = 16 * 1024;
    let (meta, _) = torrent(piece, 10, 0);
    let mut c = cache(Backend::Files, &meta);
    // A file from byte 20,000 to 50,000: pieces 1, 2 and 3.
    let message = c.lose_changed_files(&[(20_000, 50_000)], &["`b.mp4`".into()]);
    assert!(message.starts_with("`b.mp4` changed on disk"), "{message}");
    assert!(
        matches!(&news(&mut c)[..], [StorageNews::Lost { pieces, .. }] if pieces == &[1, 2, 3])
    );
    assert!(c.is_lost(1) && c.is_lost(3) && !c.is_lost(0) && !c.is_lost(4));
}

#[test]
fn a_failed_load_is_reported_once_by_the_next_read() {
    let piece = 16 * 1024;
    let (meta, _) = torrent(piece, 10, 0);
    let mut c = cache(Backend::Store, &meta);
    assert_eq!(read(&mut c, 4), Err(StorageError::Pending(4)));
    let run = c.next_load().unwrap();
    c.load_failed(run, "worker gone");
    assert!(
        matches!(&news(&mut c)[..], [StorageNews::Failed { kind: StorageFailure::Read, message: m }] if m.contains("worker gone"))
    );
    assert!(matches!(read(&mut c, 4), Err(StorageError::Backend(_))));
    assert_eq!(
        read(&mut c, 4),
        Err(StorageError::Pending(4)),
        "then it is tried again"
    );
    // A run of the wrong size fails too, and caches nothing.
    let run = c.next_load().unwrap();
    c.load_landed(run, &[0u8; 10][..]);
    assert!(!c.is_cached(4));
    assert!(
        matches!(&news(&mut c)[..], [StorageNews::Failed { kind: StorageFailure::Read, message: m }] if m.contains("wrong size"))
    );
}

#[test]
fn the_background_check_walks_resumed_pieces_in_bounded_steps() {
    let piece = 256 * 1024;
    let (meta, data) = torrent(piece, 16, 0);
    let mut c = cache(Backend::Store, &meta);
    c.start_verify(vec![9, 1, 2, 3, 4, 5, 6, 7, 9, 12]);
    assert_eq!(c.unverified_pieces(), 9, "deduplicated");
    // A read checked piece 12 meanwhile: the pass skips it.
    assert!(c.check_run(12, 1, piece_of(&data, piece, 12)).is_empty());
    let mut steps = Vec::new();
    while let Some((first, count)) = c.next_verify_step() {
        let left = c.unverified_pieces();
        let start = (first * piece) as usize;
        let bytes = &data[start..start + (count * piece) as usize];
        assert!(c.check_run(first, count, bytes).is_empty());
        // A step in flight still counts: a page waiting for 0 waits for its result.
        assert_eq!(c.unverified_pieces(), left - count as usize);
        steps.push((first, count));
    }
    // At most 1 MiB (4 pieces) per step, consecutive pieces only.
    assert_eq!(steps, vec![(1, 4), (5, 3), (9, 1)]);
    assert_eq!(c.unverified_pieces(), 0);
}

#[test]
fn switching_from_memory_to_the_store_writes_what_memory_holds() {
    let piece = 16 * 1024;
    let (meta, data) = torrent(piece, 10, 0);
    let mut c = cache(Backend::Memory, &meta);
    c.write_piece(3, piece_of(&data, piece, 3)).unwrap();
    c.write_piece(1, piece_of(&data, piece, 1)).unwrap();
    c.use_store();
    assert!(c.is_persistent());
    assert_eq!(c.unsaved_bytes(), 2 * piece as usize);
    let written: Vec<u32> = c.take_writes().iter().map(|(i, _)| *i).collect();
    assert_eq!(written, vec![1, 3]);
}
