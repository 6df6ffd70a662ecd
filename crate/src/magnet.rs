//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=<name>&tr=<tracker>&ws=<web seed>`.
//!
//! Parsing is bounded (total length, parameter count, kept URLs) and strict about the one
//! thing that matters, the info hash; unknown parameters (`xs`, `as`, `x.pe`, ...) are ignored.

use core::fmt;
use thiserror::Error;

use crate::metainfo::{InfoHash, InfoHashParseError, MAX_URL_BYTES, MAX_URLS};

/// Longest magnet link accepted.
pub const MAX_MAGNET_BYTES: usize = 64 * 1024;
/// Most `&`-separated parameters accepted.
pub const MAX_MAGNET_PARAMETERS: usize = 1024;

/// What a magnet link tells before any metadata is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Magnet {
    pub info_hash: InfoHash,
    /// `dn`, the display name; a hint only, not sanitized (the real name comes with the metadata).
    pub name: Option<String>,
    /// `tr` values in order, deduplicated, at most `MAX_URLS`.
    pub trackers: Vec<String>,
    /// `ws` values (BEP 19 web seeds), deduplicated, at most `MAX_URLS`.
    pub web_seeds: Vec<String>,
}

/// Why a string is not a usable magnet link.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MagnetError {
    #[error("not a magnet link (expected `magnet:?`)")]
    NotAMagnet,
    #[error("magnet link is {length} bytes, longer than the {max}-byte limit")]
    TooLong { length: usize, max: usize },
    #[error("magnet link has more than {max} parameters", max = MAX_MAGNET_PARAMETERS)]
    TooManyParameters,
    #[error("magnet link has a malformed %-escape")]
    InvalidPercentEncoding,
    #[error("magnet link has no `xt=urn:btih:` info hash")]
    MissingInfoHash,
    #[error("magnet link is v2-only (`urn:btmh:`), which is not supported")]
    V2Only,
    #[error("magnet link info hash: {0}")]
    InvalidInfoHash(#[from] InfoHashParseError),
    #[error("magnet link has two different `urn:btih:` info hashes")]
    ConflictingInfoHashes,
}

impl Magnet {
    pub fn parse(uri: &str) -> Result<Magnet, MagnetError> {
        if uri.len() > MAX_MAGNET_BYTES {
            return Err(MagnetError::TooLong {
                length: uri.len(),
                max: MAX_MAGNET_BYTES,
            });
        }
        let query =
            strip_prefix_ignore_case(uri.trim(), "magnet:?").ok_or(MagnetError::NotAMagnet)?;
        let mut info_hash = None;
        let mut saw_v2_hash = false;
        let mut name = None;
        let mut trackers = Vec::new();
        let mut web_seeds = Vec::new();
        for (index, parameter) in query.split('&').enumerate() {
            if index == MAX_MAGNET_PARAMETERS {
                return Err(MagnetError::TooManyParameters);
            }
            let (key, raw_value) = parameter.split_once('=').unwrap_or((parameter, ""));
            let key = base_key(key);
            let value = if key == "dn" {
                // WebTorrent (magnet-uri) writes spaces in `dn` as `+`; a real `+` arrives as `%2B`.
                percent_decode(&raw_value.replace('+', " "))?
            } else {
                percent_decode(raw_value)?
            };
            match key {
                "xt" => {
                    if let Some(hash) = strip_prefix_ignore_case(&value, "urn:btih:") {
                        let hash = InfoHash::parse(hash)?;
                        if info_hash.is_some_and(|known| known != hash) {
                            return Err(MagnetError::ConflictingInfoHashes);
                        }
                        info_hash = Some(hash);
                    } else if strip_prefix_ignore_case(&value, "urn:btmh:").is_some() {
                        saw_v2_hash = true;
                    }
                }
                "dn" if name.is_none() => name = Some(value),
                "tr" => push_url(&mut trackers, value),
                "ws" => push_url(&mut web_seeds, value),
                _ => {}
            }
        }
        let info_hash = match info_hash {
            Some(hash) => hash,
            None if saw_v2_hash => return Err(MagnetError::V2Only),
            None => return Err(MagnetError::MissingInfoHash),
        };
        Ok(Magnet {
            info_hash,
            name,
            trackers,
            web_seeds,
        })
    }

    /// The canonical link: hex info hash, then `dn`, `tr`, `ws`, each percent-encoded.
    pub fn to_uri(&self) -> String {
        let mut uri = format!("magnet:?xt=urn:btih:{}", self.info_hash.to_hex());
        let params = self.name.iter().map(|n| ("dn", n));
        let params = params
            .chain(self.trackers.iter().map(|t| ("tr", t)))
            .chain(self.web_seeds.iter().map(|w| ("ws", w)));
        for (key, value) in params {
            uri.push('&');
            uri.push_str(key);
            uri.push('=');
            percent_encode_into(value, &mut uri);
        }
        uri
    }
}

impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

impl core::str::FromStr for Magnet {
    type Err = MagnetError;
    fn from_str(uri: &str) -> Result<Self, Self::Err> {
        Self::parse(uri)
    }
}

/// `xt.1` and `tr.2` are numbered variants of `xt` and `tr`.
fn base_key(key: &str) -> &str {
    match key.split_once('.') {
        Some((base, number)) if number.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => key,
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn push_url(urls: &mut Vec<String>, url: String) {
    let url = url.trim();
    let usable = !url.is_empty() && url.len() <= MAX_URL_BYTES;
    if usable && urls.len() < MAX_URLS && !urls.iter().any(|u| u == url) {
        urls.push(url.to_owned());
    }
}

/// Decodes `%XX` escapes; `+` is kept (tracker URLs may contain it). Invalid UTF-8 is replaced.
fn percent_decode(text: &str) -> Result<String, MagnetError> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        if byte == b'%' {
            let high = input.next().and_then(hex_digit);
            let low = input.next().and_then(hex_digit);
            let (Some(high), Some(low)) = (high, low) else {
                return Err(MagnetError::InvalidPercentEncoding);
            };
            bytes.push(high << 4 | low);
        } else {
            bytes.push(byte);
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|d| d as u8)
}

/// Escapes everything but RFC 3986 unreserved characters.
fn percent_encode_into(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c9e15763f722f23e98a29decdfae341b98d53056";

    #[test]
    fn parses_a_typical_link() {
        let magnet = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=My%20Show%20%C3%A9&tr=wss%3A%2F%2Ftracker.example%2Fannounce\
             &tr=udp://t.example:80&ws=https://seed.example/files/&x.pe=1.2.3.4:5"
        ))
        .unwrap();
        assert_eq!(magnet.info_hash.to_hex(), HEX);
        assert_eq!(magnet.name.as_deref(), Some("My Show é"));
        assert_eq!(
            magnet.trackers,
            ["wss://tracker.example/announce", "udp://t.example:80"]
        );
        assert_eq!(magnet.web_seeds, ["https://seed.example/files/"]);
    }

    #[test]
    fn accepts_base32_upper_case_scheme_and_numbered_keys() {
        let magnet =
            Magnet::parse("MAGNET:?xt.1=urn:btih:ZHQVOY7XELZD5GFCTXWN7LRUDOMNKMCW&tr.1=wss://a")
                .unwrap();
        assert_eq!(magnet.info_hash.to_hex(), HEX);
        assert_eq!(magnet.trackers, ["wss://a"]);
    }

    #[test]
    fn picks_the_btih_among_several_xt() {
        let v2 = "urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e";
        let magnet = Magnet::parse(&format!("magnet:?xt={v2}&xt=urn:btih:{HEX}")).unwrap();
        assert_eq!(magnet.info_hash.to_hex(), HEX);
    }

    #[test]
    fn refuses_v2_only_and_missing_hashes() {
        let v2 = "urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e";
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt={v2}")),
            Err(MagnetError::V2Only)
        );
        assert_eq!(
            Magnet::parse("magnet:?dn=x"),
            Err(MagnetError::MissingInfoHash)
        );
        assert_eq!(
            Magnet::parse("https://example.com"),
            Err(MagnetError::NotAMagnet)
        );
        assert_eq!(
            Magnet::parse("magnet:?xt=urn:btih:abc"),
            Err(MagnetError::InvalidInfoHash(
                InfoHashParseError::WrongLength(3)
            ))
        );
        let other = "0".repeat(40);
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{other}")),
            Err(MagnetError::ConflictingInfoHashes)
        );
    }

    #[test]
    fn rejects_bad_escapes_and_oversized_input() {
        let bad = format!("magnet:?xt=urn:btih:{HEX}&dn=%zz");
        assert_eq!(
            Magnet::parse(&bad),
            Err(MagnetError::InvalidPercentEncoding)
        );
        let truncated = format!("magnet:?xt=urn:btih:{HEX}&dn=%4");
        assert_eq!(
            Magnet::parse(&truncated),
            Err(MagnetError::InvalidPercentEncoding)
        );
        let long = format!(
            "magnet:?xt=urn:btih:{HEX}&dn={}",
            "a".repeat(MAX_MAGNET_BYTES)
        );
        assert!(matches!(
            Magnet::parse(&long),
            Err(MagnetError::TooLong { .. })
        ));
        let many = format!(
            "magnet:?xt=urn:btih:{HEX}{}",
            "&x=1".repeat(MAX_MAGNET_PARAMETERS)
        );
        assert_eq!(Magnet::parse(&many), Err(MagnetError::TooManyParameters));
    }

    #[test]
    fn bounds_and_deduplicates_urls() {
        let trackers: String = (0..400)
            .map(|i| format!("&tr=wss://t{}", i % 300))
            .collect();
        let magnet = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}{trackers}")).unwrap();
        assert_eq!(magnet.trackers.len(), MAX_URLS);
        assert_eq!(magnet.trackers[1], "wss://t1");
    }

    #[test]
    fn plus_in_the_name_is_a_space_as_webtorrent_writes_it() {
        let magnet = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=a+b%2Bc&tr=wss://t/?a+b"
        ))
        .unwrap();
        assert_eq!(magnet.name.as_deref(), Some("a b+c"));
        assert_eq!(magnet.trackers, ["wss://t/?a+b"]);
    }

    #[test]
    fn to_uri_round_trips() {
        let magnet = Magnet {
            info_hash: InfoHash::from_hex(HEX).unwrap(),
            name: Some("a & b + c = d/é?".into()),
            trackers: vec!["wss://tracker.example/announce?k=v&x=y".into()],
            web_seeds: vec!["https://seed.example/a b/".into()],
        };
        let uri = magnet.to_uri();
        assert!(uri.starts_with(&format!("magnet:?xt=urn:btih:{HEX}&dn=a%20%26%20b")));
        assert_eq!(Magnet::parse(&uri), Ok(magnet.clone()));
        assert_eq!(magnet.to_string(), uri);
    }

    /// Characters a magnet link may hold to ride unchanged in a URL fragment (`#magnet:?...`)
    /// or query value: RFC 3986 unreserved, the escapes, and the link's own delimiters.
    fn fragment_safe(uri: &str) -> bool {
        uri.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%:?=&".contains(&b))
    }

    #[test]
    fn share_link_names_and_tracker_urls_round_trip() {
        let magnet = Magnet {
            info_hash: InfoHash::from_hex(HEX).unwrap(),
            name: Some("50% off & more #1 +x.bin".into()),
            trackers: vec![
                "wss://t.example/announce?key=50%25&x=a+b#frag".into(),
                "ws://127.0.0.1:8000/?a=1&b=%&c=#".into(),
            ],
            web_seeds: vec!["https://seed.example/50%/a&b#c/".into()],
        };
        let uri = magnet.to_uri();
        assert!(fragment_safe(&uri), "{uri}");
        assert!(
            uri.contains("&dn=50%25%20off%20%26%20more%20%231%20%2Bx.bin&"),
            "{uri}"
        );
        assert!(
            uri.contains("&tr=wss%3A%2F%2Ft.example%2Fannounce%3Fkey%3D50%2525%26x%3Da%2Bb%23frag"),
            "{uri}"
        );
        assert_eq!(Magnet::parse(&uri), Ok(magnet.clone()));
        // Once is exactly right: decoding the link before the parser does changes or breaks it.
        let decoded_twice = percent_decode(&uri).unwrap();
        assert_ne!(Magnet::parse(&decoded_twice), Ok(magnet));
    }

    #[test]
    fn reads_webtorrent_links_for_such_names() {
        // magnet-uri (WebTorrent) writes encodeURIComponent values with `+` for spaces.
        let magnet = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{HEX}&dn=50%25+off+%26+more+%231+%2Bx.bin\
             &tr=wss%3A%2F%2Ft.example%2F%3Fk%3D50%2525%26x%3D1%23f"
        ))
        .unwrap();
        assert_eq!(magnet.name.as_deref(), Some("50% off & more #1 +x.bin"));
        assert_eq!(magnet.trackers, ["wss://t.example/?k=50%25&x=1#f"]);
    }

    #[test]
    fn a_stray_percent_is_an_error_not_a_guess() {
        for bad in ["50%.mp4", "50%2", "%", "a%g0"] {
            assert_eq!(
                Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&dn={bad}")),
                Err(MagnetError::InvalidPercentEncoding),
                "{bad}"
            );
        }
    }
}
