//! Channels end to end: signing, verifying, tampering, every bound, strict parsing.

use super::*;
use crate::create::{CreateOptions, CreatorOptions, CreatorSigner, TorrentBuilder};
use crate::creator::{CreatorKey, keccak256};
use crate::metainfo::Metainfo;

fn key(seed: &[u8]) -> CreatorKey {
    CreatorKey::from_bytes(&keccak256(seed)).unwrap()
}

fn hash(n: u8) -> [u8; 20] {
    [n; 20]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn work(n: u8) -> Work {
    Work {
        info_hash: hash(n),
        magnet: format!(
            "magnet:?xt=urn:btih:{}&dn=video{n}.webm&tr=wss%3A%2F%2Ftracker.example",
            hex(&hash(n))
        ),
        title: format!("Video {n} — “quoted” \"and\" \\ escaped"),
        poster: None,
        published: 1_764_700_000 + u64::from(n),
    }
}

/// A tiny valid PNG-signature poster.
fn poster() -> String {
    poster_data_uri(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01").unwrap()
}

fn channel(works: u8) -> Channel {
    let mut channel = Channel::empty(key(b"ada").address(), "Ada Lovelace");
    channel.sequence = 3;
    channel.works = (1..=works).map(work).collect();
    if let Some(first) = channel.works.first_mut() {
        first.poster = Some(poster());
    }
    channel
}

fn signed(works: u8) -> SignedChannel {
    channel(works).sign(&key(b"ada"))
}

fn invalid(channel: &Channel) -> String {
    match channel.validate() {
        Err(ChannelError::Invalid(text)) => text,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn sign_verify_and_json_round_trip() {
    let signed = signed(3);
    assert_eq!(signed.verify(), Ok(()));
    let json = signed.to_json();
    let parsed = SignedChannel::parse_json(&json).unwrap();
    assert_eq!(parsed, signed);
    assert_eq!(parsed.verify(), Ok(()));
    assert_eq!(parsed.to_json(), json, "deterministic");

    // The documented shape, keys in order, address checksummed, hex lower case.
    let address = key(b"ada").address().to_checksum();
    assert!(
        json.starts_with(&format!(
            r#"{{"address":"{address}","name":"Ada Lovelace","sequence":3,"works":[{{"infoHash":"{}","magnet":"magnet:?"#,
            hex(&hash(1))
        )),
        "{json}"
    );
    assert!(json.contains(
        r#","title":"Video 1 — “quoted” \"and\" \\ escaped","poster":"data:image/png;base64,"#
    ));
    assert!(json.contains(r#""poster":null,"published":1764700002}"#));
    assert!(json.ends_with(&format!(
        r#"],"signature":"{}"}}"#,
        signed.signature.to_hex()
    )));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 5);

    // A signature is deterministic (RFC 6979).
    assert_eq!(channel(3).sign(&key(b"ada")), signed);
}

#[test]
fn an_empty_channel_signs_and_parses() {
    let signed = Channel::empty(key(b"ada").address(), "").sign(&key(b"ada"));
    let parsed = SignedChannel::parse_json(&signed.to_json()).unwrap();
    assert_eq!(parsed.verify(), Ok(()));
    assert!(parsed.channel.works.is_empty());
}

#[test]
fn sign_makes_the_channel_the_signers() {
    let mut channel = channel(1);
    channel.address = key(b"someone else").address();
    let signed = channel.sign(&key(b"ada"));
    assert_eq!(signed.channel.address, key(b"ada").address());
    assert_eq!(signed.verify(), Ok(()));
}

type Tamper = Box<dyn Fn(&mut Channel)>;

#[test]
fn tampering_with_any_signed_field_fails_verification() {
    let original = signed(2);
    let tampers: Vec<(&str, Tamper)> = vec![
        (
            "address",
            Box::new(|c| c.address = key(b"mallory").address()),
        ),
        ("name", Box::new(|c| c.name.push('!'))),
        ("sequence", Box::new(|c| c.sequence += 1)),
        ("works removed", Box::new(|c| drop(c.works.pop()))),
        ("works reordered", Box::new(|c| c.works.reverse())),
        ("work added", Box::new(|c| c.works.push(work(9)))),
        (
            "infoHash and magnet",
            Box::new(|c| {
                let other = work(7);
                c.works[0].info_hash = other.info_hash;
                c.works[0].magnet = other.magnet;
            }),
        ),
        ("magnet", Box::new(|c| c.works[0].magnet.push_str("&tr=x"))),
        ("title", Box::new(|c| c.works[1].title.push('.'))),
        (
            "poster added",
            Box::new(|c| c.works[1].poster = Some(poster())),
        ),
        ("poster removed", Box::new(|c| c.works[0].poster = None)),
        (
            "poster changed",
            Box::new(|c| {
                c.works[0].poster = Some(poster_data_uri(&[0xff, 0xd8, 0xff, 0]).unwrap())
            }),
        ),
        ("published", Box::new(|c| c.works[0].published -= 1)),
    ];
    for (what, tamper) in tampers {
        let mut tampered = original.clone();
        tamper(&mut tampered.channel);
        assert_eq!(
            tampered.channel.validate(),
            Ok(()),
            "{what}: still valid content"
        );
        assert!(
            matches!(tampered.verify(), Err(ChannelError::BadSignature(_))),
            "{what}"
        );
        // And through the JSON a server stores.
        let reparsed = SignedChannel::parse_json(&tampered.to_json()).unwrap();
        assert!(reparsed.verify().is_err(), "{what}");
    }
    let mut bad_signature = original.clone();
    bad_signature.signature.0[10] ^= 1;
    assert!(matches!(
        bad_signature.verify(),
        Err(ChannelError::BadSignature(_))
    ));
}

#[test]
fn signature_forms_as_for_creator_records() {
    let original = signed(1);
    // v as 0/1 is accepted.
    let mut zero_based = original.clone();
    zero_based.signature.0[64] -= 27;
    assert_eq!(zero_based.verify(), Ok(()));
    // v out of range, and the high-s twin of a valid signature, are refused.
    let mut bad_v = original.clone();
    bad_v.signature.0[64] = 29;
    assert!(matches!(bad_v.verify(), Err(ChannelError::BadSignature(e)) if e.contains("v = 29")));
    let mut high_s = original.clone();
    high_s.signature.0[32] |= 0x80;
    assert!(matches!(high_s.verify(), Err(ChannelError::BadSignature(e)) if e.contains("high s")));
}

#[test]
fn with_signature_accepts_the_signer_only() {
    let channel = channel(2);
    let good = channel.clone().sign(&key(b"ada")).signature;
    assert_eq!(
        channel.clone().with_signature(good).unwrap().signature,
        good
    );
    // Mallory signs Ada's channel (sign would re-address it; sign the digest directly).
    let forged = key(b"mallory").sign_prehash(&channel.signing_hash());
    let error = channel.clone().with_signature(forged).unwrap_err();
    assert!(
        matches!(&error, ChannelError::BadSignature(e) if e.contains(&key(b"mallory").address().to_checksum())),
        "{error}"
    );
    // Out-of-bounds content is refused even with a valid signature.
    let mut long = channel;
    long.name = "x".repeat(65);
    let signature = long.clone().sign(&key(b"ada")).signature;
    assert!(matches!(
        long.with_signature(signature),
        Err(ChannelError::Invalid(_))
    ));
}

#[test]
fn name_bounds() {
    let mut c = channel(1);
    c.name = "é".repeat(32);
    assert_eq!(c.validate(), Ok(()), "64 bytes");
    c.name.push('x');
    assert!(invalid(&c).starts_with("name: "));
    for hidden in ["a\nb", "a\u{202E}b", "\u{0}"] {
        c.name = hidden.into();
        assert!(invalid(&c).contains("control"), "{hidden:?}");
    }
}

#[test]
fn title_bounds() {
    let mut c = channel(1);
    c.works[0].title = "t".repeat(MAX_TITLE_BYTES);
    assert_eq!(c.validate(), Ok(()));
    c.works[0].title.push('t');
    assert!(invalid(&c).starts_with("works[0]: title is 201 bytes"));
    c.works[0].title = String::new();
    assert!(invalid(&c).contains("title is 0 bytes"));
    c.works[0].title = "tab\there".into();
    assert!(invalid(&c).contains("control"));
}

#[test]
fn magnet_bounds_and_matching_info_hash() {
    let mut c = channel(2);
    let base = c.works[1].magnet.clone();
    c.works[1].magnet = format!(
        "{base}&x={}",
        "a".repeat(MAX_WORK_MAGNET_BYTES - base.len() - 3)
    );
    assert_eq!(c.works[1].magnet.len(), MAX_WORK_MAGNET_BYTES);
    assert_eq!(c.validate(), Ok(()));
    c.works[1].magnet.push('a');
    assert!(invalid(&c).starts_with("works[1]: magnet is 2049 bytes"));
    for bad in ["\u{1b}[2J", " ", "\n", "é"] {
        c.works[1].magnet = format!("{}&dn={bad}", work(2).magnet);
        assert!(
            invalid(&c).contains("characters a URI cannot have"),
            "{bad:?}"
        );
    }
    c.works[1].magnet = "https://example.com/video.webm".into();
    assert!(invalid(&c).contains("not a magnet link"));
    c.works[1].magnet = work(5).magnet;
    assert!(invalid(&c).contains("magnet names info hash 0505"));
    // A base32 magnet naming the same hash is fine (the parser normalises it).
    let hex_hash = "c9e15763f722f23e98a29decdfae341b98d53056";
    c.works[1].info_hash = crate::creator::hex::decode_0x(&format!("0x{hex_hash}")).unwrap();
    c.works[1].magnet = "magnet:?xt=urn:btih:ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW".into();
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn poster_bounds() {
    let mut c = channel(1);
    c.works[0].poster = Some("data:image/gif;base64,R0lGODlh".into());
    assert!(invalid(&c).starts_with("works[0]: poster: "));
    c.works[0].poster = Some(format!("{}{}", poster(), "A".repeat(MAX_POSTER_BYTES)));
    assert!(invalid(&c).contains("32768"));
}

#[test]
fn works_count_and_duplicates() {
    let mut c = channel(0);
    c.works = (0..=199u8).map(work).collect();
    assert_eq!(c.works.len(), MAX_WORKS);
    assert_eq!(c.validate(), Ok(()));
    c.works.push(work(200));
    assert_eq!(invalid(&c), "works: 201 works, more than 200");
    c.works.truncate(3);
    c.works.push(work(1));
    assert_eq!(
        invalid(&c),
        "works[3]: the same infoHash as an earlier work"
    );
}

#[test]
fn upsert_replaces_by_info_hash_in_place() {
    let mut c = channel(3);
    let mut replacement = work(2);
    replacement.title = "Renamed".into();
    c.upsert_work(replacement);
    assert_eq!(c.works.len(), 3);
    assert_eq!(c.works[1].title, "Renamed");
    c.upsert_work(work(4));
    assert_eq!(c.works.len(), 4);
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn integers_stay_javascript_safe() {
    let mut c = channel(1);
    c.sequence = MAX_SAFE_INTEGER;
    c.works[0].published = MAX_SAFE_INTEGER;
    assert_eq!(c.validate(), Ok(()));
    let signed = c.clone().sign(&key(b"ada"));
    assert_eq!(SignedChannel::parse_json(&signed.to_json()), Ok(signed));
    c.sequence += 1;
    assert_eq!(invalid(&c), "sequence: above 2^53 - 1");
    c.sequence = 1;
    c.works[0].published += 1;
    assert_eq!(invalid(&c), "works[0]: published is above 2^53 - 1");
}

#[test]
fn whole_manifest_size_is_bounded() {
    // 200 works with big posters: each within bounds, together over 2 MiB.
    let big = {
        let mut image = vec![7u8; 24_000];
        image[..3].copy_from_slice(&[0xff, 0xd8, 0xff]);
        poster_data_uri(&image).unwrap()
    };
    let mut c = channel(0);
    c.works = (0..100u8).map(work).collect();
    for w in &mut c.works {
        w.poster = Some(big.clone());
    }
    let bytes = c.clone().sign(&key(b"ada")).to_json().len();
    assert!(bytes > MAX_MANIFEST_BYTES);
    assert_eq!(c.validate(), Err(ChannelError::TooLarge { bytes }));
    c.works.truncate(60);
    assert_eq!(c.validate(), Ok(()));

    // Parsing checks the size before anything else: even non-JSON over the limit is TooLarge.
    let huge = " ".repeat(MAX_MANIFEST_BYTES + 1);
    assert_eq!(
        SignedChannel::parse_json(&huge),
        Err(ChannelError::TooLarge {
            bytes: MAX_MANIFEST_BYTES + 1
        })
    );
    assert_eq!(
        ChannelError::TooLarge { bytes: 5 }.to_string(),
        "channel manifest is 5 bytes, over the 2097152-byte limit"
    );
}

/// Replaces `from` by `to` in a valid manifest's JSON and parses it.
fn parse_edited(from: &str, to: &str) -> Result<SignedChannel, ChannelError> {
    let json = signed(2).to_json();
    assert!(json.contains(from), "{from}");
    SignedChannel::parse_json(&json.replacen(from, to, 1))
}

fn parse_error(from: &str, to: &str) -> String {
    match parse_edited(from, to) {
        Err(ChannelError::Invalid(text)) => text,
        other => panic!("{from} → {to}: expected Invalid, got {other:?}"),
    }
}

#[test]
fn parsing_is_strict() {
    assert!(parse_error(r#""name":"#, r#""extra":1,"name":"#).contains("unknown field `extra`"));
    assert!(parse_error(r#""title":"#, r#""size":1,"title":"#).contains("unknown field `size`"));
    assert!(
        parse_error(r#""name":"#, r#""name":"Eve","name":"#).contains("duplicate field `name`")
    );
    assert!(parse_error(r#""sequence":3"#, r#""sequence":-3"#).contains("invalid value"));
    assert!(parse_error(r#""sequence":3"#, r#""sequence":3.0"#).contains("invalid type"));
    assert!(parse_error(r#""sequence":3"#, r#""sequence":"3""#).contains("invalid type"));
    assert!(parse_error(r#""sequence":3,"#, "").contains("missing field `sequence`"));
    assert!(
        parse_error(r#""published":1764700001"#, r#""published":null"#).contains("invalid type")
    );
    assert!(parse_error(r#"{"address":"#, r#"[{"address":"#).contains("expected"));
    assert!(parse_error(r#""works":["#, r#""works":{"#).contains("expected"));
    let hash1 = hex(&hash(1));
    // Upper-case hex (the magnet agrees, so only the spelling is wrong).
    let json = signed(2).to_json().replace(&hash1, &"ab".repeat(20));
    let upper = json.replacen(&"ab".repeat(20), &"AB".repeat(20), 1);
    assert_eq!(
        SignedChannel::parse_json(&upper),
        Err(ChannelError::Invalid(
            "works[0].infoHash: expected 40 lower-case hex digits".into()
        ))
    );
    assert!(SignedChannel::parse_json(&json).is_ok());
    assert_eq!(
        parse_error(
            &format!(r#""infoHash":"{hash1}"#),
            &format!(r#""infoHash":"0x{hash1}"#)
        ),
        "works[0].infoHash: expected 40 lower-case hex digits"
    );
    // A wrong EIP-55 checksum, a short address, a bad signature.
    let address = key(b"ada").address().to_checksum();
    let letter = address[2..]
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap()
        + 2;
    let mut flipped = address.clone();
    let c = address.as_bytes()[letter] as char;
    let swapped = if c.is_ascii_uppercase() {
        c.to_ascii_lowercase()
    } else {
        c.to_ascii_uppercase()
    };
    flipped.replace_range(letter..=letter, &swapped.to_string());
    assert!(parse_error(&address, &flipped).contains("checksum"));
    assert!(parse_error(&address, "0x1234").starts_with("address: "));
    assert!(parse_error(r#","signature":"0x"#, r#","signature":"0xzz"#).starts_with("signature: "));
    assert!(parse_error(r#","signature":"#, r#","sig":"#).contains("unknown field `sig`"));
    // Lower-case address and an absent poster are fine.
    let lower = parse_edited(&address, &address.to_lowercase()).unwrap();
    assert_eq!(lower.verify(), Ok(()));
    assert_eq!(
        lower.to_json(),
        signed(2).to_json(),
        "written back canonical"
    );
    let without_poster = parse_edited(r#""poster":null,"#, "").unwrap();
    assert_eq!(without_poster.verify(), Ok(()));
}

#[test]
fn unsigned_manifests_parse_for_signing() {
    let channel = channel(2);
    let json = channel.to_json();
    assert!(!json.contains("signature"));
    assert_eq!(Channel::parse_json(&json), Ok(channel.clone()));
    assert!(matches!(
        SignedChannel::parse_json(&json),
        Err(ChannelError::Invalid(e)) if e.contains("signature")
    ));
    // A signed one reads as unsigned too (to edit and re-sign).
    assert_eq!(Channel::parse_json(&signed(2).to_json()), Ok(channel));
}

#[test]
fn typed_data_spells_the_signed_types() {
    let c = channel(2);
    let typed: serde_json::Value = serde_json::from_str(&c.typed_data_json()).unwrap();
    let encode = |name: &str| {
        let fields: Vec<String> = typed["types"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["type"].as_str().unwrap(),
                    f["name"].as_str().unwrap()
                )
            })
            .collect();
        format!("{name}({})", fields.join(","))
    };
    assert_eq!(encode("Work"), WORK_TYPE);
    assert_eq!(
        format!("{}{}", encode("Channel"), encode("Work")),
        CHANNEL_TYPE
    );
    assert_eq!(
        encode("EIP712Domain"),
        "EIP712Domain(string name,string version)"
    );
    assert_eq!(typed["primaryType"], "Channel");
    assert_eq!(
        typed["domain"],
        serde_json::json!({"name": "Seedcast", "version": "1"})
    );
    let message = &typed["message"];
    assert_eq!(message["creator"], c.address.to_checksum());
    assert_eq!(message["name"], "Ada Lovelace");
    assert_eq!(message["sequence"], 3);
    assert_eq!(
        message["works"][0]["infoHash"],
        format!("0x{}", hex(&hash(1)))
    );
    assert_eq!(message["works"][0]["title"], c.works[0].title);
    assert_eq!(message["works"][0]["magnet"], c.works[0].magnet);
    assert_eq!(
        message["works"][0]["poster"],
        format!("0x{}", hex(&keccak256(poster().as_bytes())))
    );
    assert_eq!(
        message["works"][1]["poster"],
        format!("0x{}", "0".repeat(64))
    );
    assert_eq!(message["works"][1]["published"], 1_764_700_002u64);
}

fn torrent(creator: Option<&CreatorKey>) -> Metainfo {
    let options = CreateOptions {
        name: "video.webm".into(),
        piece_length: Some(16384),
        creator: creator.map(|key| CreatorOptions {
            name: "Ada".into(),
            signer: CreatorSigner::Key(key.clone()),
        }),
        ..CreateOptions::default()
    };
    let data = vec![1u8; 20_000];
    let mut builder = TorrentBuilder::single_file(options, data.len() as u64).unwrap();
    builder.update(&data).unwrap();
    builder.finish().unwrap()
}

#[test]
fn a_works_creator_record_must_name_the_channel() {
    let ada = key(b"ada").address();
    assert_eq!(check_work_creator(&torrent(None).info, &ada), Ok(()));
    assert_eq!(
        check_work_creator(&torrent(Some(&key(b"ada"))).info, &ada),
        Ok(())
    );
    let error = check_work_creator(&torrent(Some(&key(b"bob"))).info, &ada).unwrap_err();
    assert!(
        matches!(&error, ChannelError::WrongCreator { work, reason }
            if work == "video.webm" && reason.contains(&key(b"bob").address().to_checksum())),
        "{error}"
    );
    // A record that does not verify (its name edited) is refused even naming Ada.
    let mut info = torrent(Some(&key(b"ada"))).info;
    if let Some(Ok(record)) = &mut info.creator {
        record.name = "Eve".into();
    }
    assert!(matches!(
        check_work_creator(&info, &ada),
        Err(ChannelError::WrongCreator { reason, .. }) if reason.contains("does not verify")
    ));
}

#[test]
fn errors_are_one_line() {
    let errors = [
        ChannelError::TooLarge { bytes: 1 },
        ChannelError::Invalid("x".into()),
        ChannelError::BadSignature("y".into()),
        ChannelError::WrongCreator {
            work: "a\nb".into(),
            reason: "z".into(),
        },
    ];
    for error in errors {
        assert!(!error.to_string().contains('\n'), "{error}");
    }
}
