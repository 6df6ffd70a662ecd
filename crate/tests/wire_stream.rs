//! The peer wire codec as a peer sees it: exact bytes on the wire, and a stream decoder that
//! gives the same messages however the byte stream is cut.

use proptest::prelude::*;
use seedcast::wire::{
    BlockRef, Decoder, Frame, Handshake, MAX_MESSAGE_LEN, MAX_REQUEST_LEN, Message, WireError,
    encode_piece_header,
};

fn encode(message: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    message.encode_into(&mut out);
    out
}

fn handshake_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    Handshake::new([0x11; 20], *b"-SC0001-000000000000").encode_into(&mut out);
    out
}

/// Decodes everything available; the error, if any, ends the list.
fn drain(decoder: &mut Decoder) -> (Vec<Frame>, Option<WireError>) {
    let mut frames = Vec::new();
    loop {
        match decoder.next() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None),
            Err(error) => return (frames, Some(error)),
        }
    }
}

fn decode_in_chunks(bytes: &[u8], cuts: &[usize]) -> (Vec<Frame>, Option<WireError>) {
    let mut decoder = Decoder::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut start = 0;
    let mut frames = Vec::new();
    for cut in cuts.into_iter().chain([bytes.len()]) {
        decoder.push(&bytes[start..cut]);
        start = cut;
        // Interleave `next` with `push` the way a driver does.
        let (mut got, error) = drain(&mut decoder);
        frames.append(&mut got);
        if error.is_some() {
            return (frames, error);
        }
    }
    (frames, None)
}

/// Golden frames, written by hand from the byte layouts in BEP 3, BEP 6 and BEP 10.
fn golden() -> Vec<(Message, Vec<u8>)> {
    let block = BlockRef {
        index: 1,
        begin: 0x4000,
        length: 0x4000,
    };
    vec![
        (Message::KeepAlive, vec![0, 0, 0, 0]),
        (Message::Choke, vec![0, 0, 0, 1, 0]),
        (Message::Unchoke, vec![0, 0, 0, 1, 1]),
        (Message::Interested, vec![0, 0, 0, 1, 2]),
        (Message::NotInterested, vec![0, 0, 0, 1, 3]),
        (Message::Have { index: 7 }, vec![0, 0, 0, 5, 4, 0, 0, 0, 7]),
        (
            Message::Bitfield(vec![0xff, 0x80]),
            vec![0, 0, 0, 3, 5, 0xff, 0x80],
        ),
        (
            Message::Request(block),
            vec![0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
        ),
        (
            Message::Piece {
                index: 2,
                begin: 0x8000,
                data: vec![0xab, 0xcd],
            },
            vec![0, 0, 0, 11, 7, 0, 0, 0, 2, 0, 0, 0x80, 0, 0xab, 0xcd],
        ),
        (
            Message::Cancel(block),
            vec![0, 0, 0, 13, 8, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
        ),
        (Message::Port(6881), vec![0, 0, 0, 3, 9, 0x1a, 0xe1]),
        (
            Message::Suggest { index: 258 },
            vec![0, 0, 0, 5, 13, 0, 0, 1, 2],
        ),
        (Message::HaveAll, vec![0, 0, 0, 1, 14]),
        (Message::HaveNone, vec![0, 0, 0, 1, 15]),
        (
            Message::Reject(block),
            vec![0, 0, 0, 13, 16, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
        ),
        (
            Message::AllowedFast { index: 0x01020304 },
            vec![0, 0, 0, 5, 17, 1, 2, 3, 4],
        ),
        (
            Message::Extended {
                id: 0,
                payload: b"de".to_vec(),
            },
            vec![0, 0, 0, 4, 20, 0, b'd', b'e'],
        ),
    ]
}

#[test]
fn messages_encode_to_the_bep_byte_layouts_and_decode_back() {
    for (message, bytes) in golden() {
        assert_eq!(encode(&message), bytes, "{message:?}");
        assert_eq!(Message::parse(&bytes), Ok(message.clone()));
        let mut decoder = Decoder::after_handshake();
        decoder.push(&bytes);
        assert_eq!(drain(&mut decoder), (vec![Frame::Message(message)], None));
    }
}

#[test]
fn piece_header_lets_a_sender_append_data_itself() {
    let mut out = Vec::new();
    encode_piece_header(2, 0x8000, 2, &mut out);
    out.extend_from_slice(&[0xab, 0xcd]);
    assert_eq!(
        out,
        vec![0, 0, 0, 11, 7, 0, 0, 0, 2, 0, 0, 0x80, 0, 0xab, 0xcd]
    );
}

#[test]
fn handshake_comes_first_and_messages_follow_in_order() {
    let mut bytes = handshake_bytes();
    let messages = [
        Message::HaveAll,
        Message::Unchoke,
        Message::Have { index: 3 },
    ];
    for message in &messages {
        message.encode_into(&mut bytes);
    }
    let mut decoder = Decoder::new();
    decoder.push(&bytes);
    let (frames, error) = drain(&mut decoder);
    assert_eq!(error, None);
    assert_eq!(
        frames[0],
        Frame::Handshake(Handshake::new([0x11; 20], *b"-SC0001-000000000000"))
    );
    assert_eq!(frames[1..], messages.map(Frame::Message));
    assert_eq!(decoder.buffered_len(), 0);
}

#[test]
fn a_stream_not_starting_with_a_handshake_fails() {
    let mut decoder = Decoder::new();
    let mut bytes = vec![0u8; 68];
    bytes[0] = 19;
    bytes[1..20].copy_from_slice(b"BitTorrent Protocol"); // wrong case
    decoder.push(&bytes);
    assert_eq!(decoder.next(), Err(WireError::BadHandshakeProtocol));
    assert_eq!(
        WireError::BadHandshakeProtocol.to_string(),
        "bad handshake protocol string"
    );
}

#[test]
fn oversize_length_prefix_fails_at_once_and_stays_failed() {
    let mut decoder = Decoder::new();
    decoder.push(&handshake_bytes());
    decoder.push(&encode(&Message::Interested));
    decoder.push(&[0xff, 0xff, 0xff, 0xff]);
    let expected = WireError::MessageTooLong {
        len: u32::MAX,
        max: MAX_MESSAGE_LEN,
    };
    assert_eq!(
        expected.to_string(),
        "message length 4294967295 exceeds limit 1048592"
    );
    assert!(matches!(decoder.next(), Ok(Some(Frame::Handshake(_)))));
    assert_eq!(
        decoder.next(),
        Ok(Some(Frame::Message(Message::Interested)))
    );
    assert_eq!(decoder.next(), Err(expected.clone()));
    // Valid bytes after garbage do not resynchronise the stream.
    decoder.push(&encode(&Message::Choke));
    assert_eq!(decoder.next(), Err(expected.clone()));
    assert_eq!(decoder.next(), Err(expected));
    assert_eq!(decoder.buffered_len(), 0);
}

#[test]
fn length_one_above_the_limit_is_rejected_and_the_limit_itself_accepted() {
    let mut decoder = Decoder::after_handshake();
    decoder.push(&(MAX_MESSAGE_LEN + 1).to_be_bytes());
    assert_eq!(
        decoder.next(),
        Err(WireError::MessageTooLong {
            len: MAX_MESSAGE_LEN + 1,
            max: MAX_MESSAGE_LEN
        })
    );

    let bitfield = Message::Bitfield(vec![0x55; MAX_MESSAGE_LEN as usize - 1]);
    let mut decoder = Decoder::after_handshake();
    decoder.push(&encode(&bitfield));
    assert_eq!(decoder.next(), Ok(Some(Frame::Message(bitfield))));
}

#[test]
fn unknown_message_ids_are_skipped_without_disconnecting() {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&[0, 0, 0x10, 0x01, 200]); // id 200 with a 4 KiB payload
    bytes.extend_from_slice(&[0xee; 0x1000]);
    Message::Have { index: 1 }.encode_into(&mut bytes);
    let mut decoder = Decoder::after_handshake();
    for chunk in bytes.chunks(1000) {
        decoder.push(chunk);
        // The skipped payload is never buffered: at most the two small frames are.
        assert!(
            decoder.buffered_len() <= 5 + 9,
            "{}",
            decoder.buffered_len()
        );
    }
    let (frames, error) = drain(&mut decoder);
    assert_eq!(error, None);
    assert_eq!(
        frames,
        [Message::Unknown { id: 200 }, Message::Have { index: 1 }].map(Frame::Message)
    );
}

#[test]
fn requests_outside_the_block_limits_are_protocol_errors() {
    for length in [0, MAX_REQUEST_LEN + 1] {
        let mut decoder = Decoder::after_handshake();
        decoder.push(&encode(&Message::Request(BlockRef {
            index: 0,
            begin: 0,
            length,
        })));
        assert!(
            matches!(decoder.next(), Err(WireError::BadBlockLength { .. })),
            "{length}"
        );
    }
}

#[test]
fn buffered_len_counts_a_partial_piece_and_queued_frames() {
    let piece = encode(&Message::Piece {
        index: 0,
        begin: 0,
        data: vec![1; 16384],
    });
    let mut decoder = Decoder::after_handshake();
    decoder.push(&piece[..10_000]);
    assert_eq!(decoder.buffered_len(), 10_000);
    assert_eq!(decoder.next(), Ok(None));
    decoder.push(&piece[10_000..]);
    decoder.push(&encode(&Message::Choke));
    assert_eq!(decoder.buffered_len(), piece.len() + 5);
    assert!(matches!(
        decoder.next(),
        Ok(Some(Frame::Message(Message::Piece { .. })))
    ));
    assert_eq!(decoder.buffered_len(), 5);
}

fn block() -> impl Strategy<Value = BlockRef> {
    (any::<u32>(), any::<u32>(), 1..=MAX_REQUEST_LEN).prop_map(|(index, begin, length)| BlockRef {
        index,
        begin,
        length,
    })
}

/// Ids no BEP this codec implements uses.
fn unknown_id() -> impl Strategy<Value = u8> {
    prop_oneof![10u8..=12, 18u8..=19, 21u8..=255]
}

fn message() -> impl Strategy<Value = Message> {
    let bytes = |max: usize| proptest::collection::vec(any::<u8>(), 0..max);
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        any::<u32>().prop_map(|index| Message::Have { index }),
        any::<u32>().prop_map(|index| Message::Suggest { index }),
        any::<u32>().prop_map(|index| Message::AllowedFast { index }),
        any::<u16>().prop_map(Message::Port),
        bytes(200).prop_map(Message::Bitfield),
        block().prop_map(Message::Request),
        block().prop_map(Message::Cancel),
        block().prop_map(Message::Reject),
        (any::<u32>(), any::<u32>(), bytes(20_000))
            .prop_map(|(index, begin, data)| Message::Piece { index, begin, data }),
        (any::<u8>(), bytes(300)).prop_map(|(id, payload)| Message::Extended { id, payload }),
        unknown_id().prop_map(|id| Message::Unknown { id }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_parse_gives_the_message_back(message in message()) {
        let bytes = encode(&message);
        prop_assert_eq!(bytes.len(), message.encoded_len());
        prop_assert_eq!(Message::parse(&bytes), Ok(message));
    }

    #[test]
    fn any_split_of_a_valid_stream_decodes_to_the_same_frames(
        messages in proptest::collection::vec(message(), 0..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let mut bytes = handshake_bytes();
        for message in &messages {
            message.encode_into(&mut bytes);
        }
        let mut expected = vec![Frame::Handshake(Handshake::parse(&handshake_bytes()).unwrap())];
        expected.extend(messages.into_iter().map(Frame::Message));
        prop_assert_eq!(decode_in_chunks(&bytes, &cuts), (expected, None));
    }

    #[test]
    fn arbitrary_bytes_decode_the_same_however_split_and_never_panic(
        garbage in proptest::collection::vec(any::<u8>(), 0..2000),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
        with_handshake in any::<bool>(),
    ) {
        let mut bytes = if with_handshake { handshake_bytes() } else { Vec::new() };
        bytes.extend_from_slice(&garbage);
        let whole = decode_in_chunks(&bytes, &[]);
        prop_assert_eq!(decode_in_chunks(&bytes, &cuts), whole);
    }

    #[test]
    fn failure_is_sticky(garbage in proptest::collection::vec(any::<u8>(), 1..500)) {
        let mut decoder = Decoder::after_handshake();
        decoder.push(&garbage);
        let (_, error) = drain(&mut decoder);
        if let Some(error) = error {
            decoder.push(&encode(&Message::Choke));
            prop_assert_eq!(decoder.next(), Err(error));
        }
    }
}
