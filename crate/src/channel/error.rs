use thiserror::Error;

/// Why a channel is refused or does not verify. One line. A server answers [`TooLarge`] with
/// 413 and everything else with 400.
///
/// [`TooLarge`]: ChannelError::TooLarge
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChannelError {
    #[error(
        "channel manifest is {bytes} bytes, over the {max}-byte limit",
        max = super::MAX_MANIFEST_BYTES
    )]
    TooLarge { bytes: usize },
    /// Not JSON, the wrong shape, or a field out of bounds; the text says which field.
    #[error("invalid channel manifest: {0}")]
    Invalid(String),
    /// Within bounds, but not signed by its address over exactly this content.
    #[error("channel signature does not verify: {0}")]
    BadSignature(String),
    /// A work's torrent names another creator, or its creator record does not verify.
    /// `work` is the torrent's name.
    #[error("work {work:?}: {reason}")]
    WrongCreator { work: String, reason: String },
}

impl ChannelError {
    pub(super) fn invalid(
        field: impl core::fmt::Display,
        problem: impl core::fmt::Display,
    ) -> Self {
        ChannelError::Invalid(format!("{field}: {problem}"))
    }
}
