use super::encode::OwnedValue;

/// A decoded bencode value borrowing from the input it was decoded from.
///
/// Invariant: `raw` is exactly the encoded bytes this value was decoded from, so hashing
/// `raw` reproduces the hash of the original file (the info hash depends on this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value<'a> {
    pub(super) raw: &'a [u8],
    pub(super) kind: ValueKind<'a>,
}

/// What a [`Value`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(Dict<'a>),
}

/// A bencode dictionary, entries in input order. Keys are unique (the decoder rejects duplicates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dict<'a> {
    pub(super) entries: Vec<(&'a [u8], Value<'a>)>,
    /// True when the keys appeared in strictly ascending order, which allows binary search.
    pub(super) sorted: bool,
}

impl<'a> Dict<'a> {
    /// The value stored under `key`, if any.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&Value<'a>> {
        let key = key.as_ref();
        if self.sorted {
            let index = self.entries.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
            self.entries.get(index).map(|(_, v)| v)
        } else {
            self.entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
        }
    }

    /// Entries in the order they appeared in the input.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Value<'a>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<'a> Value<'a> {
    /// The exact encoded bytes of this value as they appeared in the input.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub fn kind(&self) -> &ValueKind<'a> {
        &self.kind
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.kind {
            ValueKind::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self.kind {
            ValueKind::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8 text; `None` if it is not a byte string or not valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| core::str::from_utf8(b).ok())
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match &self.kind {
            ValueKind::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match &self.kind {
            ValueKind::Dict(dict) => Some(dict),
            _ => None,
        }
    }

    /// Dictionary lookup; `None` if this is not a dictionary or the key is absent.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&Value<'a>> {
        self.as_dict()?.get(key)
    }

    /// An owned copy, e.g. to keep unknown keys for re-encoding. Dictionary order becomes canonical.
    pub fn to_owned_value(&self) -> OwnedValue {
        match &self.kind {
            ValueKind::Int(i) => OwnedValue::Int(*i),
            ValueKind::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            ValueKind::List(items) => {
                OwnedValue::List(items.iter().map(Value::to_owned_value).collect())
            }
            ValueKind::Dict(dict) => OwnedValue::Dict(
                dict.iter()
                    .map(|(k, v)| (k.to_vec(), v.to_owned_value()))
                    .collect(),
            ),
        }
    }
}
