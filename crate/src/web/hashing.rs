//! Piece hashes for the engine (`Output::HashPiece`), by the browser's WebCrypto.
//!
//! Why: `crypto.subtle.digest('SHA-1')` hashes with the CPU's SHA instructions. Measured in
//! this project's Chromium (2-core machine with SHA-NI): 0.6–0.9 ms per MiB in 256 KiB calls,
//! against 1.4 for our SHA-1 in optimised wasm (3.8 in a busy downloading page) and ~12
//! before V8 optimised it — which is when a cold viewer's first pieces arrive (30–38 ms of
//! SHA-1 on the main thread before the first frame, traced). Chromium computes the digest
//! inside the call (the 64 MiB call blocked 125 ms) and resolves the promise at once, so the
//! piece waits for a microtask, not for a thread hop.
//!
//! WebCrypto exists only in secure contexts (https, localhost); elsewhere the engine hashes
//! inline as before. A digest call that throws or rejects is hashed in wasm:
//! no piece ever waits for a promise that failed.

use js_sys::{Promise, Uint8Array};
use sha1::{Digest, Sha1};
use wasm_bindgen::JsCast;
use web_sys::SubtleCrypto;

use super::js_glue::get;

/// The global scope's `crypto.subtle`, if this context has one.
pub fn subtle() -> Option<SubtleCrypto> {
    get(&get(&js_sys::global(), "crypto"), "subtle")
        .dyn_into::<SubtleCrypto>()
        .ok()
}

/// Starts hashing `data`. WebCrypto copies the bytes before returning, so `data` (a view of
/// wasm memory) may change or move right after.
pub fn start(subtle: &SubtleCrypto, data: &[u8]) -> Option<Promise> {
    subtle.digest_with_str_and_u8_array("SHA-1", data).ok()
}

/// The 20-byte digest a resolved `start` promise gave, if it is one.
pub fn digest_of(value: &wasm_bindgen::JsValue) -> Option<[u8; 20]> {
    let buffer = value.dyn_ref::<js_sys::ArrayBuffer>()?;
    let bytes = Uint8Array::new(buffer);
    if bytes.length() != 20 {
        return None;
    }
    let mut digest = [0u8; 20];
    bytes.copy_to(&mut digest);
    Some(digest)
}

/// SHA-1 in wasm: where WebCrypto is missing or failed.
pub fn inline(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}
