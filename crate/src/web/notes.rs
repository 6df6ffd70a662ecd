//! Notifications for JavaScript listeners.
//!
//! They are queued while the client's state is borrowed and delivered from a microtask, when
//! nothing is borrowed: a listener may call straight back into the API (read stats, remove
//! the torrent) without re-entering the driver.

use wasm_bindgen::JsValue;

#[derive(Debug, Clone)]
pub struct Note {
    /// The torrent's info hash (hex), or `None` for client-wide news (tracker status).
    pub torrent: Option<String>,
    /// `metadata`, `ready`, `progress`, `peer`, `done`, `ban`, `warning`, `error`, `tracker`.
    pub kind: &'static str,
    pub detail: JsValue,
}

impl Note {
    pub fn new(torrent: &str, kind: &'static str, detail: JsValue) -> Note {
        Note {
            torrent: Some(torrent.to_owned()),
            kind,
            detail,
        }
    }

    pub fn client(kind: &'static str, detail: JsValue) -> Note {
        Note {
            torrent: None,
            kind,
            detail,
        }
    }

    /// Something went wrong but the torrent carries on.
    pub fn warning(torrent: &str, message: String) -> Note {
        Note::new(torrent, "warning", message_detail(&message).into())
    }

    /// Something the page should show: `{ code, message, fatal }`. `fatal`: the torrent was
    /// stopped (the wrapper then forgets it); otherwise it carries on (e.g. in memory only).
    /// The codes are a contract (seedcast.d.ts `SeedcastErrorCode`).
    pub fn error(torrent: &str, code: &'static str, message: &str, fatal: bool) -> Note {
        let detail = message_detail(message);
        super::js_glue::set(&detail, "code", code);
        super::js_glue::set(&detail, "fatal", fatal);
        Note::new(torrent, "error", detail.into())
    }
}

/// `{ message }`, the detail of warnings and errors (callers may add fields).
pub fn message_detail(message: &str) -> js_sys::Object {
    let detail = js_sys::Object::new();
    super::js_glue::set(&detail, "message", message);
    detail
}
