//! Identity providers people sign in with (`[[auth.providers]]`): OpenID Connect issuers, their
//! client credentials, and how their claims map to principals.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// One OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderConfig {
    /// Short name, in URLs (`/signin/oidc/NAME`): lowercase letters, digits and '-'.
    pub name: String,
    /// On the sign-in button ("Sign in with LABEL"); default: the name.
    #[serde(default)]
    pub label: Option<String>,
    /// The issuer URL; its `/.well-known/openid-configuration` is read at the first sign-in.
    pub issuer: String,
    pub client_id: String,
    /// The client secret, or a file holding it (`client_secret_file`, read at start).
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The claim that names the user: `sub` (default) or `email` (then only a verified address).
    /// The user reads as `user:<value>`.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// The claim listing the user's groups (each read as `group:<name>`), from the ID token or the
    /// user-info endpoint. Missing, malformed or longer than `max_groups`: no group at all.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

fn default_user_claim() -> String {
    "sub".into()
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_max_groups() -> usize {
    200
}

impl OidcProviderConfig {
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

pub(super) fn validate(providers: &[OidcProviderConfig]) -> Result<(), ConfigError> {
    let invalid = |msg: String| Err(ConfigError::Value(msg));
    for (i, provider) in providers.iter().enumerate() {
        let name = &provider.name;
        let plain = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if name.is_empty() || name.len() > 32 || !plain {
            return invalid(format!(
                "auth.providers: {name:?} is not a provider name (lowercase letters, digits, '-')"
            ));
        }
        if providers[..i].iter().any(|p| p.name == *name) {
            return invalid(format!("auth.providers: two providers are named {name:?}"));
        }
        if !issuer_is_safe(&provider.issuer) {
            return invalid(format!(
                "auth.providers.{name}.issuer ({:?}) must be an https:// URL (http:// only on loopback)",
                provider.issuer
            ));
        }
        if provider.client_id.trim().is_empty() {
            return invalid(format!("auth.providers.{name}.client_id is empty"));
        }
        if provider.client_secret.is_some() && provider.client_secret_file.is_some() {
            return invalid(format!("auth.providers.{name}: set client_secret or client_secret_file, not both"));
        }
        if !matches!(provider.user_claim.as_str(), "sub" | "email") {
            return invalid(format!("auth.providers.{name}.user_claim must be \"sub\" or \"email\""));
        }
        if provider.groups_claim.is_empty() || provider.max_groups == 0 {
            return invalid(format!("auth.providers.{name}: groups_claim must be named and max_groups positive"));
        }
    }
    Ok(())
}

/// https anywhere; http only to this machine (a provider the tests or an operator run locally).
fn issuer_is_safe(issuer: &str) -> bool {
    if let Some(rest) = issuer.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = issuer.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(name: &str, issuer: &str) -> OidcProviderConfig {
        OidcProviderConfig {
            name: name.into(),
            label: None,
            issuer: issuer.into(),
            client_id: "lore".into(),
            client_secret: Some("s".into()),
            client_secret_file: None,
            scopes: default_scopes(),
            user_claim: default_user_claim(),
            groups_claim: default_groups_claim(),
            max_groups: 200,
        }
    }

    #[test]
    fn providers_are_named_plainly_and_reached_over_https() {
        assert!(validate(&[provider("corp", "https://login.example.com"), provider("dev", "http://127.0.0.1:9000")])
            .is_ok());
        for bad in
            [provider("Corp", "https://x"), provider("corp", "http://idp.example.com"), provider("corp", "ftp://x")]
        {
            assert!(validate(&[bad.clone()]).is_err(), "{bad:?}");
        }
        assert!(validate(&[provider("a", "https://x"), provider("a", "https://y")]).is_err(), "unique names");
        assert!(!issuer_is_safe("http://127.0.0.1.evil.example/"));
        assert!(!issuer_is_safe("http://localhost@evil.example/"));
        assert!(issuer_is_safe("http://[::1]:8080/realms/x") && issuer_is_safe("http://localhost"));
    }
}
