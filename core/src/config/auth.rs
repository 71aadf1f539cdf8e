//! Who may use the web service, and how they say who they are: `[auth]`, with the `server.*` settings
//! it reads (`principal_header`, `trusted_proxies`, `admins`, `public_url`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConfigError, ServerConfig};

/// How requests are attributed to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Nobody signs in: every request acts as `everyone` and may administer. Loopback only.
    Open,
    /// An authenticating reverse proxy names the caller's principals in `server.principal_header`;
    /// only requests from `server.trusted_proxies` may carry it.
    Proxy,
    /// People sign in to Lore itself (local accounts made with `lore admin create`); every page and
    /// API call needs a session.
    Accounts,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Proxy => "proxy",
            Self::Accounts => "accounts",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Unset: `proxy` when `server.principal_header` is set, `open` otherwise.
    pub mode: Option<AuthMode>,
    /// A session unused this long ends (the user signs in again).
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, however much it is used.
    pub session_max_hours: u64,
    /// Failed sign-ins allowed per login name (and per client address) in `sign_in_window_minutes`;
    /// past them, sign-in answers 429 until the window passes.
    pub max_failed_sign_ins: u32,
    pub sign_in_window_minutes: u64,
    /// OpenID Connect providers people may sign in with (`[[auth.providers]]`), beside local accounts.
    pub providers: Vec<super::OidcProviderConfig>,
}

/// The audit log (`[audit]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditConfig {
    /// Record who searched, asked, opened, downloaded and administered what.
    pub enabled: bool,
    /// Events older than this many days are forgotten (0: kept forever).
    pub retention_days: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { enabled: true, retention_days: 90 }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: None,
            session_idle_minutes: 8 * 60,
            session_max_hours: 7 * 24,
            max_failed_sign_ins: 10,
            sign_in_window_minutes: 15,
            providers: Vec::new(),
        }
    }
}

impl AuthConfig {
    /// The mode in force: the configured one, or what `server.principal_header` implies.
    pub fn effective_mode(&self, server: &ServerConfig) -> AuthMode {
        self.mode.unwrap_or(if server.principal_header.is_some() { AuthMode::Proxy } else { AuthMode::Open })
    }

    pub fn session_lifetimes(&self) -> crate::accounts::SessionLifetimes {
        crate::accounts::SessionLifetimes {
            idle_ms: (self.session_idle_minutes as i64).saturating_mul(60_000),
            absolute_ms: (self.session_max_hours as i64).saturating_mul(3_600_000),
        }
    }
}

pub(super) fn validate(auth: &AuthConfig, server: &ServerConfig) -> Result<(), ConfigError> {
    let invalid = |msg: String| Err(ConfigError::Value(msg));
    match (auth.effective_mode(server), &server.principal_header) {
        (AuthMode::Proxy, None) => {
            return invalid("auth.mode = \"proxy\" needs server.principal_header (the header the proxy sets)".into())
        }
        (AuthMode::Accounts | AuthMode::Open, Some(header)) => {
            return invalid(format!(
                "server.principal_header ({header}) is only read with auth.mode = \"proxy\"; unset it, or the \
                 header would be trusted from anyone"
            ))
        }
        _ => {}
    }
    if !auth.providers.is_empty() && auth.effective_mode(server) != AuthMode::Accounts {
        return invalid("auth.providers are for auth.mode = \"accounts\" (people sign in to Lore)".into());
    }
    if auth.session_idle_minutes == 0 || auth.session_max_hours == 0 {
        return invalid("auth.session_idle_minutes and auth.session_max_hours must be positive".into());
    }
    if auth.max_failed_sign_ins == 0 || auth.sign_in_window_minutes == 0 {
        return invalid("auth.max_failed_sign_ins and auth.sign_in_window_minutes must be positive".into());
    }
    if let Some(bad) = server.admins.iter().find(|p| !p.contains(':') || p.trim() != p.as_str()) {
        return invalid(format!(
            "server.admins names {bad:?}: principals there must be namespaced (user:alice, group:it-ops)"
        ));
    }
    if let Some(url) = &server.public_url {
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|rest| rest.is_empty() || rest.contains(['?', '#', ' '])) {
            return invalid(format!(
                "server.public_url ({url:?}) must be an http:// or https:// address without query or fragment"
            ));
        }
    }
    Ok(())
}

/// An address or a network (`192.168.1.7`, `10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// `127.0.0.0/8` and `::1`: a proxy on the same machine.
    pub fn loopback() -> Vec<Self> {
        vec![
            Self { address: IpAddr::from([127, 0, 0, 0]), prefix: 8 },
            Self { address: IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]), prefix: 128 },
        ]
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket appears as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_matches(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_matches(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_matches(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    net[..whole] == ip[..whole] && (rest == 0 || (net[whole] ^ ip[whole]) >> (8 - rest) == 0)
}

impl FromStr for IpNetwork {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (address, prefix) = match s.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (s.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| format!("{s:?} is not an IP address or network"))?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length after '/' must be a number from 0 to {max}"))?,
        };
        Ok(Self { address, prefix })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl Serialize for IpNetwork {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNetwork {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};

    fn net(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        assert!(net("10.0.0.0/8").contains("10.200.3.4".parse().unwrap()));
        assert!(!net("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(net("192.168.1.7").contains("192.168.1.7".parse().unwrap()));
        assert!(!net("192.168.1.7").contains("192.168.1.8".parse().unwrap()));
        assert!(net("172.16.0.0/12").contains("172.31.255.1".parse().unwrap()));
        assert!(!net("172.16.0.0/12").contains("172.32.0.1".parse().unwrap()));
        assert!(net("fd00::/8").contains("fd12::1".parse().unwrap()));
        assert!(!net("fd00::/8").contains("10.0.0.1".parse().unwrap()));
        assert!(net("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        assert!(IpNetwork::loopback().iter().any(|n| n.contains("::ffff:127.0.0.1".parse().unwrap())));
        for bad in ["10.0.0.0/33", "proxy.internal", "10.0.0.0/x", "::1/129"] {
            assert!(bad.parse::<IpNetwork>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_mode_follows_the_principal_header_unless_set() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.auth.effective_mode(&config.server), AuthMode::Open);
            jail.set_env("LORE_SERVER__PRINCIPAL_HEADER", "X-Lore-Principals");
            jail.set_env("LORE_SERVER__TRUSTED_PROXIES", "[\"10.1.2.3\", \"fd00::/8\"]");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.auth.effective_mode(&config.server), AuthMode::Proxy);
            assert_eq!(config.server.trusted_proxies, vec![net("10.1.2.3"), net("fd00::/8")]);
            jail.set_env("LORE_AUTH__MODE", "accounts");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("only read with auth.mode = \"proxy\""), "{err}");
            Ok(())
        });
    }

    #[test]
    fn admins_must_be_namespaced_and_the_public_url_an_address() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LORE_SERVER__ADMINS", "[\"alice\"]");
            assert!(Config::load(None, &Overrides::default()).unwrap_err().to_string().contains("namespaced"));
            jail.set_env("LORE_SERVER__ADMINS", "[\"user:alice\"]");
            jail.set_env("LORE_SERVER__PUBLIC_URL", "lore.example.com");
            assert!(Config::load(None, &Overrides::default()).unwrap_err().to_string().contains("public_url"));
            jail.set_env("LORE_SERVER__PUBLIC_URL", "https://lore.example.com");
            assert!(Config::load(None, &Overrides::default()).is_ok());
            Ok(())
        });
    }
}
