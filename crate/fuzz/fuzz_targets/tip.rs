//! The tip core on arbitrary input: amounts, chain JSON, and a tip flow fed arbitrary wallet
//! answers. No panics; whatever parses keeps its bounds; the flow ends, never sends anything
//! but the request's exact value to the creator or the tip jar, and never sends after a
//! balance below the amount.
//!
//! Input: `amount 0xff chain-json 0xff answer 0xff answer …`; an answer's first byte chooses
//! resolve (even) or reject (odd), the rest is its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seedcast::creator::Address;
use seedcast::tip::{
    Chain, MAX_TIP_BTT, Step, TipFlow, TipRequest, format_wei, parse_btt, parse_quantity, wei_hex,
};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xff);
    let amount = String::from_utf8_lossy(parts.next().unwrap_or_default());
    if let Ok(wei) = parse_btt(&amount) {
        assert!(wei > 0 && wei <= MAX_TIP_BTT * 1_000_000_000_000_000_000);
        assert_eq!(parse_btt(&format_wei(wei)), Ok(wei));
    }
    let chain_json = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let chain = match Chain::from_json(&chain_json) {
        Ok(chain) => {
            assert!(!chain.explorer.ends_with('/'));
            assert_eq!(Chain::from_value(&chain.to_json()), Ok(chain.clone()));
            chain
        }
        Err(error) => {
            assert!(!error.contains('\n'));
            Chain::bttc()
        }
    };

    let creator = Address([0x11; 20]);
    let amount_wei = parse_btt(&amount).unwrap_or(1_500_000_000_000_000_000);
    let request = TipRequest {
        chain: chain.clone(),
        creator,
        info_hash: [0x22; 20],
        amount_wei,
        message: Some("thanks".into()),
    };
    let Ok(mut flow) = TipFlow::new(request) else {
        return;
    };
    let mut now = 0u64;
    let mut step = flow.start(now);
    let mut last_balance = None;
    let mut answers = parts;
    loop {
        match step {
            Step::Call { method, params } => {
                if method == "eth_sendTransaction" {
                    let tx = &params[0];
                    let to = chain.tip_jar.unwrap_or(creator).to_checksum();
                    assert_eq!(tx["to"], to.as_str());
                    assert_eq!(tx["value"], wei_hex(amount_wei).as_str());
                    assert!(last_balance.is_some_and(|b| b >= amount_wei));
                }
                let Some(answer) = answers.next() else { return };
                let text = String::from_utf8_lossy(answer.get(1..).unwrap_or_default());
                if method == "eth_getBalance" {
                    last_balance = serde_json::from_str(&text)
                        .ok()
                        .and_then(|v| parse_quantity(&v));
                }
                let result = match answer.first() {
                    Some(b) if b % 2 == 1 => Err(text.as_ref()),
                    _ => Ok(text.as_ref()),
                };
                now += 1;
                step = flow.on_result(result, now);
            }
            Step::Wait { millis } => {
                assert!(millis > 0);
                // Skip ahead so the receipt timeout is reachable within a fuzz input.
                now += u64::from(millis) * 60;
                step = flow.on_wait_over(now);
            }
            Step::Done(receipt) => {
                assert_eq!(flow.stage(), "done");
                assert_eq!(receipt.amount_wei, amount_wei);
                assert_eq!(receipt.tx_hash.len(), 66);
                return;
            }
            Step::Failed(error) => {
                assert_eq!(flow.stage(), "failed");
                assert!(!error.message.is_empty() && !error.message.contains('\n'));
                return;
            }
        }
    }
});
