//! The record as the JSON object `eth_signTypedData_v4` takes (EIP-712's `TypedData`).
//!
//! Built by hand rather than with serde_json so the wasm build (which hands this string to a
//! wallet) needs no JSON crate: every value is fixed text, hex or an address, except the
//! name, which is escaped below.

use super::address::Address;
use super::hex::encode_0x;
use super::{DOMAIN_NAME, DOMAIN_VERSION};

/// `{"types": {...}, "primaryType": "CreatorRecord", "domain": {...}, "message": {...}}`,
/// with the address EIP-55 checksummed and `content` as `0x` hex.
pub fn typed_data_json(creator: &Address, name: &str, content: &[u8; 32]) -> String {
    format!(
        concat!(
            r#"{{"types":{{"EIP712Domain":[{{"name":"name","type":"string"}},"#,
            r#"{{"name":"version","type":"string"}}],"#,
            r#""CreatorRecord":[{{"name":"creator","type":"address"}},"#,
            r#"{{"name":"name","type":"string"}},{{"name":"content","type":"bytes32"}}]}},"#,
            r#""primaryType":"CreatorRecord","domain":{{"name":{},"version":{}}},"#,
            r#""message":{{"creator":"{}","name":{},"content":"{}"}}}}"#
        ),
        json_string(DOMAIN_NAME),
        json_string(DOMAIN_VERSION),
        creator.to_checksum(),
        json_string(name),
        encode_0x(content),
    )
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn is_valid_json_with_the_eip712_shape() {
        let address = Address([0xab; 20]);
        let name = "Q\"\\\u{1}é";
        let json: serde_json::Value =
            serde_json::from_str(&typed_data_json(&address, name, &[7; 32])).unwrap();
        assert_eq!(json["primaryType"], "CreatorRecord");
        assert_eq!(
            json["domain"],
            serde_json::json!({"name": "Seedcast", "version": "1"})
        );
        assert_eq!(json["message"]["name"], name);
        assert_eq!(json["message"]["creator"], address.to_checksum());
        assert_eq!(json["message"]["content"], encode_0x(&[7; 32]));
        assert_eq!(json["types"]["EIP712Domain"].as_array().unwrap().len(), 2);
        let fields: Vec<_> = json["types"]["CreatorRecord"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["type"].as_str().unwrap(),
                    f["name"].as_str().unwrap()
                )
            })
            .collect();
        // The JSON's types must spell the same encodeType the Rust digest hashes.
        assert_eq!(
            format!("CreatorRecord({})", fields.join(",")),
            super::super::eip712::RECORD_TYPE
        );
    }
}
