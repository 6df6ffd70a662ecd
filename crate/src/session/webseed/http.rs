//! The two response headers a web seed's answer is judged by. Both are untrusted input:
//! bounded in length, parsed strictly, never panicking.

use std::time::Duration;

/// Longer header values are refused: a real `Content-Range` or `Retry-After` is < 80 bytes.
pub const MAX_HEADER_BYTES: usize = 200;
/// Longest `Retry-After` honoured: a server may ask us to wait, not to give up for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// A parsed `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL may be `*`, unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// Inclusive byte positions, as in the header.
    pub first: u64,
    pub last: u64,
    pub total: Option<u64>,
}

/// Parses a `Content-Range` value of a 206 answer. `None` for anything else (including the
/// `bytes */TOTAL` form of a 416, and ranges where last < first or last ≥ total).
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    if value.len() > MAX_HEADER_BYTES {
        return None;
    }
    let rest = value.trim().strip_prefix("bytes")?;
    let rest = rest.strip_prefix([' ', '='])?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let first = parse_u64(first)?;
    let last = parse_u64(last)?;
    let total = match total.trim() {
        "*" => None,
        t => Some(parse_u64(t)?),
    };
    if last < first || total.is_some_and(|t| last >= t) {
        return None;
    }
    Some(ContentRange { first, last, total })
}

/// Parses `Retry-After` as delta-seconds, clamped to [`MAX_RETRY_AFTER`]. The HTTP-date form
/// needs a wall clock this layer does not have: `None`, and the default backoff applies.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    if value.len() > MAX_HEADER_BYTES {
        return None;
    }
    let value = value.trim();
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        // Longer than 12 digits is longer than MAX_RETRY_AFTER anyway, but is refused
        // rather than risk overflow.
        return None;
    }
    let secs: u64 = value.parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// Plain decimal digits only (no sign, no spaces inside), at most 20 of them, no overflow.
fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
