//! The tip flow driven end to end by a scripted fake wallet (an EIP-1193 provider model that
//! keeps a current chain, known chains and a balance, and records every call).

use std::collections::{HashMap, VecDeque};

use serde_json::{Value, json};

use super::*;
use crate::creator::Address;
use crate::creator::hex::encode_0x;

const VIEWER: &str = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";
const CREATOR: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const JAR: &str = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB";
const HASH: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const REJECTED: &str = r#"{"code":4001,"message":"User rejected the request."}"#;
const BTT: u128 = 1_000_000_000_000_000_000;

type Answer = Result<String, String>;

struct Wallet {
    chain: u64,
    known: Vec<u64>,
    balance: u128,
    /// What switching to an unknown chain rejects with.
    unknown_chain_error: String,
    switch_on_add: bool,
    /// Methods the viewer rejects (4001).
    reject: Vec<&'static str>,
    /// Raw answers that replace the model's, per method.
    overrides: HashMap<&'static str, Answer>,
    receipts: VecDeque<Answer>,
    /// Once `receipts` is empty.
    receipt_default: Answer,
    calls: Vec<(&'static str, Value)>,
}

impl Wallet {
    fn on(chain: u64) -> Wallet {
        Wallet {
            chain,
            known: vec![chain],
            balance: 10 * BTT,
            unknown_chain_error: r#"{"code":4902,"message":"Unrecognized chain ID \"0xc7\"."}"#
                .into(),
            switch_on_add: false,
            reject: vec![],
            overrides: HashMap::new(),
            receipts: VecDeque::new(),
            receipt_default: Ok(r#"{"status":"0x1","transactionHash":"0x11"}"#.into()),
            calls: vec![],
        }
    }

    fn answer(&mut self, method: &'static str, params: &Value) -> Answer {
        self.calls.push((method, params.clone()));
        if let Some(answer) = self.overrides.get(method) {
            return answer.clone();
        }
        if self.reject.contains(&method) {
            return Err(REJECTED.into());
        }
        let requested_chain = || {
            let hex = params[0]["chainId"].as_str().unwrap();
            u64::from_str_radix(hex.strip_prefix("0x").unwrap(), 16).unwrap()
        };
        match method {
            "eth_requestAccounts" => Ok(format!(r#"["{VIEWER}"]"#)),
            "eth_chainId" => Ok(format!(r#""{:#x}""#, self.chain)),
            "wallet_switchEthereumChain" => {
                let id = requested_chain();
                if self.known.contains(&id) {
                    self.chain = id;
                    Ok("null".into())
                } else {
                    Err(self.unknown_chain_error.clone())
                }
            }
            "wallet_addEthereumChain" => {
                let id = requested_chain();
                self.known.push(id);
                if self.switch_on_add {
                    self.chain = id;
                }
                Ok("null".into())
            }
            "eth_getBalance" => Ok(format!(r#""{:#x}""#, self.balance)),
            "eth_sendTransaction" => Ok(format!(r#""{HASH}""#)),
            "eth_getTransactionReceipt" => self
                .receipts
                .pop_front()
                .unwrap_or_else(|| self.receipt_default.clone()),
            _ => Err(r#"{"code":4200,"message":"unsupported"}"#.into()),
        }
    }

    fn methods(&self) -> Vec<&'static str> {
        self.calls.iter().map(|(m, _)| *m).collect()
    }

    fn params(&self, method: &str) -> &Value {
        &self.calls.iter().find(|(m, _)| *m == method).unwrap().1
    }
}

fn request(chain: Chain, amount: &str, message: Option<&str>) -> TipRequest {
    TipRequest {
        chain,
        creator: Address::parse(CREATOR).unwrap(),
        info_hash: [0x42; 20],
        amount_wei: parse_btt(amount).unwrap(),
        message: message.map(str::to_string),
    }
}

/// Runs the flow against the wallet as a driver would; returns the outcome and the time spent.
fn drive(flow: &mut TipFlow, wallet: &mut Wallet) -> (Result<TipReceipt, TipError>, u64) {
    let start = 5_000_000;
    let mut now = start;
    let mut step = flow.start(now);
    for _ in 0..10_000 {
        step = match step {
            Step::Call { method, params } => {
                let answer = wallet.answer(method, &params);
                now += 7;
                let result = match &answer {
                    Ok(text) => Ok(text.as_str()),
                    Err(text) => Err(text.as_str()),
                };
                flow.on_result(result, now)
            }
            Step::Wait { millis } => {
                now += u64::from(millis);
                flow.on_wait_over(now)
            }
            Step::Done(receipt) => return (Ok(receipt), now - start),
            Step::Failed(error) => {
                assert!(!error.message.is_empty() && !error.message.contains('\n'));
                return (Err(error), now - start);
            }
        };
    }
    panic!("the flow did not end");
}

fn tip(wallet: &mut Wallet, request: TipRequest) -> Result<TipReceipt, TipError> {
    let mut flow = TipFlow::new(request).unwrap();
    let (outcome, _) = drive(&mut flow, wallet);
    let stage = if outcome.is_ok() { "done" } else { "failed" };
    assert_eq!(flow.stage(), stage);
    outcome
}

fn checksum(address: &str) -> String {
    Address::parse(address).unwrap().to_checksum()
}

#[test]
fn direct_tip_sends_exact_value_to_the_creator() {
    let mut wallet = Wallet::on(199);
    let receipt = tip(&mut wallet, request(Chain::bttc(), "1.5", None)).unwrap();
    assert_eq!(
        receipt,
        TipReceipt {
            tx_hash: HASH.into(),
            amount_wei: 1_500_000_000_000_000_000,
            chain_id: 199
        }
    );
    assert_eq!(
        wallet.methods(),
        [
            "eth_requestAccounts",
            "eth_chainId",
            "eth_getBalance",
            "eth_sendTransaction",
            "eth_getTransactionReceipt"
        ]
    );
    assert_eq!(
        wallet.params("eth_getBalance"),
        &json!([checksum(VIEWER), "latest"])
    );
    assert_eq!(
        wallet.params("eth_sendTransaction"),
        &json!([{
            "from": checksum(VIEWER),
            "to": CREATOR,
            "value": "0x14d1120d7b160000",
            "chainId": "0xc7",
        }])
    );
    assert_eq!(wallet.params("eth_getTransactionReceipt"), &json!([HASH]));
}

#[test]
fn direct_tip_carries_the_message_as_data() {
    let mut wallet = Wallet::on(199);
    tip(&mut wallet, request(Chain::bttc(), "2", Some("merci ✓"))).unwrap();
    let sent = &wallet.params("eth_sendTransaction")[0];
    assert_eq!(sent["to"], CREATOR);
    assert_eq!(sent["data"], encode_0x("merci ✓".as_bytes()));
    assert_eq!(sent["value"], "0x1bc16d674ec80000");
}

#[test]
fn tip_jar_tip_calls_the_jar_with_the_creator_in_calldata() {
    let mut chain = Chain::bttc();
    chain.tip_jar = Some(Address::parse(JAR).unwrap());
    for message in [Some("thanks"), None] {
        let mut wallet = Wallet::on(199);
        tip(&mut wallet, request(chain.clone(), "1.5", message)).unwrap();
        let creator = Address::parse(CREATOR).unwrap();
        let data = tip_jar_calldata(&creator, &[0x42; 20], message.unwrap_or(""));
        assert_eq!(
            wallet.params("eth_sendTransaction"),
            &json!([{
                "from": checksum(VIEWER),
                "to": JAR,
                "value": "0x14d1120d7b160000",
                "chainId": "0xc7",
                "data": encode_0x(&data),
            }])
        );
    }
}

#[test]
fn wrong_chain_is_switched_then_checked() {
    let mut wallet = Wallet::on(1);
    wallet.known.push(199);
    tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap();
    assert_eq!(
        wallet.methods()[..5],
        [
            "eth_requestAccounts",
            "eth_chainId",
            "wallet_switchEthereumChain",
            "eth_chainId",
            "eth_getBalance"
        ]
    );
    assert_eq!(
        wallet.params("wallet_switchEthereumChain"),
        &json!([{"chainId": "0xc7"}])
    );
}

#[test]
fn unknown_chain_in_every_form_is_added_then_switched() {
    let forms = [
        r#"{"code":4902,"message":"Unrecognized chain ID \"0xc7\"."}"#,
        r#"{"code":-32603,"message":"Internal error","data":{"originalError":{"code":4902}}}"#,
        r#"{"code":-32603,"message":"Unrecognized chain ID \"0xc7\". Try adding the chain."}"#,
        "not even JSON",
    ];
    for form in forms {
        for switch_on_add in [false, true] {
            let mut wallet = Wallet::on(1);
            wallet.unknown_chain_error = form.into();
            wallet.switch_on_add = switch_on_add;
            let donau = Chain::donau();
            tip(&mut wallet, request(donau.clone(), "1", None)).unwrap();
            assert_eq!(
                wallet.methods()[..7],
                [
                    "eth_requestAccounts",
                    "eth_chainId",
                    "wallet_switchEthereumChain",
                    "wallet_addEthereumChain",
                    "wallet_switchEthereumChain",
                    "eth_chainId",
                    "eth_getBalance"
                ],
                "{form}"
            );
            assert_eq!(
                wallet.params("wallet_addEthereumChain"),
                &donau.add_chain_params()
            );
            assert_eq!(wallet.params("eth_sendTransaction")[0]["chainId"], "0x405");
        }
    }
}

#[test]
fn declined_switch_or_add_is_wrong_chain_and_sends_nothing() {
    let mut wallet = Wallet::on(1);
    wallet.known.push(199);
    wallet.reject.push("wallet_switchEthereumChain");
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::WrongChain);
    assert!(!wallet.methods().contains(&"eth_getBalance"));
    assert_eq!(
        error.message,
        "the wallet stayed on chain 1; this tip needs BitTorrent Chain (199)"
    );
    assert!(!wallet.methods().contains(&"wallet_addEthereumChain"));

    let mut wallet = Wallet::on(1);
    wallet.reject.push("wallet_addEthereumChain");
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::WrongChain);
    assert!(!wallet.methods().contains(&"eth_getBalance"));

    // The wallet says it switched but stays where it was.
    let mut wallet = Wallet::on(1);
    wallet
        .overrides
        .insert("wallet_switchEthereumChain", Ok("null".into()));
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::WrongChain);
    assert!(!wallet.methods().contains(&"eth_getBalance"));

    // The add fails for another reason.
    let mut wallet = Wallet::on(1);
    wallet.overrides.insert(
        "wallet_addEthereumChain",
        Err(r#"{"code":-32602,"message":"rpcUrls invalid"}"#.into()),
    );
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::WrongChain);
    assert!(!wallet.methods().contains(&"eth_getBalance"));
    assert!(error.message.contains("rpcUrls invalid"), "{error}");
    assert!(!wallet.methods().contains(&"eth_sendTransaction"));
}

#[test]
fn rejections_and_no_account() {
    let mut wallet = Wallet::on(199);
    wallet.reject.push("eth_sendTransaction");
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::Rejected);
    assert!(!wallet.methods().contains(&"eth_getTransactionReceipt"));

    let mut wallet = Wallet::on(199);
    wallet.reject.push("eth_requestAccounts");
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::Rejected);

    let mut wallet = Wallet::on(199);
    wallet
        .overrides
        .insert("eth_requestAccounts", Ok("[]".into()));
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::NoWallet);
    assert_eq!(error.message, "the wallet has no account");

    let mut wallet = Wallet::on(199);
    wallet.overrides.insert(
        "eth_requestAccounts",
        Err(r#"{"code":-32002,"message":"Already processing eth_requestAccounts"}"#.into()),
    );
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::Failed);
    assert!(error.message.contains("already has a request waiting"));
}

#[test]
fn low_balance_fails_before_any_transaction() {
    let mut wallet = Wallet::on(199);
    wallet.balance = BTT / 2;
    let error = tip(&mut wallet, request(Chain::bttc(), "1.5", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::InsufficientFunds);
    assert!(
        error.message.contains("has 0.5 BTT") && error.message.contains("needs 1.5 BTT"),
        "{error}"
    );
    assert!(!wallet.methods().contains(&"eth_sendTransaction"));

    // Exactly enough for the value: the wallet decides about the fee.
    let mut wallet = Wallet::on(199);
    wallet.balance = 1_500_000_000_000_000_000;
    tip(&mut wallet, request(Chain::bttc(), "1.5", None)).unwrap();

    // The wallet's own refusal (the fee did not fit).
    let mut wallet = Wallet::on(199);
    wallet.overrides.insert(
        "eth_sendTransaction",
        Err(r#"{"code":-32603,"message":"Internal JSON-RPC error.","data":{"code":-32000,"message":"insufficient funds for gas * price + value"}}"#.into()),
    );
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::InsufficientFunds);
}

#[test]
fn other_send_errors_quote_the_wallet_on_one_line() {
    let mut wallet = Wallet::on(199);
    let long = format!("nonce too low\n{}", "x".repeat(5000));
    wallet.overrides.insert(
        "eth_sendTransaction",
        Err(json!({"code": -32000, "message": long}).to_string()),
    );
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::Failed);
    assert!(
        error
            .message
            .starts_with("the wallet could not send the tip: nonce too low x")
    );
    assert!(error.message.chars().count() < 300, "{error}");
}

#[test]
fn receipts_pending_then_confirmed_reverted_or_unknown() {
    let mut wallet = Wallet::on(199);
    wallet.receipts = VecDeque::from([
        Ok("null".into()),
        Ok("null".into()),
        Err(r#"{"code":-32603,"message":"timeout"}"#.into()),
        Ok("garbage".into()),
        Ok("null".into()),
    ]);
    tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap();
    let polls = wallet
        .methods()
        .iter()
        .filter(|m| **m == "eth_getTransactionReceipt")
        .count();
    assert_eq!(polls, 6);

    let mut wallet = Wallet::on(199);
    wallet.receipt_default = Ok(r#"{"status":"0x0"}"#.into());
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert_eq!(error.code, TipErrorCode::Failed);
    assert!(error.message.contains("reverted") && error.message.contains(HASH));

    let mut wallet = Wallet::on(199);
    wallet.receipt_default = Ok(r#"{"root":"0x00"}"#.into());
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert!(error.message.contains("without a status"), "{error}");
}

#[test]
fn receipt_errors_are_retried_a_few_times_in_a_row() {
    let err = || Err(r#"{"code":-32603,"message":"upstream down"}"#.to_string());
    let mut wallet = Wallet::on(199);
    // Four failures, a pending answer resets the count, four more, then success.
    wallet.receipts = (0..4)
        .map(|_| err())
        .chain([Ok("null".into())])
        .chain((0..4).map(|_| err()))
        .collect();
    tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap();

    let mut wallet = Wallet::on(199);
    wallet.receipt_default = err();
    let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
    assert!(error.message.contains("upstream down") && error.message.contains(HASH));
    let polls = wallet
        .methods()
        .iter()
        .filter(|m| **m == "eth_getTransactionReceipt")
        .count();
    assert_eq!(polls, 5);
}

#[test]
fn unconfirmed_after_ten_minutes_gives_up_with_the_hash() {
    let mut wallet = Wallet::on(199);
    wallet.receipt_default = Ok("null".into());
    let mut flow = TipFlow::new(request(Chain::bttc(), "1", None)).unwrap();
    let (outcome, elapsed) = drive(&mut flow, &mut wallet);
    let error = outcome.unwrap_err();
    assert_eq!(
        error.message,
        format!("not confirmed within 10 minutes; transaction {HASH} may still confirm")
    );
    assert!(
        (RECEIPT_TIMEOUT_MS..RECEIPT_TIMEOUT_MS + 20_000).contains(&elapsed),
        "{elapsed}"
    );
    assert_eq!(flow.tx_hash(), Some(HASH));
}

#[test]
fn garbage_answers_fail_cleanly_and_never_send_after_them() {
    let huge = format!(r#""{}""#, "a".repeat(200_000));
    let garbage = [
        "not json",
        "",
        "{",
        "42",
        "true",
        r#"{"a":1}"#,
        r#"["0x12"]"#,
        "-1",
        "1e400",
        &huge,
        r#""0x""#,
        r#""0xzz""#,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    ];
    for method in [
        "eth_requestAccounts",
        "eth_chainId",
        "eth_getBalance",
        "eth_sendTransaction",
    ] {
        for answer in garbage {
            for as_error in [false, true] {
                let mut wallet = Wallet::on(199);
                let text = answer.to_string();
                wallet
                    .overrides
                    .insert(method, if as_error { Err(text) } else { Ok(text) });
                let error = tip(&mut wallet, request(Chain::bttc(), "1", None)).unwrap_err();
                let expected = match (method, answer, as_error) {
                    ("eth_requestAccounts", _, false) => TipErrorCode::NoWallet,
                    // A number is a readable chain id (some wallets answer so): just not 199.
                    ("eth_chainId", "42", false) => TipErrorCode::WrongChain,
                    _ => TipErrorCode::Failed,
                };
                assert_eq!(error.code, expected, "{method} {as_error}");
                assert!(error.message.chars().count() <= 401);
                if method != "eth_sendTransaction" {
                    assert!(!wallet.methods().contains(&"eth_sendTransaction"));
                }
            }
        }
    }
}

#[test]
fn calls_in_the_wrong_state_fail_without_panicking() {
    let mut flow = TipFlow::new(request(Chain::bttc(), "1", None)).unwrap();
    assert!(matches!(flow.on_result(Ok("[]"), 0), Step::Failed(_)));
    assert_eq!(flow.stage(), "failed");
    assert!(
        matches!(flow.start(0), Step::Failed(_)),
        "no restart after a failure"
    );

    let mut flow = TipFlow::new(request(Chain::bttc(), "1", None)).unwrap();
    assert!(matches!(
        flow.start(0),
        Step::Call {
            method: "eth_requestAccounts",
            ..
        }
    ));
    assert_eq!(flow.stage(), "connecting");
    assert!(matches!(flow.on_wait_over(0), Step::Failed(_)));
    assert!(matches!(flow.start(0), Step::Failed(_)));

    let mut wallet = Wallet::on(199);
    let mut flow = TipFlow::new(request(Chain::bttc(), "1", None)).unwrap();
    drive(&mut flow, &mut wallet).0.unwrap();
    assert!(matches!(flow.on_result(Ok("null"), 0), Step::Failed(_)));
    assert_eq!(flow.stage(), "done", "a confirmed tip stays done");
}

#[test]
fn stages_follow_the_flow() {
    let mut flow = TipFlow::new(request(Chain::bttc(), "1", None)).unwrap();
    let mut stages = vec![flow.stage()];
    let mut step = flow.start(0);
    let answers = [
        Ok(format!(r#"["{VIEWER}"]"#)),
        Ok(r#""0x1""#.to_string()),
        Ok("null".into()),
        Ok(r#""0xc7""#.into()),
        Ok(r#""0xffffffffffffffffffff""#.into()),
        Ok(format!(r#""{HASH}""#)),
        Ok("null".into()),
    ];
    for answer in answers {
        stages.push(flow.stage());
        assert!(matches!(step, Step::Call { .. }), "{step:?}");
        step = flow.on_result(answer.as_deref().map_err(|e: &String| e.as_str()), 0);
    }
    assert_eq!(step, Step::Wait { millis: 1000 });
    stages.push(flow.stage());
    assert_eq!(
        stages,
        [
            "connecting",
            "connecting",
            "connecting",
            "switching-chain",
            "switching-chain",
            "checking-balance",
            "confirm-in-wallet",
            "confirming",
            "confirming"
        ]
    );
}

#[test]
fn requests_are_checked_before_any_call() {
    let mut bad = request(Chain::bttc(), "1", None);
    bad.amount_wei = 0;
    assert_eq!(
        TipFlow::new(bad.clone()).unwrap_err().code,
        TipErrorCode::InvalidAmount
    );
    bad.amount_wei = MAX_TIP_BTT * BTT + 1;
    assert_eq!(
        TipFlow::new(bad).unwrap_err().code,
        TipErrorCode::InvalidAmount
    );

    let long = "é".repeat(MAX_TIP_MESSAGE_BYTES / 2 + 1);
    let error = TipFlow::new(request(Chain::bttc(), "1", Some(&long))).unwrap_err();
    assert_eq!(error.code, TipErrorCode::Failed);
    assert!(error.message.contains("282 bytes"), "{error}");
    let fits = "é".repeat(MAX_TIP_MESSAGE_BYTES / 2);
    assert!(TipFlow::new(request(Chain::bttc(), "1", Some(&fits))).is_ok());
}

#[test]
fn sign_errors_are_classified() {
    assert_eq!(classify_sign_error(REJECTED).code, TipErrorCode::Rejected);
    assert_eq!(
        classify_sign_error(r#"{"code":-32603,"data":{"originalError":{"code":4001}}}"#).code,
        TipErrorCode::Rejected
    );
    let error = classify_sign_error(r#"{"code":-32602,"message":"bad typed data"}"#);
    assert_eq!(error.code, TipErrorCode::Failed);
    assert!(error.message.ends_with("bad typed data"));
    assert_eq!(
        classify_sign_error("\u{0}garbage").code,
        TipErrorCode::Failed
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Answers that move the flow forward, mixed with noise, so that every state is reached.
    fn answer() -> impl Strategy<Value = (bool, String)> {
        let plausible = prop_oneof![
            Just(format!(r#"["{VIEWER}"]"#)),
            Just(r#""0xc7""#.to_string()),
            Just(r#""0x1""#.to_string()),
            Just("null".to_string()),
            Just(r#""0x8ac7230489e80000""#.to_string()),
            Just(r#""0x1""#.to_string()),
            Just(format!(r#""{HASH}""#)),
            Just(r#"{"status":"0x1"}"#.to_string()),
            Just(r#"{"status":"0x0"}"#.to_string()),
            Just(REJECTED.to_string()),
            Just(r#"{"code":4902}"#.to_string()),
            ".{0,40}",
        ];
        (any::<bool>(), plausible)
    }

    proptest! {
        #[test]
        fn any_answers_end_the_flow_without_panics(
            answers in proptest::collection::vec(answer(), 0..24),
            tip_jar in any::<bool>(),
        ) {
            let mut chain = Chain::bttc();
            if tip_jar {
                chain.tip_jar = Some(Address::parse(JAR).unwrap());
            }
            let to = if tip_jar { JAR } else { CREATOR };
            let mut flow = TipFlow::new(request(chain, "5", Some("hi"))).unwrap();
            let mut now = 0;
            let mut step = flow.start(now);
            let mut answers = answers.into_iter();
            let mut balance = None;
            loop {
                match step {
                    Step::Call { method, params } => {
                        if method == "eth_sendTransaction" {
                            prop_assert_eq!(&params[0]["to"], to);
                            prop_assert_eq!(&params[0]["value"], "0x4563918244f40000");
                            prop_assert!(balance.is_some_and(|b| b >= 5 * BTT));
                        }
                        let Some((reject, text)) = answers.next() else { break };
                        if method == "eth_getBalance" && !reject {
                            balance = serde_json::from_str(&text).ok().and_then(|v| parse_quantity(&v));
                        }
                        now += 1;
                        step = flow.on_result(if reject { Err(&text) } else { Ok(&text) }, now);
                    }
                    Step::Wait { millis } => {
                        now += u64::from(millis);
                        step = flow.on_wait_over(now);
                    }
                    Step::Done(receipt) => {
                        prop_assert_eq!(receipt.amount_wei, 5 * BTT);
                        prop_assert_eq!(flow.stage(), "done");
                        break;
                    }
                    Step::Failed(error) => {
                        prop_assert!(!error.message.is_empty() && !error.message.contains('\n'));
                        prop_assert_eq!(flow.stage(), "failed");
                        break;
                    }
                }
            }
        }

        #[test]
        fn accepted_amounts_round_trip(text in "[0-9.]{0,40}|.{0,70}") {
            if let Ok(wei) = parse_btt(&text) {
                prop_assert!(wei > 0 && wei <= MAX_TIP_BTT * BTT);
                prop_assert_eq!(parse_btt(&format_wei(wei)), Ok(wei));
            }
        }

        #[test]
        fn chain_json_never_panics(text in ".{0,200}") {
            let _ = Chain::from_json(&text);
        }
    }
}
