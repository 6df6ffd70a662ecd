//! BEP 19 URL rules: which URL serves which file of a torrent.
//!
//! Single file: the URL as given, or — when it ends in `/` — the URL plus the torrent's
//! name. Multi-file: `URL/NAME/PATH…` (a `/` is added when the URL lacks one). Every appended
//! path segment is percent-encoded (RFC 3986 unreserved characters stay as they are).

use crate::metainfo::{Info, MAX_URL_BYTES};

/// Why a web seed URL is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebSeedUrlError {
    #[error("web seed URL is longer than {MAX_URL_BYTES} bytes")]
    TooLong,
    #[error("web seed URL is not http:// or https://: {0}")]
    Scheme(String),
    /// A query or fragment would end up in the middle of the file paths appended to it.
    #[error("web seed URL has a query or fragment: {0}")]
    QueryOrFragment(String),
    #[error("web seed URL has whitespace or control characters")]
    BadCharacters,
    #[error("web seed URL has no host: {0}")]
    NoHost(String),
    #[error("too many web seeds (at most {})", super::MAX_WEB_SEEDS)]
    TooMany,
}

/// Checks a `url-list` / `ws=` entry (untrusted) before it is kept.
pub fn validate(url: &str) -> Result<(), WebSeedUrlError> {
    if url.len() > MAX_URL_BYTES {
        return Err(WebSeedUrlError::TooLong);
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(WebSeedUrlError::BadCharacters);
    }
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://") {
        rest
    } else {
        return Err(WebSeedUrlError::Scheme(url.to_string()));
    };
    if url.contains(['?', '#']) {
        return Err(WebSeedUrlError::QueryOrFragment(url.to_string()));
    }
    if rest.split('/').next().is_none_or(str::is_empty) {
        return Err(WebSeedUrlError::NoHost(url.to_string()));
    }
    Ok(())
}

/// True for a torrent with a folder (`info.files`' paths start with the folder name).
pub fn is_multi_file(info: &Info) -> bool {
    info.files.len() != 1 || info.files[0].path.len() != 1
}

/// The URL that serves file `file` of the torrent from web seed `base` (already validated).
pub fn file_url(base: &str, info: &Info, file: usize) -> Option<String> {
    let entry = info.files.get(file)?;
    if !is_multi_file(info) {
        if base.ends_with('/') {
            return Some(format!("{base}{}", encode_segment(&info.name)));
        }
        return Some(base.to_string());
    }
    let mut url = base.to_string();
    if !url.ends_with('/') {
        url.push('/');
    }
    // `path` starts with the torrent's folder name: URL/NAME/PATH…
    let segments: Vec<String> = entry.path.iter().map(|s| encode_segment(s)).collect();
    url.push_str(&segments.join("/"));
    Some(url)
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for &b in segment.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
