//! Native-only helpers (never built for wasm32): reading files from disk for the CLI.

mod create_from_path;

pub use create_from_path::{CreateFromPathError, create_from_path, create_unsigned_from_path};
