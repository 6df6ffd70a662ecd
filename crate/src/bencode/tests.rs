use super::*;
use std::collections::BTreeMap;

fn err(input: &[u8]) -> BencodeError {
    decode(input).expect_err("input must be rejected")
}

#[test]
fn decodes_scalars() {
    assert_eq!(decode(b"i42e").unwrap().as_int(), Some(42));
    assert_eq!(decode(b"i-7e").unwrap().as_int(), Some(-7));
    assert_eq!(decode(b"i0e").unwrap().as_int(), Some(0));
    assert_eq!(
        decode(b"i9223372036854775807e").unwrap().as_int(),
        Some(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap().as_int(),
        Some(i64::MIN)
    );
    assert_eq!(decode(b"4:spam").unwrap().as_str(), Some("spam"));
    assert_eq!(decode(b"0:").unwrap().as_bytes(), Some(&b""[..]));
}

#[test]
fn rejects_non_canonical_integers() {
    for input in [
        &b"i-0e"[..],
        b"i03e",
        b"i-03e",
        b"ie",
        b"i-e",
        b"i1.5e",
        b"i+1e",
    ] {
        assert!(
            matches!(err(input), BencodeError::InvalidInteger { .. }),
            "{input:?}"
        );
    }
    assert!(matches!(
        err(b"i9223372036854775808e"),
        BencodeError::IntegerOverflow { .. }
    ));
    assert!(matches!(
        err(b"i-9223372036854775809e"),
        BencodeError::IntegerOverflow { .. }
    ));
}

#[test]
fn rejects_bad_string_lengths_before_allocating() {
    assert!(matches!(err(b"03:abc"), BencodeError::InvalidLength { .. }));
    assert!(matches!(
        err(b"5:abc"),
        BencodeError::LengthExceedsInput {
            length: 5,
            available: 3,
            ..
        }
    ));
    assert!(matches!(
        err(b"99999999999999999999:x"),
        BencodeError::InvalidLength { .. }
    ));
    assert!(matches!(
        err(b"18446744073709551615:x"),
        BencodeError::LengthExceedsInput { .. }
    ));
}

#[test]
fn rejects_truncated_and_trailing_input() {
    for input in [&b""[..], b"i12", b"l", b"d3:key", b"4:sp"] {
        assert!(decode(input).is_err(), "{input:?}");
    }
    assert_eq!(err(b"i1ei2e"), BencodeError::TrailingBytes { count: 3 });
}

#[test]
fn prefix_decode_reports_consumed_length() {
    let input = b"d8:msg_typei1e5:piecei0eeRAW PIECE DATA";
    let (value, used) = decode_prefix(input).unwrap();
    assert_eq!(value.get("msg_type").and_then(Value::as_int), Some(1));
    assert_eq!(&input[used..], b"RAW PIECE DATA");
}

#[test]
fn accepts_unsorted_keys_and_keeps_raw_spans() {
    let input = b"d4:zzzzi1e1:ad1:bi2eee";
    let value = decode(input).unwrap();
    assert_eq!(value.get("zzzz").and_then(Value::as_int), Some(1));
    let inner = value.get("a").unwrap();
    assert_eq!(inner.raw(), b"d1:bi2ee");
    assert_eq!(value.raw(), input);
    let keys: Vec<_> = value.as_dict().unwrap().iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"zzzz"[..], b"a"], "input order is kept");
}

#[test]
fn rejects_duplicate_keys_sorted_or_not() {
    assert!(matches!(
        err(b"d1:ai1e1:ai2ee"),
        BencodeError::DuplicateKey { .. }
    ));
    assert!(matches!(
        err(b"d1:bi1e1:ai2e1:bi3ee"),
        BencodeError::DuplicateKey { offset: 15 }
    ));
}

#[test]
fn rejects_non_string_keys() {
    assert!(matches!(
        err(b"di1ei2ee"),
        BencodeError::KeyNotString { .. }
    ));
}

#[test]
fn bounds_nesting_depth() {
    let deep = |n: usize| [vec![b'l'; n], vec![b'e'; n]].concat();
    assert!(decode(&deep(64)).is_ok());
    assert!(matches!(
        decode(&deep(65)),
        Err(BencodeError::TooDeep { max: 64, .. })
    ));
    // A million levels must fail cleanly rather than overflow the stack.
    assert!(matches!(
        decode(&deep(1_000_000)),
        Err(BencodeError::TooDeep { .. })
    ));
}

#[test]
fn bounds_value_count() {
    let limits = DecodeLimits {
        max_depth: 8,
        max_values: 3,
    };
    assert!(decode_with_limits(b"li1ei2ee", limits).is_ok());
    assert_eq!(
        decode_with_limits(b"li1ei2ei3ee", limits),
        Err(BencodeError::TooManyValues { max: 3 })
    );
}

#[test]
fn encodes_canonically_with_sorted_keys() {
    let mut dict = BTreeMap::new();
    dict.insert(b"zeta".to_vec(), OwnedValue::Int(-3));
    dict.insert(b"alpha".to_vec(), OwnedValue::string_list(["a", "b"]));
    dict.insert(b"raw".to_vec(), OwnedValue::Raw(b"de".to_vec()));
    assert_eq!(
        OwnedValue::Dict(dict).encode(),
        b"d5:alphal1:a1:be3:rawde4:zetai-3ee".to_vec()
    );
}

#[test]
fn unsorted_input_becomes_canonical_when_owned() {
    let value = decode(b"d1:bi1e1:ai2ee").unwrap();
    assert_eq!(value.to_owned_value().encode(), b"d1:ai2e1:bi1ee".to_vec());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn owned_value() -> impl Strategy<Value = OwnedValue> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(OwnedValue::Int),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(OwnedValue::Bytes),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(OwnedValue::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..8
                )
                .prop_map(OwnedValue::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(value in owned_value()) {
            let encoded = value.encode();
            let decoded = decode(&encoded).expect("own encoding must decode");
            prop_assert_eq!(decoded.raw(), &encoded[..]);
            prop_assert_eq!(decoded.to_owned_value(), value);
        }

        #[test]
        fn decode_never_panics_and_accepted_input_is_its_own_span(
            bytes in proptest::collection::vec(any::<u8>(), 0..256)
        ) {
            if let Ok(value) = decode(&bytes) {
                prop_assert_eq!(value.raw(), &bytes[..]);
            }
        }

        #[test]
        fn decode_never_panics_on_bencode_shaped_noise(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'),
                            Just(b'-'), Just(b'0'), Just(b'1'), Just(b'9'), any::<u8>()],
                0..256)
        ) {
            let _ = decode(&bytes);
            let _ = decode_prefix(&bytes);
        }
    }
}
