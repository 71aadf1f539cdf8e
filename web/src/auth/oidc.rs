//! Signing in through OpenID Connect providers (`[[auth.providers]]`). Give it a provider's name and
//! where the browser was going, get the provider's authorization URL: the code flow with PKCE (S256),
//! a nonce and a state, the flow kept in the catalog (`sign_in_flows`, so any web replica can finish
//! it) and bound to the browser by a cookie. Give it the callback's code and state from the same
//! browser, get the user the verified ID token names, with the principals its claims map to.
//!
//! The ID token is checked by `openidconnect` (signature against the provider's published keys,
//! issuer, audience, expiry, nonce). Claims map to `user:<sub or verified e-mail>` and one
//! `group:<name>` per entry of the groups claim (from the ID token, else the user-info endpoint); a
//! groups claim that is missing, not a list of plain names or longer than `max_groups` gives no group
//! at all: reading less, never more.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use lore_core::accounts::{secret, AccountStore, ProviderUser, SignInFlow, UserRecord};
use lore_core::acl::check_principal;
use lore_core::config::OidcProviderConfig;
use lore_core::now_ms;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreProviderMetadata};
use openidconnect::{
    reqwest, AccessToken, AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LoginHint,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Map, Value};

/// A sign-in must come back from its provider within this time.
pub const FLOW_LIFETIME_MS: i64 = 10 * 60_000;
/// The provider's metadata and signing keys are read again after this long (keys rotate).
const METADATA_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Every request to a provider must be answered within this time.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// A user-info answer larger than this is refused.
const MAX_USERINFO_BYTES: usize = 256 * 1024;
/// What the flow cookie's secret starts with.
pub const FLOW_PREFIX: &str = "lore_f_";

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("there is no identity provider named '{0}'")]
    UnknownProvider(String),
    #[error("cannot reach the identity provider {provider}: {reason}")]
    Unreachable { provider: String, reason: String },
    #[error("this sign-in is unknown, was already used, or took longer than 10 minutes: start again")]
    UnknownFlow,
    #[error("this sign-in was started in another browser: start again here")]
    OtherBrowser,
    #[error("the identity provider {provider} refused: {reason}")]
    Refused { provider: String, reason: String },
    #[error("the identity provider {provider} sent an ID token that does not check out: {reason}")]
    InvalidToken { provider: String, reason: String },
    #[error("this account is disabled: ask an administrator")]
    Disabled,
    #[error("cannot record the sign-in: {0}")]
    Store(#[from] lore_core::catalog::CatalogError),
}

/// The configured providers, with what was learned of each.
pub struct OidcProviders {
    providers: Vec<Provider>,
    http: reqwest::Client,
    accounts: Arc<dyn AccountStore>,
}

struct Provider {
    config: OidcProviderConfig,
    secret: Option<ClientSecret>,
    metadata: tokio::sync::Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// A sign-in on its way to the provider: where to send the browser, and the cookie secret that binds
/// the flow to it.
pub struct StartedFlow {
    pub authorize_url: String,
    pub browser_secret: String,
}

/// A finished sign-in: who, and where the browser was going.
pub struct SignedInUser {
    pub user: UserRecord,
    pub next_path: String,
    pub provider: String,
}

impl OidcProviders {
    /// Reads the client secrets of `providers` (from files where so configured).
    pub fn new(providers: &[OidcProviderConfig], accounts: Arc<dyn AccountStore>) -> anyhow::Result<Self> {
        let mut loaded = Vec::with_capacity(providers.len());
        for config in providers {
            let secret = match (&config.client_secret, &config.client_secret_file) {
                (Some(secret), _) => Some(secret.clone()),
                (None, Some(file)) => Some(
                    std::fs::read_to_string(file)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
                        .trim()
                        .to_string(),
                ),
                (None, None) => None,
            };
            loaded.push(Provider {
                config: config.clone(),
                secret: secret.map(ClientSecret::new),
                metadata: tokio::sync::Mutex::new(None),
            });
        }
        let http = reqwest::Client::builder()
            // A redirect would let a provider's answer point the server elsewhere (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(Self { providers: loaded, http, accounts })
    }

    /// `(name, label)` of every provider, for the sign-in page's buttons.
    pub fn list(&self) -> Vec<(String, String)> {
        self.providers.iter().map(|p| (p.config.name.clone(), p.config.label().to_string())).collect()
    }

    fn provider(&self, name: &str) -> Result<&Provider, OidcError> {
        self.providers.iter().find(|p| p.config.name == name).ok_or_else(|| OidcError::UnknownProvider(name.into()))
    }

    /// The provider's metadata and keys, read at the first use and again once they are old (or
    /// `refresh`: a token signed with a key not seen yet).
    async fn metadata(&self, provider: &Provider, refresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = provider.metadata.lock().await;
        if let Some((read, metadata)) = cached.as_ref() {
            if !refresh && read.elapsed() < METADATA_LIFETIME {
                return Ok(metadata.clone());
            }
        }
        let unreachable = |reason: String| OidcError::Unreachable { provider: provider.config.name.clone(), reason };
        let issuer = IssuerUrl::new(provider.config.issuer.clone()).map_err(|e| unreachable(e.to_string()))?;
        let metadata =
            CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| unreachable(error_chain(&e)))?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// Starts a sign-in with provider `name`; the provider sends the browser back to `redirect_uri`.
    pub async fn start(
        &self,
        name: &str,
        redirect_uri: &str,
        next_path: &str,
        login_hint: Option<&str>,
    ) -> Result<StartedFlow, OidcError> {
        let provider = self.provider(name)?;
        let client =
            provider.client(self.metadata(provider, false).await?).set_redirect_uri(redirect_url(redirect_uri)?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request =
            client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for scope in &provider.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = login_hint.map(str::trim).filter(|h| !h.is_empty() && h.len() <= 256) {
            request = request.set_login_hint(LoginHint::new(hint.to_string()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let browser_secret = secret::generate(FLOW_PREFIX);
        let flow = SignInFlow {
            browser_hash: secret::fingerprint(&browser_secret),
            provider: name.to_string(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            next_path: next_path.to_string(),
            created_ms: now_ms(),
        };
        self.accounts.save_sign_in_flow(&secret::fingerprint(state.secret()), &flow).await?;
        Ok(StartedFlow { authorize_url: url.to_string(), browser_secret })
    }

    /// Finishes the sign-in the provider sent back (`code`, `state`) to the browser holding
    /// `browser_secret`: the code is exchanged, the ID token checked, the user recorded.
    pub async fn finish(
        &self,
        name: &str,
        redirect_uri: &str,
        code: &str,
        state: &str,
        browser_secret: Option<&str>,
    ) -> Result<SignedInUser, OidcError> {
        let provider = self.provider(name)?;
        let flow = self
            .accounts
            .take_sign_in_flow(&secret::fingerprint(state), now_ms() - FLOW_LIFETIME_MS)
            .await?
            .filter(|flow| flow.provider == name)
            .ok_or(OidcError::UnknownFlow)?;
        if browser_secret.map(secret::fingerprint).as_deref() != Some(flow.browser_hash.as_str()) {
            return Err(OidcError::OtherBrowser);
        }
        let claims = self.verified_claims(provider, redirect_uri, code, &flow).await?;
        let user = principals_of(&provider.config, &claims)?;
        let stored = self
            .accounts
            .provider_user(
                &ProviderUser {
                    issuer: &provider.config.issuer,
                    subject: &user.subject,
                    display_name: &user.display_name,
                    email: user.email.as_deref(),
                    principals: &user.principals,
                },
                now_ms(),
            )
            .await?;
        if stored.disabled {
            return Err(OidcError::Disabled);
        }
        Ok(SignedInUser { user: stored, next_path: flow.next_path, provider: name.to_string() })
    }

    /// The ID token's claims once it checks out (with the user-info endpoint's when the token lacks
    /// the groups claim).
    async fn verified_claims(
        &self,
        provider: &Provider,
        redirect_uri: &str,
        code: &str,
        flow: &SignInFlow,
    ) -> Result<Map<String, Value>, OidcError> {
        let name = provider.config.name.clone();
        let refused = |reason: String| OidcError::Refused { provider: name.clone(), reason };
        let invalid = |reason: String| OidcError::InvalidToken { provider: name.clone(), reason };
        let metadata = self.metadata(provider, false).await?;
        let userinfo_url = metadata.userinfo_endpoint().map(|u| u.url().clone());
        let client = provider.client(metadata).set_redirect_uri(redirect_url(redirect_uri)?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| refused(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| refused(error_chain(&e)))?;
        let id_token = response.id_token().ok_or_else(|| invalid("the token response has no ID token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone());
        if let Err(first) = check_id_token(id_token, &client.id_token_verifier(), &nonce, response.access_token()) {
            // A key the cached key set does not have yet: read the provider's keys again, once.
            let client = provider.client(self.metadata(provider, true).await?);
            check_id_token(id_token, &client.id_token_verifier(), &nonce, response.access_token())
                .map_err(|_| invalid(first))?;
        }
        // The token checked out: its payload is the claims, including those the library has no field for.
        let mut claims = jwt_payload(&id_token.to_string()).ok_or_else(|| invalid("its payload is not JSON".into()))?;
        if !claims.contains_key(&provider.config.groups_claim) {
            if let Some(url) = userinfo_url {
                match self.userinfo(url, response.access_token()).await {
                    Ok(info) if info.get("sub") == claims.get("sub") => {
                        for (key, value) in info {
                            claims.entry(key).or_insert(value);
                        }
                    }
                    Ok(_) => tracing::warn!(provider = %name, "user-info names another subject: ignored"),
                    Err(error) => tracing::warn!(provider = %name, %error, "user-info unavailable: no groups"),
                }
            }
        }
        Ok(claims)
    }

    async fn userinfo(&self, url: openidconnect::url::Url, token: &AccessToken) -> Result<Map<String, Value>, String> {
        let mut response = self.http.get(url).bearer_auth(token.secret()).send().await.map_err(|e| error_chain(&e))?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(piece) = response.chunk().await.map_err(|e| error_chain(&e))? {
            body.extend_from_slice(&piece);
            if body.len() > MAX_USERINFO_BYTES {
                return Err("the answer is too large".into());
            }
        }
        serde_json::from_slice(&body)
            .map_err(|_| "the answer is not a JSON object (signed user-info is not read)".into())
    }
}

impl Provider {
    /// Lore's client at this provider, as its metadata describes the provider's endpoints.
    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(metadata, ClientId::new(self.config.client_id.clone()), self.secret.clone())
    }
}

/// Checks the ID token (signature, issuer, audience, expiry, nonce) and, when it carries one, the hash
/// of the access token that came with it (so that one cannot be swapped for another user's).
fn check_id_token(
    token: &CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: &Nonce,
    access_token: &AccessToken,
) -> Result<(), String> {
    let claims = token.claims(verifier, nonce).map_err(|e| error_chain(&e))?;
    if let Some(expected) = claims.access_token_hash() {
        let algorithm = token.signing_alg().map_err(|e| error_chain(&e))?;
        let key = token.signing_key(verifier).map_err(|e| error_chain(&e))?;
        let actual = AccessTokenHash::from_token(access_token, algorithm, key).map_err(|e| error_chain(&e))?;
        if actual != *expected {
            return Err("the access token's hash (at_hash) does not match".into());
        }
    }
    Ok(())
}

fn redirect_url(uri: &str) -> Result<RedirectUrl, OidcError> {
    RedirectUrl::new(uri.to_string())
        .map_err(|e| OidcError::Refused { provider: "-".into(), reason: format!("bad redirect address: {e}") })
}

/// The claims of a compact JWT (`header.payload.signature`), without checking anything.
fn jwt_payload(jwt: &str) -> Option<Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Who the claims say the user is.
#[derive(Debug, PartialEq)]
struct MappedUser {
    subject: String,
    display_name: String,
    email: Option<String>,
    principals: Vec<String>,
}

/// Claims to principals: `user:<sub or verified e-mail>`, then `group:<g>` for each group when the
/// groups claim is a list of at most `max_groups` plain names (otherwise none: fail closed).
fn principals_of(config: &OidcProviderConfig, claims: &Map<String, Value>) -> Result<MappedUser, OidcError> {
    let invalid = |reason: &str| OidcError::InvalidToken { provider: config.name.clone(), reason: reason.into() };
    let text = |key: &str| claims.get(key).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    let subject = text("sub").ok_or_else(|| invalid("it has no subject (sub)"))?.to_string();
    let verified = claims.get("email_verified").and_then(Value::as_bool) == Some(true);
    let email = text("email").filter(|_| verified).map(str::to_lowercase);
    let user = match config.user_claim.as_str() {
        "email" => email.clone().ok_or_else(|| invalid("it has no verified e-mail address (email_verified)"))?,
        _ => subject.clone(),
    };
    let user_principal = format!("user:{user}");
    check_principal(&user_principal).map_err(|e| invalid(&e.to_string()))?;
    let mut principals = vec![user_principal];
    principals.extend(groups_of(config, claims));
    let display_name = text("name").or_else(|| text("preferred_username")).or(email.as_deref()).unwrap_or(&user);
    Ok(MappedUser { display_name: display_name.chars().take(100).collect(), subject, email, principals })
}

fn groups_of(config: &OidcProviderConfig, claims: &Map<String, Value>) -> Vec<String> {
    let name = &config.name;
    let Some(value) = claims.get(&config.groups_claim) else {
        tracing::info!(provider = %name, claim = %config.groups_claim, "no groups claim: the user principal only");
        return Vec::new();
    };
    let Some(list) = value.as_array() else {
        tracing::warn!(provider = %name, "the groups claim is not a list: no groups");
        return Vec::new();
    };
    if list.len() > config.max_groups {
        tracing::warn!(provider = %name, groups = list.len(), max = config.max_groups, "too many groups: none");
        return Vec::new();
    }
    let groups: Option<Vec<String>> = list
        .iter()
        .map(|g| g.as_str().map(|g| format!("group:{}", g.trim())).filter(|p| check_principal(p).is_ok()))
        .collect();
    groups.unwrap_or_else(|| {
        tracing::warn!(provider = %name, "the groups claim holds something that is not a group name: no groups");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(user_claim: &str, max_groups: usize) -> OidcProviderConfig {
        OidcProviderConfig {
            name: "corp".into(),
            label: None,
            issuer: "https://idp.example.com".into(),
            client_id: "lore".into(),
            client_secret: None,
            client_secret_file: None,
            scopes: vec![],
            user_claim: user_claim.into(),
            groups_claim: "groups".into(),
            max_groups,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn claims_map_to_a_user_and_groups_failing_closed() {
        let ann = claims(serde_json::json!({
            "sub": "a1", "email": "Ann@Example.com", "email_verified": true, "name": "Ann", "groups": ["hr", "eng"]
        }));
        let mapped = principals_of(&config("sub", 10), &ann).unwrap();
        assert_eq!(mapped.principals, ["user:a1", "group:hr", "group:eng"]);
        assert_eq!((mapped.display_name.as_str(), mapped.email.as_deref()), ("Ann", Some("ann@example.com")));
        let by_email = principals_of(&config("email", 10), &ann).unwrap();
        assert_eq!(by_email.principals[0], "user:ann@example.com");

        let unverified = claims(serde_json::json!({"sub": "a1", "email": "ann@example.com", "groups": ["hr"]}));
        assert!(principals_of(&config("email", 10), &unverified).is_err(), "an unverified address names nobody");
        for groups in [serde_json::json!(["hr", "eng", "ops"]), serde_json::json!("hr"), serde_json::json!(["hr", 7])] {
            let mut c = ann.clone();
            c.insert("groups".into(), groups.clone());
            assert_eq!(principals_of(&config("sub", 2), &c).unwrap().principals, ["user:a1"], "{groups}");
        }
        let mut spaced = ann.clone();
        spaced.insert("groups".into(), serde_json::json!(["human resources"]));
        assert_eq!(principals_of(&config("sub", 10), &spaced).unwrap().principals, ["user:a1"]);
        let mut missing = ann.clone();
        missing.remove("groups");
        assert_eq!(principals_of(&config("sub", 10), &missing).unwrap().principals, ["user:a1"]);
        assert!(principals_of(&config("sub", 10), &claims(serde_json::json!({"name": "x"}))).is_err());
    }

    #[test]
    fn a_jwt_payload_is_read_as_json() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x","groups":["a"]}"#);
        let claims = jwt_payload(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(claims["groups"], serde_json::json!(["a"]));
        assert!(jwt_payload("not a jwt").is_none());
    }
}
