//! The chain a site tips on (`ClientOptions.chain`): id, name, RPC URLs, explorer, and an
//! optional TipJar contract. Written by the site's own code, never by a link or a torrent —
//! still validated, so that a typo is a clear error at start-up rather than a wallet prompt
//! for the wrong network.

use serde_json::{Map, Value, json};

use crate::creator::Address;

/// Largest chain id: JavaScript's `Number.MAX_SAFE_INTEGER` (2^53 − 1), so that a page holds
/// every id exactly (EIP-3085 wallets reject larger ones too).
pub const MAX_CHAIN_ID: u64 = (1 << 53) - 1;
/// Longest chain name, in characters: a wallet shows it in a prompt.
pub const MAX_CHAIN_NAME_CHARS: usize = 64;
/// Most RPC URLs: a wallet needs one; a few give it fallbacks.
pub const MAX_RPC_URLS: usize = 5;
/// Longest URL, in bytes: the common browser and server limit for a URL.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest chain JSON, in bytes: every valid chain fits, however it is written — six maximal
/// URLs even with every character escaped (2 bytes each) take 24 KiB, the name under 1 KiB.
pub const MAX_CHAIN_JSON_BYTES: usize = 32 * 1024;

/// Where tips go: the chain and, optionally, the TipJar contract that forwards a tip to its
/// creator and logs it. `explorer` has no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub id: u64,
    pub name: String,
    pub rpc_urls: Vec<String>,
    pub explorer: String,
    pub tip_jar: Option<Address>,
    /// The block the tip jar was deployed in (`tipJarFromBlock`): where counting its tips
    /// starts. Without it a page counts only recent blocks (see `tip::logs`).
    pub tip_jar_from_block: Option<u64>,
}

impl Chain {
    /// BitTorrent Chain mainnet (BTTC), chain id 199: the default.
    pub fn bttc() -> Chain {
        Chain {
            id: 199,
            name: "BitTorrent Chain".into(),
            rpc_urls: vec![
                "https://rpc.bittorrentchain.io".into(),
                "https://rpc.bt.io".into(),
            ],
            explorer: "https://bttcscan.com".into(),
            tip_jar: None,
            tip_jar_from_block: None,
        }
    }

    /// The Donau testnet, chain id 1029 (not viem's `bitTorrentTestnet`, which is 1028).
    pub fn donau() -> Chain {
        Chain {
            id: 1029,
            name: "BitTorrent Chain Donau".into(),
            rpc_urls: vec!["https://pre-rpc.bt.io".into()],
            explorer: "https://testscan.bt.io".into(),
            tip_jar: None,
            tip_jar_from_block: None,
        }
    }

    /// `"bttc"` or `"donau"`.
    pub fn preset(name: &str) -> Option<Chain> {
        match name {
            "bttc" => Some(Chain::bttc()),
            "donau" => Some(Chain::donau()),
            _ => None,
        }
    }

    /// A chain from JSON: a preset's name as a JSON string (`"donau"`), or an object
    /// `{id, name, rpcUrls, explorer, tipJar?}`. Unknown keys are refused, so a misspelt
    /// `tipjar` is an error rather than silently ignored. The error names the field.
    pub fn from_json(json: &str) -> Result<Chain, String> {
        if json.len() > MAX_CHAIN_JSON_BYTES {
            return Err(format!(
                "chain: the JSON is longer than {MAX_CHAIN_JSON_BYTES} bytes"
            ));
        }
        let value: Value =
            serde_json::from_str(json).map_err(|_| "chain: not valid JSON".to_string())?;
        Chain::from_value(&value)
    }

    /// [`Chain::from_json`] for an already parsed value.
    pub fn from_value(value: &Value) -> Result<Chain, String> {
        let object = match value {
            Value::String(name) => {
                return Chain::preset(name)
                    .ok_or_else(|| "chain: unknown preset; expected \"bttc\" or \"donau\"".into());
            }
            Value::Object(object) => object,
            _ => {
                return Err(
                    "chain: expected an object {id, name, rpcUrls, explorer} or a preset name"
                        .into(),
                );
            }
        };
        if let Some(key) = object.keys().find(|k| {
            ![
                "id",
                "name",
                "rpcUrls",
                "explorer",
                "tipJar",
                "tipJarFromBlock",
            ]
            .contains(&k.as_str())
        }) {
            return Err(format!(
                "chain: unknown field {:?}; expected id, name, rpcUrls, explorer, tipJar, tipJarFromBlock",
                crate::tip::error::one_line(key, 40)
            ));
        }
        Ok(Chain {
            id: chain_id(object)?,
            name: chain_name(object)?,
            rpc_urls: rpc_urls(object)?,
            explorer: explorer(object)?,
            tip_jar: tip_jar(object)?,
            tip_jar_from_block: from_block(object)?,
        })
    }

    /// The chain id as an EIP-695 quantity: `0xc7` (minimal; MetaMask refuses zero padding).
    pub fn hex_id(&self) -> String {
        format!("{:#x}", self.id)
    }

    /// The params array of EIP-3085 `wallet_addEthereumChain`.
    pub fn add_chain_params(&self) -> Value {
        json!([{
            "chainId": self.hex_id(),
            "chainName": self.name,
            "nativeCurrency": {"name": "BitTorrent", "symbol": "BTT", "decimals": 18},
            "rpcUrls": self.rpc_urls,
            "blockExplorerUrls": [self.explorer],
        }])
    }

    /// The JSON form [`Chain::from_json`] reads; `tipJar` EIP-55 checksummed or null.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "rpcUrls": self.rpc_urls,
            "explorer": self.explorer,
            "tipJar": self.tip_jar.map(|a| a.to_checksum()),
            "tipJarFromBlock": self.tip_jar_from_block,
        })
    }

    /// The explorer's page of an address.
    pub fn address_url(&self, address: &Address) -> String {
        format!("{}/address/{}", self.explorer, address.to_checksum())
    }

    /// The explorer's page of a transaction; `hash` should be one the flow validated.
    pub fn tx_url(&self, hash: &str) -> String {
        format!("{}/tx/{hash}", self.explorer)
    }
}

fn chain_id(object: &Map<String, Value>) -> Result<u64, String> {
    match object.get("id").and_then(Value::as_u64) {
        Some(id) if (1..=MAX_CHAIN_ID).contains(&id) => Ok(id),
        _ => Err(format!(
            "chain.id: expected a whole number from 1 to {MAX_CHAIN_ID}"
        )),
    }
}

fn chain_name(object: &Map<String, Value>) -> Result<String, String> {
    let name = object.get("name").and_then(Value::as_str).unwrap_or("");
    let count = name.chars().count();
    if count == 0 || count > MAX_CHAIN_NAME_CHARS {
        return Err(format!(
            "chain.name: expected text of 1 to {MAX_CHAIN_NAME_CHARS} characters"
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || crate::tip::error::is_bidi_control(c))
    {
        return Err("chain.name: contains control characters".into());
    }
    Ok(name.to_string())
}

fn rpc_urls(object: &Map<String, Value>) -> Result<Vec<String>, String> {
    let urls = match object.get("rpcUrls").and_then(Value::as_array) {
        Some(urls) if (1..=MAX_RPC_URLS).contains(&urls.len()) => urls,
        _ => {
            return Err(format!(
                "chain.rpcUrls: expected a list of 1 to {MAX_RPC_URLS} http(s) URLs"
            ));
        }
    };
    urls.iter()
        .enumerate()
        .map(|(i, url)| {
            url.as_str()
                .and_then(http_url)
                .map(str::to_string)
                .ok_or_else(|| {
                    format!(
                        "chain.rpcUrls[{i}]: not an http(s) URL of at most {MAX_URL_BYTES} bytes"
                    )
                })
        })
        .collect()
}

fn explorer(object: &Map<String, Value>) -> Result<String, String> {
    let error = || {
        format!(
            "chain.explorer: not an http(s) URL of at most {MAX_URL_BYTES} bytes without ? or #"
        )
    };
    let url = object
        .get("explorer")
        .and_then(Value::as_str)
        .and_then(http_url)
        .ok_or_else(error)?;
    // Pages are explorer + "/tx/…": a query or fragment would swallow the path.
    if url.contains(['?', '#']) {
        return Err(error());
    }
    let url = url.trim_end_matches('/');
    http_url(url).map(str::to_string).ok_or_else(error)
}

fn tip_jar(object: &Map<String, Value>) -> Result<Option<Address>, String> {
    let text = match object.get("tipJar") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text,
        Some(_) => return Err("chain.tipJar: expected an address string or null".into()),
    };
    let address = Address::parse(text).map_err(|e| format!("chain.tipJar: {e}"))?;
    // Value sent to the zero address is burnt.
    if address.0 == [0; 20] {
        return Err("chain.tipJar: the zero address cannot be a tip jar".into());
    }
    Ok(Some(address))
}

fn from_block(object: &Map<String, Value>) -> Result<Option<u64>, String> {
    match object.get("tipJarFromBlock") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|n| *n <= MAX_CHAIN_ID)
            .map(Some)
            .ok_or_else(|| "chain.tipJarFromBlock: expected a block number".into()),
    }
}

/// `url` when it is `http://` or `https://` (any case), a non-empty host, only visible ASCII
/// (an international host is written in punycode) and at most [`MAX_URL_BYTES`].
fn http_url(url: &str) -> Option<&str> {
    if url.len() > MAX_URL_BYTES || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return None;
    }
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(extra: &str) -> String {
        format!(
            r#"{{"id": 199, "name": "Local", "rpcUrls": ["http://127.0.0.1:8545"], "explorer": "https://x.example/"{extra}}}"#
        )
    }

    #[test]
    fn presets_and_their_wallet_params() {
        let bttc = Chain::bttc();
        assert_eq!(bttc.hex_id(), "0xc7");
        assert_eq!(Chain::donau().hex_id(), "0x405");
        assert_eq!(Chain::preset("bttc"), Some(bttc.clone()));
        assert_eq!(Chain::preset("donau"), Some(Chain::donau()));
        assert_eq!(Chain::preset("mainnet"), None);
        assert_eq!(Chain::from_json(r#""donau""#), Ok(Chain::donau()));
        assert_eq!(
            bttc.add_chain_params(),
            json!([{
                "chainId": "0xc7",
                "chainName": "BitTorrent Chain",
                "nativeCurrency": {"name": "BitTorrent", "symbol": "BTT", "decimals": 18},
                "rpcUrls": ["https://rpc.bittorrentchain.io", "https://rpc.bt.io"],
                "blockExplorerUrls": ["https://bttcscan.com"],
            }])
        );
        let jar = Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap();
        assert_eq!(
            bttc.address_url(&jar),
            "https://bttcscan.com/address/0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        );
        assert_eq!(bttc.tx_url("0xab"), "https://bttcscan.com/tx/0xab");
    }

    #[test]
    fn objects_parse_normalise_and_round_trip() {
        let chain = Chain::from_json(&object(
            r#", "tipJar": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed""#,
        ))
        .unwrap();
        assert_eq!(
            chain.explorer, "https://x.example",
            "trailing slash dropped"
        );
        assert_eq!(chain.rpc_urls, ["http://127.0.0.1:8545"]);
        let json = chain.to_json();
        assert_eq!(json["tipJar"], "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
        assert_eq!(Chain::from_json(&json.to_string()), Ok(chain));
        let no_jar = Chain::from_json(&object(r#", "tipJar": null"#)).unwrap();
        assert_eq!(no_jar.tip_jar, None);
        assert_eq!(no_jar.to_json()["tipJar"], Value::Null);
        assert_eq!(
            Chain::from_json(&Chain::bttc().to_json().to_string()),
            Ok(Chain::bttc())
        );
    }

    #[test]
    fn bad_fields_are_named_in_one_line() {
        let long_url = format!(r#"["https://x.example/{}"]"#, "a".repeat(MAX_URL_BYTES));
        let cases: Vec<(String, &str)> = vec![
            ("nonsense".into(), "not valid JSON"),
            ("42".into(), "expected an object"),
            (r#""mainnet""#.into(), "unknown preset"),
            (object(r#", "tipjar": null"#), "unknown field \"tipjar\""),
            (object("").replace("199", "0"), "chain.id"),
            (object("").replace("199", "199.5"), "chain.id"),
            (object("").replace("199", "\"199\""), "chain.id"),
            (object("").replace("199", "9007199254740992"), "chain.id"),
            (object("").replace("\"Local\"", "\"\""), "chain.name"),
            (object("").replace("\"Local\"", "\"a\\nb\""), "chain.name"),
            (object("").replace("Local", &"n".repeat(65)), "chain.name"),
            (
                object("").replace(r#"["http://127.0.0.1:8545"]"#, "[]"),
                "chain.rpcUrls",
            ),
            (
                object("").replace("http://127.0.0.1:8545", "ftp://x"),
                "chain.rpcUrls[0]",
            ),
            (
                object("").replace("http://127.0.0.1:8545", "javascript:alert(1)"),
                "chain.rpcUrls[0]",
            ),
            (
                object("").replace("http://127.0.0.1:8545", "https://"),
                "chain.rpcUrls[0]",
            ),
            (
                object("").replace("http://127.0.0.1:8545", "https://a b"),
                "chain.rpcUrls[0]",
            ),
            (
                object("").replace(r#"["http://127.0.0.1:8545"]"#, &long_url),
                "chain.rpcUrls[0]",
            ),
            (
                object("").replace(
                    r#"["http://127.0.0.1:8545"]"#,
                    r#"["http://a","http://a","http://a","http://a","http://a","http://a"]"#,
                ),
                "chain.rpcUrls",
            ),
            (
                object("").replace("https://x.example/", "https://x.example/?q="),
                "chain.explorer",
            ),
            (
                object("").replace("https://x.example/", "https:///"),
                "chain.explorer",
            ),
            (
                object("").replace("https://x.example/", "x.example"),
                "chain.explorer",
            ),
            (
                object(r#", "tipJar": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD""#),
                "chain.tipJar: address has a wrong EIP-55 checksum",
            ),
            (object(r#", "tipJar": "0x1234""#), "chain.tipJar"),
            (object(r#", "tipJar": 5"#), "chain.tipJar"),
            (
                object(r#", "tipJar": "0x0000000000000000000000000000000000000000""#),
                "zero address",
            ),
            (
                format!("\"{}\"", "x".repeat(MAX_CHAIN_JSON_BYTES)),
                "longer than",
            ),
        ];
        for (json, expected) in cases {
            let error = Chain::from_json(&json).expect_err(&json);
            assert!(error.contains(expected), "{json}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
