//! Tips per work, read from the TipJar's `Tip` events through the chain's JSON-RPC
//! (`eth_getLogs`), without IO: the filter to ask for, decoding what the node answers, and a
//! ledger that counts each tip once and knows which blocks it has covered.
//!
//! ```text
//! event Tip(address indexed creator, bytes20 indexed infoHash, address indexed from,
//!           uint256 amount, string message)
//! topics: [keccak256("Tip(address,bytes20,address,uint256,string)"),
//!          creator (left-padded), infoHash (right-padded), from (left-padded)]
//! data:   abi.encode(amount, message)
//! ```
//!
//! Scanning: public RPCs refuse `eth_getLogs` over wide block ranges, so the ledger asks for
//! at most [`MAX_LOG_RANGE`] blocks at a time: first the newest blocks, then older ones back
//! to the chain's `tipJarFromBlock` (or [`DEFAULT_LOOKBACK`] blocks when it is not set), and
//! on later refreshes the blocks that appeared since. Each refresh asks at most
//! [`MAX_REQUESTS_PER_REFRESH`] ranges; what is left is said (`complete: false`) and
//! continued by the next refresh. The ledger is kept by the client, so a page counts each
//! block once.
//!
//! Trust: the node is the site's chosen RPC. A lying node can hide tips or invent some; it
//! cannot move money. Every answer is bounded and validated, and logs not from the tip jar,
//! not for this creator, or malformed are dropped.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::creator::hex::{decode_0x, encode_0x};
use crate::creator::{Address, keccak256};
use crate::tip::MAX_TIP_MESSAGE_BYTES;
use crate::tip::rpc::parse_response;

/// The event's signature.
pub const TIP_EVENT: &str = "Tip(address,bytes20,address,uint256,string)";
/// Blocks per `eth_getLogs`: within what public EVM RPCs accept (commonly 5,000–10,000).
pub const MAX_LOG_RANGE: u64 = 5_000;
/// How far back a chain without `tipJarFromBlock` is counted: about a week of 2-second blocks.
pub const DEFAULT_LOOKBACK: u64 = 300_000;
/// `eth_getLogs` calls per refresh: a page load stays quick; the next refresh continues.
pub const MAX_REQUESTS_PER_REFRESH: usize = 12;
/// Logs accepted from one answer: a 5,000-block range of one creator's tips in practice holds
/// a handful; more is a node flooding us.
pub const MAX_LOGS_PER_ANSWER: usize = 10_000;
/// Largest `eth_getLogs` answer read, in bytes (10,000 logs of ~1 KB).
pub const MAX_LOGS_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// Newest messages kept per work (with their amounts and senders).
pub const RECENT_PER_WORK: usize = 5;
/// Tips remembered for de-duplication (a node may answer overlapping ranges twice).
pub const MAX_SEEN_TIPS: usize = 100_000;

/// keccak256 of [`TIP_EVENT`]: topic 0 of every `Tip` log.
pub fn tip_topic() -> [u8; 32] {
    keccak256(TIP_EVENT.as_bytes())
}

/// One tip, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipLog {
    pub info_hash: [u8; 20],
    pub from: Address,
    pub amount_wei: u128,
    /// UTF-8 (invalid bytes replaced), control characters replaced by spaces: shown as text.
    pub message: String,
    pub block: u64,
    pub tx_hash: String,
    pub log_index: u64,
}

/// The `eth_getLogs` params for `creator`'s tips at `tip_jar` in blocks `from..=to`.
pub fn logs_params(tip_jar: &Address, creator: &Address, from: u64, to: u64) -> Value {
    let mut topic = [0u8; 32];
    topic[12..].copy_from_slice(&creator.0);
    json!([{
        "address": tip_jar.to_checksum(),
        "fromBlock": format!("{from:#x}"),
        "toBlock": format!("{to:#x}"),
        "topics": [encode_0x(&tip_topic()), encode_0x(&topic)],
    }])
}

/// The tips in an `eth_getLogs` answer (the JSON text of its `result`). Logs from another
/// address or for another creator, removed by a reorg, or malformed are skipped; an answer
/// that is not a bounded array of logs is an error.
pub fn decode_logs(
    text: &str,
    tip_jar: &Address,
    creator: &Address,
) -> Result<Vec<TipLog>, String> {
    if text.len() > MAX_LOGS_ANSWER_BYTES {
        return Err("the chain's answer is too large".into());
    }
    let value: Value = serde_json::from_str(text).map_err(|_| "the chain's answer is not JSON")?;
    let logs = value
        .as_array()
        .ok_or("the chain's answer is not a list of logs")?;
    if logs.len() > MAX_LOGS_PER_ANSWER {
        return Err(format!(
            "the chain answered {} logs for one range",
            logs.len()
        ));
    }
    Ok(logs
        .iter()
        .filter_map(|log| decode_log(log, tip_jar, creator))
        .collect())
}

fn decode_log(log: &Value, tip_jar: &Address, creator: &Address) -> Option<TipLog> {
    if log.get("removed").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    if Address::parse(log.get("address")?.as_str()?).ok()? != *tip_jar {
        return None;
    }
    let topics = log.get("topics")?.as_array()?;
    let topic = |i: usize| decode_0x::<32>(&topics.get(i)?.as_str()?.to_ascii_lowercase());
    if topics.len() != 4 || topic(0)? != tip_topic() {
        return None;
    }
    let creator_topic = topic(1)?;
    if creator_topic[..12] != [0; 12] || creator_topic[12..] != creator.0 {
        return None;
    }
    let hash_topic = topic(2)?;
    if hash_topic[20..] != [0; 12] {
        return None;
    }
    let from_topic = topic(3)?;
    if from_topic[..12] != [0; 12] {
        return None;
    }
    let (amount_wei, message) = decode_data(log.get("data")?.as_str()?)?;
    Some(TipLog {
        info_hash: hash_topic[..20].try_into().ok()?,
        from: Address(from_topic[12..].try_into().ok()?),
        amount_wei,
        message,
        block: quantity(log.get("blockNumber")?)?,
        tx_hash: crate::tip::parse_tx_hash(log.get("transactionHash")?)?,
        log_index: quantity(log.get("logIndex")?)?,
    })
}

fn quantity(value: &Value) -> Option<u64> {
    crate::tip::parse_quantity(value).and_then(|n| u64::try_from(n).ok())
}

/// `abi.encode(uint256 amount, string message)`: amount, offset 0x40, length, bytes.
fn decode_data(hex: &str) -> Option<(u128, String)> {
    let digits = hex.strip_prefix("0x")?;
    // 4 words of head and length plus the longest message the contract accepts, padded.
    let max_bytes = 96 + MAX_TIP_MESSAGE_BYTES.div_ceil(32) * 32;
    if digits.len() % 64 != 0 || digits.len() / 2 > max_bytes || digits.len() < 192 {
        return None;
    }
    let bytes = (0..digits.len() / 2)
        .map(|i| u8::from_str_radix(digits.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let word = |i: usize| &bytes[32 * i..32 * (i + 1)];
    let amount = word(0);
    // Tips above u128 wei (3.4 × 10^20 BTT) do not exist; such a log is malformed.
    if amount[..16] != [0; 16] {
        return None;
    }
    let amount_wei = u128::from_be_bytes(amount[16..].try_into().ok()?);
    let small = |w: &[u8]| -> Option<usize> {
        (w[..24] == [0; 24])
            .then(|| u64::from_be_bytes(w[24..].try_into().unwrap_or_default()))?
            .try_into()
            .ok()
    };
    if small(word(1))? != 64 {
        return None;
    }
    let length = small(word(2))?;
    if length > MAX_TIP_MESSAGE_BYTES || 96 + length > bytes.len() {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes[96..96 + length]);
    let message = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Some((amount_wei, message))
}

/// One work's tips.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkTips {
    pub count: u64,
    pub total_wei: u128,
    /// Newest first, at most [`RECENT_PER_WORK`].
    pub recent: Vec<TipLog>,
}

/// A creator's tips, counted over the blocks scanned so far.
///
/// Invariant: every block in `low..=high` has been scanned (answers are recorded only for a
/// whole range the ledger asked for), and each tip (tx hash, log index) is counted once.
#[derive(Debug, Clone)]
pub struct TipLedger {
    tip_jar: Address,
    creator: Address,
    scanned: Option<(u64, u64)>,
    works: BTreeMap<[u8; 20], WorkTips>,
    seen: BTreeSet<(String, u64)>,
}

impl TipLedger {
    pub fn new(tip_jar: Address, creator: Address) -> TipLedger {
        TipLedger {
            tip_jar,
            creator,
            scanned: None,
            works: BTreeMap::new(),
            seen: BTreeSet::new(),
        }
    }

    pub fn tip_jar(&self) -> &Address {
        &self.tip_jar
    }

    pub fn creator(&self) -> &Address {
        &self.creator
    }

    /// The lowest block to count: `from_block` (the jar's deployment), else a recent window.
    pub fn floor(latest: u64, from_block: Option<u64>) -> u64 {
        from_block.unwrap_or_else(|| latest.saturating_sub(DEFAULT_LOOKBACK - 1))
    }

    /// The next range to ask for, newest blocks first: blocks after what was scanned, then
    /// older blocks down to `floor`; `None` when everything from `floor` to `latest` is done.
    pub fn next_range(&self, latest: u64, floor: u64) -> Option<(u64, u64)> {
        match self.scanned {
            None => Some((latest.saturating_sub(MAX_LOG_RANGE - 1).max(floor), latest)),
            Some((_, high)) if latest > high => {
                Some((high + 1, (high + MAX_LOG_RANGE).min(latest)))
            }
            Some((low, _)) if low > floor => {
                Some((low.saturating_sub(MAX_LOG_RANGE).max(floor), low - 1))
            }
            Some(_) => None,
        }
    }

    /// Records the answer for `range` (one `next_range` asked for). A range that does not
    /// touch what is scanned is ignored: the scanned blocks must stay one interval.
    pub fn record(&mut self, range: (u64, u64), logs: Vec<TipLog>) {
        let (from, to) = range;
        let merged = match self.scanned {
            None => (from, to),
            Some((low, high)) if to + 1 >= low && from <= high + 1 => (low.min(from), high.max(to)),
            Some(_) => return,
        };
        self.scanned = Some(merged);
        for log in logs {
            if log.block < from || log.block > to {
                continue;
            }
            if self.seen.len() >= MAX_SEEN_TIPS {
                break;
            }
            if !self.seen.insert((log.tx_hash.clone(), log.log_index)) {
                continue;
            }
            let work = self.works.entry(log.info_hash).or_default();
            work.count += 1;
            work.total_wei = work.total_wei.saturating_add(log.amount_wei);
            let at = work
                .recent
                .iter()
                .position(|r| (r.block, r.log_index) < (log.block, log.log_index))
                .unwrap_or(work.recent.len());
            work.recent.insert(at, log);
            work.recent.truncate(RECENT_PER_WORK);
        }
    }

    /// Blocks covered: `(low, high)`.
    pub fn scanned(&self) -> Option<(u64, u64)> {
        self.scanned
    }

    pub fn works(&self) -> &BTreeMap<[u8; 20], WorkTips> {
        &self.works
    }

    /// `{works: {<hex info hash>: {count, totalWei, recent: [{from, amountWei, message,
    /// txHash, block}]}}, fromBlock, toBlock, complete}` for the page.
    pub fn to_json(&self, floor: u64, latest: u64) -> Value {
        let works: serde_json::Map<String, Value> = self
            .works
            .iter()
            .map(|(hash, tips)| {
                let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
                let recent: Vec<Value> = tips
                    .recent
                    .iter()
                    .map(|t| {
                        json!({
                            "from": t.from.to_checksum(),
                            "amountWei": t.amount_wei.to_string(),
                            "message": t.message,
                            "txHash": t.tx_hash,
                            "block": t.block,
                        })
                    })
                    .collect();
                (
                    hex,
                    json!({"count": tips.count, "totalWei": tips.total_wei.to_string(), "recent": recent}),
                )
            })
            .collect();
        let (low, high) = self
            .scanned
            .map_or((None, None), |(l, h)| (Some(l), Some(h)));
        json!({
            "works": works,
            "fromBlock": low,
            "toBlock": high,
            "complete": self.next_range(latest, floor).is_none(),
        })
    }
}

/// The latest block from an `eth_blockNumber` answer (JSON text).
pub fn parse_block_number(text: &str) -> Option<u64> {
    quantity(&parse_response(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(byte: u8) -> Address {
        Address([byte; 20])
    }

    fn topic_addr(a: &Address) -> String {
        let mut t = [0u8; 32];
        t[12..].copy_from_slice(&a.0);
        encode_0x(&t)
    }

    fn data(amount: u128, message: &[u8]) -> String {
        let mut out = vec![0u8; 96];
        out[16..32].copy_from_slice(&amount.to_be_bytes());
        out[63] = 0x40;
        out[88..96].copy_from_slice(&(message.len() as u64).to_be_bytes());
        out.extend_from_slice(message);
        out.resize(96 + message.len().div_ceil(32) * 32, 0);
        encode_0x(&out)
    }

    fn log(
        jar: &Address,
        creator: &Address,
        hash: u8,
        amount: u128,
        msg: &str,
        block: u64,
        index: u64,
    ) -> Value {
        let mut h = [0u8; 32];
        h[..20].copy_from_slice(&[hash; 20]);
        json!({
            "address": jar.to_checksum(),
            "topics": [encode_0x(&tip_topic()), topic_addr(creator), encode_0x(&h), topic_addr(&addr(9))],
            "data": data(amount, msg.as_bytes()),
            "blockNumber": format!("{block:#x}"),
            "transactionHash": format!("0x{:064x}", block * 1000 + index),
            "logIndex": format!("{index:#x}"),
            "removed": false,
        })
    }

    #[test]
    fn topic_matches_the_deployed_contract() {
        // topic0 printed by tests/interop/tipjar.test.mjs from solc's ABI.
        assert_eq!(
            encode_0x(&tip_topic()),
            "0xda02dd32f0fa439c854a55c50e40f098dd40a28b263db65b5ed476b4db6e0f0a"
        );
    }

    #[test]
    fn decodes_tips_and_drops_what_is_not_ours() {
        let (jar, me) = (addr(1), addr(2));
        let answer = json!([
            log(&jar, &me, 7, 1_500_000_000_000_000_000, "thanks!\n", 10, 0),
            log(&addr(3), &me, 7, 5, "other contract", 10, 1),
            log(&jar, &addr(4), 7, 5, "other creator", 10, 2),
            {"removed": true},
            "junk",
        ]);
        let tips = decode_logs(&answer.to_string(), &jar, &me).unwrap();
        assert_eq!(tips.len(), 1);
        assert_eq!(tips[0].amount_wei, 1_500_000_000_000_000_000);
        assert_eq!(tips[0].message, "thanks! ");
        assert_eq!(tips[0].info_hash, [7; 20]);
        assert_eq!(tips[0].from, addr(9));
        assert!(decode_logs("{}", &jar, &me).is_err());
        assert!(decode_logs("nope", &jar, &me).is_err());
    }

    #[test]
    fn malformed_data_is_dropped() {
        let (jar, me) = (addr(1), addr(2));
        let mut bad = log(&jar, &me, 7, 1, "x", 1, 0);
        bad["data"] = json!(data(1, &[b'a'; 281]));
        let mut huge = log(&jar, &me, 7, 1, "x", 1, 1);
        let mut words = vec![0u8; 96];
        words[0] = 1; // amount ≥ 2^248
        words[63] = 0x40;
        huge["data"] = json!(encode_0x(&words));
        let answer = json!([bad, huge]);
        assert!(
            decode_logs(&answer.to_string(), &jar, &me)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn ledger_scans_newest_first_then_back_then_forward_and_counts_once() {
        let (jar, me) = (addr(1), addr(2));
        let mut ledger = TipLedger::new(jar, me);
        let floor = 1_000;
        let latest = 12_000;
        let mut ranges = Vec::new();
        while let Some(range) = ledger.next_range(latest, floor) {
            ranges.push(range);
            let tip = decode_logs(
                &json!([log(&jar, &me, 7, 2, "hi", range.1, 0)]).to_string(),
                &jar,
                &me,
            )
            .unwrap();
            ledger.record(range, tip.clone());
            ledger.record(range, tip); // the same answer twice counts once
        }
        assert_eq!(
            ranges,
            vec![(7_001, 12_000), (2_001, 7_000), (1_000, 2_000)]
        );
        assert_eq!(ledger.works()[&[7; 20]].count, 3);
        assert_eq!(ledger.works()[&[7; 20]].total_wei, 6);
        assert_eq!(ledger.next_range(12_003, floor), Some((12_001, 12_003)));
        // A range beside nothing scanned is refused: the scanned blocks stay one interval.
        ledger.record((50_000, 50_010), vec![]);
        assert_eq!(ledger.scanned(), Some((1_000, 12_000)));
        let recent = &ledger.works()[&[7; 20]].recent;
        assert_eq!(recent[0].block, 12_000, "newest first");
    }

    #[test]
    fn recent_keeps_the_newest_few() {
        let (jar, me) = (addr(1), addr(2));
        let mut ledger = TipLedger::new(jar, me);
        let logs: Vec<Value> = (0..9)
            .map(|i| log(&jar, &me, 7, 1, &format!("m{i}"), 100 + i, 0))
            .collect();
        let tips = decode_logs(&Value::Array(logs).to_string(), &jar, &me).unwrap();
        ledger.record((0, 200), tips);
        let work = &ledger.works()[&[7; 20]];
        assert_eq!(work.count, 9);
        let messages: Vec<&str> = work.recent.iter().map(|t| t.message.as_str()).collect();
        assert_eq!(messages, ["m8", "m7", "m6", "m5", "m4"]);
        let json = ledger.to_json(0, 200);
        assert_eq!(json["complete"], true);
        assert_eq!(json["works"][&"07".repeat(20)]["totalWei"], "9");
    }
}
