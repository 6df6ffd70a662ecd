//! The chain the web app sends tips on, chosen by the operator (`--chain`, `--tip-jar`) and served as
//! `/chain.json`. Only the operator decides it: a link or page parameter never can, so a hostile link cannot
//! route tips through another network or contract.

use serde::{Deserialize, Serialize};

/// Largest chain file read: a chain description is a few hundred bytes.
pub const MAX_CHAIN_FILE_BYTES: u64 = 4 * 1024;
/// Longest chain name (shown to viewers next to the Tip button).
const MAX_NAME_CHARS: usize = 64;
/// Most RPC URLs (wallets are handed them by `wallet_addEthereumChain`).
const MAX_RPC_URLS: usize = 8;
/// Longest URL accepted.
const MAX_URL_CHARS: usize = 512;
/// Largest chain id: JavaScript numbers are exact up to 2^53 - 1, and the page reads this as JSON.
const MAX_CHAIN_ID: u64 = (1 << 53) - 1;

/// A chain as the app's `SeedcastClient` takes it (`ClientOptions.chain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Chain {
    pub id: u64,
    pub name: String,
    pub rpc_urls: Vec<String>,
    pub explorer: String,
    /// A TipJar contract tips go through; `None` sends straight to the creator.
    #[serde(default)]
    pub tip_jar: Option<String>,
}

impl Default for Chain {
    fn default() -> Self {
        Self::bttc()
    }
}

/// Why a chain cannot be used; each reads as one line.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The I/O error is part of the message, not a `source`: the error prints as one line.
    #[error("cannot read chain file {path} (--chain takes bttc, donau or a JSON file): {error}")]
    Read { path: String, error: std::io::Error },
    #[error("chain file {path} is larger than {MAX_CHAIN_FILE_BYTES} bytes")]
    TooLarge { path: String },
    #[error("chain file {path}: {problem}")]
    Json { path: String, problem: String },
    #[error("chain: {0}")]
    Invalid(String),
}

impl Chain {
    /// BitTorrent Chain mainnet (the default).
    pub fn bttc() -> Self {
        Self {
            id: 199,
            name: "BitTorrent Chain".into(),
            rpc_urls: vec![
                "https://rpc.bittorrentchain.io".into(),
                "https://rpc.bt.io".into(),
            ],
            explorer: "https://bttcscan.com".into(),
            tip_jar: None,
        }
    }

    /// BitTorrent Chain's Donau testnet.
    pub fn donau() -> Self {
        Self {
            id: 1029,
            name: "BitTorrent Chain Donau".into(),
            rpc_urls: vec!["https://pre-rpc.bt.io".into()],
            explorer: "https://testscan.bt.io".into(),
            tip_jar: None,
        }
    }

    /// `--chain`: `bttc`, `donau`, or a JSON file `{id, name, rpcUrls, explorer, tipJar?}`; then `--tip-jar`
    /// (which replaces the file's `tipJar`). The result is validated.
    pub fn resolve(choice: &str, tip_jar: Option<&str>) -> Result<Chain, ChainError> {
        let mut chain = match choice {
            "bttc" => Self::bttc(),
            "donau" => Self::donau(),
            path => Self::load(std::path::Path::new(path))?,
        };
        if let Some(address) = tip_jar {
            chain.tip_jar = Some(address.to_owned());
        }
        chain.validate()?;
        Ok(chain)
    }

    /// Reads a chain file (at most [`MAX_CHAIN_FILE_BYTES`]); unknown fields are refused (a typo such as
    /// `tipjar` must not silently send tips straight to creators).
    pub fn load(path: &std::path::Path) -> Result<Chain, ChainError> {
        use std::io::Read;
        let shown = path.display().to_string();
        let read = |error| ChainError::Read {
            path: shown.clone(),
            error,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_CHAIN_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read)?;
        if bytes.len() as u64 > MAX_CHAIN_FILE_BYTES {
            return Err(ChainError::TooLarge { path: shown });
        }
        serde_json::from_slice(&bytes).map_err(|e| ChainError::Json {
            path: shown,
            problem: e.to_string(),
        })
    }

    /// Checks every field and normalises the explorer URL (no trailing `/`).
    pub fn validate(&mut self) -> Result<(), ChainError> {
        let invalid = |text: String| Err(ChainError::Invalid(text));
        if self.id == 0 || self.id > MAX_CHAIN_ID {
            return invalid(format!("id must be from 1 to {MAX_CHAIN_ID}"));
        }
        let name = self.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || self.name.chars().any(is_control_or_bidi)
        {
            return invalid(format!(
                "name must be 1 to {MAX_NAME_CHARS} characters, without control or bidi characters"
            ));
        }
        self.name = name.to_owned();
        if self.rpc_urls.is_empty() || self.rpc_urls.len() > MAX_RPC_URLS {
            return invalid(format!("rpcUrls must list 1 to {MAX_RPC_URLS} URLs"));
        }
        for url in &self.rpc_urls {
            check_url("rpcUrls", url)?;
        }
        check_url("explorer", &self.explorer)?;
        self.explorer = self.explorer.trim_end_matches('/').to_owned();
        if let Some(address) = &self.tip_jar {
            let hex = address.strip_prefix("0x").unwrap_or("");
            if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return invalid(format!(
                    "tip jar {address:?} is not an address (0x and 40 hex digits)"
                ));
            }
        }
        Ok(())
    }

    /// The body of `/chain.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Control characters and bidi overrides: in a name shown next to a Tip button they could make it read as
/// another chain.
fn is_control_or_bidi(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// An http(s) URL without spaces, quotes or control characters (it ends up in links and wallet prompts).
fn check_url(field: &str, url: &str) -> Result<(), ChainError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && url.len() <= MAX_URL_CHARS
        && !url.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\')
        });
    if ok {
        Ok(())
    } else {
        Err(ChainError::Invalid(format!(
            "{field}: {url:?} is not an http(s) URL of at most {MAX_URL_CHARS} characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_tip_jar() {
        assert_eq!(Chain::resolve("bttc", None).unwrap().id, 199);
        let donau =
            Chain::resolve("donau", Some("0x5FbDB2315678afecb367f032d93F642f64180aa3")).unwrap();
        assert_eq!(donau.id, 1029);
        assert_eq!(
            donau.to_json(),
            r#"{"id":1029,"name":"BitTorrent Chain Donau","rpcUrls":["https://pre-rpc.bt.io"],"explorer":"https://testscan.bt.io","tipJar":"0x5FbDB2315678afecb367f032d93F642f64180aa3"}"#
        );
        assert!(Chain::resolve("bttc", Some("0x1234")).is_err());
    }

    #[test]
    fn refuses_bad_fields() {
        let bad = |f: fn(&mut Chain)| {
            let mut chain = Chain::bttc();
            f(&mut chain);
            chain.validate().is_err()
        };
        assert!(bad(|c| c.id = 0));
        assert!(bad(|c| c.id = 1 << 53));
        assert!(bad(|c| c.name = " ".into()));
        assert!(bad(|c| c.name = "a\nb".into()));
        assert!(bad(|c| c.name = "Chain\u{202e}".into()));
        assert!(bad(|c| c.rpc_urls.clear()));
        assert!(bad(|c| c.rpc_urls = vec!["javascript:alert(1)".into()]));
        assert!(bad(|c| c.explorer = "https://x\" onmouseover=\"".into()));
        assert!(bad(|c| c.explorer = format!("https://{}", "a".repeat(600))));
    }
}
