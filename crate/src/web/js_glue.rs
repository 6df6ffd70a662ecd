//! Small wrappers over browser APIs: the clock, randomness, owned event listeners and timers.
//!
//! Ownership rule for everything the browser calls back into: the Rust value that owns the
//! closure also unregisters it in `Drop`, so a listener lives exactly as long as its owner
//! (a connection, a tracker socket, a client) and nothing is `.forget()`-ed.

use std::time::Duration;

use js_sys::{Function, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Event, EventTarget};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &Function);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Monotonic time since the page started (`performance.now()`), the engine's clock.
pub fn now() -> Duration {
    Duration::from_secs_f64(performance_now().max(0.0) / 1000.0)
}

/// Cryptographically random bytes (`crypto.getRandomValues`): peer ids, offer ids, seeds.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    get_random_values(&mut out);
    out
}

pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes::<8>())
}

/// Calls `handler` once after `delay` (a plain timer nobody cancels: the caller's promise
/// settles either way).
pub fn call_later(handler: &Function, delay: Duration) {
    let _ = set_timeout(handler, delay.as_secs_f64() * 1000.0);
}

/// A pending promise and the function that resolves it (for a promise settled by later
/// events rather than by one future).
pub fn pending_promise() -> (js_sys::Promise, Function) {
    let mut resolve_slot = None;
    let promise = js_sys::Promise::new(&mut |resolve, _reject| resolve_slot = Some(resolve));
    let resolve = resolve_slot.expect("the Promise executor runs synchronously");
    (promise, resolve)
}

/// Resolves after `delay` (a browser timer).
pub async fn sleep(delay: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| call_later(&resolve, delay));
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Awaits `promise`, or rejects with `reason` once `limit` has passed without it settling
/// (the promise itself is left to settle unobserved).
pub async fn within(
    promise: js_sys::Promise,
    limit: Duration,
    reason: JsValue,
) -> Result<JsValue, JsValue> {
    let timeout = js_sys::Promise::new(&mut |_, reject| {
        let reject = reject.clone();
        let reason = reason.clone();
        let cb = Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &reason);
        });
        call_later(cb.unchecked_ref(), limit);
    });
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(
        &promise, &timeout,
    )))
    .await
}

/// Runs `callback` once the current task finishes (before any timer or I/O event).
pub fn microtask(callback: &Function) {
    queue_microtask(callback);
}

/// An event listener that is removed, and its closure freed, when this value is dropped.
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    pub fn new(
        target: &EventTarget,
        kind: &'static str,
        handler: impl FnMut(Event) + 'static,
    ) -> Listener {
        let closure = Closure::<dyn FnMut(Event)>::new(handler);
        // Cannot fail for a plain function listener on a live EventTarget.
        let _ = target.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
        Listener {
            target: target.clone(),
            kind,
            closure,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Unregister before the closure is freed so the browser never calls a dead closure.
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("kind", &self.kind)
            .finish()
    }
}

/// A one-shot timer, cancelled when dropped.
pub struct Timeout {
    id: JsValue,
    _closure: Closure<dyn FnMut()>,
}

impl Timeout {
    pub fn new(delay: Duration, handler: impl FnMut() + 'static) -> Timeout {
        let closure = Closure::<dyn FnMut()>::new(handler);
        let id = set_timeout(
            closure.as_ref().unchecked_ref(),
            delay.as_secs_f64() * 1000.0,
        );
        Timeout {
            id,
            _closure: closure,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

impl std::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timeout")
    }
}

/// `object[key]`, or `undefined` when `object` is not an object.
pub fn get(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Sets `object[key] = value` on a plain object we created (cannot fail there).
pub fn set(object: &js_sys::Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// A one-line message for a thrown JavaScript value (an `Error`'s message, or its string form).
pub fn error_text(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
