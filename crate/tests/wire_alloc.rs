//! What the stream decoder allocates: nothing for a hostile length prefix, little for a peer
//! that announces a large message and stalls, and one exact-size buffer per piece block (the
//! block is copied once, straight from the pushed chunks into the message).
//!
//! A counting global allocator observes only the thread that switched counting on, so the
//! test harness's own allocations do not disturb the numbers.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use seedcast::wire::{Decoder, Frame, MAX_MESSAGE_LEN, Message};

struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: thread-locals may already be gone while a thread shuts down.
    let _ = ACTIVE.try_with(|active| {
        if active.get() {
            ALLOCATIONS.set(ALLOCATIONS.get() + 1);
            LARGEST.set(LARGEST.get().max(size));
            TOTAL.set(TOTAL.get() + size);
        }
    });
}

// SAFETY: forwards every call to `System` unchanged; only counts on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, PartialEq, Eq)]
struct Allocated {
    count: usize,
    largest: usize,
    total: usize,
}

fn measure(f: impl FnOnce()) -> Allocated {
    ALLOCATIONS.set(0);
    LARGEST.set(0);
    TOTAL.set(0);
    ACTIVE.set(true);
    f();
    ACTIVE.set(false);
    Allocated {
        count: ALLOCATIONS.get(),
        largest: LARGEST.get(),
        total: TOTAL.get(),
    }
}

// One test function: the counters are per thread, and the cases must not overlap anyway.
#[test]
fn decoder_allocations_are_bounded_by_what_the_peer_actually_sent() {
    // A length prefix over the limit is refused before anything is allocated.
    let mut decoder = Decoder::after_handshake();
    let result = measure(|| {
        decoder.push(&u32::MAX.to_be_bytes());
        let _ = decoder.next();
    });
    assert_eq!(result.count, 0, "{result:?}");

    // Announcing a maximal bitfield and sending 100 bytes of it costs one block, not 1 MiB.
    let mut decoder = Decoder::after_handshake();
    let mut header = MAX_MESSAGE_LEN.to_be_bytes().to_vec();
    header.push(5);
    let result = measure(|| {
        decoder.push(&header);
        decoder.push(&[0xff; 100]);
        assert_eq!(decoder.next(), Ok(None));
    });
    assert!(result.largest <= 16 * 1024, "{result:?}");

    // 64 pieces of 16 KiB arriving in 16 KiB chunks that straddle message boundaries: one
    // exact 16 KiB buffer per block, plus the frame queue's small allocations.
    let blocks = 64;
    let mut stream = Vec::new();
    for index in 0..blocks {
        Message::Piece {
            index,
            begin: 0,
            data: vec![index as u8; 16384],
        }
        .encode_into(&mut stream);
    }
    let mut decoder = Decoder::after_handshake();
    let mut received = Vec::with_capacity(blocks as usize);
    let result = measure(|| {
        for chunk in stream.chunks(16 * 1024) {
            decoder.push(chunk);
            while let Ok(Some(frame)) = decoder.next() {
                received.push(frame);
            }
        }
    });
    assert_eq!(received.len(), blocks as usize);
    assert!(
        matches!(&received[63], Frame::Message(Message::Piece { index: 63, data, .. }) if data == &vec![63u8; 16384])
    );
    let block_bytes = blocks as usize * 16384;
    assert!(result.total <= block_bytes + 4096, "{result:?}");
    assert!(result.count <= blocks as usize + 8, "{result:?}");
}
