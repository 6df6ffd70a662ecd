//! Bindings to `piece_store.js`: the page's storage worker (OPFS, else IndexedDB). Every
//! call returns a promise; errors come back as one-line messages.

use js_sys::{Array, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::js_glue::error_text;

#[wasm_bindgen(module = "/src/web/piece_store.js")]
extern "C" {
    #[wasm_bindgen(js_name = storeInit)]
    fn store_init(preference: &str) -> Promise;
    #[wasm_bindgen(js_name = storeOpen)]
    fn store_open(hex: &str) -> Promise;
    #[wasm_bindgen(js_name = storeWriteMany)]
    fn store_write_many(hex: &str, piece_length: u32, indices: Vec<u32>, arrays: Array) -> Promise;
    #[wasm_bindgen(js_name = storeRead)]
    fn store_read(hex: &str, index: u32, count: u32, piece_length: u32, size: u32) -> Promise;
    #[wasm_bindgen(js_name = storePutInfo)]
    fn store_put_info(
        hex: &str,
        info: Uint8Array,
        name: &str,
        length: f64,
        piece_length: u32,
    ) -> Promise;
    #[wasm_bindgen(js_name = storeForget)]
    fn store_forget(hex: &str, indices: Vec<u32>) -> Promise;
    #[wasm_bindgen(js_name = storeClose)]
    fn store_close(hex: &str) -> Promise;
    #[wasm_bindgen(js_name = storeRemove)]
    fn store_remove(hex: &str) -> Promise;
    #[wasm_bindgen(js_name = storeList)]
    fn store_list() -> Promise;
    /// `size` bytes (not zeroed) over a recycled buffer: for bytes that are about to be
    /// transferred to a worker, which sends the buffer back (see "Buffer recycling" in
    /// `piece_store.js`). The array's buffer may be longer than the array.
    #[wasm_bindgen(js_name = takeBuffer)]
    pub fn buffer(size: u32) -> Uint8Array;
    /// Hands a buffer (or a view of one) back for reuse. The caller must hold the only
    /// reference that will ever be used again.
    #[wasm_bindgen(js_name = giveBuffer)]
    pub fn recycle(buffer: &JsValue);
}

/// Where pieces persist in this page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Opfs,
    IndexedDb,
    /// Nothing persists; every piece stays in memory.
    Memory,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Opfs => "opfs",
            Kind::IndexedDb => "indexeddb",
            Kind::Memory => "memory",
        }
    }
}

/// What a torrent has in storage when opened.
#[derive(Debug, Default)]
pub struct Stored {
    pub info: Option<Vec<u8>>,
    pub pieces: Vec<u32>,
}

async fn settle(promise: Promise) -> Result<JsValue, String> {
    JsFuture::from(promise).await.map_err(|e| error_text(&e))
}

/// Picks the page's backend (the first client's preference wins). `memory` never starts
/// the worker.
pub async fn init(preference: &str) -> Kind {
    if preference == "memory" {
        return Kind::Memory;
    }
    match settle(store_init(preference))
        .await
        .ok()
        .and_then(|v| v.as_string())
    {
        Some(k) if k == "opfs" => Kind::Opfs,
        Some(k) if k == "indexeddb" => Kind::IndexedDb,
        _ => Kind::Memory,
    }
}

pub async fn open(hex: &str) -> Result<Stored, String> {
    let value = settle(store_open(hex)).await?;
    let info = Reflect::get(&value, &"info".into()).unwrap_or(JsValue::NULL);
    let info = info.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec);
    let pieces = Reflect::get(&value, &"pieces".into()).unwrap_or(JsValue::NULL);
    let pieces = if Array::is_array(&pieces) {
        Array::from(&pieces)
            .iter()
            .filter_map(|v| v.as_f64())
            .filter(|v| *v >= 0.0 && *v < u32::MAX as f64)
            .map(|v| v as u32)
            .collect()
    } else {
        Vec::new()
    };
    Ok(Stored { info, pieces })
}

/// Stores verified pieces `indices[i]` = `arrays[i]`. The arrays are transferred to the
/// worker (their buffers come back to the pool).
pub async fn write_many(
    hex: &str,
    piece_length: u32,
    indices: &[u32],
    arrays: Array,
) -> Result<(), String> {
    settle(store_write_many(
        hex,
        piece_length,
        indices.to_vec(),
        arrays,
    ))
    .await
    .map(drop)
}

/// Pieces `index..index + count` (consecutive; `size` bytes in all) as one array over a
/// recycled buffer: [`recycle`] it once copied out.
pub async fn read(
    hex: &str,
    index: u32,
    count: u32,
    piece_length: u32,
    size: u32,
) -> Result<Uint8Array, String> {
    let value = settle(store_read(hex, index, count, piece_length, size)).await?;
    value
        .dyn_into::<Uint8Array>()
        .map_err(|_| "storage returned something other than bytes".to_string())
}

pub async fn put_info(
    hex: &str,
    info: &[u8],
    name: &str,
    length: u64,
    piece_length: u32,
) -> Result<(), String> {
    let bytes = Uint8Array::from(info);
    settle(store_put_info(
        hex,
        bytes,
        name,
        length as f64,
        piece_length,
    ))
    .await
    .map(drop)
}

/// Drops the stored marks of pieces found bad or missing, so a reload does not count them.
pub async fn forget(hex: &str, indices: &[u32]) -> Result<(), String> {
    settle(store_forget(hex, indices.to_vec())).await.map(drop)
}

pub async fn close(hex: &str) -> Result<(), String> {
    settle(store_close(hex)).await.map(drop)
}

pub async fn remove(hex: &str) -> Result<(), String> {
    settle(store_remove(hex)).await.map(drop)
}

/// The stored torrents as the worker lists them (plain JS objects for the API).
pub async fn list() -> Result<JsValue, String> {
    settle(store_list()).await
}
