//! What EIP-1193 providers answer, read defensively: a wallet (or a page pretending to be one)
//! may answer anything. Every answer arrives as JSON text from the driver (`JSON.stringify`).

use serde_json::Value;

use super::error::{MAX_QUOTED_CHARS, one_line};
use crate::creator::Address;
use crate::creator::hex::{decode_0x, encode_0x};

/// Longest answer read, in bytes of JSON. Real answers are under 2 KiB (a receipt with a few
/// logs); a tip never needs more, and parsing is bounded by this before it starts.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How deep error objects are searched for codes (`data.originalError.code` is depth 2).
const MAX_ERROR_DEPTH: usize = 4;
/// Longest hex quantity read, in digits: a 256-bit word (any more is not an EVM quantity).
const MAX_QUANTITY_DIGITS: usize = 64;

/// EIP-1193 codes (and JSON-RPC ones wallets use).
pub const CODE_USER_REJECTED: i64 = 4001;
pub const CODE_UNKNOWN_CHAIN: i64 = 4902;
pub const CODE_REQUEST_PENDING: i64 = -32002;

/// JSON text of an answer, parsed within [`MAX_RESPONSE_BYTES`]; `None` if too long or not JSON.
pub fn parse_response(text: &str) -> Option<Value> {
    if text.len() > MAX_RESPONSE_BYTES {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// A rejected `request()`: its code and message, plus every code and message nested inside
/// (`data.code`, `data.originalError.code`, `cause.code`, `error.code`…), since wallets wrap
/// the code that matters in different places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletError {
    /// The outermost code, if any.
    pub code: Option<i64>,
    /// The outermost message, one line, at most [`MAX_QUOTED_CHARS`] characters; never empty.
    pub message: String,
    /// Every code found, outermost first.
    pub codes: Vec<i64>,
    /// Every message found, lowercased and joined, for matching known phrases.
    texts: String,
}

impl WalletError {
    /// Reads what `request()` rejected with: an EIP-1193 error as JSON, any other JSON, or
    /// text that is not JSON at all (taken as the message).
    pub fn parse(text: &str) -> WalletError {
        if text.len() > MAX_RESPONSE_BYTES {
            return WalletError::from_texts(
                Vec::new(),
                vec!["the wallet's error is too long to read".into()],
            );
        }
        match serde_json::from_str::<Value>(text) {
            Ok(value) => WalletError::from_value(&value),
            Err(_) => WalletError::from_texts(Vec::new(), vec![text.to_string()]),
        }
    }

    /// [`WalletError::parse`] for an already parsed value.
    pub fn from_value(value: &Value) -> WalletError {
        let mut codes = Vec::new();
        let mut texts = Vec::new();
        collect(value, 0, &mut codes, &mut texts);
        WalletError::from_texts(codes, texts)
    }

    fn from_texts(codes: Vec<i64>, texts: Vec<String>) -> WalletError {
        let message = texts
            .iter()
            .map(|t| one_line(t, MAX_QUOTED_CHARS))
            .find(|t| !t.is_empty())
            .unwrap_or_else(|| "the wallet gave no reason".into());
        let mut joined = String::new();
        for text in &texts {
            joined.push_str(&text.to_lowercase());
            joined.push('\n');
        }
        WalletError {
            code: codes.first().copied(),
            message,
            codes,
            texts: joined,
        }
    }

    fn has_code(&self, code: i64) -> bool {
        self.codes.contains(&code)
    }

    fn says(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.texts.contains(p))
    }

    /// The viewer said no: code 4001 anywhere, or a wallet's "user rejected/denied" wording.
    pub fn is_user_rejection(&self) -> bool {
        self.has_code(CODE_USER_REJECTED)
            || self.says(&["user rejected", "user denied", "user cancel"])
    }

    /// The wallet does not know the chain: 4902 anywhere, or only the message
    /// "Unrecognized chain ID" (some wallets answer -32603 with it).
    pub fn is_unknown_chain(&self) -> bool {
        self.has_code(CODE_UNKNOWN_CHAIN) || self.says(&["unrecognized chain"])
    }

    /// The account cannot pay: nodes say "insufficient funds (for gas * price + value)",
    /// whatever the code (-32000, -32003, -32603 or none).
    pub fn is_insufficient_funds(&self) -> bool {
        self.says(&["insufficient funds", "insufficient balance"])
    }

    /// Another request is already waiting in the wallet (-32002).
    pub fn is_pending(&self) -> bool {
        self.has_code(CODE_REQUEST_PENDING)
    }
}

/// Codes and messages of `value` and of its nested `data`, `originalError`, `cause`, `error`.
fn collect(value: &Value, depth: usize, codes: &mut Vec<i64>, texts: &mut Vec<String>) {
    match value {
        Value::String(text) => texts.push(text.clone()),
        Value::Object(object) => {
            match object.get("code") {
                Some(Value::Number(n)) => codes.extend(n.as_i64()),
                Some(Value::String(s)) => codes.extend(s.trim().parse::<i64>().ok()),
                _ => {}
            }
            if let Some(Value::String(message)) = object.get("message") {
                texts.push(message.clone());
            }
            if depth < MAX_ERROR_DEPTH {
                for key in ["data", "originalError", "cause", "error"] {
                    if let Some(inner) = object.get(key) {
                        collect(inner, depth + 1, codes, texts);
                    }
                }
            }
        }
        _ => {}
    }
}

/// An EIP-1474 quantity: `0x` + 1 to 64 hex digits (leading zeros tolerated) whose value fits
/// u128. Not a JSON number: past 2^53 a page's numbers are no longer exact.
pub fn parse_quantity(value: &Value) -> Option<u128> {
    match value {
        Value::String(text) => {
            let digits = text.strip_prefix("0x")?;
            if digits.is_empty()
                || digits.len() > MAX_QUANTITY_DIGITS
                || !digits.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return None;
            }
            let significant = digits.trim_start_matches('0');
            if significant.is_empty() {
                return Some(0);
            }
            u128::from_str_radix(significant, 16).ok()
        }
        _ => None,
    }
}

/// A chain id: a quantity, or a JSON integer (some older wallets answer `eth_chainId` so).
pub fn parse_chain_id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        _ => parse_quantity(value).and_then(|id| u64::try_from(id).ok()),
    }
}

/// The first valid address in the `eth_requestAccounts` / `eth_accounts` array.
pub fn parse_accounts(value: &Value) -> Option<Address> {
    value
        .as_array()?
        .iter()
        .find_map(|v| Address::parse(v.as_str()?).ok())
}

/// A transaction hash: `0x` + 64 hex digits, returned lowercase.
pub fn parse_tx_hash(value: &Value) -> Option<String> {
    decode_0x::<32>(value.as_str()?).map(|bytes| encode_0x(&bytes))
}

/// What `eth_getTransactionReceipt` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// `null`: not mined yet.
    Pending,
    /// `status: "0x1"`.
    Success,
    /// `status: "0x0"`: mined, but the transaction reverted (the value stayed with the sender).
    Reverted,
    /// A receipt with no readable status (pre-Byzantium receipts carry `root` instead). It
    /// cannot prove the tip arrived, so the flow reports it as failed and points to the explorer.
    Unknown,
}

/// `None` when the answer is neither `null` nor an object.
pub fn parse_receipt_status(value: &Value) -> Option<ReceiptStatus> {
    match value {
        Value::Null => Some(ReceiptStatus::Pending),
        Value::Object(object) => Some(match object.get("status").and_then(parse_quantity) {
            Some(1) => ReceiptStatus::Success,
            Some(0) => ReceiptStatus::Reverted,
            _ => ReceiptStatus::Unknown,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_codes_are_found_in_every_form() {
        let rejections = [
            r#"{"code":4001,"message":"User rejected the request."}"#,
            r#"{"code":-32603,"message":"Internal error","data":{"originalError":{"code":4001}}}"#,
            r#"{"code":-32603,"data":{"code":4001}}"#,
            r#"{"message":"x","cause":{"code":4001}}"#,
            r#"{"error":{"code":"4001"}}"#,
            r#""User denied transaction signature""#,
            "Error: User rejected the request.",
        ];
        for text in rejections {
            let error = WalletError::parse(text);
            assert!(error.is_user_rejection(), "{text}");
            assert!(!error.is_unknown_chain(), "{text}");
        }
        let unknown = [
            r#"{"code":4902,"message":"Unrecognized chain ID \"0xc7\"."}"#,
            r#"{"code":-32603,"message":"x","data":{"originalError":{"code":4902}}}"#,
            r#"{"code":-32603,"message":"Unrecognized chain ID \"0xc7\". Try adding the chain using wallet_addEthereumChain first."}"#,
        ];
        for text in unknown {
            let error = WalletError::parse(text);
            assert!(error.is_unknown_chain(), "{text}");
            assert!(!error.is_user_rejection(), "{text}");
        }
        let error = WalletError::parse(
            r#"{"code":-32603,"message":"Internal JSON-RPC error.","data":{"code":-32000,"message":"insufficient funds for gas * price + value"}}"#,
        );
        assert!(error.is_insufficient_funds());
        assert_eq!(error.code, Some(-32603));
        assert_eq!(error.codes, [-32603, -32000]);
        assert_eq!(error.message, "Internal JSON-RPC error.");
        assert!(WalletError::parse(r#"{"code":-32002,"message":"already pending"}"#).is_pending());
    }

    #[test]
    fn junk_errors_still_give_a_one_line_message() {
        for text in [
            "",
            "null",
            "42",
            "[]",
            "{}",
            r#"{"code":"abc","message":7}"#,
        ] {
            let error = WalletError::parse(text);
            assert!(!error.message.is_empty(), "{text}");
            assert!(!error.is_user_rejection() && !error.is_unknown_chain());
        }
        let error = WalletError::parse(&format!("bad\n{}", "x".repeat(1000)));
        assert!(
            !error.message.contains('\n') && error.message.chars().count() <= MAX_QUOTED_CHARS + 1
        );
        let huge = format!(
            r#"{{"code":4001,"message":"{}"}}"#,
            "x".repeat(MAX_RESPONSE_BYTES)
        );
        assert!(
            !WalletError::parse(&huge).is_user_rejection(),
            "too long: not read"
        );
        // Deep nesting stops at the depth bound instead of recursing on.
        let mut deep = r#"{"code":4001}"#.to_string();
        for _ in 0..10 {
            deep = format!(r#"{{"data":{deep}}}"#);
        }
        assert!(!WalletError::parse(&deep).is_user_rejection());
    }

    #[test]
    fn quantities_accounts_hashes_and_receipts() {
        assert_eq!(parse_quantity(&json!("0xc7")), Some(199));
        assert_eq!(parse_quantity(&json!("0x0")), Some(0));
        assert_eq!(parse_quantity(&json!("0x00c7")), Some(199));
        assert_eq!(
            parse_quantity(&json!(199)),
            None,
            "not exact past 2^53 in a page"
        );
        assert_eq!(parse_chain_id(&json!(199)), Some(199));
        assert_eq!(parse_chain_id(&json!("0xc7")), Some(199));
        assert_eq!(
            parse_chain_id(&json!(format!("0x1{}", "0".repeat(16)))),
            None
        );
        assert_eq!(parse_chain_id(&json!(-1)), None);
        assert_eq!(
            parse_quantity(&json!(format!("0x{}", "f".repeat(32)))),
            Some(u128::MAX)
        );
        for junk in [
            json!("0x"),
            json!("c7"),
            json!("0xg"),
            json!("0x+1"),
            json!(-1),
            json!(1.5),
            json!(format!("0x1{}", "0".repeat(32))),
            json!(format!("0x{}1", "0".repeat(64))),
            json!(null),
            json!([]),
        ] {
            assert_eq!(parse_quantity(&junk), None, "{junk}");
        }
        let address = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert_eq!(
            parse_accounts(&json!(["nope", address.to_lowercase()])),
            Some(Address::parse(address).unwrap())
        );
        assert_eq!(parse_accounts(&json!([])), None);
        assert_eq!(parse_accounts(&json!(address)), None);
        let hash = format!("0x{}", "Ab".repeat(32));
        assert_eq!(parse_tx_hash(&json!(hash)), Some(hash.to_lowercase()));
        assert_eq!(parse_tx_hash(&json!("0x1234")), None);
        assert_eq!(parse_tx_hash(&json!(7)), None);
        assert_eq!(
            parse_receipt_status(&json!(null)),
            Some(ReceiptStatus::Pending)
        );
        assert_eq!(
            parse_receipt_status(&json!({"status": "0x1"})),
            Some(ReceiptStatus::Success)
        );
        assert_eq!(
            parse_receipt_status(&json!({"status": "0x0"})),
            Some(ReceiptStatus::Reverted)
        );
        assert_eq!(
            parse_receipt_status(&json!({"root": "0xab"})),
            Some(ReceiptStatus::Unknown)
        );
        assert_eq!(
            parse_receipt_status(&json!({"status": "0x2"})),
            Some(ReceiptStatus::Unknown)
        );
        assert_eq!(parse_receipt_status(&json!("0x1")), None);
        assert_eq!(parse_response(&" ".repeat(MAX_RESPONSE_BYTES + 1)), None);
        assert_eq!(parse_response("not json"), None);
        assert_eq!(parse_response("null"), Some(Value::Null));
    }
}
