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
//! This runs the same code on a few pieces ahead of time: torrent creation, wire encoding and
//! decoding, the handshake and extension handshake, the picker, piece verification and memory
//! storage. It runs in small steps ([`LoopbackWarmUp::step`]), so a page can spread it over
//! idle moments: run as one task (~25–50 ms on a cold page) it fell on the moment a page's
//! first offers were ready and delayed its first announce by as much.

use std::time::Duration;

use super::{Bitfield, Config, MemoryStorage, Torrent};
use crate::create::{CreateOptions, TorrentBuilder};

/// The content size and piece size of the warm-up torrent: enough SHA-1 work (twice the
/// content: hashing at creation, verifying at the leecher) to make V8 optimise it.
const CONTENT_BYTES: u32 = 512 * 1024;
const PIECE_BYTES: u32 = 16 * 1024;
/// Work per step: bytes hashed while creating, bytes moved per side while transferring.
const STEP_BYTES: usize = 64 * 1024;
/// Bound on the steps (the transfer needs about a hundred); a bug must not spin forever.
const MAX_STEPS: u32 = 2_000;
const PEER: u64 = 1;

enum Stage {
    Hashing {
        content: Vec<u8>,
        builder: Box<TorrentBuilder>,
        hashed: usize,
    },
    Transferring {
        seeder: Box<Torrent>,
        leecher: Box<Torrent>,
        now: Duration,
    },
    Done {
        downloaded: u64,
    },
}

/// The warm-up transfer, one bounded step at a time. Invariant: after [`MAX_STEPS`] steps it
/// is done, whatever happened.
pub struct LoopbackWarmUp {
    stage: Stage,
    steps: u32,
}

impl std::fmt::Debug for LoopbackWarmUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stage = match self.stage {
            Stage::Hashing { .. } => "hashing",
            Stage::Transferring { .. } => "transferring",
            Stage::Done { .. } => "done",
        };
        f.debug_struct("LoopbackWarmUp")
            .field("stage", &stage)
            .field("steps", &self.steps)
            .finish()
    }
}

impl Default for LoopbackWarmUp {
    fn default() -> Self {
        Self::new()
    }
}

impl LoopbackWarmUp {
    pub fn new() -> Self {
        let content: Vec<u8> = (0..CONTENT_BYTES).map(|i| (i * 7 % 251) as u8).collect();
        let options = CreateOptions {
            name: "warm-up".into(),
            piece_length: Some(PIECE_BYTES),
            ..Default::default()
        };
        let stage = match TorrentBuilder::single_file(options, content.len() as u64) {
            Ok(builder) => Stage::Hashing {
                content,
                builder: Box::new(builder),
                hashed: 0,
            },
            Err(_) => Stage::Done { downloaded: 0 },
        };
        LoopbackWarmUp { stage, steps: 0 }
    }

    /// Does one step (at most [`STEP_BYTES`] of hashing or of traffic each way); true once
    /// the transfer is over.
    pub fn step(&mut self) -> bool {
        self.steps += 1;
        let stage = std::mem::replace(&mut self.stage, Stage::Done { downloaded: 0 });
        self.stage = match stage {
            _ if self.steps > MAX_STEPS => Stage::Done { downloaded: 0 },
            Stage::Done { .. } => stage,
            Stage::Hashing {
                content,
                mut builder,
                hashed,
            } => {
                let end = (hashed + STEP_BYTES).min(content.len());
                if builder.update(&content[hashed..end]).is_err() {
                    Stage::Done { downloaded: 0 }
                } else if end < content.len() {
                    Stage::Hashing {
                        content,
                        builder,
                        hashed: end,
                    }
                } else {
                    start_transfer(&content, *builder)
                }
            }
            Stage::Transferring {
                mut seeder,
                mut leecher,
                mut now,
            } => {
                transfer_step(&mut seeder, &mut leecher, &mut now).unwrap_or(Stage::Transferring {
                    seeder,
                    leecher,
                    now,
                })
            }
        };
        matches!(self.stage, Stage::Done { .. })
    }

    /// The bytes the leecher downloaded once it completed (0 before, or if it did not).
    pub fn downloaded(&self) -> u64 {
        match self.stage {
            Stage::Done { downloaded } => downloaded,
            _ => 0,
        }
    }
}

/// Both engines, connected: a seeder of `content` and an empty leecher.
fn start_transfer(content: &[u8], builder: TorrentBuilder) -> Stage {
    let Ok(meta) = builder.finish() else {
        return Stage::Done { downloaded: 0 };
    };
    let now = Duration::ZERO;
    let engine = |seed: u64, storage: MemoryStorage, have: Option<Bitfield>| {
        let config = Config {
            peer_id: Config::peer_id_from_seed(seed),
            seed,
            ..Config::default()
        };
        Box::new(Torrent::new(
            meta.info_hash,
            meta.info.clone(),
            meta.info_bytes.clone(),
            Box::new(storage),
            have,
            config,
            now,
        ))
    };
    let pieces = CONTENT_BYTES.div_ceil(PIECE_BYTES);
    let mut seeder = engine(
        1,
        MemoryStorage::from_content(content, PIECE_BYTES),
        Some(Bitfield::full(pieces)),
    );
    let mut leecher = engine(2, MemoryStorage::new(), None);
    seeder.handle_connect(PEER, now);
    leecher.handle_connect(PEER, now);
    Stage::Transferring {
        seeder,
        leecher,
        now,
    }
}

/// One exchange: up to [`STEP_BYTES`] each way; the clock jumps to the next timer when
/// neither side had anything to say (the first requests wait for a tick).
fn transfer_step(seeder: &mut Torrent, leecher: &mut Torrent, now: &mut Duration) -> Option<Stage> {
    let mut moved = false;
    if let Some(bytes) = seeder.poll_transmit(PEER, STEP_BYTES) {
        leecher.handle_data(PEER, &bytes, *now);
        moved = true;
    }
    if let Some(bytes) = leecher.poll_transmit(PEER, STEP_BYTES) {
        seeder.handle_data(PEER, &bytes, *now);
        moved = true;
    }
    while seeder.poll_event().is_some() {}
    while leecher.poll_event().is_some() {}
    if leecher.is_complete() {
        return Some(Stage::Done {
            downloaded: leecher.stats().downloaded,
        });
    }
    if !moved {
        *now = (*now).max(leecher.poll_timeout().min(seeder.poll_timeout()));
        seeder.handle_timeout(*now);
        leecher.handle_timeout(*now);
    }
    None
}

/// The whole warm-up at once; returns the bytes the leecher downloaded (all of them when the
/// engine works).
pub fn loopback_download() -> u64 {
    let mut warm_up = LoopbackWarmUp::new();
    while !warm_up.step() {}
    warm_up.downloaded()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warm_up_downloads_everything_in_bounded_steps() {
        let mut warm_up = LoopbackWarmUp::new();
        let mut steps = 0;
        while !warm_up.step() {
            steps += 1;
        }
        assert_eq!(warm_up.downloaded(), u64::from(CONTENT_BYTES));
        assert!(steps < MAX_STEPS / 4, "{steps} steps");
        assert!(warm_up.step(), "stays done");
        assert_eq!(loopback_download(), u64::from(CONTENT_BYTES));
    }
}
