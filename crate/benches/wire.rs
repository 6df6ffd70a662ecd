//! Wire codec throughput. Run: `cargo bench -p seedcast --bench wire`.
//!
//! Each case warms up, then runs for about a second and prints one line in MB/s of wire
//! bytes (10^6 bytes per second). Total runtime stays under 10 s.

use std::hint::black_box;
use std::time::{Duration, Instant};

use seedcast::wire::{BLOCK_SIZE, BlockRef, Decoder, Message};

const WARM_UP: Duration = Duration::from_millis(200);
const MEASURE: Duration = Duration::from_secs(1);

/// Runs `round` (which processes `bytes_per_round` wire bytes) repeatedly; returns MB/s.
fn throughput(bytes_per_round: usize, mut round: impl FnMut()) -> f64 {
    let warm_up_end = Instant::now() + WARM_UP;
    while Instant::now() < warm_up_end {
        round();
    }
    let start = Instant::now();
    let mut rounds = 0u64;
    while start.elapsed() < MEASURE {
        round();
        rounds += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    (rounds as f64 * bytes_per_round as f64) / seconds / 1e6
}

/// Pushes `stream` in `chunk`-byte pieces (as a data channel delivers it) and takes every
/// frame; returns how many frames came out so the work cannot be optimised away.
fn decode(stream: &[u8], chunk: usize) -> usize {
    let mut decoder = Decoder::after_handshake();
    let mut frames = 0;
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        while let Ok(Some(frame)) = decoder.next() {
            black_box(&frame);
            frames += 1;
        }
    }
    assert!(
        matches!(decoder.next(), Ok(None)),
        "bench stream must decode cleanly"
    );
    frames
}

fn piece_stream(blocks: u32) -> Vec<u8> {
    let mut stream = Vec::new();
    let data = vec![0x5a; BLOCK_SIZE as usize];
    for index in 0..blocks {
        Message::Piece {
            index,
            begin: 0,
            data: data.clone(),
        }
        .encode_into(&mut stream);
    }
    stream
}

fn small_message_stream(count: u32) -> Vec<u8> {
    let mut stream = Vec::new();
    for index in 0..count {
        let message = if index % 2 == 0 {
            Message::Have { index }
        } else {
            Message::Request(BlockRef {
                index,
                begin: 0,
                length: BLOCK_SIZE,
            })
        };
        message.encode_into(&mut stream);
    }
    stream
}

fn main() {
    // (a) 16 KiB blocks in 16 KiB chunks: every block straddles two chunks, as on WebRTC.
    let stream = piece_stream(256);
    let mbps = throughput(stream.len(), || {
        black_box(decode(black_box(&stream), 16 * 1024));
    });
    println!("wire decode piece-16KiB: {mbps:.1} MB/s");

    // (b) have/request mix, 9- and 17-byte frames, in 16 KiB chunks.
    let stream = small_message_stream(20_000);
    let messages_per_round = 20_000.0;
    let mbps = throughput(stream.len(), || {
        black_box(decode(black_box(&stream), 16 * 1024));
    });
    let average_frame = stream.len() as f64 / messages_per_round;
    println!(
        "wire decode have+request: {mbps:.1} MB/s ({:.1} M messages/s)",
        mbps / average_frame
    );

    // (c) a batch of requests coalesced into one send buffer, reused across batches.
    let requests: Vec<Message> = (0..1024)
        .map(|i| {
            Message::Request(BlockRef {
                index: i / 16,
                begin: (i % 16) * BLOCK_SIZE,
                length: BLOCK_SIZE,
            })
        })
        .collect();
    let mut out = Vec::with_capacity(requests.len() * 17);
    let batch_len = requests.iter().map(Message::encoded_len).sum();
    let mbps = throughput(batch_len, || {
        out.clear();
        for request in black_box(&requests) {
            request.encode_into(&mut out);
        }
        black_box(&out);
    });
    println!(
        "wire encode request-coalesced: {mbps:.1} MB/s ({:.1} M messages/s)",
        mbps / 17.0
    );
}
