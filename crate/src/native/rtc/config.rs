//! How native peer connections reach the network: which local addresses they bind, whether
//! they resolve `.local` (mDNS) candidates, which ICE servers they ask. The defaults work on a
//! real network and on one host; tests pin loopback through the environment.

use std::net::SocketAddr;

/// The environment variables that override [`RtcConfig::default`] (one place, so help text and
/// tests name the same ones).
pub const ENV_UDP_BIND: &str = "SEEDCAST_UDP_BIND";
pub const ENV_MDNS: &str = "SEEDCAST_MDNS";
pub const ENV_ICE_SERVERS: &str = "SEEDCAST_ICE_SERVERS";

/// At most this many bind addresses or ICE servers from the environment: each is a socket or
/// a server per connection.
const MAX_LIST: usize = 16;

/// Whether remote `.local` candidates (what Chromium hands out to hide local addresses) are
/// resolved by multicast DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mdns {
    /// Resolve remote `.local` candidates; ours stay plain addresses.
    Query,
    /// No multicast socket at all (a host with only `lo` cannot open one).
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcConfig {
    /// Local UDP addresses. A wildcard (`0.0.0.0:0`) means one socket per non-loopback
    /// interface (webrtc 0.21); loopback needs its own entry.
    pub udp_bind: Vec<SocketAddr>,
    /// Offer 127.0.0.1 as a candidate too, so peers on this host connect without any network.
    pub include_loopback: bool,
    pub mdns: Mdns,
    /// `stun:`/`turn:` URLs; none by default (no server is contacted unless asked).
    pub ice_servers: Vec<String>,
}

impl Default for RtcConfig {
    fn default() -> Self {
        RtcConfig {
            udp_bind: vec![
                SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::from(([127, 0, 0, 1], 0)),
            ],
            include_loopback: true,
            mdns: Mdns::Query,
            ice_servers: Vec::new(),
        }
    }
}

/// A malformed override; names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct RtcConfigError {
    pub var: &'static str,
    pub message: String,
}

impl RtcConfig {
    /// The defaults, overridden by `SEEDCAST_UDP_BIND` (comma-separated `IP:PORT`),
    /// `SEEDCAST_MDNS` (`query` or `off`) and `SEEDCAST_ICE_SERVERS` (comma-separated URLs).
    pub fn from_env() -> Result<RtcConfig, RtcConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any variable source (tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<RtcConfig, RtcConfigError> {
        let mut config = RtcConfig::default();
        if let Some(text) = var(ENV_UDP_BIND) {
            let addrs = list(ENV_UDP_BIND, &text)?
                .into_iter()
                .map(|a| {
                    a.parse::<SocketAddr>().map_err(|_| RtcConfigError {
                        var: ENV_UDP_BIND,
                        message: format!("{a:?} is not IP:PORT"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if addrs.is_empty() {
                return Err(RtcConfigError {
                    var: ENV_UDP_BIND,
                    message: "no address".into(),
                });
            }
            config.udp_bind = addrs;
        }
        if let Some(text) = var(ENV_MDNS) {
            config.mdns = match text.trim() {
                "query" => Mdns::Query,
                "off" => Mdns::Off,
                other => {
                    return Err(RtcConfigError {
                        var: ENV_MDNS,
                        message: format!("{other:?} is neither \"query\" nor \"off\""),
                    });
                }
            };
        }
        if let Some(text) = var(ENV_ICE_SERVERS) {
            config.ice_servers = list(ENV_ICE_SERVERS, &text)?;
            if let Some(bad) = config.ice_servers.iter().find(|u| {
                !(u.starts_with("stun:") || u.starts_with("turn:") || u.starts_with("turns:"))
            }) {
                return Err(RtcConfigError {
                    var: ENV_ICE_SERVERS,
                    message: format!("{bad:?} is not a stun:/turn: URL"),
                });
            }
        }
        Ok(config)
    }
}

fn list(var: &'static str, text: &str) -> Result<Vec<String>, RtcConfigError> {
    let items: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if items.len() > MAX_LIST {
        return Err(RtcConfigError {
            var,
            message: format!("more than {MAX_LIST} entries"),
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn overrides_from_the_environment() {
        let config = RtcConfig::from_vars(vars(&[
            (ENV_UDP_BIND, "127.0.0.1:0"),
            (ENV_MDNS, "off"),
            (ENV_ICE_SERVERS, "stun:127.0.0.1:3478, turn:example.org"),
        ]))
        .unwrap();
        assert_eq!(config.udp_bind, vec![SocketAddr::from(([127, 0, 0, 1], 0))]);
        assert_eq!(config.mdns, Mdns::Off);
        assert_eq!(config.ice_servers.len(), 2);
        assert_eq!(
            RtcConfig::from_vars(vars(&[])).unwrap(),
            RtcConfig::default()
        );
    }

    #[test]
    fn refuses_malformed_overrides() {
        for (var, value) in [
            (ENV_UDP_BIND, "localhost"),
            (ENV_UDP_BIND, " , "),
            (ENV_MDNS, "yes"),
            (ENV_ICE_SERVERS, "http://x"),
        ] {
            let err = RtcConfig::from_vars(vars(&[(var, value)])).unwrap_err();
            assert_eq!(err.var, var);
        }
    }
}
