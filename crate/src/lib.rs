//! Seedcast: a BitTorrent peer whose core is a sans-IO engine.
//!
//! The arrow of dependencies goes from drivers to the engine, never back:
//!
//! * [`bencode`], [`metainfo`], [`magnet`], [`create`] — the torrent formats (BEP 3, 9, 12, 19).
//! * [`creator`] — creator records: an EIP-712-signed creator identity inside `info`.
//! * [`channel`] — channels: a creator's EIP-712-signed list of works (creator pages).
//! * [`tip`] — tipping a creator in BTT: amounts, chains, wallet answers, the tip state machine.
//! * [`wire`] — the peer wire codec (BEP 3, 6, 9, 10) over any byte stream.
//! * [`engine`] — torrent and peer state machines, picker, choker, storage trait. No sockets,
//!   clocks or randomness of its own: time and a seed come in as inputs.
//! * [`session`] — decisions above one torrent, without I/O: which trackers stay open and
//!   may signal for which torrent, which torrents a driver can hold.
//! * `native` — (not wasm32) file-system helpers for the CLI.
//!
//! Everything a peer, tracker, torrent file or magnet link sends is untrusted: every length,
//! count and depth is bounded, and errors are values with a one-line `Display`.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod bencode;
pub mod channel;
pub mod create;
pub mod creator;
pub mod engine;
pub mod magnet;
pub mod metainfo;
pub mod session;
pub mod tip;
pub mod wire;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod web;
