//! Browser wallets: EIP-6963 discovery and EIP-1193 requests. The thin IO side of tipping and
//! of signing creator records; what to ask and what the answers mean is decided in the
//! sans-IO core (`crate::tip`).
//!
//! Discovery: one `eip6963:announceProvider` listener per page, attached before the first
//! `eip6963:requestProvider` is dispatched and never removed (wallets may announce late, and
//! EIP-6963 asks pages to keep listening). It is the one closure in the driver that lives as
//! long as the page. `window.ethereum` is the fallback when nothing announced.
//!
//! Every announcement is untrusted (any extension can announce anything): the provider must
//! have a `request` function, the texts are bounded and stripped of control characters, an
//! icon is kept only as a `data:image/` URI, a uuid seen before cannot be taken over by a later
//! announcement, and at most [`MAX_WALLETS`] are kept.

use std::cell::RefCell;
use std::time::Duration;

use js_sys::{Array, Function, JSON, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::js_glue::{get, set};
use crate::tip::{TipError, TipErrorCode};

/// Most wallets remembered per page: real pages have one to three.
const MAX_WALLETS: usize = 16;
/// Longest `uuid`, `name` and `rdns` kept (EIP-6963 uuids are 36 characters).
const MAX_TEXT_CHARS: usize = 100;
/// Largest icon kept (a data URI of a 96×96 image is a few KiB; a huge one would be a way to
/// bloat every page that lists wallets).
const MAX_ICON_BYTES: usize = 64 * 1024;
/// How long `wallets()` waits for announcements after asking: wallets answer synchronously
/// inside the dispatch, a content script at worst a task later.
const ANNOUNCE_WAIT: Duration = Duration::from_millis(50);
/// The uuid given to the `window.ethereum` fallback.
pub const FALLBACK_UUID: &str = "window.ethereum";

#[derive(Clone)]
struct Wallet {
    uuid: String,
    name: String,
    rdns: String,
    icon: String,
    provider: JsValue,
}

thread_local! {
    static WALLETS: RefCell<Option<Vec<Wallet>>> = const { RefCell::new(None) };
}

/// Attaches the announcement listener (once per page). Called when a client is created, so
/// wallets announcing at page load are heard even before anyone asks.
pub fn listen() {
    let first = WALLETS.with(|w| {
        let mut w = w.borrow_mut();
        let first = w.is_none();
        w.get_or_insert_with(Vec::new);
        first
    });
    if !first {
        return;
    }
    let Some(window) = page() else {
        return;
    };
    let on_announce = Closure::<dyn FnMut(web_sys::Event)>::new(|event: web_sys::Event| {
        let detail = get(&event, "detail");
        if let Some(wallet) = accept(&detail) {
            WALLETS.with(|w| {
                let mut w = w.borrow_mut();
                let list = w.get_or_insert_with(Vec::new);
                if list.len() < MAX_WALLETS && !list.iter().any(|k| k.uuid == wallet.uuid) {
                    list.push(wallet);
                }
            });
        }
    });
    let _ = window.add_event_listener_with_callback(
        "eip6963:announceProvider",
        on_announce.as_ref().unchecked_ref(),
    );
    // Lives as long as the page, by EIP-6963's rule (see the module comment).
    on_announce.forget();
}

/// An announcement's `{info, provider}` if it is usable.
fn accept(detail: &JsValue) -> Option<Wallet> {
    let info = get(detail, "info");
    let provider = get(detail, "provider");
    if !get(&provider, "request").is_function() {
        return None;
    }
    let uuid = text(&get(&info, "uuid"))?;
    if uuid.is_empty() || uuid == FALLBACK_UUID {
        return None;
    }
    let icon = get(&info, "icon")
        .as_string()
        .filter(|i| i.len() <= MAX_ICON_BYTES && i.starts_with("data:image/"))
        .unwrap_or_default();
    Some(Wallet {
        uuid,
        name: text(&get(&info, "name")).unwrap_or_default(),
        rdns: text(&get(&info, "rdns")).unwrap_or_default(),
        icon,
        provider,
    })
}

/// A bounded one-line string, or `None` for a non-string.
fn text(value: &JsValue) -> Option<String> {
    let s = value.as_string()?;
    Some(
        s.chars()
            .filter(|c| !c.is_control())
            .take(MAX_TEXT_CHARS)
            .collect(),
    )
}

/// Asks wallets to announce themselves, waits briefly, and lists what is known (the
/// `window.ethereum` fallback when nothing announced).
async fn discover() -> Vec<Wallet> {
    listen();
    if let Some(window) = page() {
        if let Ok(event) = web_sys::Event::new("eip6963:requestProvider") {
            let _ = window.dispatch_event(&event);
        }
        super::js_glue::sleep(ANNOUNCE_WAIT).await;
    }
    let mut known = WALLETS.with(|w| w.borrow().clone().unwrap_or_default());
    if known.is_empty() {
        let ethereum = get(&js_sys::global(), "ethereum");
        if get(&ethereum, "request").is_function() {
            known.push(Wallet {
                uuid: FALLBACK_UUID.into(),
                name: "Browser wallet".into(),
                rdns: String::new(),
                icon: String::new(),
                provider: ethereum,
            });
        }
    }
    known
}

/// The page's global object as an event target (wallets announce on `window`).
fn page() -> Option<web_sys::EventTarget> {
    js_sys::global().dyn_into::<web_sys::EventTarget>().ok()
}

/// `[{uuid, name, rdns, icon}]` of the wallets in this page.
pub async fn list() -> JsValue {
    let array = Array::new();
    for wallet in discover().await {
        let entry = Object::new();
        set(&entry, "uuid", wallet.uuid);
        set(&entry, "name", wallet.name);
        set(&entry, "rdns", wallet.rdns);
        set(&entry, "icon", wallet.icon);
        array.push(&entry);
    }
    array.into()
}

/// The provider chosen by `wallet` (a uuid, else an rdns); without a choice, the first
/// wallet that announced (or `window.ethereum`).
pub async fn provider(wallet: Option<&str>) -> Result<JsValue, TipError> {
    let known = discover().await;
    let no_wallet = |message: String| TipError {
        code: TipErrorCode::NoWallet,
        message,
    };
    if known.is_empty() {
        return Err(no_wallet(
            "no browser wallet found: install one that supports EVM chains".into(),
        ));
    }
    let Some(choice) = wallet else {
        return Ok(known[0].provider.clone());
    };
    if let Some(w) = known.iter().find(|w| w.uuid == choice) {
        return Ok(w.provider.clone());
    }
    let by_rdns: Vec<&Wallet> = known.iter().filter(|w| w.rdns == choice).collect();
    match by_rdns.as_slice() {
        [one] => Ok(one.provider.clone()),
        [] => Err(no_wallet(format!(
            "no wallet `{}` in this browser",
            clip(choice)
        ))),
        // rdns can be spoofed: two wallets claiming one name must be told apart by uuid.
        _ => Err(no_wallet(format!(
            "{} wallets claim `{}`: choose one by uuid",
            by_rdns.len(),
            clip(choice)
        ))),
    }
}

fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(60).collect()
}

/// Longest a non-interactive call may take (a read the wallet forwards to its node).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a call waiting for the user (a prompt) may take before giving up on it.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// `provider.request({method, params})`. `Ok`: the JSON of what it resolved with; `Err`: the
/// JSON of `{code, message, data}` of what it rejected with (both go to the core to judge).
/// A wallet that never answers is given up on after a timeout (a prompt gets minutes).
pub async fn request(provider: &JsValue, method: &str, params: &str) -> Result<String, String> {
    let params = JSON::parse(params).map_err(|_| error_json(None, "bad request parameters"))?;
    let args = Object::new();
    set(&args, "method", method);
    set(&args, "params", params);
    let request: Function = get(provider, "request").unchecked_into();
    let promise = match request.call1(provider, &args) {
        Ok(value) => Promise::resolve(&value),
        Err(e) => Promise::reject(&e),
    };
    let interactive = matches!(
        method,
        "eth_requestAccounts"
            | "wallet_switchEthereumChain"
            | "wallet_addEthereumChain"
            | "eth_sendTransaction"
            | "eth_signTypedData_v4"
    );
    let limit = if interactive {
        PROMPT_TIMEOUT
    } else {
        READ_TIMEOUT
    };
    let seconds = limit.as_secs();
    let timed_out = error_json(
        None,
        &format!("the wallet did not answer {method} within {seconds} s"),
    );
    match super::js_glue::within(promise, limit, JsValue::from_str(&timed_out)).await {
        Ok(value) => Ok(to_json(&value)),
        // Our own timeout rejects with a ready JSON string; a wallet with an error object.
        Err(e) => Err(e.as_string().unwrap_or_else(|| describe_error(&e))),
    }
}

/// `JSON.stringify` that never throws (cycles, BigInt): `null` when it cannot.
fn to_json(value: &JsValue) -> String {
    if value.is_undefined() {
        return "null".into();
    }
    JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "null".into())
}

/// `{code, message, data, cause}` of a rejection: `Error`'s `message` is not enumerable,
/// so `JSON.stringify(error)` alone would lose it.
fn describe_error(error: &JsValue) -> String {
    let out = Object::new();
    for key in ["code", "message", "data"] {
        let value = get(error, key);
        if !value.is_undefined() {
            // Data may be cyclic or hold BigInts: keep it only if it serialises.
            let value = if key == "data" {
                JSON::parse(&to_json(&value)).unwrap_or(JsValue::NULL)
            } else {
                value
            };
            set(&out, key, value);
        }
    }
    let cause_code = get(&get(error, "cause"), "code");
    if !cause_code.is_undefined() {
        let cause = Object::new();
        set(&cause, "code", cause_code);
        set(&out, "cause", cause);
    }
    if get(&out, "message").is_undefined() {
        set(&out, "message", super::js_glue::error_text(error));
    }
    to_json(&out)
}

fn error_json(code: Option<i64>, message: &str) -> String {
    let out = Object::new();
    if let Some(code) = code {
        set(&out, "code", code as f64);
    }
    set(&out, "message", message);
    to_json(&out)
}

/// An `Error` with a `code` property, as `tip()` and `seed()` reject with.
pub fn coded_error(error: &TipError) -> JsValue {
    let e = js_sys::Error::new(&error.message);
    let _ = Reflect::set(&e, &"code".into(), &error.code.as_str().into());
    e.into()
}
