//! Bencode (BEP 3): a strict, zero-copy decoder and a canonical encoder.
//!
//! We do not use `serde_bencode`: it cannot hand back the raw bytes of a value (the info hash
//! is SHA-1 over the `info` value exactly as it appears in the file, so re-encoding is wrong
//! for any torrent with unsorted or unknown keys), and it has no nesting-depth bound, so a
//! hostile `llll…` input can exhaust the stack.
//!
//! Decoding borrows from the input: byte strings are slices of it and every [`Value`] knows
//! its raw span ([`Value::raw`]). The decoder is strict where ambiguity could change a hash or
//! a length (no leading zeros, no `-0`, integers must fit `i64`, duplicate keys rejected) and
//! lenient where real torrents are sloppy (dictionary keys accepted in any order).
//!
//! Encoding goes through [`OwnedValue`], whose dictionaries are ordered maps, so the output
//! is always canonical (keys sorted as raw bytes).

mod decode;
mod encode;
mod error;
mod value;

pub use decode::{DecodeLimits, decode, decode_prefix, decode_with_limits};
pub use encode::OwnedValue;
pub use error::BencodeError;
pub use value::{Dict, Value, ValueKind};

#[cfg(test)]
mod tests;
