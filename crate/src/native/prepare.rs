//! Turning `seed` and `download` arguments into a torrent ready for the session: hashed or
//! parsed, files opened, what is already on disk verified.

use crate::create::{CreateOptions, CreatorOptions};

use super::args::SeedArgs;

/// The options `seed` creates its torrent with (as `seedcast create` would), with `creator`
/// already resolved to a signer (see [`super::args::CreatorArgs::signer`]).
pub fn create_options(args: &SeedArgs, creator: Option<CreatorOptions>) -> CreateOptions {
    CreateOptions {
        name: args.name.clone().unwrap_or_default(),
        piece_length: args.piece_length,
        trackers: args.trackers.clone(),
        created_by: Some(concat!("seedcast/", env!("CARGO_PKG_VERSION")).to_owned()),
        creator,
        ..CreateOptions::default()
    }
}
