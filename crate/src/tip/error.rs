//! Tip errors: a stable code for programs (the JS `Error.code`) and a one-line message for people.

use core::fmt;

/// Why a tip did not happen. [`TipErrorCode::as_str`] is the code the JS API exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipErrorCode {
    /// No wallet, or a wallet without an account.
    NoWallet,
    /// The viewer declined in the wallet (EIP-1193 code 4001).
    Rejected,
    /// The wallet is not, and would not switch to, the tip's chain.
    WrongChain,
    /// The account cannot pay the amount (checked before any prompt, and by the wallet).
    InsufficientFunds,
    /// The torrent's creator record does not verify: it can never be tipped.
    UnverifiedCreator,
    /// The amount is not a usable decimal number of BTT.
    InvalidAmount,
    /// Anything else: wallet errors, garbage answers, timeouts, bad messages.
    Failed,
}

impl TipErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            TipErrorCode::NoWallet => "no-wallet",
            TipErrorCode::Rejected => "rejected",
            TipErrorCode::WrongChain => "wrong-chain",
            TipErrorCode::InsufficientFunds => "insufficient-funds",
            TipErrorCode::UnverifiedCreator => "unverified-creator",
            TipErrorCode::InvalidAmount => "invalid-amount",
            TipErrorCode::Failed => "failed",
        }
    }
}

impl fmt::Display for TipErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code and a one-line, user-facing message (no trailing period). `Display` is the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TipError {
    pub code: TipErrorCode,
    pub message: String,
}

impl TipError {
    /// The message is made one line (see [`one_line`]) so that text quoted from a wallet
    /// cannot break a UI or a log.
    pub fn new(code: TipErrorCode, message: impl AsRef<str>) -> TipError {
        TipError {
            code,
            message: one_line(message.as_ref(), MAX_ERROR_MESSAGE_CHARS),
        }
    }
}

impl fmt::Display for TipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TipError {}

/// Longest error message, in characters: our own context plus a quoted wallet message
/// ([`MAX_QUOTED_CHARS`]) fits; a hostile wallet cannot flood the UI.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 400;
/// Longest piece of wallet text quoted inside an error message, in characters.
pub const MAX_QUOTED_CHARS: usize = 200;

/// `text` on one line: control characters (newlines included) and bidirectional overrides
/// become spaces, runs of spaces collapse, the ends are trimmed, and it is cut to `max_chars`
/// characters (with "…" when cut).
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_control() || is_bidi_control(c) || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if count + needed > max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
        count += needed;
    }
    out
}

/// Characters that reorder displayed text (Trojan-Source style): never shown from a wallet.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_js_api_strings() {
        let all = [
            (TipErrorCode::NoWallet, "no-wallet"),
            (TipErrorCode::Rejected, "rejected"),
            (TipErrorCode::WrongChain, "wrong-chain"),
            (TipErrorCode::InsufficientFunds, "insufficient-funds"),
            (TipErrorCode::UnverifiedCreator, "unverified-creator"),
            (TipErrorCode::InvalidAmount, "invalid-amount"),
            (TipErrorCode::Failed, "failed"),
        ];
        for (code, text) in all {
            assert_eq!(code.as_str(), text);
        }
    }

    #[test]
    fn messages_are_one_bounded_line() {
        let error = TipError::new(TipErrorCode::Failed, "line one\n\tline\u{202e} two  ");
        assert_eq!(error.to_string(), "line one line two");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("ab cd", 4), "ab c…");
        assert_eq!(one_line("  \n ", 10), "");
        assert_eq!(one_line(&"é".repeat(1000), 5).chars().count(), 6);
    }
}
