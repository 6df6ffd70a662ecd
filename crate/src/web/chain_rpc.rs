//! JSON-RPC over HTTP to the site's chain (`chain.rpcUrls`), for reads a page makes without a
//! wallet: tips per work (`eth_getLogs`). What to ask and how to read answers is the core's
//! (`crate::tip::logs`); this file only carries requests, bounded in size and time, trying
//! each URL in turn.

use std::time::Duration;

use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::js_glue::{call_later, error_text, get, set};

/// Longest one call may take before the next URL is tried.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest answer read, in bytes (the core bounds what it parses again).
const MAX_ANSWER_BYTES: usize = crate::tip::logs::MAX_LOGS_ANSWER_BYTES;

/// `result` of `method(params)` as JSON text, from the first URL that answers; an error says
/// what the last URL did.
pub async fn call(
    urls: &[String],
    method: &str,
    params: &serde_json::Value,
) -> Result<String, String> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut last = String::from("no RPC URL");
    for url in urls {
        match call_one(url, &body).await {
            Ok(answer) => return read_answer(&answer),
            Err(e) => last = e,
        }
    }
    Err(format!("the chain's RPC could not be reached ({last})"))
}

/// Picks `result` out of a JSON-RPC answer, or its `error.message`.
fn read_answer(text: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| "the chain's RPC answered something that is not JSON".to_owned())?;
    if let Some(error) = value.get("error") {
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("an error");
        return Err(format!(
            "the chain's RPC refused: {}",
            crate::tip::error::one_line(message, 200)
        ));
    }
    value
        .get("result")
        .map(|r| r.to_string())
        .ok_or_else(|| "the chain's RPC answered without a result".to_owned())
}

async fn call_one(url: &str, body: &str) -> Result<String, String> {
    let fetch: Function = get(&js_sys::global(), "fetch")
        .dyn_into()
        .map_err(|_| "this page cannot fetch".to_owned())?;
    let init = Object::new();
    set(&init, "method", "POST");
    set(&init, "body", body);
    set(&init, "credentials", "omit");
    let headers = Object::new();
    set(&headers, "content-type", "application/json");
    set(&init, "headers", headers);
    let request: Promise = fetch
        .call2(&JsValue::NULL, &JsValue::from_str(url), &init)
        .map_err(|e| error_text(&e))?
        .unchecked_into();
    let response = with_timeout(request).await?;
    if !get(&response, "ok").as_bool().unwrap_or(false) {
        let status = get(&response, "status").as_f64().unwrap_or(0.0);
        return Err(format!("HTTP {status}"));
    }
    let length = get(&get(&response, "headers"), "get")
        .dyn_into::<Function>()
        .ok()
        .and_then(|f| {
            f.call1(&get(&response, "headers"), &"content-length".into())
                .ok()
        })
        .and_then(|v| v.as_string())
        .and_then(|v| v.parse::<usize>().ok());
    if length.is_some_and(|n| n > MAX_ANSWER_BYTES) {
        return Err("the answer is too large".into());
    }
    let text: Promise = get(&response, "text")
        .dyn_into::<Function>()
        .map_err(|_| "unreadable answer".to_owned())?
        .call0(&response)
        .map_err(|e| error_text(&e))?
        .unchecked_into();
    let text = with_timeout(text).await?.as_string().unwrap_or_default();
    if text.len() > MAX_ANSWER_BYTES {
        return Err("the answer is too large".into());
    }
    Ok(text)
}

async fn with_timeout(promise: Promise) -> Result<JsValue, String> {
    let timeout = Promise::new(&mut |_, reject| {
        let reject = reject.clone();
        let seconds = CALL_TIMEOUT.as_secs();
        let cb = Closure::once_into_js(move || {
            let _ = reject.call1(
                &JsValue::NULL,
                &JsValue::from_str(&format!("no answer within {seconds} s")),
            );
        });
        call_later(cb.unchecked_ref(), CALL_TIMEOUT);
    });
    JsFuture::from(Promise::race(&Array::of2(&promise, &timeout)))
        .await
        .map_err(|e| error_text(&e))
}
