//! Native-only helpers (never built for wasm32): reading files from disk for the CLI, and the
//! web seed HTTP client ([`webseed_http`]).

mod create_from_path;
pub mod webseed_http;

pub use create_from_path::{CreateFromPathError, create_from_path, create_unsigned_from_path};
