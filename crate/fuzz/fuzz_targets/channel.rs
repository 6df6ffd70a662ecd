//! Channel manifests from arbitrary text: no panics; whatever parses is within every bound,
//! writes back to JSON that parses to the same channel (one reading per manifest), and
//! verifies (or not) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::channel::{MAX_MANIFEST_BYTES, MAX_WORKS, SignedChannel};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(signed) = SignedChannel::parse_json(text) {
        assert!(signed.channel.works.len() <= MAX_WORKS);
        assert_eq!(signed.channel.validate(), Ok(()));
        let json = signed.to_json();
        assert!(json.len() <= MAX_MANIFEST_BYTES);
        assert_eq!(SignedChannel::parse_json(&json).as_ref(), Ok(&signed));
        let _ = signed.verify();
        let _ = signed.typed_data_json();
    }
});
