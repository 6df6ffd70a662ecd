//! A module with no imports, so Node can time it without wasm-bindgen: hashes `rounds`
//! pieces of `len` bytes and returns a byte of the last digest (so nothing is optimised away).
#![no_std]

use sha1::{Digest, Sha1};

const MAX_LEN: usize = 4 * 1024 * 1024;
static BUF: [u8; MAX_LEN] = [0xa5; MAX_LEN];

#[unsafe(no_mangle)]
pub extern "C" fn bench_sha1(len: u32, rounds: u32) -> u32 {
    let len = (len as usize).min(MAX_LEN);
    let data = &BUF[..len];
    let mut last = 0u8;
    for _ in 0..rounds {
        last = Sha1::digest(data)[0];
    }
    last as u32
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
