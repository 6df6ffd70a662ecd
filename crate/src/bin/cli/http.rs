//! A small blocking HTTP client for the `channel` commands (native only): bounded answers,
//! one overall timeout, and every status handed back (the caller decides what 404 means).

use std::time::Duration;

/// Largest answer body read: a manifest is at most 2 MiB; twice that leaves room for an
/// error page without letting a hostile server fill memory.
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// Whole-request timeout (connect, send, answer): a stalled server ends in an error line.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Response {
    pub status: u16,
    pub body: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("seedcast/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn read(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
) -> Result<Response, String> {
    let mut response = response.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .lossy_utf8(true)
        .read_to_string()
        .map_err(|e| format!("{url}: reading the answer: {e}"))?;
    Ok(Response { status, body })
}

pub fn get(url: &str) -> Result<Response, String> {
    read(
        agent().get(url).header("accept", "application/json").call(),
        url,
    )
}

pub fn put_json(url: &str, body: &str) -> Result<Response, String> {
    read(
        agent()
            .put(url)
            .header("content-type", "application/json")
            .send(body),
        url,
    )
}
