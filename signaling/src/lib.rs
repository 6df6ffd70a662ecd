//! seedcast-signal: a WebTorrent-compatible WebSocket tracker (signaling server) that also serves the web app.
//!
//! Clients announce on a WebSocket with WebRTC offers; the tracker relays each offer to one random other peer
//! of the swarm and forwards the answer back. See `README.md` for the protocol and the operator's guide.

pub mod chain;
pub mod channels;
pub mod client_ip;
pub mod config;
mod connection;
mod creator_page;
pub mod metrics;
pub mod outbox;
mod server;
pub mod static_files;
pub mod swarm;
pub mod tracker;
pub mod web_headers;
pub mod websocket;

pub use config::{Config, Limits};
pub use server::{serve, serve_with_channels};
