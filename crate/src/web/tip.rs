//! Runs the sans-IO tip state machine (`crate::tip::TipFlow`) against a browser wallet, and
//! asks a wallet to sign a creator record. Every decision is the core's; this file only
//! carries requests to the EIP-1193 provider and answers back.

use std::time::Duration;

use js_sys::Function;
use wasm_bindgen::JsValue;

use super::js_glue::now;
use super::wallet;
use crate::create::{CreatorOptions, CreatorSigner, UnsignedTorrent};
use crate::creator::{Address, Signature};
use crate::tip::{Step, TipError, TipErrorCode, TipFlow, TipReceipt, TipRequest};

fn now_ms() -> u64 {
    now().as_millis() as u64
}

/// Sends the tip and waits for its receipt. `on_stage` hears each new stage (for the UI).
pub async fn run(
    provider: JsValue,
    request: TipRequest,
    on_stage: Option<Function>,
) -> Result<TipReceipt, TipError> {
    let mut flow = TipFlow::new(request)?;
    let mut step = flow.start(now_ms());
    let mut stage = "";
    loop {
        // "done" and "failed" are told by the promise itself.
        if flow.stage() != stage && !matches!(flow.stage(), "done" | "failed") {
            stage = flow.stage();
            if let Some(f) = &on_stage {
                // A throwing listener must not stop a payment half-way: its error is dropped.
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(stage));
            }
        }
        step = match step {
            Step::Call { method, params } => {
                let answer = wallet::request(&provider, method, &params.to_string()).await;
                flow.on_result(answer.as_deref().map_err(String::as_str), now_ms())
            }
            Step::Wait { millis } => {
                super::js_glue::sleep(Duration::from_millis(u64::from(millis))).await;
                flow.on_wait_over(now_ms())
            }
            Step::Done(receipt) => return Ok(receipt),
            Step::Failed(error) => return Err(error),
        };
    }
}

/// Asks the wallet for its account (first, so a missing or refusing wallet fails before
/// the files are hashed).
pub async fn account(provider: &JsValue) -> Result<Address, TipError> {
    let answer = wallet::request(provider, "eth_requestAccounts", "[]")
        .await
        .map_err(|e| crate::tip::classify_sign_error(&e))?;
    let accounts: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    crate::tip::rpc::parse_accounts(&accounts).ok_or_else(|| TipError {
        code: TipErrorCode::NoWallet,
        message: "the wallet has no account to sign with".into(),
    })
}

/// Has the wallet's `address` sign `typed_data` (`eth_signTypedData_v4`, so the wallet shows
/// what is signed). The caller verifies the signature against what it built.
pub async fn sign_typed_data(
    provider: &JsValue,
    address: &Address,
    typed_data: &str,
) -> Result<Signature, TipError> {
    let params = serde_json::json!([address.to_checksum(), typed_data]).to_string();
    let answer = wallet::request(provider, "eth_signTypedData_v4", &params)
        .await
        .map_err(|e| crate::tip::classify_sign_error(&e))?;
    let failed = |message: String| TipError {
        code: TipErrorCode::Failed,
        message,
    };
    let text: String = serde_json::from_str(&answer).map_err(|_| {
        failed("the wallet answered the signature request with no signature".into())
    })?;
    Signature::parse_hex(&text)
        .map_err(|e| failed(format!("the wallet's signature is unusable: {e}")))
}

/// Has `address` sign the record of `unsigned` under `name` (`eth_signTypedData_v4`, so the
/// wallet shows the creator what they sign) and checks the signature before using it.
pub async fn sign_record(
    provider: &JsValue,
    address: Address,
    name: &str,
    unsigned: &UnsignedTorrent,
) -> Result<CreatorOptions, TipError> {
    let signature = sign_typed_data(
        provider,
        &address,
        &unsigned.typed_data_json(&address, name),
    )
    .await?;
    Ok(CreatorOptions {
        name: name.to_owned(),
        signer: CreatorSigner::Signature { address, signature },
    })
}
