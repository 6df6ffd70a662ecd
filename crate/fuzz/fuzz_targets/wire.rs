//! Fuzzes the peer wire decoder and the BEP 9/10 payload parsers.
//!
//! Input layout: byte 0 and 1 pick two chunk sizes the stream is cut into, alternately (a
//! data channel cuts anywhere); byte 2 bit 0 says whether the stream starts with a handshake;
//! the rest is the stream. Beyond "never panics", it checks:
//! * cutting the stream differently never changes the frames or the error;
//! * every decoded message re-encodes to bytes that parse back to it;
//! * extension handshakes and ut_metadata messages that parse survive encode → parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::wire::{Decoder, ExtendedHandshake, Frame, Message, MetadataMsg, WireError};

fn decode(
    stream: &[u8],
    chunk_sizes: [usize; 2],
    with_handshake: bool,
) -> (Vec<Frame>, Option<WireError>) {
    let mut decoder = if with_handshake {
        Decoder::new()
    } else {
        Decoder::after_handshake()
    };
    let mut frames = Vec::new();
    let mut rest = stream;
    let mut turn = 0;
    loop {
        let size = chunk_sizes[turn % 2].min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        decoder.push(chunk);
        rest = tail;
        turn += 1;
        loop {
            match decoder.next() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => {
                    // Failure is sticky.
                    assert_eq!(decoder.next(), Err(error.clone()));
                    return (frames, Some(error));
                }
            }
        }
        if rest.is_empty() {
            return (frames, None);
        }
    }
}

fn check_payload_parsers(payload: &[u8]) {
    if let Ok(handshake) = ExtendedHandshake::parse(payload) {
        assert_eq!(ExtendedHandshake::parse(&handshake.encode()), Ok(handshake));
    }
    if let Ok(message) = MetadataMsg::parse(payload) {
        assert_eq!(MetadataMsg::parse(&message.encode()), Ok(message));
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, flags, stream @ ..] = data else {
        return;
    };
    let chunk_sizes = [usize::from(*a) + 1, usize::from(*b) * 97 + 1];
    let with_handshake = flags & 1 == 1;

    let split = decode(stream, chunk_sizes, with_handshake);
    let whole = decode(stream, [stream.len().max(1); 2], with_handshake);
    assert_eq!(
        split, whole,
        "decoding must not depend on where the stream is cut"
    );

    for frame in &split.0 {
        let Frame::Message(message) = frame else {
            continue;
        };
        let mut bytes = Vec::new();
        message.encode_into(&mut bytes);
        assert_eq!(Message::parse(&bytes).as_ref(), Ok(message));
        if let Message::Extended { payload, .. } = message {
            check_payload_parsers(payload);
        }
    }
    check_payload_parsers(stream);
});
