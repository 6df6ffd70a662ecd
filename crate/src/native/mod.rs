//! Native-only code (never built for wasm32): the CLI's file-system helpers and the parts of
//! the native peer that are not networking — arguments ([`args`]), preparing a torrent to seed
//! or download ([`prepare`]), its files on disk ([`files`]), resume ([`resume`]) and the
//! progress display ([`progress`]), and the web seed HTTP client ([`webseed_http`]). The
//! driver is [`run`].

pub mod args;
mod create_from_path;
pub mod files;
pub mod prepare;
pub mod progress;
pub mod resume;
pub mod run;
pub mod webseed_http;

pub use create_from_path::{CreateFromPathError, create_from_path, create_unsigned_from_path};
