//! Small JSON pieces both directions share: reading one field kept as raw JSON (strings without
//! copying when they need no unescaping, numbers, objects) and writing a JSON string.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::id::{Id20, IdError};

/// A JSON string field's value; borrowed from the message unless it has escapes.
pub(crate) fn string(raw: &RawValue) -> Result<Cow<'_, str>, serde_json::Error> {
    let text = raw.get();
    // A raw value is valid JSON, so a string token without a backslash is its own value: skip the
    // deserializer (actions, events and most ids; a message carries several).
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str(text)
}

/// Why an id field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdFieldError {
    NotAString,
    Bad(IdError),
}

/// An id field: a JSON string holding a binary string.
pub(crate) fn id(raw: &RawValue) -> Result<Id20, IdFieldError> {
    let s = string(raw).map_err(|_| IdFieldError::NotAString)?;
    Id20::from_binary_str(&s).map_err(IdFieldError::Bad)
}

/// A finite JSON number (integers beyond 2^53 are rounded, as JavaScript reads them).
pub(crate) fn number(raw: &RawValue) -> Option<f64> {
    serde_json::from_str::<f64>(raw.get())
        .ok()
        .filter(|n| n.is_finite())
}

/// Whether a raw value is a JSON object.
pub(crate) fn is_object(raw: &RawValue) -> bool {
    is_object_text(raw.get())
}

/// Whether JSON text starts as an object (the rest is for the parser to check).
pub(crate) fn is_object_text(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Whether a field is absent in effect: JSON `null` counts as absent, as WebTorrent reads it.
pub(crate) fn present(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|raw| raw.get() != "null")
}

/// Appends `text` to `out` as a quoted JSON string, escaped the way JSON requires.
pub(crate) fn write_str(out: &mut String, text: &str) {
    out.push('"');
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().unwrap_or_default();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => push_unicode_escape(out, c as u8),
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// `\u00XX` for a control byte.
pub(crate) fn push_unicode_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u00");
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_read_the_same_with_and_without_the_fast_path() {
        for text in [
            r#""plain""#,
            r#""""#,
            r#""a\"b""#,
            r#""\u00ff\n""#,
            r#""é""#,
            "1",
            "null",
        ] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            let slow: Result<Cow<'_, str>, _> = serde_json::from_str(text);
            assert_eq!(string(raw).ok(), slow.ok(), "{text}");
        }
    }

    #[test]
    fn written_strings_read_back_unchanged() {
        for text in [
            "",
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n",
            "quote \" backslash \\ tab \t nul \0 bell \x07 del \x7f",
            "é ✓ 🦀",
        ] {
            let mut out = String::new();
            write_str(&mut out, text);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text, "{out}");
        }
    }
}
