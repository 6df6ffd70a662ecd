//! Records end to end: signing, verifying, tampering and malformed input.

use std::collections::BTreeMap;

use super::*;
use crate::bencode::{OwnedValue, decode};
use crate::create::{CreateError, CreateOptions, CreatorOptions, CreatorSigner, TorrentBuilder};
use crate::metainfo::{Info, Metainfo};

/// secp256k1 group order n, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

fn key(seed: &[u8]) -> CreatorKey {
    CreatorKey::from_bytes(&keccak256(seed)).unwrap()
}

fn make_torrent(creator: Option<CreatorOptions>) -> Result<Metainfo, CreateError> {
    let options = CreateOptions {
        name: "video.webm".into(),
        piece_length: Some(16384),
        creator,
        ..CreateOptions::default()
    };
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
    let mut builder = TorrentBuilder::single_file(options, data.len() as u64)?;
    builder.update(&data)?;
    builder.finish()
}

fn signed_by(key: &CreatorKey, name: &str) -> Metainfo {
    make_torrent(Some(CreatorOptions {
        name: name.into(),
        signer: CreatorSigner::Key(key.clone()),
    }))
    .unwrap()
}

/// The torrent's `info` with `edit` applied, re-encoded and parsed again.
fn edited(torrent: &Metainfo, edit: impl FnOnce(&mut BTreeMap<Vec<u8>, OwnedValue>)) -> Info {
    let OwnedValue::Dict(mut info) = decode(&torrent.info_bytes).unwrap().to_owned_value() else {
        unreachable!("info is a dictionary")
    };
    edit(&mut info);
    Info::from_bytes(&OwnedValue::Dict(info).encode()).unwrap()
}

/// Replaces one field of the record inside `info`.
fn with_record_field(torrent: &Metainfo, field: &str, value: OwnedValue) -> Info {
    edited(torrent, |info| {
        let Some(OwnedValue::Dict(record)) = info.get_mut(INFO_KEY.as_bytes()) else {
            unreachable!("a signed torrent has a record")
        };
        record.insert(field.as_bytes().to_vec(), value);
    })
}

fn unverified_reason(info: &Info) -> CreatorError {
    match info.creator_status() {
        Some(CreatorStatus::Unverified { reason }) => reason,
        other => panic!("expected unverified, got {other:?}"),
    }
}

#[test]
fn sign_then_recover_round_trips_with_low_s() {
    let key = key(b"alice");
    for i in 0..20u8 {
        let digest = keccak256(&[i]);
        let signature = key.sign_prehash(&digest);
        assert!(matches!(signature.0[64], 27 | 28));
        assert!(signature.0[32] < 0x80, "low s");
        assert_eq!(recover(&digest, &signature), Ok(key.address()));
        // v as 0/1 is accepted too.
        let mut zero_based = signature;
        zero_based.0[64] -= 27;
        assert_eq!(recover(&digest, &zero_based), Ok(key.address()));
        assert_ne!(recover(&keccak256(b"other"), &signature), Ok(key.address()));
    }
}

#[test]
fn high_s_bad_v_and_junk_signatures_are_refused() {
    let key = key(b"alice");
    let digest = keccak256(b"message");
    let signature = key.sign_prehash(&digest);
    // The malleable twin (r, n - s, flipped v) is a valid ECDSA signature by the same key.
    let mut twin = signature;
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let diff = i16::from(ORDER[i]) - i16::from(signature.0[32 + i]) - borrow;
        twin.0[32 + i] = diff.rem_euclid(256) as u8;
        borrow = i16::from(diff < 0);
    }
    twin.0[64] = if signature.0[64] == 27 { 28 } else { 27 };
    assert_eq!(recover(&digest, &twin), Err(CreatorError::HighS));

    for v in [2u8, 26, 29, 255] {
        let mut bad = signature;
        bad.0[64] = v;
        assert_eq!(
            recover(&digest, &bad),
            Err(CreatorError::InvalidRecoveryByte(v))
        );
    }
    let mut zero_r = signature;
    zero_r.0[..32].fill(0);
    assert_eq!(
        recover(&digest, &zero_r),
        Err(CreatorError::InvalidSignature)
    );
    let mut r_too_big = signature;
    r_too_big.0[..32].fill(0xff);
    assert_eq!(
        recover(&digest, &r_too_big),
        Err(CreatorError::InvalidSignature)
    );
    assert_eq!(
        Signature::from_slice(&[0; 64]),
        Err(CreatorError::SignatureLength(64))
    );
}

#[test]
fn key_files_are_strict() {
    let hex = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    let key = CreatorKey::from_key_file(hex).unwrap();
    assert_eq!(
        CreatorKey::from_key_file(&format!("{hex}\n")),
        Ok(key.clone())
    );
    assert_eq!(
        CreatorKey::from_key_file(&format!("{hex}\r\n")),
        Ok(key.clone())
    );
    // web3.js's documented example key and its address.
    assert_eq!(
        key.address().to_checksum(),
        "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    );
    for bad in [
        &hex[2..],
        &format!("{hex}\n\n"),
        &format!(" {hex}"),
        &hex[..65],
        "",
    ] {
        assert_eq!(
            CreatorKey::from_key_file(bad),
            Err(CreatorError::InvalidKeyFormat),
            "{bad:?}"
        );
    }
    let zero = format!("0x{}", "0".repeat(64));
    assert_eq!(
        CreatorKey::from_key_file(&zero),
        Err(CreatorError::InvalidKey)
    );
    assert!(
        !format!("{key:?}").contains(&hex[2..]),
        "Debug hides the key"
    );
}

#[test]
fn signed_torrent_verifies_and_covers_the_record() {
    let alice = key(b"alice");
    let torrent = signed_by(&alice, "Alice ✓");
    let plain = make_torrent(None).unwrap();
    assert_eq!(plain.info.creator, None);
    assert_eq!(plain.info.creator_status(), None);
    assert_ne!(
        torrent.info_hash, plain.info_hash,
        "the record is inside info"
    );
    assert_eq!(
        torrent.info.creator_status(),
        Some(CreatorStatus::Verified {
            address: alice.address(),
            name: "Alice ✓".into()
        })
    );
    let Some(Ok(record)) = &torrent.info.creator else {
        panic!("record parsed")
    };
    // `content` is keccak256 of the unsigned info, exactly as documented.
    assert_eq!(record.content, keccak256(&plain.info_bytes));
    // Deterministic: same key, content and name give the same torrent.
    assert_eq!(signed_by(&alice, "Alice ✓").to_bytes(), torrent.to_bytes());
    // The same record reads the same from a bare info dictionary (ut_metadata).
    assert_eq!(Info::from_bytes(&torrent.info_bytes).unwrap(), torrent.info);
}

#[test]
fn any_change_to_content_name_or_address_unverifies() {
    let alice = key(b"alice");
    let torrent = signed_by(&alice, "Alice");

    let renamed = edited(&torrent, |info| {
        info.insert(b"name".to_vec(), OwnedValue::bytes("other.webm"));
    });
    assert!(matches!(
        unverified_reason(&renamed),
        CreatorError::WrongSigner { .. }
    ));
    let repieced = edited(&torrent, |info| {
        let Some(OwnedValue::Bytes(pieces)) = info.get_mut(b"pieces".as_slice()) else {
            unreachable!()
        };
        pieces[0] ^= 1;
    });
    assert!(matches!(
        unverified_reason(&repieced),
        CreatorError::WrongSigner { .. }
    ));
    let extra_key = edited(&torrent, |info| {
        info.insert(b"private".to_vec(), OwnedValue::Int(1));
    });
    assert!(matches!(
        unverified_reason(&extra_key),
        CreatorError::WrongSigner { .. }
    ));

    let other_name = with_record_field(&torrent, "name", OwnedValue::bytes("Mallory"));
    assert!(matches!(
        unverified_reason(&other_name),
        CreatorError::WrongSigner { .. }
    ));
    let mallory = key(b"mallory").address();
    let other_address = with_record_field(&torrent, "address", OwnedValue::bytes(mallory.0));
    assert!(matches!(
        unverified_reason(&other_address),
        CreatorError::WrongSigner { claimed, .. } if claimed == mallory
    ));
    // A record signed by Mallory but claiming Alice's address.
    let forged =
        CreatorRecord::sign(&key(b"mallory"), "Alice", record_of(&torrent).content).unwrap();
    let forged = with_record_field(&torrent, "sig", OwnedValue::bytes(forged.signature.0));
    assert!(matches!(
        unverified_reason(&forged),
        CreatorError::WrongSigner { .. }
    ));
}

fn record_of(torrent: &Metainfo) -> CreatorRecord {
    torrent.info.creator.clone().unwrap().unwrap()
}

#[test]
fn malformed_records_load_as_unverified() {
    let torrent = signed_by(&key(b"alice"), "Alice");
    let cases: Vec<(Info, CreatorError)> = vec![
        (
            with_record_field(&torrent, "address", OwnedValue::bytes([1u8; 19])),
            CreatorError::AddressLength(19),
        ),
        (
            with_record_field(&torrent, "sig", OwnedValue::bytes([1u8; 66])),
            CreatorError::SignatureLength(66),
        ),
        (
            with_record_field(&torrent, "name", OwnedValue::bytes(vec![b'a'; 65])),
            CreatorError::NameTooLong(65),
        ),
        (
            with_record_field(&torrent, "name", OwnedValue::bytes(vec![0xff, 0xfe])),
            CreatorError::NameNotUtf8,
        ),
        (
            with_record_field(&torrent, "name", OwnedValue::bytes("Alice\u{202E}")),
            CreatorError::NameNotDisplayable,
        ),
        (
            with_record_field(&torrent, "name", OwnedValue::Int(1)),
            CreatorError::WrongType("name"),
        ),
        (
            with_record_field(&torrent, "tip", OwnedValue::bytes("x")),
            CreatorError::UnknownKey,
        ),
        (
            edited(&torrent, |info| {
                info.insert(INFO_KEY.as_bytes().to_vec(), OwnedValue::bytes("x"));
            }),
            CreatorError::NotADictionary,
        ),
        (
            edited(&torrent, |info| {
                info.insert(
                    INFO_KEY.as_bytes().to_vec(),
                    OwnedValue::Dict(BTreeMap::new()),
                );
            }),
            CreatorError::MissingField("address"),
        ),
    ];
    for (info, expected) in cases {
        assert_eq!(info.total_length, torrent.info.total_length, "still loads");
        assert_eq!(unverified_reason(&info), expected);
    }
}

#[test]
fn external_signatures_must_verify() {
    let bob = key(b"bob");
    let plain = make_torrent(None).unwrap();
    let content = keccak256(&plain.info_bytes);
    // What a wallet would do with the typed data: sign the EIP-712 digest.
    let signature = bob.sign_prehash(&creator_signing_hash(&bob.address(), "Bob", &content));
    let external = |name: &str, address: Address| {
        make_torrent(Some(CreatorOptions {
            name: name.into(),
            signer: CreatorSigner::Signature { address, signature },
        }))
    };
    let signed = external("Bob", bob.address()).unwrap();
    assert_eq!(signed.to_bytes(), signed_by(&bob, "Bob").to_bytes());
    assert!(matches!(
        external("Bobby", bob.address()),
        Err(CreateError::Creator(CreatorError::WrongSigner { .. }))
    ));
    assert!(matches!(
        external("Bob", key(b"carol").address()),
        Err(CreateError::Creator(CreatorError::WrongSigner { .. }))
    ));
    assert!(matches!(
        make_torrent(Some(CreatorOptions {
            name: "x".repeat(65),
            signer: CreatorSigner::Key(bob),
        })),
        Err(CreateError::Creator(CreatorError::NameTooLong(65)))
    ));
}
