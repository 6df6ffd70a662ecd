//! BTT amounts: decimal strings typed by a person, to and from wei (10^-18 BTT), with integer
//! arithmetic only. A float cannot even represent 0.1 BTT in wei exactly (and loses whole wei
//! above 2^53 ≈ 0.009 BTT), and a tip must send exactly what the viewer typed.

use super::error::{TipError, TipErrorCode};

/// BTT, like ether, has 18 decimals: 1 BTT = 10^18 wei.
pub const BTT_DECIMALS: usize = 18;
/// 10^18.
pub const WEI_PER_BTT: u128 = 1_000_000_000_000_000_000;
/// The largest tip, in BTT: 10^12 BTT, orders of magnitude above any plausible tip (BTT trades
/// at tiny fractions of a cent) yet below the supply, so it catches an amount pasted in wei or
/// typed with extra zeros before a wallet is ever asked. It also keeps every amount in wei
/// (≤ 10^30) far inside u128 (≈ 3.4·10^38), so no arithmetic here can overflow.
pub const MAX_TIP_BTT: u128 = 1_000_000_000_000;
/// [`MAX_TIP_BTT`] in wei.
pub const MAX_TIP_WEI: u128 = MAX_TIP_BTT * WEI_PER_BTT;
/// Longest amount text after trimming, in bytes: 13 integer digits, a point and 18 decimals
/// take 32; leading zeros get some slack. Longer text is refused before it is looked at.
pub const MAX_AMOUNT_CHARS: usize = 64;

/// Parses a decimal amount of BTT into wei.
///
/// Accepted: ASCII digits with at most one `.` and at most 18 digits after it, surrounding
/// whitespace trimmed: `1`, `1.5`, `0.000000000000000001`, `007`, and `.5` (a leading point
/// is unambiguous). Refused, with [`TipErrorCode::InvalidAmount`]: empty text, zero, signs
/// (`-1`, `+1`), a point with no digit after it (`1.`, `.`: most likely cut short),
/// exponents (`1e3`), hex (`0x10`), separators (`1,5`, `1_000`, `1 000`), `NaN`/`Infinity`,
/// non-ASCII digits, more than 18 decimals, more than [`MAX_TIP_BTT`], more than
/// [`MAX_AMOUNT_CHARS`] characters.
pub fn parse_btt(text: &str) -> Result<u128, TipError> {
    let invalid = |message: &str| TipError::new(TipErrorCode::InvalidAmount, message);
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid("enter an amount of BTT, like 1.5"));
    }
    if text.len() > MAX_AMOUNT_CHARS {
        return Err(invalid("the amount is too long to be a number of BTT"));
    }
    if text.starts_with('-') {
        return Err(invalid("the amount cannot be negative"));
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !fraction.is_none_or(all_digits) {
        return Err(invalid(
            "the amount must be a plain decimal number of BTT, like 1.5",
        ));
    }
    if fraction == Some("") {
        return Err(invalid("the amount has no digit after its decimal point"));
    }
    let fraction = fraction.unwrap_or("");
    if fraction.len() > BTT_DECIMALS {
        return Err(invalid("BTT has 18 decimals; the amount has more"));
    }
    let too_large = || {
        invalid(&format!(
            "the amount is more than the {MAX_TIP_BTT} BTT a tip may be"
        ))
    };
    // Leading zeros removed, 13 digits hold MAX_TIP_BTT; more cannot be ≤ it, and the parse
    // below cannot overflow.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 13 {
        return Err(too_large());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let mut fraction_wei: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| too_large())?
    };
    for _ in fraction.len()..BTT_DECIMALS {
        fraction_wei *= 10;
    }
    let wei = whole * WEI_PER_BTT + fraction_wei;
    if wei == 0 {
        return Err(invalid("the amount must be more than zero"));
    }
    if wei > MAX_TIP_WEI {
        return Err(too_large());
    }
    Ok(wei)
}

/// Wei as decimal BTT without trailing zeros: `1.5`, `0.000000000000000001`, `2`, `0`.
pub fn format_wei(wei: u128) -> String {
    let whole = wei / WEI_PER_BTT;
    let fraction = wei % WEI_PER_BTT;
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:018}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// An EIP-1474 quantity: `0x` and minimal lowercase hex (`0x0` for zero, no leading zeros).
pub fn wei_hex(wei: u128) -> String {
    format!("{wei:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_become_exact_wei() {
        let cases: [(&str, u128); 9] = [
            ("1", WEI_PER_BTT),
            ("1.5", 1_500_000_000_000_000_000),
            (" 1.5\n", 1_500_000_000_000_000_000),
            ("0.000000000000000001", 1),
            (".5", WEI_PER_BTT / 2),
            ("007", 7 * WEI_PER_BTT),
            ("0.1", WEI_PER_BTT / 10),
            ("1000000000000", MAX_TIP_WEI),
            ("999999999999.999999999999999999", MAX_TIP_WEI - 1),
        ];
        for (text, wei) in cases {
            assert_eq!(parse_btt(text), Ok(wei), "{text:?}");
        }
    }

    #[test]
    fn everything_else_is_an_invalid_amount() {
        let long_zeros = format!("0.{}1", "0".repeat(70));
        let huge = "9".repeat(60);
        let refused = [
            "",
            "  ",
            "0",
            "0.0",
            "000",
            "-1",
            "-0.5",
            "+1",
            "1e3",
            "1E3",
            "0x10",
            "1,5",
            "1_000",
            "1 000",
            "1.",
            ".",
            "..5",
            "1.2.3",
            "NaN",
            "nan",
            "Infinity",
            "inf",
            "١",
            "１",
            "0.0000000000000000001",
            "1000000000000.000000000000000001",
            "1000000000001",
            &huge,
            &long_zeros,
            "1.5 BTT",
            "½",
        ];
        for text in refused {
            let error = parse_btt(text).expect_err(text);
            assert_eq!(error.code, TipErrorCode::InvalidAmount, "{text:?}");
            assert!(!error.message.is_empty() && !error.message.contains('\n'));
        }
        assert!(
            parse_btt("1.0000000000000000001")
                .unwrap_err()
                .message
                .contains("18 decimals")
        );
        assert!(
            parse_btt("2000000000000")
                .unwrap_err()
                .message
                .contains("1000000000000 BTT")
        );
        assert!(parse_btt("-3").unwrap_err().message.contains("negative"));
    }

    #[test]
    fn formats_and_hex_quantities() {
        assert_eq!(format_wei(1_500_000_000_000_000_000), "1.5");
        assert_eq!(format_wei(1), "0.000000000000000001");
        assert_eq!(format_wei(2 * WEI_PER_BTT), "2");
        assert_eq!(format_wei(0), "0");
        assert_eq!(
            format_wei(u128::MAX),
            "340282366920938463463.374607431768211455"
        );
        assert_eq!(wei_hex(0), "0x0");
        assert_eq!(wei_hex(1_500_000_000_000_000_000), "0x14d1120d7b160000");
        assert_eq!(wei_hex(255), "0xff");
        for text in [
            "1.5",
            "0.000000000000000001",
            "42",
            "999999999999.999999999999999999",
        ] {
            assert_eq!(format_wei(parse_btt(text).unwrap()), text);
        }
    }
}
