//! The resume policy both drivers share (`session::resume`): which metadata to trust, which
//! pieces a stored list may claim, whether the engine is rebuilt (keeping streams' windows),
//! what is saved and reported; and which pieces native hash-checks on start.

mod raw_info;

use raw_info::info_bytes;
use seedcast::engine::{Config, MemoryStorage};
use seedcast::metainfo::InfoHash;
use seedcast::session::resume::{
    Claim, Current, MAX_STORED_PIECES, Metadata, ResumeEvent, Stored, check_on_start,
    rebuild_engine, resume, stored_have, verified_info,
};
use seedcast::session::stream::StreamSet;
use sha1::{Digest, Sha1};
use std::time::Duration;

const PIECE: u32 = 16 * 1024;

/// A torrent of 10 pieces over two files, its info hash and its metadata.
fn torrent() -> ([u8; 20], Metadata) {
    let bytes = info_bytes(
        PIECE,
        &[
            ("a", 4 * u64::from(PIECE), false),
            ("b", 6 * u64::from(PIECE), false),
        ],
    );
    let hash = Sha1::digest(&bytes).into();
    let metadata = verified_info(&hash, &bytes).expect("its own hash");
    (hash, metadata)
}

fn magnet() -> Current {
    Current {
        metadata: None,
        complete: false,
    }
}

fn ones(have: &seedcast::engine::Bitfield) -> Vec<u32> {
    have.iter_ones().collect()
}

#[test]
fn stored_info_of_another_hash_is_ignored() {
    let (hash, metadata) = torrent();
    let other = info_bytes(PIECE, &[("x", 5, false)]);
    let mut truncated = metadata.bytes.clone();
    truncated.pop();
    let streams: StreamSet<()> = StreamSet::default();
    for bad in [&other[..], &truncated, b"garbage"] {
        assert!(verified_info(&hash, bad).is_none());
        let stored = Stored {
            info: Some(bad),
            pieces: &[0, 1],
        };
        assert!(resume(&hash, magnet(), stored, &streams).is_none());
    }
    // Bytes that hash right but are no `info` dictionary are not metadata either.
    let junk_hash: [u8; 20] = Sha1::digest(b"junk").into();
    assert!(verified_info(&junk_hash, b"junk").is_none());
}

#[test]
fn a_magnet_resumes_from_verified_stored_metadata() {
    let (hash, metadata) = torrent();
    let streams: StreamSet<()> = StreamSet::default();
    let stored = Stored {
        info: Some(&metadata.bytes),
        pieces: &[0, 9],
    };
    let plan = resume(&hash, magnet(), stored, &streams).expect("resumes");
    assert_eq!(plan.metadata, metadata);
    assert_eq!(ones(&plan.have), vec![0, 9]);
    assert!(plan.rebuild.is_some());
    assert!(!plan.save_info, "already stored");
    assert_eq!(
        plan.events,
        vec![ResumeEvent::MetadataReady, ResumeEvent::Progress]
    );
    // Even with no pieces, the engine is rebuilt: it learns the metadata.
    let stored = Stored {
        info: Some(&metadata.bytes),
        pieces: &[],
    };
    let plan = resume(&hash, magnet(), stored, &streams).expect("resumes");
    assert!(plan.rebuild.is_some());
    assert_eq!(plan.events, vec![ResumeEvent::MetadataReady]);
}

#[test]
fn a_magnet_with_nothing_stored_waits_for_peers() {
    let (hash, _) = torrent();
    let streams: StreamSet<()> = StreamSet::default();
    let stored = Stored {
        info: None,
        pieces: &[0, 1, 2],
    };
    assert!(resume(&hash, magnet(), stored, &streams).is_none());
}

#[test]
fn the_engines_own_metadata_wins_and_a_bad_stored_copy_is_replaced() {
    let (hash, metadata) = torrent();
    let streams: StreamSet<()> = StreamSet::default();
    let current = || Current {
        metadata: Some(metadata.clone()),
        complete: false,
    };
    let stored = Stored {
        info: Some(b"d4:junke"),
        pieces: &[],
    };
    let plan = resume(&hash, current(), stored, &streams).expect("resumes");
    assert_eq!(plan.metadata, metadata);
    assert!(plan.save_info, "the bad copy is overwritten");
    assert!(plan.rebuild.is_none(), "nothing new: the engine is kept");
    assert!(plan.events.is_empty());
    let stored = Stored {
        info: Some(&metadata.bytes),
        pieces: &[],
    };
    let plan = resume(&hash, current(), stored, &streams).expect("resumes");
    assert!(!plan.save_info);
    let stored = Stored {
        info: None,
        pieces: &[3],
    };
    let plan = resume(&hash, current(), stored, &streams).expect("resumes");
    assert!(plan.save_info);
    assert!(plan.rebuild.is_some(), "stored pieces: rebuilt with them");
    assert_eq!(plan.events, vec![ResumeEvent::Progress]);
}

#[test]
fn done_follows_when_every_piece_is_there() {
    let (hash, metadata) = torrent();
    let streams: StreamSet<()> = StreamSet::default();
    let all: Vec<u32> = (0..10).collect();
    let stored = Stored {
        info: Some(&metadata.bytes),
        pieces: &all,
    };
    let plan = resume(&hash, magnet(), stored, &streams).expect("resumes");
    assert!(plan.have.is_full());
    assert_eq!(
        plan.events,
        vec![
            ResumeEvent::MetadataReady,
            ResumeEvent::Progress,
            ResumeEvent::Done
        ]
    );
    // A seeder (complete engine, nothing new stored) still reports done.
    let seeding = Current {
        metadata: Some(metadata.clone()),
        complete: true,
    };
    let stored = Stored {
        info: Some(&metadata.bytes),
        pieces: &[],
    };
    let plan = resume(&hash, seeding, stored, &streams).expect("resumes");
    assert!(plan.rebuild.is_none());
    assert_eq!(plan.events, vec![ResumeEvent::Done]);
}

#[test]
fn untrusted_stored_lists_only_claim_pieces_of_the_torrent() {
    assert_eq!(ones(&stored_have(10, &[2, 2, 2, 5, 2])), vec![2, 5]);
    assert_eq!(
        ones(&stored_have(10, &[10, u32::MAX, 3, 1_000_000])),
        vec![3]
    );
    assert_eq!(stored_have(10, &[]).count(), 0);
    // A list longer than any torrent's pieces is read only up to the bound.
    let mut huge = vec![0; MAX_STORED_PIECES];
    huge.push(1);
    assert_eq!(ones(&stored_have(10, &huge)), vec![0]);
    // Through `resume` too: out-of-range entries neither count nor report progress.
    let (hash, metadata) = torrent();
    let current = Current {
        metadata: Some(metadata),
        complete: false,
    };
    let stored = Stored {
        info: None,
        pieces: &[10, 11, u32::MAX],
    };
    let streams: StreamSet<()> = StreamSet::default();
    let plan = resume(&hash, current, stored, &streams).expect("resumes");
    assert_eq!(plan.have.count(), 0);
    assert!(plan.rebuild.is_none());
    assert!(!plan.events.contains(&ResumeEvent::Progress));
}

#[test]
fn a_rebuild_keeps_the_streams_reader_offsets() {
    let (hash, metadata) = torrent();
    let mut streams: StreamSet<()> = StreamSet::default();
    // File b starts at piece 4: this stream reads from piece 6.
    streams.open(u64::MAX, 1, 2 * u64::from(PIECE) + 100);
    let stored = Stored {
        info: Some(&metadata.bytes),
        pieces: &[0],
    };
    let plan = resume(&hash, magnet(), stored, &streams).expect("resumes");
    let readers = plan.rebuild.expect("rebuilt");
    assert_eq!(readers, vec![(u64::MAX, 6 * u64::from(PIECE) + 100)]);
    let mut engine = rebuild_engine(
        InfoHash(hash),
        plan.metadata,
        plan.have,
        &readers,
        Box::new(MemoryStorage::new()),
        Config::default(),
        Duration::ZERO,
    );
    assert_eq!(
        engine.have().map(|h| h.iter_ones().collect()),
        Some(vec![0])
    );
    // The rebuilt engine fetches the stream's window first (else piece 1, the first missing).
    let run = engine.webseed_claim(u64::from(PIECE), Duration::ZERO);
    assert_eq!(run.map(|r| r.start), Some(6));
}

#[test]
fn native_checks_claimed_pieces_and_changed_files_only() {
    let record = |claimed, files_changed| Claim::Record {
        claimed,
        files_changed,
    };
    assert!(check_on_start(true, record(true, false)), "claimed");
    assert!(check_on_start(true, Claim::NoRecord), "no usable record");
    assert!(check_on_start(true, record(false, true)), "a file changed");
    assert!(
        !check_on_start(true, record(false, false)),
        "unclaimed in unchanged files: never downloaded, not read"
    );
    for claim in [Claim::NoRecord, record(true, true)] {
        assert!(!check_on_start(false, claim), "a file is short or missing");
    }
}
