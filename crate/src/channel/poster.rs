//! Posters: small images carried inline as `data:image/…;base64,…` URIs, so a page needs no
//! second request and the signature covers the image itself.

use super::{ChannelError, MAX_POSTER_BYTES};

/// The image types a poster may have, each with its file signature ("magic bytes") at offset
/// 0 and, for WebP, the `WEBP` tag at offset 8 of the RIFF container.
pub const POSTER_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The image type of `bytes` by its magic bytes, if it is one of [`POSTER_TYPES`].
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A poster URI for an image file: JPEG, PNG or WebP (by content, not by name), the URI at
/// most [`MAX_POSTER_BYTES`].
pub fn poster_data_uri(image: &[u8]) -> Result<String, ChannelError> {
    let mime = sniff(image)
        .ok_or_else(|| ChannelError::Invalid("poster is not a JPEG, PNG or WebP image".into()))?;
    let prefix = format!("data:{mime};base64,");
    let length = prefix.len() + image.len().div_ceil(3) * 4;
    if length > MAX_POSTER_BYTES {
        return Err(ChannelError::Invalid(format!(
            "poster image is {} bytes; at most {} fit the {MAX_POSTER_BYTES}-byte limit (make it smaller)",
            image.len(),
            (MAX_POSTER_BYTES - prefix.len()) / 4 * 3
        )));
    }
    let mut uri = prefix;
    encode_base64(image, &mut uri);
    Ok(uri)
}

fn encode_base64(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
}

/// Decodes up to the first 12 bytes of strictly padded base64 (for sniffing).
fn decode_head(payload: &[u8]) -> Vec<u8> {
    let value = |c: u8| BASE64.iter().position(|&b| b == c).map(|v| v as u32);
    let mut out = Vec::with_capacity(12);
    for quad in payload.chunks_exact(4).take(4) {
        let digits: Vec<u32> = quad.iter().map_while(|&c| value(c)).collect();
        let n = digits
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | d << (18 - 6 * i));
        // 2 digits carry 1 byte, 3 carry 2, 4 carry 3.
        for i in 0..digits.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// A poster as a manifest may carry it: a `data:` URI of one of [`POSTER_TYPES`], strict
/// base64 (alphabet, padding only at the end, whole quads), at most [`MAX_POSTER_BYTES`], and
/// whose content starts with the magic bytes of the type it claims (so a page can put it in
/// an `<img>` and nothing else).
pub(super) fn check_poster(poster: &str) -> Result<(), &'static str> {
    if poster.len() > MAX_POSTER_BYTES {
        return Err("longer than the 32768-byte limit");
    }
    let (mime, payload) = poster
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .ok_or("not a data:image/…;base64, URI")?;
    if !POSTER_TYPES.contains(&mime) {
        return Err("not a JPEG, PNG or WebP data URI");
    }
    let payload = payload.as_bytes();
    let padding = payload.iter().rev().take_while(|&&c| c == b'=').count();
    let digits = &payload[..payload.len() - padding];
    if payload.is_empty()
        || payload.len() % 4 != 0
        || padding > 2
        || !digits.iter().all(|c| BASE64.contains(c))
    {
        return Err("not valid base64");
    }
    if sniff(&decode_head(payload)) != Some(mime) {
        return Err("image content does not match its type");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            encode_base64(input.as_bytes(), &mut out);
            assert_eq!(out, expected);
            assert!(
                input
                    .as_bytes()
                    .starts_with(&decode_head(expected.as_bytes()))
            );
            assert_eq!(decode_head(expected.as_bytes()).len(), input.len().min(12));
        }
    }

    #[test]
    fn posters_are_sniffed_encoded_and_checked() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let uri = poster_data_uri(&png).unwrap();
        assert!(uri.starts_with("data:image/png;base64,iVBORw0KGgo"));
        assert_eq!(check_poster(&uri), Ok(()));
        let jpeg = poster_data_uri(&[0xff, 0xd8, 0xff, 0xe0, 1, 2]).unwrap();
        assert!(jpeg.starts_with("data:image/jpeg;base64,"));
        assert_eq!(check_poster(&jpeg), Ok(()));
        let webp = poster_data_uri(b"RIFF\x10\0\0\0WEBPVP8 ").unwrap();
        assert!(webp.starts_with("data:image/webp;base64,"));
        assert_eq!(check_poster(&webp), Ok(()));

        // Not an image we take: a GIF, an SVG (scripts), or text.
        assert!(poster_data_uri(b"GIF89a....").is_err());
        assert!(poster_data_uri(b"<svg xmlns=").is_err());
        // Claims PNG, is a JPEG.
        let lying = jpeg.replace("image/jpeg", "image/png");
        assert_eq!(
            check_poster(&lying),
            Err("image content does not match its type")
        );
        assert_eq!(
            check_poster("data:image/svg+xml;base64,PHN2Zz4="),
            Err("not a JPEG, PNG or WebP data URI")
        );
        assert_eq!(
            check_poster("https://example.com/a.png"),
            Err("not a data:image/…;base64, URI")
        );
        for bad in [
            &uri[..uri.len() - 1],
            &format!("{uri}===="),
            &uri.replace('K', "*"),
        ] {
            assert_eq!(check_poster(bad), Err("not valid base64"), "{bad}");
        }
        assert_eq!(
            check_poster("data:image/png;base64,"),
            Err("not valid base64")
        );
    }

    #[test]
    fn poster_size_limit_is_exact() {
        let prefix = "data:image/jpeg;base64,".len();
        let fits = (MAX_POSTER_BYTES - prefix) / 4 * 3;
        let mut image = vec![0u8; fits];
        image[..3].copy_from_slice(&[0xff, 0xd8, 0xff]);
        let uri = poster_data_uri(&image).unwrap();
        assert!(uri.len() <= MAX_POSTER_BYTES);
        assert_eq!(check_poster(&uri), Ok(()));
        image.push(0);
        let error = poster_data_uri(&image).unwrap_err().to_string();
        assert!(error.contains("poster image is"), "{error}");
        // A hand-made URI one byte over is refused too.
        let over = format!("{uri}{}", "A".repeat(MAX_POSTER_BYTES + 1 - uri.len()));
        assert_eq!(check_poster(&over), Err("longer than the 32768-byte limit"));
    }
}
