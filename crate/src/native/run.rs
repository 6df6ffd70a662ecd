//! Placeholder until the native driver lands (it replaces this file).

use thiserror::Error;

use super::args::{DownloadArgs, SeedArgs};

#[derive(Debug, Error)]
pub enum RunError {
    #[error("the native peer is not built yet")]
    NotReady,
}

/// Seeds `args.path` until SIGINT/SIGTERM.
pub fn seed(_args: SeedArgs) -> Result<(), RunError> {
    Err(RunError::NotReady)
}

/// Downloads `args.source` into `args.out_dir`.
pub fn download(_args: DownloadArgs) -> Result<(), RunError> {
    Err(RunError::NotReady)
}
