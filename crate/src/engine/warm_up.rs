//! A small download between two engines in memory, with no network: run once when a page
//! loads the wasm, so that the download path is compiled before the first real piece comes.
//!
//! Why: V8 compiles a wasm function only when it is first called (a quick baseline tier),
//! and recompiles the hot ones with its optimising tier on background threads later. A page
//! that had loaded Seedcast but not yet downloaded anything paid all of that in the first
//! few hundred milliseconds of its first stream: traced in Chromium (bench-stream, warm view,
//! 2 cores), 20–30 ms of lazy compilation on the main thread, SHA-1 at ~28 ms/MiB instead of
//! ~1.4, and 90–100 ms of optimising compilation competing with the video's decoder, all
//! between the metadata and the first frame.
//!
//! This runs the same code on a few pieces ahead of time: wire encoding and decoding, the
//! handshake and extension handshake, the picker, piece verification and memory storage.

use std::time::Duration;

use super::{Bitfield, Config, MemoryStorage, Torrent};
use crate::create::{CreateOptions, TorrentBuilder};

/// The content size and piece size of the warm-up torrent: enough SHA-1 work (twice the
/// content: hashing at creation, verifying at the leecher) to make V8 optimise it.
const CONTENT_BYTES: u32 = 512 * 1024;
const PIECE_BYTES: u32 = 16 * 1024;
/// Bound on the exchange (it needs a few dozen rounds); a bug must not spin forever.
const MAX_ROUNDS: u32 = 2_000;
const PEER: u64 = 1;

/// Downloads [`CONTENT_BYTES`] from one engine to another in memory; returns the bytes the
/// leecher downloaded once it is complete (0 if it did not complete).
pub fn loopback_download() -> u64 {
    let content: Vec<u8> = (0..CONTENT_BYTES).map(|i| (i * 7 % 251) as u8).collect();
    let options = CreateOptions {
        name: "warm-up".into(),
        piece_length: Some(PIECE_BYTES),
        ..Default::default()
    };
    let Ok(mut builder) = TorrentBuilder::single_file(options, content.len() as u64) else {
        return 0;
    };
    let Ok(meta) = builder.update(&content).and_then(|()| builder.finish()) else {
        return 0;
    };
    let pieces = CONTENT_BYTES.div_ceil(PIECE_BYTES);
    let now = Duration::ZERO;
    let engine = |seed: u64, storage: MemoryStorage, have: Option<Bitfield>| {
        let config = Config {
            peer_id: Config::peer_id_from_seed(seed),
            seed,
            ..Config::default()
        };
        Torrent::new(
            meta.info_hash,
            meta.info.clone(),
            meta.info_bytes.clone(),
            Box::new(storage),
            have,
            config,
            now,
        )
    };
    let mut seeder = engine(
        1,
        MemoryStorage::from_content(&content, PIECE_BYTES),
        Some(Bitfield::full(pieces)),
    );
    let mut leecher = engine(2, MemoryStorage::new(), None);
    seeder.handle_connect(PEER, now);
    leecher.handle_connect(PEER, now);
    let mut now = now;
    for _ in 0..MAX_ROUNDS {
        let mut moved = false;
        while let Some(bytes) = seeder.poll_transmit(PEER, usize::MAX) {
            leecher.handle_data(PEER, &bytes, now);
            moved = true;
        }
        while let Some(bytes) = leecher.poll_transmit(PEER, usize::MAX) {
            seeder.handle_data(PEER, &bytes, now);
            moved = true;
        }
        while seeder.poll_event().is_some() {}
        while leecher.poll_event().is_some() {}
        if leecher.is_complete() {
            break;
        }
        if !moved {
            // Nothing to say until a timer is due (the first requests wait for a tick).
            now = now.max(leecher.poll_timeout().min(seeder.poll_timeout()));
            seeder.handle_timeout(now);
            leecher.handle_timeout(now);
        }
    }
    if leecher.is_complete() {
        leecher.stats().downloaded
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warm_up_downloads_everything() {
        assert_eq!(loopback_download(), u64::from(CONTENT_BYTES));
    }
}
