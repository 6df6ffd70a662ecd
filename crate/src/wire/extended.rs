//! BEP 10 extension handshake: the bencoded dictionary carried by extended message id 0.
//!
//! Clients are lax here (libtorrent, WebTorrent and µTorrent disagree on field types), so a
//! field with the wrong type or an out-of-range value is ignored rather than fatal. What is
//! fatal: a payload that is not a bounded bencoded dictionary, or an `m` with too many entries.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::collections::BTreeMap;

use super::{MAX_METADATA_SIZE, WireError};
use crate::bencode::{self, DecodeLimits, OwnedValue, Value};

/// Extended message id of the extension handshake itself.
pub const EXT_HANDSHAKE_ID: u8 = 0;
/// The id we ask peers to use when sending us `ut_metadata` messages (our `m` entry).
pub const UT_METADATA_LOCAL_ID: u8 = 3;
/// Extension name of BEP 9 in `m`.
pub const UT_METADATA: &str = "ut_metadata";
/// Extension name of BEP 54 in `m`: "I no longer have piece N" (WebTorrent and libtorrent).
pub const LT_DONTHAVE: &str = "lt_donthave";
/// The id we ask peers to use when sending us `lt_donthave` (distinct from ut_metadata's).
pub const LT_DONTHAVE_LOCAL_ID: u8 = 2;
/// An `lt_donthave` payload is exactly one big-endian piece index.
pub const DONTHAVE_LEN: usize = 4;

/// The payload of an `lt_donthave` message for piece `index`.
pub fn encode_donthave(index: u32) -> Vec<u8> {
    index.to_be_bytes().to_vec()
}

/// The piece index of an `lt_donthave` payload; anything but 4 bytes is malformed.
pub fn parse_donthave(payload: &[u8]) -> Result<u32, WireError> {
    <[u8; DONTHAVE_LEN]>::try_from(payload)
        .map(u32::from_be_bytes)
        .map_err(|_| WireError::WrongMessageLength {
            name: LT_DONTHAVE,
            len: payload.len() as u32,
            expected: DONTHAVE_LEN as u32,
        })
}

/// Largest extension handshake payload accepted. Real ones are a few hundred bytes.
pub const MAX_EXT_HANDSHAKE_LEN: usize = 64 * 1024;
/// Most entries accepted in `m`. Real clients list about ten.
pub const MAX_EXTENSIONS: usize = 64;
/// Longest client name (`v`, UTF-8) kept; longer or non-UTF-8 ones are ignored.
const MAX_CLIENT_LEN: usize = 128;
/// Nesting and value-count bounds for the whole dictionary, unknown keys included.
const LIMITS: DecodeLimits = DecodeLimits {
    max_depth: 8,
    max_values: 4096,
};

const WHAT: &str = "extension handshake";

/// The fields of an extension handshake we understand; unknown keys are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendedHandshake {
    /// Extension name → the id the *sender* wants to receive it as. Id 0 means "disabled"
    /// (used in later handshakes to turn an extension off); see [`Self::ext_id`].
    pub m: BTreeMap<String, u8>,
    /// BEP 9: size of the info dictionary. Only kept when in `1..=MAX_METADATA_SIZE`, so a
    /// present value is one we could actually download.
    pub metadata_size: Option<u64>,
    /// How many outstanding requests the sender queues before dropping them.
    pub reqq: Option<u32>,
    /// `v`: client name and version, for display only.
    pub client: Option<String>,
    /// The address the sender sees us at (4 or 16 raw bytes on the wire).
    pub yourip: Option<IpAddr>,
    /// `p`: the sender's listen port.
    pub port: Option<u16>,
}

impl ExtendedHandshake {
    /// The id to send `name` messages to this peer with; `None` if absent or disabled (0).
    pub fn ext_id(&self, name: &str) -> Option<u8> {
        self.m.get(name).copied().filter(|&id| id != 0)
    }

    /// Parses an extended message id 0 payload.
    pub fn parse(payload: &[u8]) -> Result<ExtendedHandshake, WireError> {
        if payload.len() > MAX_EXT_HANDSHAKE_LEN {
            return Err(WireError::PayloadTooLong {
                what: WHAT,
                len: payload.len(),
                max: MAX_EXT_HANDSHAKE_LEN,
            });
        }
        let root = bencode::decode_with_limits(payload, LIMITS)
            .map_err(|error| WireError::Bencode { what: WHAT, error })?;
        let dict = root.as_dict().ok_or(WireError::NotADict { what: WHAT })?;

        let mut m = BTreeMap::new();
        if let Some(entries) = dict.get("m").and_then(Value::as_dict) {
            if entries.len() > MAX_EXTENSIONS {
                return Err(WireError::TooManyExtensions {
                    count: entries.len(),
                    max: MAX_EXTENSIONS,
                });
            }
            for (name, id) in entries.iter() {
                let name = core::str::from_utf8(name).ok();
                let id = id.as_int().and_then(|id| u8::try_from(id).ok());
                if let (Some(name), Some(id)) = (name, id) {
                    m.insert(name.to_owned(), id);
                }
            }
        }
        let int = |key: &str| dict.get(key).and_then(Value::as_int);
        Ok(ExtendedHandshake {
            m,
            metadata_size: int("metadata_size")
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| (1..=MAX_METADATA_SIZE).contains(n)),
            reqq: int("reqq")
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n > 0),
            client: dict
                .get("v")
                .and_then(Value::as_str)
                .filter(|v| v.len() <= MAX_CLIENT_LEN)
                .map(str::to_owned),
            yourip: dict
                .get("yourip")
                .and_then(Value::as_bytes)
                .and_then(ip_from_bytes),
            port: int("p")
                .and_then(|n| u16::try_from(n).ok())
                .filter(|&p| p != 0),
        })
    }

    /// The bencoded payload (keys sorted, absent fields omitted).
    pub fn encode(&self) -> Vec<u8> {
        let mut dict = BTreeMap::new();
        let m = self
            .m
            .iter()
            .map(|(name, &id)| (name.as_bytes().to_vec(), OwnedValue::Int(id.into())))
            .collect();
        dict.insert(b"m".to_vec(), OwnedValue::Dict(m));
        let mut put_int = |key: &[u8], value: Option<i64>| {
            if let Some(value) = value {
                dict.insert(key.to_vec(), OwnedValue::Int(value));
            }
        };
        put_int(
            b"metadata_size",
            self.metadata_size.and_then(|n| i64::try_from(n).ok()),
        );
        put_int(b"reqq", self.reqq.map(i64::from));
        put_int(b"p", self.port.map(i64::from));
        if let Some(client) = &self.client {
            dict.insert(b"v".to_vec(), OwnedValue::bytes(client.as_bytes()));
        }
        if let Some(ip) = self.yourip {
            let bytes = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            dict.insert(b"yourip".to_vec(), OwnedValue::Bytes(bytes));
        }
        OwnedValue::Dict(dict).encode()
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typical_handshake() {
        let payload = b"d1:md11:ut_metadatai3e6:ut_pexi0ee13:metadata_sizei31235e1:pi6881e4:reqqi250e1:v13:WebTorrent 3.6:yourip4:\x7f\x00\x00\x01e";
        let hs = ExtendedHandshake::parse(payload).unwrap();
        assert_eq!(hs.ext_id(UT_METADATA), Some(3));
        assert_eq!(hs.ext_id("ut_pex"), None, "id 0 means disabled");
        assert_eq!(hs.ext_id("lt_donthave"), None);
        assert_eq!(hs.metadata_size, Some(31235));
        assert_eq!(hs.port, Some(6881));
        assert_eq!(hs.reqq, Some(250));
        assert_eq!(hs.client.as_deref(), Some("WebTorrent 3."));
        assert_eq!(hs.yourip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        // Re-encoding gives canonical bencode with the same content.
        assert_eq!(hs.encode(), payload.to_vec());
    }

    #[test]
    fn bogus_field_types_and_ranges_are_ignored() {
        let payload = b"d1:md1:ai300e1:bi-1e1:c3:abc1:di7ee13:metadata_sizei-5e1:pi70000e4:reqq3:lot1:vi5e6:yourip3:abce";
        let hs = ExtendedHandshake::parse(payload).unwrap();
        assert_eq!(hs.m, BTreeMap::from([("d".to_owned(), 7)]));
        assert_eq!(
            hs,
            ExtendedHandshake {
                m: hs.m.clone(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn metadata_size_above_limit_is_dropped() {
        let payload = format!("d13:metadata_sizei{}ee", MAX_METADATA_SIZE + 1);
        assert_eq!(
            ExtendedHandshake::parse(payload.as_bytes())
                .unwrap()
                .metadata_size,
            None
        );
    }

    #[test]
    fn structural_problems_are_errors() {
        assert!(matches!(
            ExtendedHandshake::parse(b"li1ee"),
            Err(WireError::NotADict { .. })
        ));
        assert!(matches!(
            ExtendedHandshake::parse(b"d1:m"),
            Err(WireError::Bencode { .. })
        ));
        assert!(matches!(
            ExtendedHandshake::parse(b"de junk"),
            Err(WireError::Bencode { .. })
        ));
        let mut many = String::from("d1:md");
        for i in 0..=MAX_EXTENSIONS {
            many += &format!("2:{:02}i1e", i);
        }
        many += "ee";
        assert!(matches!(
            ExtendedHandshake::parse(many.as_bytes()),
            Err(WireError::TooManyExtensions { .. })
        ));
        let deep = format!("d1:x{}{}e", "l".repeat(20), "e".repeat(20));
        assert!(matches!(
            ExtendedHandshake::parse(deep.as_bytes()),
            Err(WireError::Bencode { .. })
        ));
        let big = vec![b'd'; MAX_EXT_HANDSHAKE_LEN + 1];
        assert!(matches!(
            ExtendedHandshake::parse(&big),
            Err(WireError::PayloadTooLong { .. })
        ));
    }

    #[test]
    fn donthave_is_one_big_endian_index() {
        assert_eq!(encode_donthave(0x0102_0304), vec![1, 2, 3, 4]);
        assert_eq!(parse_donthave(&[0, 0, 1, 0]), Ok(256));
        assert!(parse_donthave(&[0, 0, 1]).is_err());
        assert!(parse_donthave(&[0, 0, 0, 1, 0]).is_err());
    }

    #[test]
    fn encode_round_trips_with_ipv6() {
        let hs = ExtendedHandshake {
            m: BTreeMap::from([
                (UT_METADATA.to_owned(), UT_METADATA_LOCAL_ID),
                ("lt_donthave".to_owned(), 7),
            ]),
            metadata_size: Some(MAX_METADATA_SIZE),
            reqq: Some(500),
            client: Some("Seedcast 0.1".to_owned()),
            yourip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            port: Some(1),
        };
        assert_eq!(ExtendedHandshake::parse(&hs.encode()), Ok(hs));
    }
}
