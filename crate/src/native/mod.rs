//! Native-only code (never built for wasm32): the CLI's file-system helpers and the pieces of
//! the native peer that are not networking — arguments, preparing a torrent to seed or
//! download, files on disk, resume, progress display.

pub mod args;
mod create_from_path;
pub mod prepare;
pub mod run;

pub use create_from_path::{CreateFromPathError, create_from_path, create_unsigned_from_path};
