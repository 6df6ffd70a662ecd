//! Fuzzes the tracker's incremental WebSocket frame reader with client bytes.
//!
//! Input layout: bytes 0 and 1 pick two chunk sizes the stream is cut into, alternately (TCP cuts
//! anywhere); byte 2 picks the message size limit; the rest is the stream. Beyond "never panics", it checks:
//! * cutting the stream differently never changes the events or the error;
//! * no text message is longer than the limit, and every text message is UTF-8 (it is a `&str`);
//! * a Close event ends the stream: the reader reports nothing after it when told to stop.
#![no_main]

use std::ops::ControlFlow;

use libfuzzer_sys::fuzz_target;
use seedcast_signal::websocket::{Event, FrameError, Reader};

#[derive(Debug, PartialEq, Eq)]
enum Owned {
    Text(String),
    Binary,
    Ping(Vec<u8>),
    Pong,
    Close,
}

fn read(stream: &[u8], chunk_sizes: [usize; 2], max: usize) -> (Vec<Owned>, Option<FrameError>) {
    let mut reader = Reader::new(max);
    let mut events = Vec::new();
    let mut rest = stream;
    let mut turn = 0;
    while !rest.is_empty() {
        let size = chunk_sizes[turn % 2].min(rest.len());
        turn += 1;
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        // The reader unmasks in place, as it does in the server's read buffer.
        let mut chunk = chunk.to_vec();
        let result = reader.feed(&mut chunk, |event| {
            let owned = match event {
                Event::Text(text) => {
                    assert!(
                        text.len() <= max,
                        "text of {} bytes over the {max} limit",
                        text.len()
                    );
                    Owned::Text(text.to_owned())
                }
                Event::Binary => Owned::Binary,
                Event::Ping(payload) => Owned::Ping(payload.to_vec()),
                Event::Pong => Owned::Pong,
                Event::Close => Owned::Close,
            };
            let close = owned == Owned::Close;
            events.push(owned);
            if close {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        match result {
            Err(e) => return (events, Some(e)),
            Ok(ControlFlow::Break(())) => return (events, None),
            Ok(ControlFlow::Continue(())) => {}
        }
    }
    (events, None)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let chunk_sizes = [usize::from(data[0]) + 1, usize::from(data[1]) * 7 + 1];
    let max = [16, 125, 126, 1000, 65_535, 65_536][usize::from(data[2]) % 6];
    let stream = &data[3..];
    let (whole_events, whole_error) = read(stream, [stream.len().max(1); 2], max);
    let (cut_events, cut_error) = read(stream, chunk_sizes, max);
    assert_eq!(
        whole_events, cut_events,
        "cutting the stream changed the events"
    );
    assert_eq!(
        whole_error, cut_error,
        "cutting the stream changed the error"
    );
    if let Some(i) = whole_events.iter().position(|e| *e == Owned::Close) {
        assert_eq!(i + 1, whole_events.len(), "an event after Close");
    }
});
