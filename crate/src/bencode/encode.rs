use std::collections::BTreeMap;

/// An owned bencode value for building and encoding messages and torrents.
///
/// Dictionaries are `BTreeMap`s keyed by raw bytes, so encoding is canonical (keys sorted
/// bytewise, as BEP 3 requires) whatever order entries were inserted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedValue {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<OwnedValue>),
    Dict(BTreeMap<Vec<u8>, OwnedValue>),
    /// Bytes that are already one encoded value, written verbatim. Used to keep an `info`
    /// dictionary byte-identical (its hash is the torrent's identity). Not validated here:
    /// whoever builds it must take the bytes from a successful decode or from this encoder.
    Raw(Vec<u8>),
}

impl OwnedValue {
    /// A byte string from text or bytes.
    pub fn bytes(value: impl Into<Vec<u8>>) -> Self {
        Self::Bytes(value.into())
    }

    /// A list of byte strings, e.g. a path or a tracker tier.
    pub fn string_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Self {
        Self::List(items.into_iter().map(|s| Self::bytes(s.as_ref())).collect())
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Self::Bytes(bytes) => encode_bytes(bytes, out),
            Self::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Self::Dict(entries) => {
                out.push(b'd');
                for (key, value) in entries {
                    encode_bytes(key, out);
                    value.encode_into(out);
                }
                out.push(b'e');
            }
            Self::Raw(encoded) => out.extend_from_slice(encoded),
        }
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

impl From<i64> for OwnedValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<&str> for OwnedValue {
    fn from(value: &str) -> Self {
        Self::bytes(value)
    }
}

impl From<String> for OwnedValue {
    fn from(value: String) -> Self {
        Self::bytes(value)
    }
}

impl From<Vec<u8>> for OwnedValue {
    fn from(value: Vec<u8>) -> Self {
        Self::Bytes(value)
    }
}
