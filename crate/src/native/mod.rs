//! Native-only code (never built for wasm32): the CLI's file-system helpers and the native
//! peer — WebRTC connections ([`rtc`]), tracker WebSockets ([`tracker_socket`]), the tokio run
//! loop around the sans-IO session ([`driver`]) and the `seed` / `download` commands ([`run`]).

mod create_from_path;
// pub mod driver; (needs session::Session: enabled after merging h14-session)
pub mod rtc;
pub mod tracker_socket;

pub use create_from_path::{CreateFromPathError, create_from_path, create_unsigned_from_path};
