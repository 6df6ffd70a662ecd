//! BEP 10 extension handshakes and BEP 9 ut_metadata messages, carried the way peers carry
//! them: inside extended messages on a byte stream.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use seedcast::wire::{
    Decoder, EXT_HANDSHAKE_ID, ExtendedHandshake, Frame, MAX_EXTENSIONS, MAX_METADATA_SIZE,
    METADATA_PIECE_SIZE, Message, MetadataMsg, UT_METADATA, UT_METADATA_LOCAL_ID, WireError,
    metadata_piece_len,
};

/// Sends `messages` through a decoder one byte at a time and returns what came out.
fn through_decoder(messages: &[Message]) -> Vec<Message> {
    let mut bytes = Vec::new();
    for message in messages {
        message.encode_into(&mut bytes);
    }
    let mut decoder = Decoder::after_handshake();
    let mut out = Vec::new();
    for byte in bytes {
        decoder.push(&[byte]);
        while let Some(Frame::Message(message)) = decoder.next().unwrap() {
            out.push(message);
        }
    }
    out
}

#[test]
fn metadata_exchange_survives_the_stream() {
    // A peer advertises ut_metadata as id 5; we ask for piece 1 with that id, and it answers
    // with our local id.
    let theirs = ExtendedHandshake {
        m: BTreeMap::from([(UT_METADATA.to_owned(), 5)]),
        metadata_size: Some(20_000),
        ..Default::default()
    };
    let request = MetadataMsg::Request { piece: 1 };
    let data = MetadataMsg::Data {
        piece: 1,
        total_size: 20_000,
        data: vec![0x42; 20_000 - METADATA_PIECE_SIZE as usize],
    };
    let sent = [
        Message::Extended {
            id: EXT_HANDSHAKE_ID,
            payload: theirs.encode(),
        },
        Message::Extended {
            id: 5,
            payload: request.encode(),
        },
        Message::Extended {
            id: UT_METADATA_LOCAL_ID,
            payload: data.encode(),
        },
    ];
    let received = through_decoder(&sent);
    let [
        Message::Extended { id: 0, payload: hs },
        Message::Extended {
            id: 5,
            payload: req,
        },
        Message::Extended {
            id: 3,
            payload: piece,
        },
    ] = &received[..]
    else {
        panic!("unexpected frames: {received:?}");
    };
    let hs = ExtendedHandshake::parse(hs).unwrap();
    assert_eq!(hs.ext_id(UT_METADATA), Some(5));
    assert_eq!(hs.metadata_size, Some(20_000));
    assert_eq!(MetadataMsg::parse(req), Ok(request));
    assert_eq!(MetadataMsg::parse(piece), Ok(data));
}

#[test]
fn errors_read_as_one_line_sentences() {
    let too_many = ExtendedHandshake::parse(
        format!(
            "d1:md{}ee",
            (0..=MAX_EXTENSIONS)
                .map(|i| format!("3:x{i:02}i1e"))
                .collect::<String>()
        )
        .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        too_many.to_string(),
        "extension handshake lists 65 extensions, limit 64"
    );
    let unknown = MetadataMsg::parse(b"d8:msg_typei9e5:piecei0ee").unwrap_err();
    assert_eq!(unknown, WireError::UnknownMetadataMsgType { msg_type: 9 });
    assert_eq!(unknown.to_string(), "unknown ut_metadata msg_type 9");
    let bad = MetadataMsg::parse(b"d8:msg_typei0ee").unwrap_err();
    assert_eq!(
        bad.to_string(),
        "ut_metadata message is missing field \"piece\""
    );
}

fn handshake() -> impl Strategy<Value = ExtendedHandshake> {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    ];
    (
        proptest::collection::btree_map("[a-z_]{1,12}", any::<u8>(), 0..MAX_EXTENSIONS),
        proptest::option::of(1..=MAX_METADATA_SIZE),
        proptest::option::of(1..=u32::MAX),
        proptest::option::of("\\PC{0,30}"),
        proptest::option::of(ip),
        proptest::option::of(1..=u16::MAX),
    )
        .prop_map(
            |(m, metadata_size, reqq, client, yourip, port)| ExtendedHandshake {
                m,
                metadata_size,
                reqq,
                client,
                yourip,
                port,
            },
        )
}

fn metadata_msg() -> impl Strategy<Value = MetadataMsg> {
    let data =
        (1..=MAX_METADATA_SIZE, any::<u32>(), any::<u8>()).prop_map(|(total, pick, fill)| {
            let pieces = total.div_ceil(u64::from(METADATA_PIECE_SIZE)) as u32;
            let piece = pick % pieces;
            let len = metadata_piece_len(total, piece).unwrap() as usize;
            MetadataMsg::Data {
                piece,
                total_size: total,
                data: vec![fill; len],
            }
        });
    prop_oneof![
        (0..1024u32).prop_map(|piece| MetadataMsg::Request { piece }),
        (0..1024u32).prop_map(|piece| MetadataMsg::Reject { piece }),
        data,
    ]
}

proptest! {
    #[test]
    fn extension_handshakes_round_trip(hs in handshake()) {
        prop_assert_eq!(ExtendedHandshake::parse(&hs.encode()), Ok(hs));
    }

    #[test]
    fn metadata_messages_round_trip(msg in metadata_msg()) {
        prop_assert_eq!(MetadataMsg::parse(&msg.encode()), Ok(msg));
    }

    /// Damaged versions of valid payloads (a byte changed, the tail cut) are either rejected
    /// or parse to something that itself round-trips; never a panic.
    #[test]
    fn damaged_payloads_are_rejected_or_consistent(
        hs in handshake(),
        msg in metadata_msg(),
        at in any::<usize>(),
        byte in any::<u8>(),
        cut in any::<usize>(),
    ) {
        for mut payload in [hs.encode(), msg.encode()] {
            let len = payload.len();
            payload[at % len] = byte;
            payload.truncate(len - cut % len);
            if let Ok(parsed) = ExtendedHandshake::parse(&payload) {
                prop_assert_eq!(ExtendedHandshake::parse(&parsed.encode()), Ok(parsed));
            }
            if let Ok(parsed) = MetadataMsg::parse(&payload) {
                prop_assert_eq!(MetadataMsg::parse(&parsed.encode()), Ok(parsed));
            }
        }
    }
}
