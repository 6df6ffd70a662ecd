//! What the native driver reads from a remote SDP itself: the largest message the remote
//! accepts. The SDP is untrusted: a missing, malformed or huge value falls back to a safe size.

/// RFC 8841: no `a=max-message-size` means 64 KiB.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;
/// Largest message we send at all: bigger ones gain nothing and hold up the SCTP queue (and
/// it is the cap Chromium and webrtc-rs apply).
pub const MAX_MESSAGE: usize = 256 * 1024;
/// Below this a remote is misconfigured or hostile (tiny messages cost a header each); we use
/// this instead.
pub const MIN_MESSAGE: usize = 16 * 1024;

/// The size to split our sends at, from the remote's `a=max-message-size` (0 = "no limit").
pub fn remote_max_message(sdp: &str) -> usize {
    let value = sdp
        .lines()
        .find_map(|line| line.trim().strip_prefix("a=max-message-size:"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    match value {
        None => DEFAULT_MAX_MESSAGE,
        Some(0) => MAX_MESSAGE,
        Some(n) => (n.min(MAX_MESSAGE as u64) as usize).max(MIN_MESSAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_remote_limit_within_bounds() {
        let sdp = |line: &str| {
            format!("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n{line}\r\n")
        };
        assert_eq!(
            remote_max_message(&sdp("a=max-message-size:262144")),
            262_144
        );
        assert_eq!(
            remote_max_message(&sdp("a=max-message-size:100000")),
            100_000
        );
        assert_eq!(
            remote_max_message(&sdp("a=max-message-size:0")),
            MAX_MESSAGE
        );
        assert_eq!(
            remote_max_message(&sdp("a=max-message-size:99999999999")),
            MAX_MESSAGE
        );
        assert_eq!(
            remote_max_message(&sdp("a=max-message-size:1")),
            MIN_MESSAGE
        );
        assert_eq!(
            remote_max_message(&sdp("a=max-message-size:lots")),
            DEFAULT_MAX_MESSAGE
        );
        assert_eq!(
            remote_max_message(&sdp("a=sctp-port:5000")),
            DEFAULT_MAX_MESSAGE
        );
    }
}
