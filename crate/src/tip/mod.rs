//! Tipping a creator in BTT from the viewer's own wallet, without IO: amounts, the chain,
//! TipJar calldata, reading wallet answers, and the state machine a driver runs over an
//! EIP-1193 provider (the browser driver in `web`; tests drive it with a scripted wallet).
//!
//! # The flow ([`TipFlow`])
//!
//! ```text
//!  start ─► eth_requestAccounts ──(no account)──────────────────────────► Failed(no-wallet)
//!               │ 4001 ─► Failed(rejected)
//!               ▼
//!          eth_chainId ──(= chain.id)──────────────────────────┐
//!               │ ≠                                            │
//!               ▼                                              │
//!          wallet_switchEthereumChain ──4001──► Failed(wrong-chain)
//!               │ ok                 │ other error (4902 in any form, -32603, …)
//!               │                    ▼                         │
//!               │          wallet_addEthereumChain ──4001──► Failed(wrong-chain)
//!               │                    │ ok                      │
//!               │                    ▼                         │
//!               │          wallet_switchEthereumChain (again)  │
//!               ▼                    ▼                         │
//!          eth_chainId ──(still ≠)──► Failed(wrong-chain)      │
//!               │ =                                            │
//!               ▼                                              │
//!          eth_getBalance ◄────────────────────────────────────┘
//!               │ < amount ─► Failed(insufficient-funds)   (no prompt shown)
//!               ▼
//!          eth_sendTransaction ──4001──► Failed(rejected)
//!               │ hash                 └─insufficient funds─► Failed(insufficient-funds)
//!               ▼
//!   ┌──► eth_getTransactionReceipt ──status 0x1──► Done
//!   │           │ null (or a transient error, ≤ 5 in a row)   └─0x0──► Failed(reverted)
//!   │           ▼
//!   └────── Wait 1 s ──(10 min after the send)──► Failed(not confirmed yet)
//! ```
//!
//! Every answer is untrusted text: bounded ([`rpc::MAX_RESPONSE_BYTES`]) before parsing,
//! validated, and anything unexpected (garbage, wrong types, a call in the wrong state) ends
//! in [`Step::Failed`] with a one-line message — never a panic.
//!
//! # Trust
//!
//! The recipient is always the address of the torrent's creator record, and only of a record
//! that verified (its EIP-712 signature recovers that address); an unverified record is never
//! tipped (`unverified-creator`, checked by the driver before a flow exists). The tip jar, if
//! any, comes only from the site's own `ClientOptions.chain` — never from a link, a torrent or
//! a peer — so no one but the site operator can put a contract between a viewer and a creator,
//! and the contract still names the creator in its calldata.
//!
//! # Integers
//!
//! Amounts are wei in `u128`, parsed from the decimal text the viewer typed with integer
//! arithmetic only ([`parse_btt`]): a float cannot hold 0.1 BTT or most amounts exactly in
//! wei, and the wallet must be asked for exactly the amount shown.

pub mod amount;
pub mod calldata;
pub mod chain;
pub mod error;
pub mod flow;
pub mod logs;
pub mod rpc;

pub use amount::{MAX_TIP_BTT, format_wei, parse_btt, wei_hex};
pub use calldata::{MAX_TIP_MESSAGE_BYTES, tip_jar_calldata};
pub use chain::Chain;
pub use error::{TipError, TipErrorCode};
pub use flow::{RECEIPT_TIMEOUT_MS, Step, TipFlow, TipReceipt, TipRequest, classify_sign_error};
pub use rpc::{
    ReceiptStatus, WalletError, parse_accounts, parse_chain_id, parse_quantity,
    parse_receipt_status, parse_tx_hash,
};

#[cfg(test)]
mod tests;
