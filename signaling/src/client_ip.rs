//! The address a connection is attributed to (for logs), honouring a trusted reverse proxy.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// With `trust_proxy`, the last `X-Forwarded-For` entry: the one our own proxy appended for the address it
/// saw. Earlier entries were written by the client and prove nothing. Without it, the TCP peer address.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trust_proxy: bool) -> IpAddr {
    let forwarded = || {
        let value = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()?
            .to_str()
            .ok()?;
        value.rsplit(',').next()?.trim().parse::<IpAddr>().ok()
    };
    let ip = if trust_proxy {
        forwarded().unwrap_or(peer.ip())
    } else {
        peer.ip()
    };
    ip.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    const PROXY: &str = "127.0.0.1:40000";

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        let peer: SocketAddr = PROXY.parse().unwrap();
        assert_eq!(client_ip(peer, &headers("203.0.113.9"), false), peer.ip());
        assert_eq!(
            client_ip(peer, &headers("203.0.113.9"), true),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn trusted_proxy_uses_the_entry_it_appended() {
        let peer: SocketAddr = PROXY.parse().unwrap();
        let spoofed = headers("6.6.6.6, 198.51.100.7");
        assert_eq!(
            client_ip(peer, &spoofed, true),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Garbage falls back to the socket address.
        assert_eq!(client_ip(peer, &headers("not-an-ip"), true), peer.ip());
        // IPv4-mapped IPv6 peers are shown as IPv4.
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:1".parse().unwrap();
        assert_eq!(
            client_ip(mapped, &HeaderMap::new(), false),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }
}
