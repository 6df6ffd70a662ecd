//! JSON-RPC over HTTP to the site's chain (`chain.rpcUrls`), for reads a page makes without a
//! wallet: tips per work (`eth_getLogs`). What to ask and how to read answers is the core's
//! (`crate::tip::logs`); this file only carries requests, bounded in size and time, trying
//! each URL in turn.

/// Largest answer read, in bytes (the core bounds what it parses again).
const MAX_ANSWER_BYTES: usize = crate::tip::logs::MAX_LOGS_ANSWER_BYTES;

/// `result` of `method(params)` as JSON text, from the first URL that answers; an error says
/// what the last URL did.
pub async fn call(
    urls: &[String],
    method: &str,
    params: &serde_json::Value,
) -> Result<String, String> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut last = String::from("no RPC URL");
    for url in urls {
        match call_one(url, &body).await {
            Ok(answer) => return read_answer(&answer),
            Err(e) => last = e,
        }
    }
    Err(format!("the chain's RPC could not be reached ({last})"))
}

/// Picks `result` out of a JSON-RPC answer, or its `error.message`.
fn read_answer(text: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| "the chain's RPC answered something that is not JSON".to_owned())?;
    if let Some(error) = value.get("error") {
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("an error");
        return Err(format!(
            "the chain's RPC refused: {}",
            crate::tip::error::one_line(message, 200)
        ));
    }
    value
        .get("result")
        .map(|r| r.to_string())
        .ok_or_else(|| "the chain's RPC answered without a result".to_owned())
}

async fn call_one(url: &str, body: &str) -> Result<String, String> {
    match super::http::fetch_text("POST", url, Some(body), MAX_ANSWER_BYTES).await? {
        (200..=299, text) => Ok(text),
        (status, _) => Err(format!("HTTP {status}")),
    }
}
