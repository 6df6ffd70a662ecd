use super::INFO_KEY;
use super::keccak::keccak256_parts;
use crate::bencode::Value;

/// The `content` a creator record signs: Keccak-256 of the `info` dictionary's raw bytes with
/// the `seedcast creator` entry (its key string and its value) cut out; of all of `info` when
/// there is no such entry. `info` must be a value from [`crate::bencode::decode`], whose
/// dictionary keys and values are slices of one input (that is how the cut is located).
///
/// For canonically encoded `info` this equals `keccak256(bencode(info minus the key))`, and
/// when a creator inserts the record into canonical `info` the cut gives back exactly the
/// bytes that were signed. Returns `None` if `info` is not a dictionary.
pub fn content_digest(info: &Value<'_>) -> Option<[u8; 32]> {
    let raw = info.raw();
    let dict = info.as_dict()?;
    let Some((key, value)) = dict.iter().find(|(k, _)| *k == INFO_KEY.as_bytes()) else {
        return Some(keccak256_parts(&[raw]));
    };
    // The key's bytes are preceded by its length prefix `16:` (the decoder refuses leading
    // zeros, so the prefix is exactly the decimal length and a colon).
    let key_offset = (key.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
    let prefix = key.len().to_string().len() + 1;
    let start = key_offset.checked_sub(prefix)?;
    let value_offset = (value.raw().as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
    let end = value_offset.checked_add(value.raw().len())?;
    let (before, after) = (raw.get(..start)?, raw.get(end..)?);
    Some(keccak256_parts(&[before, after]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bencode::decode;
    use crate::creator::keccak256;

    #[test]
    fn cuts_exactly_the_record_entry() {
        let without = b"d4:name1:x6:pieces0:e";
        let with = b"d4:name1:x6:pieces0:16:seedcast creatord3:fooi1eee";
        let expected = keccak256(without);
        assert_eq!(content_digest(&decode(without).unwrap()), Some(expected));
        assert_eq!(content_digest(&decode(with).unwrap()), Some(expected));
        // In the middle of the dictionary (unsorted input) too.
        let middle = b"d4:name1:x16:seedcast creator3:abc6:pieces0:e";
        assert_eq!(content_digest(&decode(middle).unwrap()), Some(expected));
        // Anything else that changes changes the digest.
        let other = b"d4:name1:y6:pieces0:16:seedcast creatord3:fooi1eee";
        assert_ne!(content_digest(&decode(other).unwrap()), Some(expected));
        assert_eq!(content_digest(&decode(b"i1e").unwrap()), None);
    }
}
