//! Seeding local content: reads `File`s / `Blob`s / bytes in chunks and hashes them into a
//! new torrent (SHA-1 in wasm, streaming). Nothing is copied: the pieces are served later
//! straight from the same `Blob`s (see `storage.rs`).

use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, File, FileList};

use super::js_glue::{error_text, get};
use super::storage::{BlobPart, BlobSource};
use crate::create::{CreateOptions, FileSpec, TorrentBuilder, UnsignedTorrent};
use crate::metainfo::path::sanitize_component;

fn sanitize(name: &str) -> String {
    sanitize_component(name.as_bytes())
}

/// Bytes read from a `Blob` per step: large enough to amortise the async hop, small enough
/// to keep the page responsive and memory flat.
const READ_CHUNK: f64 = (4 * 1024 * 1024) as f64;
/// Most files one seed may hold (the torrent format's own limit is checked by the builder).
const MAX_INPUT_FILES: usize = 10_000;

/// One input file: its path inside the torrent and where its bytes are.
struct Input {
    path: Vec<String>,
    blob: Blob,
}

/// Accepts a `File`, `Blob`, `FileList`, an array of those, a `Uint8Array` or an `ArrayBuffer`.
fn collect_inputs(value: &JsValue, name: Option<&str>) -> Result<Vec<Input>, String> {
    let single = |value: &JsValue| -> Result<Input, String> {
        if let Some(file) = value.dyn_ref::<File>() {
            let relative = get(file, "webkitRelativePath")
                .as_string()
                .unwrap_or_default();
            // Local names may hold characters a torrent path cannot (`<`, `:`, `?` ...): they
            // are sanitised the same way as names read from torrents, so sharing never fails
            // on a name the user's file system accepted.
            let path = if relative.is_empty() {
                vec![sanitize(&file.name())]
            } else {
                relative.split('/').map(sanitize).collect()
            };
            return Ok(Input {
                path,
                blob: file.clone().into(),
            });
        }
        if let Some(blob) = value.dyn_ref::<Blob>() {
            return Ok(Input {
                path: vec![sanitize(name.unwrap_or("data.bin"))],
                blob: blob.clone(),
            });
        }
        if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<js_sys::ArrayBuffer>() {
            let parts = Array::of1(value);
            let blob = Blob::new_with_u8_array_sequence(&parts).map_err(|e| error_text(&e))?;
            return Ok(Input {
                path: vec![sanitize(name.unwrap_or("data.bin"))],
                blob,
            });
        }
        Err("expected a File, Blob, FileList, Uint8Array or an array of them".into())
    };
    let many: Vec<JsValue> = if let Some(list) = value.dyn_ref::<FileList>() {
        (0..list.length())
            .filter_map(|i| list.get(i))
            .map(JsValue::from)
            .collect()
    } else if Array::is_array(value) {
        Array::from(value).iter().collect()
    } else {
        return Ok(vec![single(value)?]);
    };
    if many.len() > MAX_INPUT_FILES {
        return Err(format!(
            "{} files is more than the {MAX_INPUT_FILES} one torrent may hold",
            many.len()
        ));
    }
    many.iter().map(single).collect()
}

/// Hashes `value` into a torrent named `name` (default: the file's or folder's name).
/// Returns the torrent, not yet finished so a creator may sign it, and where its content
/// lies (the files, in torrent order).
pub async fn create(
    value: &JsValue,
    name: Option<String>,
    trackers: Vec<String>,
) -> Result<(UnsignedTorrent, BlobSource), String> {
    let name = name.map(|n| sanitize(&n));
    let inputs = collect_inputs(value, name.as_deref())?;
    if inputs.is_empty() {
        return Err("nothing to share: no files were given".into());
    }
    let options = |name: String| CreateOptions {
        name,
        trackers: trackers.clone(),
        created_by: Some(concat!("Seedcast ", env!("CARGO_PKG_VERSION")).into()),
        ..Default::default()
    };
    let single_file = inputs.len() == 1 && inputs[0].path.len() == 1;
    let mut builder = if single_file {
        let torrent_name = name.unwrap_or_else(|| inputs[0].path[0].clone());
        TorrentBuilder::single_file(options(torrent_name), inputs[0].blob.size() as u64)
    } else {
        // A dropped folder gives paths like `folder/sub/file`: the shared first component
        // becomes the torrent's name.
        let first = inputs[0].path.first().cloned().unwrap_or_default();
        let shared_root = inputs
            .iter()
            .all(|i| i.path.len() > 1 && i.path[0] == first);
        let files = inputs
            .iter()
            .map(|i| FileSpec {
                path: if shared_root {
                    i.path[1..].to_vec()
                } else {
                    i.path.clone()
                },
                length: i.blob.size() as u64,
            })
            .collect();
        let folder = name.unwrap_or_else(|| if shared_root { first } else { "files".into() });
        TorrentBuilder::folder(options(folder), files)
    }
    .map_err(|e| e.to_string())?;

    // The builder hashes the files in the order given (no padding files), so the content is
    // their plain concatenation in this order.
    let mut source = BlobSource { parts: Vec::new() };
    let mut at = 0u64;
    for input in &inputs {
        let size = input.blob.size();
        if size > 0.0 {
            source.parts.push(BlobPart::new(at, input.blob.clone()));
        }
        at += size as u64;
        let mut offset = 0.0;
        while offset < size {
            let end = (offset + READ_CHUNK).min(size);
            let chunk = read(&input.blob, offset, end).await?;
            builder.update(&chunk).map_err(|e| e.to_string())?;
            offset = end;
        }
    }
    let unsigned = builder.finish_unsigned().map_err(|e| e.to_string())?;
    Ok((unsigned, source))
}

async fn read(blob: &Blob, start: f64, end: f64) -> Result<Vec<u8>, String> {
    let part = blob
        .slice_with_f64_and_f64(start, end)
        .map_err(|e| error_text(&e))?;
    let buffer = JsFuture::from(part.array_buffer())
        .await
        .map_err(|e| format!("could not read the file: {}", error_text(&e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}
