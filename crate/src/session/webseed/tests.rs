//! Web seed planning against a scripted HTTP server (a closure over the files' bytes).

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::create::{CreateOptions, FileSpec, TorrentBuilder};
use crate::engine::{Config, Event, MemoryStorage, Torrent};
use crate::metainfo::Metainfo;
use crate::wire::{BLOCK_SIZE, Handshake, Message};

const PIECE: u32 = BLOCK_SIZE;

fn bytes(len: usize, step: usize) -> Vec<u8> {
    (0..len).map(|i| (i * step % 251) as u8).collect()
}

fn options(name: &str) -> CreateOptions {
    CreateOptions {
        name: name.into(),
        piece_length: Some(PIECE),
        ..Default::default()
    }
}

fn single(name: &str, data: &[u8]) -> Metainfo {
    let mut b = TorrentBuilder::single_file(options(name), data.len() as u64).unwrap();
    b.update(data).unwrap();
    b.finish().unwrap()
}

/// A folder torrent: `files` are (path under the folder, bytes).
fn folder(name: &str, files: &[(&str, Vec<u8>)]) -> Metainfo {
    let specs = files
        .iter()
        .map(|(p, d)| FileSpec {
            path: p.split('/').map(String::from).collect(),
            length: d.len() as u64,
        })
        .collect();
    let mut b = TorrentBuilder::folder(options(name), specs).unwrap();
    for (_, d) in files {
        b.update(d).unwrap();
    }
    b.finish().unwrap()
}

fn engine(m: &Metainfo) -> Torrent {
    Torrent::new(
        m.info_hash,
        m.info.clone(),
        m.info_bytes.clone(),
        Box::new(MemoryStorage::new()),
        None,
        Config::default(),
        Duration::ZERO,
    )
}

/// An honest server: URL → file bytes, answering 206 with Content-Range.
fn honest(files: &BTreeMap<String, Vec<u8>>, req: &WebSeedRequest) -> WebSeedResponse {
    let Some(data) = files.get(&req.url) else {
        return WebSeedResponse {
            status: 404,
            ..Default::default()
        };
    };
    let (s, e) = (req.range.start as usize, req.range.end as usize);
    WebSeedResponse {
        status: 206,
        content_range: Some(format!("bytes {}-{}/{}", s, e - 1, data.len())),
        retry_after: None,
        body: data[s..e].to_vec(),
    }
}

/// Runs requests through `server` until nothing more is asked; returns the requests made.
fn drive(
    w: &mut WebSeeds,
    t: &mut Torrent,
    now: Duration,
    mut server: impl FnMut(&WebSeedRequest) -> WebSeedResponse,
) -> Vec<WebSeedRequest> {
    let mut made = Vec::new();
    for _ in 0..10_000 {
        let mut batch = Vec::new();
        while let Some(r) = w.poll_request(t, now) {
            batch.push(r);
        }
        assert!(
            batch.len() <= MAX_REQUESTS_IN_FLIGHT,
            "{} in flight",
            batch.len()
        );
        if batch.is_empty() {
            return made;
        }
        for r in batch {
            let resp = server(&r);
            assert!(
                resp.body.len() <= r.max_body,
                "the driver reads at most max_body"
            );
            w.handle_response(t, r.id, resp, now);
            made.push(r);
        }
    }
    panic!("runaway requests");
}

fn events(w: &mut WebSeeds) -> Vec<WebSeedEvent> {
    std::iter::from_fn(|| w.poll_event()).collect()
}

fn verified(t: &mut Torrent) -> usize {
    std::iter::from_fn(|| t.poll_event())
        .filter(|e| matches!(e, Event::PieceVerified { .. }))
        .count()
}

// ---- URL rules ----------------------------------------------------------------------------

#[test]
fn single_file_urls_are_used_as_is_or_get_the_name_appended() {
    let m = single("a b+é.bin", &bytes(100, 3));
    assert_eq!(
        file_url("http://h/x/file.bin", &m.info, 0).unwrap(),
        "http://h/x/file.bin"
    );
    assert_eq!(
        file_url("http://h/x/", &m.info, 0).unwrap(),
        "http://h/x/a%20b%2B%C3%A9.bin"
    );
}

#[test]
fn multi_file_urls_are_url_name_path_with_each_segment_encoded() {
    let m = folder(
        "my dir",
        &[("a.txt", bytes(10, 1)), ("sub/b#1.txt", bytes(10, 2))],
    );
    assert_eq!(
        file_url("https://h/seed", &m.info, 0).unwrap(),
        "https://h/seed/my%20dir/a.txt"
    );
    assert_eq!(
        file_url("https://h/seed/", &m.info, 1).unwrap(),
        "https://h/seed/my%20dir/sub/b%231.txt"
    );
}

#[test]
fn untrusted_urls_are_validated_deduplicated_and_bounded() {
    let mut w = WebSeeds::new();
    for bad in [
        "ftp://h/x",
        "http://h/x?a=1",
        "http://h/x#f",
        "http:// h/x",
        "http:///x",
        "javascript:alert(1)",
    ] {
        assert!(w.add(bad).is_err(), "{bad} accepted");
    }
    assert_eq!(
        w.add(&format!("http://h/{}", "a".repeat(3000))),
        Err(WebSeedUrlError::TooLong)
    );
    assert_eq!(w.add("http://h/1/"), Ok(0));
    assert_eq!(w.add("http://h/1/"), Ok(0), "a duplicate is the same seed");
    for i in 2..=MAX_WEB_SEEDS {
        w.add(&format!("http://h/{i}/")).unwrap();
    }
    assert_eq!(w.add("http://h/more/"), Err(WebSeedUrlError::TooMany));
}

// ---- ranges ---------------------------------------------------------------------------------

#[test]
fn a_run_spanning_files_is_one_part_per_file_and_pad_files_are_not_fetched() {
    let m = folder(
        "d",
        &[
            ("a", bytes(10_000, 1)),
            ("b", bytes(20_000, 2)),
            ("c", bytes(5, 3)),
        ],
    );
    let all = 0..m.info.num_pieces();
    let ps = parts(&m.info, &all);
    let got: Vec<(usize, Range<u64>, usize)> = ps
        .iter()
        .map(|p| (p.file, p.range.clone(), p.offset))
        .collect();
    assert_eq!(
        got,
        vec![(0, 0..10_000, 0), (1, 0..20_000, 10_000), (2, 0..5, 30_000)]
    );
    // The second piece starts inside file b.
    let second = parts(&m.info, &(1..2));
    assert_eq!(second[0].file, 1);
    assert_eq!(second[0].range.start, u64::from(PIECE) - 10_000);
    let mut padded = m.info.clone();
    padded.files[1].padding = true;
    assert!(parts(&padded, &all)[1].padding);
}

#[test]
fn a_torrent_with_no_peers_downloads_from_one_web_seed_in_large_ranges() {
    let data = bytes(40 * PIECE as usize + 123, 7);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://seed/files/").unwrap();
    let files = BTreeMap::from([("http://seed/files/f.bin".to_string(), data.clone())]);
    let made = drive(&mut w, &mut t, Duration::ZERO, |r| honest(&files, r));
    assert!(t.is_complete());
    assert_eq!(verified(&mut t), 41);
    // Large contiguous ranges: a handful of requests, each up to RUN_BYTES.
    assert!(
        made.iter()
            .all(|r| r.range.end - r.range.start <= RUN_BYTES)
    );
    assert!(made.len() < 41, "{} requests for 41 pieces", made.len());
    assert_eq!(
        made[0].range_header(),
        format!("bytes=0-{}", made[0].range.end - 1)
    );
    assert_eq!(
        made[0].max_body as u64,
        made[0].range.end - made[0].range.start + 1
    );
    assert!(events(&mut w).is_empty());
}

#[test]
fn a_multi_file_torrent_downloads_with_one_request_per_file_touched() {
    let a = bytes(3 * PIECE as usize + 10, 1);
    let b = bytes(10, 2);
    let c = bytes(2 * PIECE as usize, 3);
    let m = folder(
        "dir",
        &[("a", a.clone()), ("sub/b", b.clone()), ("c", c.clone())],
    );
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://seed/base").unwrap();
    let files = BTreeMap::from([
        ("http://seed/base/dir/a".to_string(), a),
        ("http://seed/base/dir/sub/b".to_string(), b),
        ("http://seed/base/dir/c".to_string(), c),
    ]);
    let made = drive(&mut w, &mut t, Duration::ZERO, |r| honest(&files, r));
    assert!(t.is_complete());
    let urls: std::collections::BTreeSet<&str> = made.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls.len(), 3, "{urls:?}");
}

// ---- bad servers ----------------------------------------------------------------------------

#[test]
fn a_seed_serving_bad_data_is_dropped_and_a_good_one_finishes() {
    let data = bytes(20 * PIECE as usize, 5);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    let liar = w.add("http://liar/").unwrap();
    w.add("http://good/").unwrap();
    let mut files = BTreeMap::new();
    files.insert("http://good/f.bin".to_string(), data.clone());
    let mut bad = data.clone();
    bad[3 * PIECE as usize + 1] ^= 0xff;
    files.insert("http://liar/f.bin".to_string(), bad);
    drive(&mut w, &mut t, Duration::ZERO, |r| honest(&files, r));
    assert!(t.is_complete());
    let ev = events(&mut w);
    assert!(
        ev.iter()
            .any(|e| matches!(e, WebSeedEvent::Dropped { seed, reason, .. }
            if *seed == liar && reason.contains("bad data"))),
        "{ev:?}"
    );
    assert!(matches!(w.stats()[liar].state, SeedState::Dropped { .. }));
    assert!(t.webseed_claimed().is_empty());
}

#[test]
fn a_200_with_a_small_whole_file_is_used_and_a_large_one_drops_the_seed() {
    let small = bytes(3 * PIECE as usize, 9);
    let m = single("s.bin", &small);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://h/s.bin").unwrap();
    drive(&mut w, &mut t, Duration::ZERO, |_| WebSeedResponse {
        status: 200,
        body: small.clone(),
        ..Default::default()
    });
    assert!(t.is_complete(), "a small file served whole is fine");

    let large = bytes(WHOLE_FILE_MAX as usize + PIECE as usize, 9);
    let m = single("l.bin", &large);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://h/l.bin").unwrap();
    drive(&mut w, &mut t, Duration::ZERO, |r| WebSeedResponse {
        status: 200,
        // The driver stops reading at max_body.
        body: large[..r.max_body.min(large.len())].to_vec(),
        ..Default::default()
    });
    assert!(!t.is_complete());
    let ev = events(&mut w);
    assert!(
        matches!(&ev[..], [WebSeedEvent::Dropped { reason, .. }] if reason.contains("range")),
        "{ev:?}"
    );
    assert!(t.webseed_claimed().is_empty(), "claims released");
    assert!(w.poll_request(&mut t, Duration::ZERO).is_none());
}

#[test]
fn a_wrong_content_range_drops_the_seed() {
    let data = bytes(RUN_BYTES as usize + 1, 4);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://h/f.bin").unwrap();
    let r = w.poll_request(&mut t, Duration::ZERO).unwrap();
    let len = (r.range.end - r.range.start) as usize;
    let resp = WebSeedResponse {
        status: 206,
        // The right length, shifted by one byte (a CDN answering the wrong range).
        content_range: Some(format!("bytes 1-{len}/{}", data.len())),
        body: data[1..len + 1].to_vec(),
        ..Default::default()
    };
    w.handle_response(&mut t, r.id, resp, Duration::ZERO);
    assert!(matches!(w.stats()[0].state, SeedState::Dropped { .. }));
    assert!(t.webseed_claimed().is_empty());
}

#[test]
fn retry_after_is_honoured_and_repeated_failures_drop_the_seed() {
    let data = bytes(4 * PIECE as usize, 4);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://h/f.bin").unwrap();
    let mut now = Duration::ZERO;
    let r = w.poll_request(&mut t, now).unwrap();
    w.handle_response(
        &mut t,
        r.id,
        WebSeedResponse {
            status: 503,
            retry_after: Some("30".into()),
            ..Default::default()
        },
        now,
    );
    assert!(t.webseed_claimed().is_empty(), "claims released on failure");
    assert_eq!(
        w.stats()[0].state,
        SeedState::Backoff {
            until: Duration::from_secs(30)
        }
    );
    assert!(w.poll_request(&mut t, Duration::from_secs(29)).is_none());
    assert_eq!(w.poll_timeout(), Some(Duration::from_secs(30)));
    // Then plain failures, each backing off longer, until the seed is dropped.
    for n in 1..MAX_FAILURES {
        now = w.poll_timeout().unwrap();
        w.handle_timeout(&mut t, now);
        let r = w
            .poll_request(&mut t, now)
            .expect("a retry after the backoff");
        w.handle_failed(&mut t, r.id, "connection refused", now);
        if n + 1 < MAX_FAILURES {
            let SeedState::Backoff { until } = w.stats()[0].state else {
                panic!("{:?}", w.stats()[0].state)
            };
            assert_eq!(until - now, BACKOFF_BASE * (1 << n));
        }
    }
    assert!(matches!(w.stats()[0].state, SeedState::Dropped { .. }));
    assert!(matches!(
        events(&mut w).last(),
        Some(WebSeedEvent::Dropped { .. })
    ));
    assert_eq!(w.poll_timeout(), None, "nothing left to wait for");
}

#[test]
fn a_request_past_its_deadline_fails_and_its_late_answer_is_ignored() {
    let data = bytes(4 * PIECE as usize, 4);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://h/f.bin").unwrap();
    let r = w.poll_request(&mut t, Duration::ZERO).unwrap();
    let mut now = Duration::ZERO;
    while now < REQUEST_TIMEOUT {
        assert!(matches!(w.stats()[0].state, SeedState::Ready), "at {now:?}");
        now = w.poll_timeout().expect("the deadline is scheduled");
        w.handle_timeout(&mut t, now);
    }
    assert_eq!(now, REQUEST_TIMEOUT);
    assert!(matches!(w.stats()[0].state, SeedState::Backoff { .. }));
    assert!(t.webseed_claimed().is_empty());
    let files = BTreeMap::from([("http://h/f.bin".to_string(), data)]);
    w.handle_response(&mut t, r.id, honest(&files, &r), REQUEST_TIMEOUT);
    assert_eq!(verified(&mut t), 0, "a late answer is not used");
}

#[test]
fn requests_in_flight_are_bounded_per_torrent_and_per_seed() {
    let data = bytes(4 * RUN_BYTES as usize, 1);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://a/f.bin").unwrap();
    let mut one = Vec::new();
    while let Some(r) = w.poll_request(&mut t, Duration::ZERO) {
        one.push(r);
    }
    assert_eq!(one.len(), MAX_REQUESTS_PER_SEED);
    w.add("http://b/f.bin").unwrap();
    w.add("http://c/f.bin").unwrap();
    let mut more = 0;
    while w.poll_request(&mut t, Duration::ZERO).is_some() {
        more += 1;
    }
    assert_eq!(one.len() + more, MAX_REQUESTS_IN_FLIGHT);
}

#[test]
fn download_rates_follow_the_bytes_and_settle_to_zero() {
    let data = bytes(8 * PIECE as usize, 4);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    let mut w = WebSeeds::new();
    w.add("http://h/f.bin").unwrap();
    let files = BTreeMap::from([("http://h/f.bin".to_string(), data.clone())]);
    drive(&mut w, &mut t, Duration::ZERO, |r| honest(&files, r));
    assert!(t.is_complete());
    // A rate is an average over ticks: the next tick (1 s later) shows the whole file.
    assert_eq!(w.poll_timeout(), Some(CHECK_INTERVAL));
    w.handle_timeout(&mut t, CHECK_INTERVAL);
    assert_eq!(w.stats()[0].download_rate, data.len() as f64);
    assert_eq!(w.download_rate(), data.len() as f64);
    // Idle afterwards: the average decays to zero and the ticks stop.
    let mut ticks = 0;
    while let Some(at) = w.poll_timeout() {
        w.handle_timeout(&mut t, at);
        ticks += 1;
        assert!(ticks < 100, "rate ticks never stop");
    }
    assert_eq!(w.download_rate(), 0.0);
}

// ---- when to use web seeds ------------------------------------------------------------------

#[test]
fn web_seeds_wait_while_peers_are_fast_enough_and_step_in_when_they_are_slow() {
    let data = bytes(4 * PIECE as usize, 4);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    // One connected peer that sends nothing: rate 0.
    t.handle_connect(1, Duration::ZERO);
    let mut hs = Vec::new();
    Handshake::new(m.info_hash.0, *b"-XX0001-slowpeer0000").encode_into(&mut hs);
    Message::Unchoke.encode_into(&mut hs);
    t.handle_data(1, &hs, Duration::ZERO);
    assert_eq!(t.stats().peers, 1);
    let mut w = WebSeeds::new();
    w.add("http://h/f.bin").unwrap();
    assert!(
        w.poll_request(&mut t, Duration::ZERO).is_none(),
        "give the peer a chance"
    );
    let mut now = Duration::ZERO;
    while now < SLOW_FOR {
        now = w.poll_timeout().expect("a check is scheduled");
        w.handle_timeout(&mut t, now);
        if now < SLOW_FOR {
            assert!(w.poll_request(&mut t, now).is_none(), "at {now:?}");
        }
    }
    assert!(
        w.poll_request(&mut t, now).is_some(),
        "slow peers: the web seed helps"
    );
}

#[test]
fn web_seeds_stay_idle_while_peers_are_fast() {
    let data = bytes(64 * PIECE as usize, 6);
    let m = single("f.bin", &data);
    let mut t = engine(&m);
    t.handle_connect(1, Duration::ZERO);
    let mut hello = Vec::new();
    Handshake::new(m.info_hash.0, *b"-XX0001-fastpeer0000").encode_into(&mut hello);
    Message::Bitfield(crate::engine::Bitfield::full(64).as_bytes().to_vec())
        .encode_into(&mut hello);
    Message::Unchoke.encode_into(&mut hello);
    t.handle_data(1, &hello, Duration::ZERO);
    // The peer answers every request at once: 32 blocks (512 KiB) in the first second.
    let mut decoder = crate::wire::Decoder::new();
    let mut served = 0;
    while served < 32 {
        while let Some(out) = t.poll_transmit(1, 1 << 20) {
            decoder.push(&out);
        }
        let mut answers = Vec::new();
        while let Ok(Some(frame)) = decoder.next() {
            let crate::wire::Frame::Message(Message::Request(b)) = frame else {
                continue;
            };
            let start = (b.index * PIECE + b.begin) as usize;
            Message::Piece {
                index: b.index,
                begin: b.begin,
                data: data[start..start + b.length as usize].to_vec(),
            }
            .encode_into(&mut answers);
            served += 1;
        }
        assert!(!answers.is_empty(), "no requests after {served} blocks");
        t.handle_data(1, &answers, Duration::from_millis(500));
    }
    t.handle_timeout(Duration::from_secs(1));
    assert!(
        t.stats().download_rate >= SLOW_PEERS_BYTES_PER_S,
        "{}",
        t.stats().download_rate
    );
    let mut w = WebSeeds::new();
    w.add("http://h/f.bin").unwrap();
    for s in 1..=2 * SLOW_FOR.as_secs() {
        assert!(
            w.poll_request(&mut t, Duration::from_secs(s)).is_none(),
            "at {s} s"
        );
    }
}

// ---- untrusted headers ----------------------------------------------------------------------

#[test]
fn content_range_parsing_is_strict() {
    assert_eq!(
        parse_content_range("bytes 0-99/1000"),
        Some(ContentRange {
            first: 0,
            last: 99,
            total: Some(1000)
        })
    );
    assert_eq!(
        parse_content_range("bytes 5-5/*").map(|c| c.total),
        Some(None)
    );
    for bad in [
        "bytes */1000",
        "bytes 9-1/10",
        "bytes 0-10/10",
        "bytes -1-5/10",
        "bytes 0-99999999999999999999999/*",
        "items 0-1/2",
        "bytes 0-1",
        "",
    ] {
        assert_eq!(parse_content_range(bad), None, "{bad}");
    }
    assert_eq!(
        parse_content_range(&format!("bytes 0-1/2{}", " ".repeat(300))),
        None
    );
}

#[test]
fn retry_after_is_delta_seconds_clamped() {
    assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
    assert_eq!(parse_retry_after("99999999"), Some(MAX_RETRY_AFTER));
    for bad in [
        "",
        "-1",
        "1.5",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "9999999999999999999999",
    ] {
        assert_eq!(parse_retry_after(bad), None, "{bad}");
    }
}
