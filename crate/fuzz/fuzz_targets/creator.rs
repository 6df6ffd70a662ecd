//! Creator records from arbitrary bytes: the record value is spliced into an otherwise valid
//! `info` dictionary. No panics; a malformed record never makes the torrent invalid; whatever
//! parses keeps its bounds and re-encodes to the same record. The tail of the input also
//! drives signature recovery directly with arbitrary prehash and signature bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::bencode;
use seedcast::creator::{CreatorStatus, MAX_NAME_BYTES, Signature, recover};
use seedcast::metainfo::Info;

fuzz_target!(|data: &[u8]| {
    let mut info = b"d6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaa16:seedcast creator".to_vec();
    info.extend_from_slice(data);
    info.push(b'e');
    match Info::from_bytes(&info) {
        Ok(info) => {
            assert_eq!(info.total_length, 1);
            let record = info.creator.clone().expect("the key is present");
            match info.creator_status().expect("the key is present") {
                CreatorStatus::Verified { address, name } => {
                    let record = record.as_ref().expect("a verified record parsed");
                    assert_eq!((&address, &name), (&record.address, &record.name));
                }
                CreatorStatus::Unverified { .. } => {}
            }
            if let Ok(record) = record {
                assert!(record.name.len() <= MAX_NAME_BYTES);
                let encoded = record.to_bencode().encode();
                let reparsed = bencode::decode(&encoded).expect("own encoding decodes");
                assert_eq!(
                    reparsed.get("name").and_then(|v| v.as_str()),
                    Some(record.name.as_str())
                );
                assert_eq!(
                    reparsed.get("sig").and_then(|v| v.as_bytes()),
                    Some(&record.signature.0[..])
                );
            }
        }
        // Only bytes that are not one bencode value (within the depth and count bounds) can
        // break the dictionary; a malformed record never does (see the tests).
        Err(_) => {}
    }

    if data.len() >= 97 {
        let prehash: [u8; 32] = data[..32].try_into().unwrap();
        let signature = Signature::from_slice(&data[32..97]).unwrap();
        if recover(&prehash, &signature).is_ok() {
            assert!(signature.0[32] <= 0x7f, "high s accepted");
        }
    }
});
