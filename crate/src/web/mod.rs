//! The browser driver (wasm32 only): runs the sans-IO engine over WebRTC data channels,
//! signals through WebTorrent-compatible WebSocket trackers, and exposes a JavaScript API.
//!
//! * [`api`] — the wasm-bindgen classes `Client` and `Torrent`.
//! * [`client`] — client state, the `Session` it drives, the single entry point for browser
//!   callbacks; [`driver`] — runs the session's outputs (sockets, peer connections, sends);
//!   [`events`] — the session's events as the page's notes.
//! * [`tracker`] — one tracker WebSocket (its JSON messages: `session::tracker_proto`).
//! * [`swarm`] — one torrent's browser side: storage, streams, names.
//! * [`peer_conn`] — one RTCPeerConnection and its data channel, owning its closures;
//!   [`offer_pool`] — offers made ahead of need, so an announce need not wait for them.
//! * [`seed`] — hashing local files into a new torrent; [`files`] — reading content back.
//! * [`storage`] — the bounded piece cache in front of [`store`] (the page's OPFS /
//!   IndexedDB worker) or the seeded files; [`resume`] — opening storage, resuming from it.
//! * [`notes`], [`js_glue`] — event queue, browser helpers.
//! * [`wallet`] — EIP-6963 discovery and EIP-1193 requests; [`tip`] — runs the core's tip
//!   state machine on a wallet and has wallets sign creator records; [`creator`] —
//!   `torrent.creator`; [`tips`] — `client.tips()`, tips per work from the TipJar's logs
//!   over [`chain_rpc`] (JSON-RPC to the site's chain); [`channels`] — creator channels
//!   (verified in the page; publishing a work with a wallet signature); [`http`] — bounded
//!   `fetch`.
//! * [`stream`] — `FileStream`: reading a file as it downloads (streaming windows), for the
//!   service worker behind `<video>`.
//! * [`webseed`] — BEP 19 web seeds: `fetch` with `Range` for `session::webseed`.

pub mod api;
mod chain_rpc;
mod channels;
mod client;
mod creator;
mod driver;
mod events;
mod files;
mod gc_pacing;
mod hashing;
mod http;
mod js_glue;
mod notes;
mod offer_pool;
mod peer_conn;
mod resume;
mod seed;
mod storage;
mod store;
mod stream;
mod swarm;
mod tip;
mod tips;
mod tracker;
mod wallet;
mod webseed;

pub use api::{Client, Torrent};
pub use stream::FileStream;
