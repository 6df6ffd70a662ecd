//! Native-only code (never built for wasm32): the CLI's file-system helpers and the native
//! peer — arguments ([`args`]), preparing a torrent to seed or download ([`prepare`]), its files
//! on disk ([`files`]), resume ([`resume`]), the progress display ([`progress`]), WebRTC
//! connections ([`rtc`]), tracker WebSockets ([`tracker_socket`]), the web seed HTTP client
//! ([`webseed_http`]), the tokio run loop around the sans-IO session ([`driver`]) and the
//! `seed` / `download` commands ([`run`]).

pub mod args;
mod create_from_path;
pub mod driver;
pub mod files;
pub mod prepare;
pub mod progress;
pub mod resume;
pub mod rtc;
pub mod run;
pub mod tracker_socket;
pub mod webseed_http;

pub use create_from_path::{CreateFromPathError, create_from_path, create_unsigned_from_path};
