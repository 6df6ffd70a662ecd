//! `Session::handle_tracker_message` on arbitrary text from a tracker that serves one of the
//! session's two torrents: no panics, and nothing done for the torrent it does not serve (no
//! connection for it, no warning shown on it). Input: messages separated by NUL bytes.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use seedcast::engine::{Config, MemoryStorage, Torrent};
use seedcast::metainfo::InfoHash;
use seedcast::session::{Output, Session, SessionConfig, SessionEvent};

const HONEST: [u8; 20] = [0x11; 20];
const SERVED: [u8; 20] = [0x4d; 20];

fn session() -> (Session, u32) {
    let now = Duration::ZERO;
    let mut session = Session::new(
        SessionConfig {
            peer_id: *b"-SC0100-fuzzfuzzfuzz",
            seed: 1,
            max_peers: 20,
            upload_limit: None,
            browser_limits: true,
            engine: Config::default(),
        },
        now,
    );
    for (hash, url) in [(HONEST, "wss://honest.test"), (SERVED, "wss://hostile.test")] {
        let engine = Torrent::from_info_hash(
            InfoHash(hash),
            Box::new(MemoryStorage::new()),
            session.engine_config(&hash),
            now,
        );
        session
            .add_torrent(engine, &[url.to_owned()], now)
            .expect("added");
    }
    let mut hostile = None;
    while let Some(output) = session.poll_output() {
        if let Output::ConnectTracker { tracker, url } = output {
            if url == "wss://hostile.test" {
                hostile = Some(tracker);
            }
            session.handle_tracker_open(tracker, now);
        }
    }
    while session.poll_output().is_some() {}
    (session, hostile.expect("hostile tracker connected"))
}

fuzz_target!(|data: &[u8]| {
    let (mut session, hostile) = session();
    let mut now = Duration::from_secs(1);
    for chunk in data.split(|&b| b == 0) {
        let text = String::from_utf8_lossy(chunk);
        session.handle_tracker_message(hostile, &text, now);
        while let Some(output) = session.poll_output() {
            match output {
                Output::AcceptOffer { conn, .. } => {
                    assert_eq!(session.conn_torrent(conn), Some(SERVED))
                }
                Output::Event(SessionEvent::Warning { torrent, .. }) => {
                    assert_ne!(torrent, Some(HONEST))
                }
                _ => {}
            }
        }
        now += Duration::from_millis(100);
        session.handle_timeout(now);
        while session.poll_output().is_some() {}
    }
});
