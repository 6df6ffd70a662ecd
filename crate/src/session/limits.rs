//! Torrents a driver cannot hold safely are refused with a one-line error, before they cost
//! memory.

/// Largest piece length the browser driver accepts. A wasm32 page has at most 4 GiB of
/// memory, and a piece is held whole in several places at once: one partial piece buffer
/// per peer downloading it (up to 200 peers), the verified-piece cache (at least 4 pieces,
/// see `web/storage.rs`) and pieces waiting to be written. At 16 MiB that is already
/// gigabytes in the worst case; above it a single torrent file or metadata answer could
/// exhaust the page's memory and crash the tab. Real torrents stay at or below 16 MiB
/// (libtorrent's and WebTorrent's creators max out there).
pub const MAX_BROWSER_PIECE_LENGTH: u32 = 16 * 1024 * 1024;

/// A torrent's pieces are too large for the browser driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "pieces of {} MiB are too large for a browser tab (at most {} MiB)",
    .0.div_ceil(1024 * 1024),
    MAX_BROWSER_PIECE_LENGTH / (1024 * 1024)
)]
pub struct PieceLengthTooLarge(pub u32);

/// Whether the browser driver can hold a torrent with pieces of `piece_length` bytes.
pub fn check_browser_piece_length(piece_length: u32) -> Result<(), PieceLengthTooLarge> {
    if piece_length > MAX_BROWSER_PIECE_LENGTH {
        return Err(PieceLengthTooLarge(piece_length));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_sixteen_mib_is_accepted() {
        assert_eq!(check_browser_piece_length(16 * 1024), Ok(()));
        assert_eq!(check_browser_piece_length(MAX_BROWSER_PIECE_LENGTH), Ok(()));
    }

    #[test]
    fn larger_pieces_are_refused_with_a_clear_line() {
        let error = check_browser_piece_length(MAX_BROWSER_PIECE_LENGTH + 1).unwrap_err();
        assert_eq!(
            error.to_string(),
            "pieces of 17 MiB are too large for a browser tab (at most 16 MiB)"
        );
        let error = check_browser_piece_length(32 * 1024 * 1024).unwrap_err();
        assert_eq!(
            error.to_string(),
            "pieces of 32 MiB are too large for a browser tab (at most 16 MiB)"
        );
    }
}
