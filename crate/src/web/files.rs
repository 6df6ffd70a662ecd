//! Reading a torrent's content back out for JavaScript: file lists, stats, and per-file
//! bytes or Blobs assembled from verified pieces.

use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::JsValue;
use web_sys::{Blob, BlobPropertyBag};

use super::js_glue::set;
use super::storage::SharedStorage;
use super::swarm::{Swarm, hex};
use crate::engine::Torrent as Engine;
use crate::metainfo::Info;

/// Largest file handed to JavaScript as one `Uint8Array` (typed arrays are limited anyway);
/// bigger files are read as a `Blob`, which is assembled from per-piece parts.
const MAX_BYTES_FILE: u64 = 2 * 1024 * 1024 * 1024;

fn verified_bytes_in(engine: &Engine, info: &Info, start: u64, length: u64) -> u64 {
    let Some(have) = engine.have() else {
        return 0;
    };
    info.piece_spans(start, start + length)
        .filter(|&(p, _, _)| have.get(p))
        .map(|(_, from, to)| u64::from(to - from))
        .sum()
}

pub fn stats(engine: &Engine, swarm: &Swarm) -> JsValue {
    let s = engine.stats();
    let info = engine.info();
    let out = Object::new();
    let length = info.map(|i| i.total_length);
    let verified = info.map_or(0, |i| verified_bytes_in(engine, i, 0, i.total_length));
    let progress = length.map_or(0.0, |l| verified as f64 / l as f64);
    set(&out, "progress", progress);
    set(&out, "length", length.map(|l| l as f64));
    set(&out, "verified", verified as f64);
    set(&out, "numPieces", s.num_pieces);
    set(&out, "pieceLength", info.map(|i| i.piece_length));
    set(&out, "piecesVerified", s.pieces_verified);
    set(&out, "downloaded", s.downloaded as f64);
    set(&out, "uploaded", s.uploaded as f64);
    set(&out, "wasted", s.wasted as f64);
    // Peers and web seeds together: what the user sees arriving.
    set(
        &out,
        "downloadSpeed",
        s.download_rate + swarm.webseeds.download_rate(),
    );
    set(&out, "uploadSpeed", s.upload_rate);
    set(&out, "peers", s.peers as u32);
    set(&out, "done", s.complete);
    set(&out, "hasMetadata", s.has_metadata);
    set(&out, "storage", swarm.storage_kind);
    set(&out, "cachedBytes", swarm.storage.cached_bytes() as f64);
    set(&out, "unsavedBytes", swarm.storage.unsaved_bytes() as f64);
    set(
        &out,
        "unverifiedPieces",
        swarm.storage.unverified_pieces() as u32,
    );
    set(&out, "webSeeds", super::webseed::stats(&swarm.webseeds));
    out.into()
}

/// `open_keys`: the torrent's open connections (`Session::open_conns`).
pub fn peers(engine: &Engine, open_keys: Vec<crate::session::ConnId>) -> JsValue {
    let list = Array::new();
    for key in open_keys {
        let Some(p) = engine.peer_stats(key) else {
            continue;
        };
        let Some(id) = p.peer_id else { continue }; // still handshaking
        let out = Object::new();
        set(&out, "peerId", hex(&id));
        set(&out, "client", p.client.clone());
        set(&out, "downloaded", p.downloaded as f64);
        set(&out, "uploaded", p.uploaded as f64);
        set(&out, "downloadSpeed", p.download_rate);
        set(&out, "uploadSpeed", p.upload_rate);
        set(&out, "pieces", p.pieces);
        list.push(&out);
    }
    list.into()
}

/// Files of the torrent (BEP 47 padding files left out; `index` is the torrent's own index).
pub fn files(engine: &Engine, _: &Swarm) -> JsValue {
    let list = Array::new();
    let Some(info) = engine.info() else {
        return list.into();
    };
    for (index, file) in info.files.iter().enumerate().filter(|(_, f)| !f.padding) {
        let verified = verified_bytes_in(engine, info, file.start, file.length);
        let out = Object::new();
        set(&out, "index", index as u32);
        set(&out, "name", file.path.last().cloned().unwrap_or_default());
        set(&out, "path", file.path_string());
        set(&out, "length", file.length as f64);
        set(&out, "offset", file.start as f64);
        set(
            &out,
            "progress",
            if file.length == 0 {
                1.0
            } else {
                verified as f64 / file.length as f64
            },
        );
        set(&out, "done", verified == file.length);
        list.push(&out);
    }
    list.into()
}

/// One 0/1 byte per piece: 1 = verified.
pub fn piece_map(engine: &Engine, _: &Swarm) -> Vec<u8> {
    let Some(have) = engine.have() else {
        return Vec::new();
    };
    (0..have.len()).map(|i| u8::from(have.get(i))).collect()
}

/// What reading one finished file takes: its pieces and the slice of each that is the file's.
pub struct ReadPlan {
    storage: SharedStorage,
    /// `(piece, from, to)` byte ranges within each piece, in file order.
    parts: Vec<(u32, u32, u32)>,
    length: u64,
}

/// Plans reading file `index`. Fails unless every piece the file touches is verified.
pub fn plan(engine: &Engine, swarm: &Swarm, index: u32) -> Result<ReadPlan, String> {
    let info = engine
        .info()
        .ok_or("the torrent's metadata has not arrived yet")?;
    let file = info
        .files
        .get(index as usize)
        .ok_or_else(|| format!("the torrent has no file {index}"))?;
    if verified_bytes_in(engine, info, file.start, file.length) != file.length {
        return Err(format!(
            "`{}` has not finished downloading",
            file.path_string()
        ));
    }
    Ok(ReadPlan {
        storage: swarm.storage.clone(),
        parts: info
            .piece_spans(file.start, file.start + file.length)
            .collect(),
        length: file.length,
    })
}

/// Pieces read from storage together (one round trip): up to this many of the file's.
const READ_RUN_PIECES: usize = 64;
/// ...and up to this many bytes.
const READ_RUN_BYTES: u32 = 1024 * 1024;

/// The file's parts as views, in order, a run of consecutive pieces at a time: reading a
/// file from storage one piece per round trip took seconds for a 32 MiB file of 16 KiB
/// pieces.
async fn read_parts(
    plan: &ReadPlan,
    mut each: impl FnMut(Uint8Array) -> Result<(), String>,
) -> Result<(), String> {
    let mut i = 0;
    while i < plan.parts.len() {
        // Parts are consecutive pieces; `to` of a part is at most its piece's size.
        let mut end = i + 1;
        let mut bytes = plan.parts[i].2;
        while end < plan.parts.len()
            && end - i < READ_RUN_PIECES
            && bytes + plan.parts[end].2 <= READ_RUN_BYTES
        {
            bytes += plan.parts[end].2;
            end += 1;
        }
        let first = plan.parts[i].0;
        let pieces = plan.storage.read_pieces(first, (end - i) as u32).await?;
        for (&(_, from, to), piece) in plan.parts[i..end].iter().zip(pieces) {
            if piece.length() < to {
                return Err("a piece in storage is too short".into());
            }
            each(piece.subarray(from, to))?;
        }
        i = end;
    }
    Ok(())
}

pub async fn bytes(plan: ReadPlan) -> Result<Uint8Array, String> {
    if plan.length > MAX_BYTES_FILE {
        return Err("the file is too large for one array; read it as a Blob".into());
    }
    let out = Uint8Array::new_with_length(plan.length as u32);
    let mut at = 0u32;
    read_parts(&plan, |part| {
        out.set(&part, at);
        at += part.length();
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Bytes gathered before they are folded into the Blob: the browser keeps Blob data outside
/// the page (on disk when large), so the page never holds more than this of the file.
const BLOB_BATCH: u32 = 16 * 1024 * 1024;

pub async fn blob(plan: ReadPlan, mime: Option<String>) -> Result<Blob, String> {
    let options = BlobPropertyBag::new();
    if let Some(mime) = mime {
        options.set_type(&mime);
    }
    let make = |parts: &Array| {
        Blob::new_with_u8_array_sequence_and_options(parts, &options)
            .map_err(|e| super::js_glue::error_text(&e))
    };
    let mut blob = make(&Array::new())?;
    let mut batch = Array::new();
    let mut batch_bytes = 0;
    read_parts(&plan, |part| {
        batch_bytes += part.length();
        batch.push(&part);
        if batch_bytes >= BLOB_BATCH {
            batch.unshift(&blob);
            blob = make(&batch)?;
            batch = Array::new();
            batch_bytes = 0;
        }
        Ok(())
    })
    .await?;
    batch.unshift(&blob);
    make(&batch)
}
