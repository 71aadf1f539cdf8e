//! Who can reach the server: give it the bound address and the configuration, get whether serving there
//! is allowed at all, and which `Host` names a request may carry.
//!
//! Without an authentication mode every caller administers, which is safe only on a loopback address,
//! and only if a web page the user visits cannot talk to it: a page on `evil.example` that rebinds its
//! name to 127.0.0.1 sends `Host: evil.example`, so any request for a host not on the list is refused
//! before it reaches a handler.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lore_core::config::{AuthMode, ServerConfig};

use crate::error::ApiError;

/// Refuses to serve a non-loopback address without an authentication mode, with what to set.
pub fn check_bind(addr: SocketAddr, server: &ServerConfig, mode: AuthMode) -> anyhow::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if mode == AuthMode::Open {
        anyhow::bail!(
            "refusing to serve on {addr} without authentication: every caller would read every document and \
             administer the sources. Let people sign in (LORE_AUTH__MODE=accounts, then `lore admin create \
             NAME`), or put Lore behind an authenticating reverse proxy and set server.principal_header \
             (LORE_SERVER__PRINCIPAL_HEADER=X-Lore-Principals), or serve on 127.0.0.1"
        );
    }
    if addr.ip().is_unspecified() && server.allowed_hosts.is_empty() {
        anyhow::bail!(
            "serving on all interfaces ({addr}) needs server.allowed_hosts: the host names users reach Lore by \
             (LORE_SERVER__ALLOWED_HOSTS='[\"lore.example.com\"]')"
        );
    }
    Ok(())
}

/// The `Host` names one server answers to.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    /// Lower-case host names or IP literals, without port (IPv6 without brackets).
    names: Vec<String>,
}

impl AllowedHosts {
    pub fn new(bound: SocketAddr, server: &ServerConfig) -> Self {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        if !bound.ip().is_unspecified() {
            names.push(bound.ip().to_string());
        }
        names.extend(server.allowed_hosts.iter().filter_map(|h| host_name(h)));
        names.sort();
        names.dedup();
        Self { names }
    }

    pub fn allows(&self, host: &str) -> bool {
        host_name(host)
            .is_some_and(|name| self.names.contains(&name) || name.ends_with(".localhost") && !name.starts_with('.'))
    }
}

/// The host part of a `Host` header or an origin's authority, lower-cased: `Lore.Example:8080` is
/// `lore.example`, `[::1]:80` is `::1`. `None` when it is not a plausible host.
pub fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => authority,
        }
    };
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    valid.then(|| host.to_ascii_lowercase())
}

/// Refuses (421) a request whose `Host` is not one this server answers to.
pub async fn require_allowed_host(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).map(str::to_string);
    match host {
        Some(host) if allowed.allows(&host) => next.run(request).await,
        Some(host) => misdirected(format!("this server does not answer to the host name '{}'", clip(&host))),
        None => misdirected("the request names no host (Host header)".into()),
    }
}

fn misdirected(message: String) -> Response {
    let mut response = ApiError::BadRequest(message).into_response();
    *response.status_mut() = StatusCode::MISDIRECTED_REQUEST;
    response
}

/// At most 100 characters of what a client sent, for an error message.
fn clip(text: &str) -> String {
    text.chars().take(100).collect()
}

/// Whether an address is this machine's own (a loopback client).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_compared_without_port_and_case() {
        let server = ServerConfig { allowed_hosts: vec!["Lore.Example.com".into()], ..ServerConfig::default() };
        let allowed = AllowedHosts::new("127.0.0.1:8080".parse().unwrap(), &server);
        for ok in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080", "lore.example.com", "LORE.example.com:443"] {
            assert!(allowed.allows(ok), "{ok}");
        }
        for refused in ["evil.example:8080", "127.0.0.2", "lore.example.com.evil", "", "a b", "[::1"] {
            assert!(!allowed.allows(refused), "{refused}");
        }
    }

    #[test]
    fn only_loopback_may_serve_without_authentication() {
        let open = ServerConfig::default();
        assert!(check_bind("127.0.0.1:8080".parse().unwrap(), &open, AuthMode::Open).is_ok());
        let err = check_bind("0.0.0.0:8080".parse().unwrap(), &open, AuthMode::Open).unwrap_err().to_string();
        assert!(err.contains("server.principal_header") && err.contains("lore admin create"), "{err}");
        let proxied = ServerConfig { principal_header: Some("X-Lore-Principals".into()), ..ServerConfig::default() };
        assert!(check_bind("10.1.2.3:8080".parse().unwrap(), &proxied, AuthMode::Proxy).is_ok());
        let err = check_bind("0.0.0.0:8080".parse().unwrap(), &proxied, AuthMode::Proxy).unwrap_err().to_string();
        assert!(err.contains("server.allowed_hosts"), "{err}");
        assert!(check_bind("10.1.2.3:8080".parse().unwrap(), &open, AuthMode::Accounts).is_ok());
    }
}
