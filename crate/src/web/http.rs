//! `fetch` for the driver's own HTTP calls (the chain's JSON-RPC, the channel API): bounded
//! in time and size, no credentials, one-line errors.

use std::time::Duration;

use js_sys::{Function, Object, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::js_glue::{error_text, get, set, within};

/// Longest one request may take (connect, headers and body).
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// `(status, body)` of `method url` with an optional JSON `body`. Bodies over `max_bytes`
/// (by `Content-Length`, then by what arrived) are refused.
pub async fn fetch_text(
    method: &str,
    url: &str,
    body: Option<&str>,
    max_bytes: usize,
) -> Result<(u16, String), String> {
    let fetch: Function = get(&js_sys::global(), "fetch")
        .dyn_into()
        .map_err(|_| "this page cannot fetch".to_owned())?;
    let init = Object::new();
    set(&init, "method", method);
    set(&init, "credentials", "omit");
    set(&init, "cache", "no-store");
    if let Some(body) = body {
        set(&init, "body", body);
        let headers = Object::new();
        set(&headers, "content-type", "application/json");
        set(&init, "headers", headers);
    }
    let request: Promise = fetch
        .call2(&JsValue::NULL, &JsValue::from_str(url), &init)
        .map_err(|e| error_text(&e))?
        .unchecked_into();
    let response = with_timeout(request).await?;
    let status = get(&response, "status").as_f64().unwrap_or(0.0) as u16;
    let headers = get(&response, "headers");
    let length = get(&headers, "get")
        .dyn_into::<Function>()
        .ok()
        .and_then(|f| f.call1(&headers, &"content-length".into()).ok())
        .and_then(|v| v.as_string())
        .and_then(|v| v.parse::<usize>().ok());
    if length.is_some_and(|n| n > max_bytes) {
        return Err(format!("the answer is larger than {max_bytes} bytes"));
    }
    let text: Promise = get(&response, "text")
        .dyn_into::<Function>()
        .map_err(|_| "unreadable answer".to_owned())?
        .call0(&response)
        .map_err(|e| error_text(&e))?
        .unchecked_into();
    let text = with_timeout(text).await?.as_string().unwrap_or_default();
    if text.len() > max_bytes {
        return Err(format!("the answer is larger than {max_bytes} bytes"));
    }
    Ok((status, text))
}

async fn with_timeout(promise: Promise) -> Result<JsValue, String> {
    let seconds = TIMEOUT.as_secs();
    let reason = JsValue::from_str(&format!("no answer within {seconds} s"));
    within(promise, TIMEOUT, reason)
        .await
        .map_err(|e| error_text(&e))
}
