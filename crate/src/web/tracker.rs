//! One WebSocket tracker connection, shared by every torrent of a client (the session
//! decides when to connect and reconnect). The socket owns its listeners; dropping it (on
//! close, on `destroy`) frees them.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use super::js_glue::Listener;
use crate::session::tracker_proto::MAX_MESSAGE_CHARS;

/// What a tracker socket reports to the client.
pub enum SocketEvent {
    Open,
    Text(String),
    Closed(String),
}

pub type SocketSink = Rc<dyn Fn(SocketEvent)>;

pub struct TrackerSocket {
    ws: WebSocket,
    _listeners: Vec<Listener>,
}

impl TrackerSocket {
    pub fn connect(url: &str, sink: SocketSink) -> Result<TrackerSocket, String> {
        let ws = WebSocket::new(url)
            .map_err(|_| format!("`{url}` is not a usable WebSocket tracker URL"))?;
        let target: &web_sys::EventTarget = ws.as_ref();
        let s = sink.clone();
        let open = Listener::new(target, "open", move |_| s(SocketEvent::Open));
        let s = sink.clone();
        let message = Listener::new(target, "message", move |event| {
            let Ok(event) = event.dyn_into::<MessageEvent>() else {
                return;
            };
            let data = event.data();
            // Trackers speak JSON text frames; binary frames are ignored. The length is
            // checked before the string is copied into wasm memory.
            let Some(text) = data.dyn_ref::<js_sys::JsString>() else {
                return;
            };
            if text.length() as usize > MAX_MESSAGE_CHARS {
                return;
            }
            if let Some(text) = text.as_string() {
                s(SocketEvent::Text(text));
            }
        });
        let s = sink.clone();
        let close = Listener::new(target, "close", move |event| {
            let code = event
                .dyn_into::<CloseEvent>()
                .map(|e| e.code())
                .unwrap_or(0);
            s(SocketEvent::Closed(format!(
                "connection closed (code {code})"
            )));
        });
        // `error` is always followed by `close`; the close carries the news.
        Ok(TrackerSocket {
            ws,
            _listeners: vec![open, message, close],
        })
    }

    pub fn is_open(&self) -> bool {
        self.ws.ready_state() == WebSocket::OPEN
    }

    /// Sends one JSON message; dropped silently if the socket is not open (the next
    /// announce after reconnecting carries fresh state anyway).
    pub fn send(&self, text: &str) {
        if self.is_open() {
            let _ = self.ws.send_with_str(text);
        }
    }
}

impl Drop for TrackerSocket {
    fn drop(&mut self) {
        let _ = self.ws.close();
    }
}
