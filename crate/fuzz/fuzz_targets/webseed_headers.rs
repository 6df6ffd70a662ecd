//! Web seed response headers (untrusted): `Content-Range` and `Retry-After` never panic, and
//! what parses is consistent (first ≤ last < total, a bounded wait).
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::session::webseed::{MAX_RETRY_AFTER, parse_content_range, parse_retry_after};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(cr) = parse_content_range(text) {
        assert!(cr.first <= cr.last);
        assert!(cr.total.is_none_or(|t| cr.last < t));
    }
    if let Some(wait) = parse_retry_after(text) {
        assert!(wait <= MAX_RETRY_AFTER);
    }
});
