//! Paces the JS garbage collector with the bytes arriving from peers.
//!
//! Every data-channel message reaches the page as a fresh `ArrayBuffer` that is dead as
//! soon as it is copied into wasm memory. V8 frees dead young buffers at its next scavenge,
//! but scavenges are paced by allocation of JS objects, and the page allocates few (a few
//! hundred bytes per 16 KiB message): measured, tens of MiB of dead message buffers piled
//! up in the renderer between collections while a video streamed. Allocating a little
//! short-lived ballast per MiB received brings the next scavenge sooner. A scavenge of dead
//! objects costs next to nothing (its work is proportional to what survives).

use std::cell::Cell;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = "let sink;
export function allocateBallast(n) {
  for (let i = 0; i < n; i++) sink = [i, i, i, i, i, i, i, i];
  sink = undefined;
}")]
extern "C" {
    #[wasm_bindgen(js_name = allocateBallast)]
    fn allocate_ballast(arrays: u32);
}

/// Ballast per this many bytes received.
const EVERY_BYTES: u64 = 1024 * 1024;
/// Short-lived arrays allocated each time: ~96 bytes each, ~256 KiB in all.
const ARRAYS: u32 = 2_730;

thread_local! {
    static RECEIVED: Cell<u64> = const { Cell::new(0) };
}

/// Counts `bytes` of short-lived buffers the page received (channel messages, file reads);
/// allocates ballast every [`EVERY_BYTES`].
pub fn received(bytes: u64) {
    RECEIVED.with(|r| {
        let total = r.get() + bytes;
        if total >= EVERY_BYTES {
            r.set(total - EVERY_BYTES);
            allocate_ballast(ARRAYS);
        } else {
            r.set(total);
        }
    });
}
