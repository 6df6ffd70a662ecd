//! Streaming reads without a browser (`session::stream`): the open streams of a torrent and
//! their parked reads, reader ids, range resolution and chunk planning.

mod raw_info;

use raw_info::info;
use seedcast::engine::Bitfield;
use seedcast::session::stream::{
    Chunk, Evicted, MAX_CHUNK, MAX_STREAMS, ReaderIds, StreamError, StreamSet, offset, plan_chunk,
    range, resolve,
};

const KIB16: u32 = 16 * 1024;
const MIB: u64 = 1024 * 1024;

/// A set with streams `1..=n` open on file 0 from 0; wakers are plain strings.
fn set_with(n: u64) -> StreamSet<&'static str> {
    let mut set = StreamSet::default();
    for reader in 1..=n {
        assert!(set.open(reader, 0, 0).is_none());
    }
    set
}

fn have(n: u32, pieces: impl IntoIterator<Item = u32>) -> Bitfield {
    let mut have = Bitfield::new(n);
    for p in pieces {
        have.set(p);
    }
    have
}

#[test]
fn the_ninth_stream_evicts_the_least_recently_used_and_wakes_its_read() {
    let mut set = set_with(MAX_STREAMS as u64);
    assert!(set.wait(1, Some(0), "first").is_empty());
    assert!(set.wait(3, Some(0), "third").is_empty());
    let evicted = set.open(9, 0, 0);
    assert_eq!(
        evicted,
        Some(Evicted {
            reader: 1,
            woken: vec!["first"]
        })
    );
    assert!(!set.is_open(1));
    assert!(set.is_open(9));
    assert_eq!(set.len(), MAX_STREAMS);
    // The other parked read is still parked.
    assert_eq!(set.piece_verified(0), vec!["third"]);
}

#[test]
fn a_stream_being_read_is_not_the_one_evicted() {
    let mut set = set_with(MAX_STREAMS as u64);
    set.touch(1);
    assert_eq!(set.open(9, 0, 0).map(|e| e.reader), Some(2));
    assert!(set.is_open(1));
}

#[test]
fn at_most_one_waiter_per_stream() {
    let mut set = set_with(1);
    assert!(set.wait(1, Some(3), "a").is_empty());
    // A second wait replaces (and wakes) the first.
    assert_eq!(set.wait(1, Some(4), "b"), vec!["a"]);
    assert!(set.piece_verified(3).is_empty());
    assert!(set.waiting());
    assert_eq!(set.piece_verified(4), vec!["b"]);
    assert!(!set.waiting());
}

#[test]
fn a_wait_on_a_closed_stream_is_woken_at_once() {
    let mut set = set_with(1);
    assert_eq!(set.close(1), Some(vec![]));
    assert_eq!(set.wait(1, Some(0), "late"), vec!["late"]);
    assert!(!set.waiting());
    assert_eq!(set.close(1), None, "closing twice");
}

#[test]
fn reads_wake_on_their_piece_the_metadata_a_resume_or_close() {
    let mut set = set_with(5);
    set.wait(1, Some(2), "piece 2");
    set.wait(2, None, "metadata");
    set.wait(3, Some(7), "piece 7");
    set.wait(4, Some(9), "piece 9");
    set.wait(5, Some(2), "piece 2 too");
    let mut woken = set.piece_verified(2);
    woken.sort();
    assert_eq!(woken, vec!["piece 2", "piece 2 too"]);
    assert!(set.piece_verified(8).is_empty());
    assert_eq!(set.metadata_ready(), vec!["metadata"]);
    assert_eq!(set.close(4), Some(vec!["piece 9"]));
    assert_eq!(set.storage_resumed(), vec!["piece 7"]);
    assert!(!set.waiting());
    // Streams stay open after waking: a read looks again.
    assert!(set.is_open(3));
    set.wait(3, Some(1), "again");
    assert_eq!(set.wake_all(), vec!["again"]);
}

#[test]
fn reader_ids_count_down_so_newer_streams_come_first() {
    let mut ids = ReaderIds::new();
    let first = ids.next_id();
    let second = ids.next_id();
    let third = ids.next_id();
    assert_eq!(first, u64::MAX);
    assert!(second < first && third < second);
}

#[test]
fn start_offsets_are_torrent_offsets_clamped_to_the_file() {
    let info = info(KIB16, &[("a", 100, false), ("b", 50, false)]);
    let mut set: StreamSet<()> = StreamSet::default();
    set.open(7, 1, 10);
    set.open(8, 1, 1000);
    set.open(9, 5, 0); // no such file: no window
    assert_eq!(set.start_offsets(&info), vec![(7, 110), (8, 150)]);
}

#[test]
fn resolve_maps_a_file_range_to_torrent_offsets() {
    let info = info(
        KIB16,
        &[
            ("a", 100, false),
            ("pad", 16284, true),
            ("b", 50, false),
            ("empty", 0, false),
        ],
    );
    assert_eq!(resolve(&info, 0, 0, None), Ok((0, 100)));
    assert_eq!(
        resolve(&info, 0, 10, Some(19)),
        Ok((10, 20)),
        "end inclusive"
    );
    assert_eq!(
        resolve(&info, 2, 5, Some(1000)),
        Ok((16389, 16434)),
        "end clipped"
    );
    assert_eq!(resolve(&info, 3, 0, None), Ok((16434, 16434)), "empty file");
    assert_eq!(
        resolve(&info, 1, 0, None),
        Err(StreamError::NoFile(1)),
        "padding"
    );
    assert_eq!(resolve(&info, 4, 0, None), Err(StreamError::NoFile(4)));
    assert_eq!(
        resolve(&info, 0, 100, None),
        Err(StreamError::StartPastEnd {
            start: 100,
            length: 100
        })
    );
    assert_eq!(
        resolve(&info, 3, 1, None),
        Err(StreamError::StartPastEnd {
            start: 1,
            length: 0
        })
    );
    assert_eq!(
        StreamError::StartPastEnd {
            start: 100,
            length: 100
        }
        .to_string(),
        "`start` 100 is past the end of the file (100 bytes)"
    );
}

#[test]
fn offsets_from_javascript_are_whole_exact_numbers() {
    let max_exact = 2f64.powi(53);
    assert_eq!(offset(0.0, "start"), Ok(0));
    assert_eq!(offset(max_exact - 1.0, "start"), Ok((1 << 53) - 1));
    for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, max_exact] {
        assert_eq!(
            offset(bad, "start"),
            Err(StreamError::BadOffset("start")),
            "{bad}"
        );
    }
    assert_eq!(range(5.0, Some(5.0)), Ok((5, Some(5))));
    assert_eq!(range(5.0, None), Ok((5, None)));
    assert_eq!(range(5.0, Some(4.0)), Err(StreamError::EndBeforeStart));
    assert_eq!(range(0.0, Some(0.5)), Err(StreamError::BadOffset("end")));
    assert_eq!(
        StreamError::BadOffset("end").to_string(),
        "`end` must be a whole number of bytes from 0"
    );
}

#[test]
fn small_pieces_are_batched_up_to_one_chunk_and_stop_at_a_missing_piece() {
    // 200 pieces of 16 KiB: a chunk is 64 of them.
    let info = info(KIB16, &[("a", 200 * u64::from(KIB16), false)]);
    let end = info.total_length;
    let all = have(200, 0..200);
    let Chunk::Read(parts) = plan_chunk(&info, Some(&all), 100, end) else {
        panic!("expected a read");
    };
    let total: u64 = parts.iter().map(|&(_, f, t)| u64::from(t - f)).sum();
    assert_eq!(total, MAX_CHUNK);
    assert_eq!(parts.first(), Some(&(0, 100, KIB16)));
    assert_eq!(parts.last(), Some(&(64, 0, 100)));
    assert!(
        parts.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "consecutive"
    );

    let gap = have(200, [0, 1, 3]);
    assert_eq!(
        plan_chunk(&info, Some(&gap), 0, end),
        Chunk::Read(vec![(0, 0, KIB16), (1, 0, KIB16)])
    );
    assert_eq!(
        plan_chunk(&info, Some(&gap), 2 * u64::from(KIB16) + 5, end),
        Chunk::Wait(2)
    );
    assert_eq!(plan_chunk(&info, None, 0, end), Chunk::Wait(0));
    assert_eq!(
        plan_chunk(&info, Some(&all), 10, 20),
        Chunk::Read(vec![(0, 10, 20)]),
        "the range's end"
    );
    assert_eq!(plan_chunk(&info, Some(&all), end, end), Chunk::Done);
}

#[test]
fn a_piece_longer_than_a_chunk_is_read_in_chunks() {
    let piece = 2 * MIB as u32;
    let info = info(piece, &[("a", 3 * MIB, false)]);
    let all = have(2, 0..2);
    let end = info.total_length;
    let mib = MIB as u32;
    assert_eq!(
        plan_chunk(&info, Some(&all), 0, end),
        Chunk::Read(vec![(0, 0, mib)])
    );
    assert_eq!(
        plan_chunk(&info, Some(&all), MIB, end),
        Chunk::Read(vec![(0, mib, piece)])
    );
    assert_eq!(
        plan_chunk(&info, Some(&all), 3 * MIB / 2, end),
        Chunk::Read(vec![(0, 3 * mib / 2, piece), (1, 0, mib / 2)])
    );
    let first_only = have(2, [0]);
    assert_eq!(
        plan_chunk(&info, Some(&first_only), 3 * MIB / 2, end),
        Chunk::Read(vec![(0, 3 * mib / 2, piece)])
    );
    assert_eq!(
        plan_chunk(&info, Some(&first_only), 2 * MIB, end),
        Chunk::Wait(1)
    );
}
