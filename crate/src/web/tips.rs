//! `client.tips(creator)`: a creator's tips per work, counted from the TipJar's logs through
//! the chain's RPC (`crate::tip::logs` decides what to ask and how to count; the ledger of
//! each creator stays with the client, so a refresh only reads new blocks).

use std::cell::RefCell;
use std::rc::Weak;

use wasm_bindgen::JsValue;

use super::chain_rpc;
use super::client::ClientInner;
use crate::creator::Address;
use crate::tip::logs::{
    MAX_REQUESTS_PER_REFRESH, TipLedger, decode_logs, logs_params, parse_block_number,
};

/// Creators whose ledgers a client keeps (a creator page shows one; an app a few).
pub const MAX_LEDGERS: usize = 32;

pub async fn refresh(
    client: Weak<RefCell<ClientInner>>,
    creator: Address,
) -> Result<JsValue, String> {
    let gone = || "the client was destroyed".to_owned();
    let (chain, ledger) = {
        let rc = client.upgrade().ok_or_else(gone)?;
        let inner = rc
            .try_borrow()
            .map_err(|_| "the client is busy".to_owned())?;
        let chain = inner.chain.clone();
        let tip_jar = chain.tip_jar.ok_or(
            "tips per work are counted from a TipJar's logs, and this site's chain has none",
        )?;
        let ledger = inner
            .tip_ledgers
            .get(&creator.0)
            .filter(|l| *l.tip_jar() == tip_jar)
            .cloned()
            .unwrap_or_else(|| TipLedger::new(tip_jar, creator));
        (chain, ledger)
    };
    let mut ledger = ledger;
    let latest = chain_rpc::call(&chain.rpc_urls, "eth_blockNumber", &serde_json::json!([]))
        .await
        .and_then(|t| {
            parse_block_number(&t).ok_or_else(|| "the chain's RPC gave no block number".into())
        })?;
    let floor = TipLedger::floor(latest, chain.tip_jar_from_block);
    let mut failure = None;
    for _ in 0..MAX_REQUESTS_PER_REFRESH {
        let Some(range) = ledger.next_range(latest, floor) else {
            break;
        };
        let params = logs_params(ledger.tip_jar(), &creator, range.0, range.1);
        match chain_rpc::call(&chain.rpc_urls, "eth_getLogs", &params)
            .await
            .and_then(|text| decode_logs(&text, ledger.tip_jar(), &creator))
        {
            Ok(logs) => ledger.record(range, logs),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let summary = ledger.to_json(floor, latest).to_string();
    // What was counted is kept even when a later range failed: the next refresh goes on.
    if let Some(rc) = client.upgrade() {
        if let Ok(mut inner) = rc.try_borrow_mut() {
            if inner.tip_ledgers.len() >= MAX_LEDGERS && !inner.tip_ledgers.contains_key(&creator.0)
            {
                let first = inner.tip_ledgers.keys().next().copied();
                if let Some(key) = first {
                    inner.tip_ledgers.remove(&key);
                }
            }
            inner.tip_ledgers.insert(creator.0, ledger);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    js_sys::JSON::parse(&summary).map_err(|_| "unreadable tip summary".into())
}
