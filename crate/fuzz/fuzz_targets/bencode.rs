//! Bencode: decoding never panics, raw spans are exact, and encoding is a canonical fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::bencode::{decode, decode_prefix};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode(data) {
        assert_eq!(
            value.raw(),
            data,
            "a whole-input value spans the whole input"
        );
        let owned = value.to_owned_value();
        let canonical = owned.encode();
        let again = decode(&canonical).expect("our own encoding decodes");
        assert_eq!(
            again.to_owned_value(),
            owned,
            "encode then decode is the identity"
        );
        assert_eq!(
            again.to_owned_value().encode(),
            canonical,
            "canonical form is a fixed point"
        );
    }
    if let Ok((value, used)) = decode_prefix(data) {
        assert!(used <= data.len());
        assert_eq!(value.raw(), &data[..used]);
        assert_eq!(decode(&data[..used]).ok(), Some(value));
    }
});
