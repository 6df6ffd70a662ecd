//! Web seeds (BEP 19) in the browser: the I/O for `session::webseed`. Each request is a
//! `fetch` with a `Range` header (a single simple range is CORS-safelisted: no preflight),
//! redirects followed by the browser, at most `max_body` body bytes read, aborted after
//! `REQUEST_TIMEOUT`. The answer goes back to the torrent's `WebSeeds` through the client.
//!
//! The server must allow the page to read the answer: `Access-Control-Allow-Origin` (e.g. `*`)
//! and `Access-Control-Expose-Headers: Content-Range, Content-Length` (README, "Web seeds").
//! Without `Content-Range` exposed, the length and the hash check decide; without `Retry-After`,
//! the default backoff applies.

use std::time::Duration;

use js_sys::{Function, Object, Promise, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::client::Handle;
use super::js_glue::{error_text, get, now, set, within};
use super::notes::Note;
use super::swarm::Swarm;
use crate::engine::Torrent as Engine;
use crate::session::webseed::{
    REQUEST_TIMEOUT, WebSeedEvent, WebSeedRequest, WebSeedResponse, WebSeeds,
};

/// Adds a torrent's `url-list` or a magnet's `ws=` URLs; refused ones become warnings.
pub fn add_urls(webseeds: &mut WebSeeds, urls: &[String]) -> Vec<String> {
    urls.iter()
        .filter_map(|url| {
            let e = webseeds.add(url).err()?;
            Some(format!("web seed {url:.200} is not used: {e}"))
        })
        .collect()
}

/// Runs the web seeds of a torrent: timeouts, events as notes, and new requests (their
/// answers come back through `ClientInner::on_webseed`).
pub fn drive(engine: &mut Engine, swarm: &mut Swarm, handle: &Handle, now: Duration) -> Vec<Note> {
    let mut notes = Vec::new();
    if swarm.webseeds.is_empty() || !swarm.storage_ready {
        return notes;
    }
    if swarm.webseeds.poll_timeout().is_some_and(|t| t <= now) {
        swarm.webseeds.handle_timeout(engine, now);
    }
    while let Some(event) = swarm.webseeds.poll_event() {
        match event {
            WebSeedEvent::Dropped { url, reason, .. } => notes.push(Note::warning(
                &swarm.hex,
                format!("web seed {url} dropped: {reason}"),
            )),
            WebSeedEvent::Backoff { url, reason, .. } => {
                super::client::debug_log(&format!("seedcast: web seed {url}: {reason}"));
            }
        }
    }
    while let Some(request) = swarm.webseeds.poll_request(engine, now) {
        let handle = handle.clone();
        let hex = swarm.hex.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = fetch_range(&request).await;
            handle.with(|c| c.on_webseed(&hex, request.id, result));
        });
    }
    notes
}

/// Hands an answer (or failure) to the torrent's web seeds.
pub fn on_result(
    engine: &mut Engine,
    swarm: &mut Swarm,
    id: u64,
    result: Result<WebSeedResponse, String>,
    now: Duration,
) {
    match result {
        Ok(response) => swarm.webseeds.handle_response(engine, id, response, now),
        Err(reason) => swarm.webseeds.handle_failed(engine, id, &reason, now),
    }
}

/// One `GET` with `Range`, bounded in time and size.
async fn fetch_range(request: &WebSeedRequest) -> Result<WebSeedResponse, String> {
    let controller = construct("AbortController")?;
    let result = fetch_inner(request, &controller).await;
    // Whatever is left of the transfer (a failure, a body not read or read only in part) is
    // stopped: the browser would otherwise keep downloading into nothing. After a complete
    // read this does nothing.
    if let Ok(abort) = get(&controller, "abort").dyn_into::<Function>() {
        let _ = abort.call0(&controller);
    }
    result
}

async fn fetch_inner(
    request: &WebSeedRequest,
    controller: &JsValue,
) -> Result<WebSeedResponse, String> {
    let deadline = now() + REQUEST_TIMEOUT;
    let fetch: Function = get(&js_sys::global(), "fetch")
        .dyn_into()
        .map_err(|_| "this page cannot fetch".to_owned())?;
    let init = Object::new();
    set(&init, "method", "GET");
    set(&init, "credentials", "omit");
    set(&init, "cache", "no-store");
    set(&init, "redirect", "follow");
    set(&init, "signal", get(controller, "signal"));
    let headers = Object::new();
    set(&headers, "range", request.range_header());
    set(&init, "headers", headers);
    let promise: Promise = fetch
        .call2(&JsValue::NULL, &JsValue::from_str(&request.url), &init)
        .map_err(|e| error_text(&e))?
        .unchecked_into();
    let response = timed(promise, deadline).await?;
    let status = get(&response, "status").as_f64().unwrap_or(0.0) as u16;
    let headers = get(&response, "headers");
    let header = |name: &str| {
        get(&headers, "get")
            .dyn_into::<Function>()
            .ok()
            .and_then(|f| f.call1(&headers, &name.into()).ok())
            .and_then(|v| v.as_string())
    };
    let content_range = header("content-range");
    let retry_after = header("retry-after");
    let declared = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let mut body = Vec::new();
    // A body declared larger than allowed is not read at all: the status alone decides.
    if declared.is_none_or(|n| n <= request.max_body as u64) {
        read_body(&response, request.max_body, deadline, &mut body).await?;
    }
    Ok(WebSeedResponse {
        status,
        content_range,
        retry_after,
        body,
    })
}

/// Reads `response.body` into `out`, at most `max` bytes (then the stream is cancelled).
async fn read_body(
    response: &JsValue,
    max: usize,
    deadline: Duration,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let stream = get(response, "body");
    if stream.is_null() || stream.is_undefined() {
        return Ok(());
    }
    let reader = get(&stream, "getReader")
        .dyn_into::<Function>()
        .map_err(|_| "unreadable answer".to_owned())?
        .call0(&stream)
        .map_err(|e| error_text(&e))?;
    let read = get(&reader, "read")
        .dyn_into::<Function>()
        .map_err(|_| "unreadable answer".to_owned())?;
    loop {
        let chunk: Promise = read
            .call0(&reader)
            .map_err(|e| error_text(&e))?
            .unchecked_into();
        let chunk = timed(chunk, deadline).await?;
        if get(&chunk, "done").as_bool() == Some(true) {
            return Ok(());
        }
        let Ok(bytes) = get(&chunk, "value").dyn_into::<Uint8Array>() else {
            return Err("unreadable answer".into());
        };
        let room = max - out.len();
        let take = (bytes.length() as usize).min(room);
        let start = out.len();
        out.resize(start + take, 0);
        bytes.subarray(0, take as u32).copy_to(&mut out[start..]);
        if out.len() >= max {
            if let Ok(cancel) = get(&reader, "cancel").dyn_into::<Function>() {
                let _ = cancel.call0(&reader);
            }
            return Ok(());
        }
    }
}

async fn timed(promise: Promise, deadline: Duration) -> Result<JsValue, String> {
    let left = deadline.saturating_sub(now());
    let reason = JsValue::from_str(&format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()));
    within(promise, left, reason)
        .await
        .map_err(|e| error_text(&e))
}

/// `new globalThis[name]()`.
fn construct(name: &str) -> Result<JsValue, String> {
    let ctor: Function = get(&js_sys::global(), name)
        .dyn_into()
        .map_err(|_| format!("this page has no {name}"))?;
    js_sys::Reflect::construct(&ctor, &js_sys::Array::new()).map_err(|e| error_text(&e))
}

/// The web seeds for the torrent's stats: `[{ url, state, downloaded, downloadSpeed, inFlight }]`.
pub fn stats(webseeds: &WebSeeds) -> JsValue {
    let list = js_sys::Array::new();
    for s in webseeds.stats() {
        let out = Object::new();
        set(&out, "url", s.url.as_str());
        let state = match &s.state {
            crate::session::webseed::SeedState::Ready => "ready".to_string(),
            crate::session::webseed::SeedState::Backoff { .. } => "backoff".to_string(),
            crate::session::webseed::SeedState::Dropped { reason } => format!("dropped: {reason}"),
        };
        set(&out, "state", state);
        set(&out, "downloaded", s.downloaded as f64);
        set(&out, "downloadSpeed", s.download_rate);
        set(&out, "inFlight", s.in_flight as u32);
        list.push(&out);
    }
    list.into()
}
