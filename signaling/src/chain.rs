//! The chain the web app sends tips on, chosen by the operator (`--chain`, `--tip-jar`) and served as
//! `/chain.json`. Only the operator decides it: a link or page parameter never can, so a hostile link cannot
//! route tips through another network or contract.
//!
//! Validated by the same code as the browser client's `ClientOptions.chain` (`seedcast::tip::Chain`), so the
//! server never serves a chain the app would refuse (and replace with the default).

use std::io::Read;
use std::path::Path;

pub use seedcast::tip::Chain;
use serde_json::Value;

/// Largest chain file read: a chain description is a few hundred bytes.
pub const MAX_CHAIN_FILE_BYTES: u64 = 4 * 1024;

/// Why `--chain` / `--tip-jar` cannot be used; each reads as one line.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The I/O error is part of the message, not a `source`: the error prints as one line.
    #[error("cannot read chain file {path} (--chain takes bttc, donau or a JSON file): {error}")]
    Read { path: String, error: std::io::Error },
    #[error("chain file {path} is larger than {MAX_CHAIN_FILE_BYTES} bytes")]
    TooLarge { path: String },
    #[error("chain file {path}: {problem}")]
    File { path: String, problem: String },
    #[error("--tip-jar: {0}")]
    TipJar(String),
}

/// `--chain`: `bttc`, `donau`, or a JSON file `{id, name, rpcUrls, explorer, tipJar?}`; then `--tip-jar`
/// (which replaces the chain's `tipJar`). The result is validated.
pub fn resolve(choice: &str, tip_jar: Option<&str>) -> Result<Chain, ChainError> {
    let (shown, mut value) = match Chain::preset(choice) {
        Some(preset) => (choice.to_owned(), preset.to_json()),
        None => load(Path::new(choice))?,
    };
    let file_error = |problem: String| ChainError::File {
        path: shown.clone(),
        problem,
    };
    let Value::Object(object) = &mut value else {
        return Err(file_error(
            "expected a JSON object {id, name, rpcUrls, explorer, tipJar?}".into(),
        ));
    };
    if let Some(address) = tip_jar {
        object.insert("tipJar".into(), Value::String(address.to_owned()));
    }
    Chain::from_value(&value).map_err(|problem| {
        if tip_jar.is_some() && problem.starts_with("chain.tipJar") {
            ChainError::TipJar(problem)
        } else {
            file_error(problem)
        }
    })
}

/// Reads and parses a chain file of at most [`MAX_CHAIN_FILE_BYTES`].
fn load(path: &Path) -> Result<(String, Value), ChainError> {
    let shown = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CHAIN_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|error| ChainError::Read {
            path: shown.clone(),
            error,
        })?;
    if bytes.len() as u64 > MAX_CHAIN_FILE_BYTES {
        return Err(ChainError::TooLarge { path: shown });
    }
    let value = serde_json::from_slice(&bytes).map_err(|e| ChainError::File {
        path: shown.clone(),
        problem: format!("not valid JSON ({e})"),
    })?;
    Ok((shown, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAR: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

    #[test]
    fn presets_and_tip_jar() {
        assert_eq!(resolve("bttc", None).unwrap(), Chain::bttc());
        let donau = resolve("donau", Some(JAR)).unwrap();
        assert_eq!(donau.id, 1029);
        assert_eq!(donau.to_json()["tipJar"], JAR);
        let bad = resolve("bttc", Some("0x1234")).unwrap_err().to_string();
        assert!(bad.starts_with("--tip-jar: chain.tipJar"), "{bad}");
    }
}
