//! The tip state machine. The driver sends each [`Step::Call`] to the wallet, feeds back what
//! it answered ([`TipFlow::on_result`]), sleeps on [`Step::Wait`] ([`TipFlow::on_wait_over`]),
//! and stops at [`Step::Done`] or [`Step::Failed`]. See the module documentation for the diagram.

use serde_json::{Value, json};

use super::amount::{MAX_TIP_WEI, format_wei, wei_hex};
use super::calldata::{MAX_TIP_MESSAGE_BYTES, tip_jar_calldata};
use super::chain::{Chain, MAX_CHAIN_ID};
use super::error::{TipError, TipErrorCode};
use super::rpc::{
    ReceiptStatus, WalletError, parse_accounts, parse_chain_id, parse_quantity,
    parse_receipt_status, parse_response, parse_tx_hash,
};
use crate::creator::Address;
use crate::creator::hex::encode_0x;

/// How long to wait for a receipt after the wallet sent the transaction: BTTC makes a block
/// every ~2 s, so ten minutes only pass when the transaction is stuck (a low fee, a node that
/// lost it). The transaction may still confirm later; the error says so.
pub const RECEIPT_TIMEOUT_MS: u64 = 10 * 60 * 1000;
/// Pause between receipt polls: half a BTTC block, and one cheap RPC call per second.
pub const RECEIPT_POLL_MS: u32 = 1000;
/// Receipt polls that may fail in a row (an RPC hiccup) before the flow gives up.
pub const MAX_POLL_ERRORS: u32 = 5;

/// One tip: to the verified creator's address, in `chain`, through its tip jar when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipRequest {
    pub chain: Chain,
    /// The creator record's address: only ever from a record that verified.
    pub creator: Address,
    pub info_hash: [u8; 20],
    pub amount_wei: u128,
    /// A note to the creator, at most [`MAX_TIP_MESSAGE_BYTES`] of UTF-8.
    pub message: Option<String>,
}

/// A tip the chain confirmed (receipt status 0x1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipReceipt {
    /// `0x` + 64 lowercase hex digits.
    pub tx_hash: String,
    pub amount_wei: u128,
    pub chain_id: u64,
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `provider.request({method, params})`, then [`TipFlow::on_result`].
    Call {
        method: &'static str,
        params: Value,
    },
    /// Sleep, then [`TipFlow::on_wait_over`].
    Wait {
        millis: u32,
    },
    Done(TipReceipt),
    Failed(TipError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Accounts,
    /// `after_switch`: a switch was tried; a wrong chain now is final.
    ChainId {
        after_switch: bool,
    },
    /// `after_add`: the chain was just added; a failure now is checked with `eth_chainId`.
    Switch {
        after_add: bool,
    },
    Add,
    Balance,
    Send,
    Receipt,
    ReceiptWait,
    Done,
    Failed,
}

/// The tip flow: `eth_requestAccounts` → `eth_chainId` → (`wallet_switchEthereumChain` →
/// (`wallet_addEthereumChain` → `wallet_switchEthereumChain`) → `eth_chainId`) →
/// `eth_getBalance` → `eth_sendTransaction` → `eth_getTransactionReceipt` until mined.
#[derive(Debug, Clone)]
pub struct TipFlow {
    request: TipRequest,
    state: State,
    account: Option<Address>,
    /// The chain the wallet last said it is on.
    wallet_chain: Option<u64>,
    tx_hash: Option<String>,
    sent_at_ms: u64,
    /// Receipt polls failed in a row.
    poll_errors: u32,
}

const PENDING_MESSAGE: &str =
    "the wallet already has a request waiting; open the wallet, finish or close it, and try again";

impl TipFlow {
    /// Checks the request: an amount above zero and at most the tip limit (else
    /// [`TipErrorCode::InvalidAmount`]); a message of at most [`MAX_TIP_MESSAGE_BYTES`] and a
    /// valid chain id (else [`TipErrorCode::Failed`], as no other code fits).
    pub fn new(request: TipRequest) -> Result<TipFlow, TipError> {
        if request.amount_wei == 0 {
            return Err(TipError::new(
                TipErrorCode::InvalidAmount,
                "the amount must be more than zero",
            ));
        }
        if request.amount_wei > MAX_TIP_WEI {
            return Err(TipError::new(
                TipErrorCode::InvalidAmount,
                format!(
                    "the amount is more than the {} BTT a tip may be",
                    format_wei(MAX_TIP_WEI)
                ),
            ));
        }
        let message_bytes = request.message.as_deref().map_or(0, str::len);
        if message_bytes > MAX_TIP_MESSAGE_BYTES {
            return Err(TipError::new(
                TipErrorCode::Failed,
                format!(
                    "the message is {message_bytes} bytes; a tip message may have at most {MAX_TIP_MESSAGE_BYTES}"
                ),
            ));
        }
        if !(1..=MAX_CHAIN_ID).contains(&request.chain.id) {
            return Err(TipError::new(
                TipErrorCode::Failed,
                "the chain id is invalid",
            ));
        }
        Ok(TipFlow {
            request,
            state: State::New,
            account: None,
            wallet_chain: None,
            tx_hash: None,
            sent_at_ms: 0,
            poll_errors: 0,
        })
    }

    pub fn request(&self) -> &TipRequest {
        &self.request
    }

    /// The wallet's account, once connected.
    pub fn account(&self) -> Option<Address> {
        self.account
    }

    /// The transaction hash, once the wallet sent it (for an explorer link while confirming).
    pub fn tx_hash(&self) -> Option<&str> {
        self.tx_hash.as_deref()
    }

    /// The first step: ask for the wallet's accounts. Only once.
    pub fn start(&mut self, _now_ms: u64) -> Step {
        if self.state != State::New {
            return self.wrong_state("start");
        }
        self.call(State::Accounts, "eth_requestAccounts", json!([]))
    }

    /// `result`: Ok(JSON text of what request() resolved with) or Err(JSON text of what it
    /// rejected with; may be any JSON, or not JSON at all).
    pub fn on_result(&mut self, result: Result<&str, &str>, now_ms: u64) -> Step {
        let answer = match result {
            Ok(text) => Ok(parse_response(text)),
            Err(text) => Err(WalletError::parse(text)),
        };
        match self.state {
            State::Accounts => self.on_accounts(answer),
            State::ChainId { after_switch } => self.on_chain_id(answer, after_switch),
            State::Switch { after_add } => self.on_switch(answer, after_add),
            State::Add => self.on_add(answer),
            State::Balance => self.on_balance(answer),
            State::Send => self.on_send(answer, now_ms),
            State::Receipt => self.on_receipt(answer, now_ms),
            State::New | State::ReceiptWait | State::Done | State::Failed => {
                self.wrong_state("on_result")
            }
        }
    }

    /// After a [`Step::Wait`]: poll the receipt again (or give up past the timeout).
    pub fn on_wait_over(&mut self, now_ms: u64) -> Step {
        if self.state != State::ReceiptWait {
            return self.wrong_state("on_wait_over");
        }
        if let Some(step) = self.timed_out(now_ms) {
            return step;
        }
        self.poll_receipt()
    }

    /// For the UI: "connecting" | "switching-chain" | "checking-balance" |
    /// "confirm-in-wallet" | "confirming" | "done" | "failed".
    pub fn stage(&self) -> &'static str {
        match self.state {
            State::New
            | State::Accounts
            | State::ChainId {
                after_switch: false,
            } => "connecting",
            State::ChainId { after_switch: true } | State::Switch { .. } | State::Add => {
                "switching-chain"
            }
            State::Balance => "checking-balance",
            State::Send => "confirm-in-wallet",
            State::Receipt | State::ReceiptWait => "confirming",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    fn on_accounts(&mut self, answer: Answer) -> Step {
        match answer {
            Ok(value) => match value.as_ref().and_then(parse_accounts) {
                Some(account) => {
                    self.account = Some(account);
                    self.call(
                        State::ChainId {
                            after_switch: false,
                        },
                        "eth_chainId",
                        json!([]),
                    )
                }
                None => self.fail(TipErrorCode::NoWallet, "the wallet has no account"),
            },
            Err(error) if error.is_user_rejection() => {
                self.fail(TipErrorCode::Rejected, "you declined to connect the wallet")
            }
            Err(error) => self.wallet_failed("the wallet could not connect", &error),
        }
    }

    fn on_chain_id(&mut self, answer: Answer, after_switch: bool) -> Step {
        let value = match answer {
            Ok(value) => value,
            Err(error) => return self.wallet_failed("the wallet did not tell its chain", &error),
        };
        let id = value.as_ref().and_then(parse_chain_id);
        let Some(id) = id else {
            return self.fail(
                TipErrorCode::Failed,
                "the wallet answered eth_chainId with something that is not a chain id",
            );
        };
        self.wallet_chain = Some(id);
        if id == self.request.chain.id {
            let account = self.account_hex();
            self.call(State::Balance, "eth_getBalance", json!([account, "latest"]))
        } else if !after_switch {
            self.switch(false)
        } else {
            self.wrong_chain()
        }
    }

    fn on_switch(&mut self, answer: Answer, after_add: bool) -> Step {
        match answer {
            // Confirm: some wallets resolve before (or without) switching.
            Ok(_) => self.check_chain_again(),
            Err(error) if error.is_user_rejection() => self.wrong_chain(),
            Err(error) if error.is_pending() => self.fail(TipErrorCode::Failed, PENDING_MESSAGE),
            // 4902 in any of its forms, -32603, anything: the chain may be unknown; add it.
            Err(_) if !after_add => self.call(
                State::Add,
                "wallet_addEthereumChain",
                self.request.chain.add_chain_params(),
            ),
            // The add may have switched already; eth_chainId decides.
            Err(_) => self.check_chain_again(),
        }
    }

    fn on_add(&mut self, answer: Answer) -> Step {
        match answer {
            // Some wallets switch on add, some do not; a second switch is harmless.
            Ok(_) => self.switch(true),
            Err(error) if error.is_user_rejection() => self.wrong_chain(),
            Err(error) if error.is_pending() => self.fail(TipErrorCode::Failed, PENDING_MESSAGE),
            Err(error) => {
                let chain = &self.request.chain;
                let message = format!(
                    "the wallet could not add {} ({}): {}",
                    chain.name, chain.id, error.message
                );
                self.fail(TipErrorCode::WrongChain, message)
            }
        }
    }

    /// An unreadable balance fails rather than skipping the check: a wallet that garbles a
    /// standard read should not be trusted with the send that follows.
    fn on_balance(&mut self, answer: Answer) -> Step {
        let value = match answer {
            Ok(value) => value,
            Err(error) if error.is_user_rejection() => {
                return self.fail(TipErrorCode::Rejected, "you declined to share the balance");
            }
            Err(error) => {
                return self.wallet_failed("the wallet could not read the balance", &error);
            }
        };
        let Some(balance) = value.as_ref().and_then(parse_quantity) else {
            return self.fail(
                TipErrorCode::Failed,
                "the wallet answered eth_getBalance with something that is not a balance",
            );
        };
        let amount = self.request.amount_wei;
        if balance < amount {
            let message = format!(
                "the account has {} BTT; this tip needs {} BTT plus the network fee",
                format_wei(balance),
                format_wei(amount)
            );
            return self.fail(TipErrorCode::InsufficientFunds, message);
        }
        let params = self.transaction();
        self.call(State::Send, "eth_sendTransaction", params)
    }

    fn on_send(&mut self, answer: Answer, now_ms: u64) -> Step {
        match answer {
            Ok(value) => match value.as_ref().and_then(parse_tx_hash) {
                Some(hash) => {
                    self.tx_hash = Some(hash);
                    self.sent_at_ms = now_ms;
                    self.poll_errors = 0;
                    self.poll_receipt()
                }
                None => self.fail(
                    TipErrorCode::Failed,
                    "the wallet did not return a transaction hash; check its activity before tipping again",
                ),
            },
            Err(error) if error.is_user_rejection() => self.fail(
                TipErrorCode::Rejected,
                "you rejected the transaction in the wallet",
            ),
            Err(error) if error.is_insufficient_funds() => {
                let message = format!(
                    "the account cannot pay this tip and its network fee: {}",
                    error.message
                );
                self.fail(TipErrorCode::InsufficientFunds, message)
            }
            Err(error) => self.wallet_failed("the wallet could not send the tip", &error),
        }
    }

    fn on_receipt(&mut self, answer: Answer, now_ms: u64) -> Step {
        let hash = self.tx_hash.clone().unwrap_or_default();
        let status = match &answer {
            Ok(value) => value.as_ref().and_then(parse_receipt_status),
            Err(_) => None,
        };
        match status {
            Some(ReceiptStatus::Success) => {
                self.state = State::Done;
                Step::Done(TipReceipt {
                    tx_hash: hash,
                    amount_wei: self.request.amount_wei,
                    chain_id: self.request.chain.id,
                })
            }
            Some(ReceiptStatus::Reverted) => self.fail(
                TipErrorCode::Failed,
                format!("the transaction {hash} reverted; the tip was not paid"),
            ),
            Some(ReceiptStatus::Unknown) => self.fail(
                TipErrorCode::Failed,
                format!("the wallet returned a receipt without a status; look up transaction {hash} in the explorer"),
            ),
            Some(ReceiptStatus::Pending) => {
                self.poll_errors = 0;
                self.wait(now_ms)
            }
            // A garbled answer or an error: an RPC hiccup, retried a few times in a row.
            None => {
                self.poll_errors += 1;
                if self.poll_errors >= MAX_POLL_ERRORS {
                    let reason = match &answer {
                        Err(error) => error.message.clone(),
                        Ok(_) => "unreadable answers".into(),
                    };
                    return self.fail(
                        TipErrorCode::Failed,
                        format!("the wallet could not report on transaction {hash} ({reason}); it may still confirm"),
                    );
                }
                self.wait(now_ms)
            }
        }
    }

    fn wait(&mut self, now_ms: u64) -> Step {
        if let Some(step) = self.timed_out(now_ms) {
            return step;
        }
        self.state = State::ReceiptWait;
        Step::Wait {
            millis: RECEIPT_POLL_MS,
        }
    }

    fn timed_out(&mut self, now_ms: u64) -> Option<Step> {
        if now_ms.saturating_sub(self.sent_at_ms) < RECEIPT_TIMEOUT_MS {
            return None;
        }
        let hash = self.tx_hash.clone().unwrap_or_default();
        Some(self.fail(
            TipErrorCode::Failed,
            format!("not confirmed within 10 minutes; transaction {hash} may still confirm"),
        ))
    }

    fn poll_receipt(&mut self) -> Step {
        let hash = self.tx_hash.clone().unwrap_or_default();
        self.call(State::Receipt, "eth_getTransactionReceipt", json!([hash]))
    }

    fn switch(&mut self, after_add: bool) -> Step {
        let params = json!([{"chainId": self.request.chain.hex_id()}]);
        self.call(
            State::Switch { after_add },
            "wallet_switchEthereumChain",
            params,
        )
    }

    fn check_chain_again(&mut self) -> Step {
        self.call(
            State::ChainId { after_switch: true },
            "eth_chainId",
            json!([]),
        )
    }

    fn wrong_chain(&mut self) -> Step {
        let chain = &self.request.chain;
        let current = match self.wallet_chain {
            Some(id) => format!("chain {id}"),
            None => "another chain".into(),
        };
        let message = format!(
            "the wallet stayed on {current}; this tip needs {} ({})",
            chain.name, chain.id
        );
        self.fail(TipErrorCode::WrongChain, message)
    }

    /// `eth_sendTransaction` params. Direct: to the creator, the message (if any) as the
    /// transaction's data, a memo. With a tip jar: to the jar, `tip(creator, infoHash, message)`.
    /// `chainId` makes the wallet refuse if it changed chain since the check.
    fn transaction(&self) -> Value {
        let request = &self.request;
        let message = request.message.as_deref().unwrap_or("");
        let (to, data) = match request.chain.tip_jar {
            Some(jar) => (
                jar,
                Some(tip_jar_calldata(
                    &request.creator,
                    &request.info_hash,
                    message,
                )),
            ),
            None => (
                request.creator,
                (!message.is_empty()).then(|| message.as_bytes().to_vec()),
            ),
        };
        let mut transaction = json!({
            "from": self.account_hex(),
            "to": to.to_checksum(),
            "value": wei_hex(request.amount_wei),
            "chainId": request.chain.hex_id(),
        });
        if let Some(data) = data {
            transaction["data"] = Value::String(encode_0x(&data));
        }
        json!([transaction])
    }

    fn account_hex(&self) -> String {
        self.account.map(|a| a.to_checksum()).unwrap_or_default()
    }

    fn call(&mut self, state: State, method: &'static str, params: Value) -> Step {
        self.state = state;
        Step::Call { method, params }
    }

    fn wallet_failed(&mut self, context: &str, error: &WalletError) -> Step {
        if error.is_pending() {
            return self.fail(TipErrorCode::Failed, PENDING_MESSAGE);
        }
        self.fail(
            TipErrorCode::Failed,
            format!("{context}: {}", error.message),
        )
    }

    fn fail(&mut self, code: TipErrorCode, message: impl AsRef<str>) -> Step {
        self.state = State::Failed;
        Step::Failed(TipError::new(code, message))
    }

    /// A driver bug: never a panic. A finished tip stays done.
    fn wrong_state(&mut self, call: &str) -> Step {
        let error = TipError::new(
            TipErrorCode::Failed,
            format!("{call} was called while the tip was {}", self.stage()),
        );
        if self.state != State::Done {
            self.state = State::Failed;
        }
        Step::Failed(error)
    }
}

/// A wallet's answer: `Ok(Some(json))`, `Ok(None)` for an unreadable success, or the error.
type Answer = Result<Option<Value>, WalletError>;

/// Why `eth_signTypedData_v4` (publishing a creator record) was refused.
pub fn classify_sign_error(error_json: &str) -> TipError {
    let error = WalletError::parse(error_json);
    if error.is_user_rejection() {
        TipError::new(
            TipErrorCode::Rejected,
            "you declined to sign the creator record",
        )
    } else if error.is_pending() {
        TipError::new(TipErrorCode::Failed, PENDING_MESSAGE)
    } else {
        TipError::new(
            TipErrorCode::Failed,
            format!(
                "the wallet could not sign the creator record: {}",
                error.message
            ),
        )
    }
}
