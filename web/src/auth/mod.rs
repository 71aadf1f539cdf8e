//! Authentication: give it a request, get the `Caller` it acts as (or none), by `auth.mode`:
//!
//! - `open`: everyone, administering (a single-user deployment, loopback only; see `exposure`);
//! - `proxy`: the principals an authenticating reverse proxy puts in `server.principal_header`,
//!   accepted only from `server.trusted_proxies` and only when the header appears once (a proxy that
//!   appends to a header the client sent would otherwise let the client add principals of its own);
//! - `accounts`: the user of the session cookie, or the owner of the API token in
//!   `Authorization: Bearer` (within the token's scopes, on the routes [`token_scope`] lists), with
//!   the principals the accounts store holds for them now.
//!
//! The router's `identify` asks [`Authenticator::caller`] in front of every route and leaves the caller
//! in the request's extensions, where the `Caller` extractor (`access`) finds it; sign-in and sign-out
//! are [`Authenticator::sign_in`] (a local account's password), [`Authenticator::oidc`] (identity
//! providers, `oidc.rs`) with [`Authenticator::start_session`], and [`Authenticator::sign_out`].

pub mod cookie;
pub mod oidc;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, Method};
use lore_core::accounts::{password, secret, AccountStore, Scope, SessionLifetimes, UserRecord, TOKEN_PREFIX};
use lore_core::config::{AuthMode, Config};
use lore_core::now_ms;
use lore_retrieve::Access;

use crate::access::{Caller, Credential, SignedIn, MAX_PRINCIPALS};
use crate::error::ApiError;
use cookie::{SessionCookie, SESSION_PREFIX};
use throttle::Throttle;

/// A session (or token) is marked used at most this often: each mark is a write to the catalog.
const RENEW_EVERY_MS: i64 = 60_000;

/// The scope an API token needs for a route; `None`: the route is for browsers with a session only
/// (pages, token management), so a new route takes no token until it is listed here.
pub fn token_scope(method: &Method, path: &str) -> Option<Scope> {
    let get = *method == Method::GET || *method == Method::HEAD;
    match path {
        "/api/search" if get => Some(Scope::Search),
        p if get && p.starts_with("/api/documents/") => Some(Scope::Search),
        p if get && p.starts_with("/documents/") && p.ends_with("/file") => Some(Scope::Search),
        "/api/ask" | "/v1/chat/completions" if *method == Method::POST => Some(Scope::Ask),
        "/v1/models" if get => Some(Scope::Ask),
        p if p == "/api/conversations" || p.starts_with("/api/conversations/") => Some(Scope::Ask),
        "/api/audit" if get => Some(Scope::Admin),
        p if p == "/api/sources" || p.starts_with("/api/sources/") || p.starts_with("/api/ingest") => {
            Some(Scope::Admin)
        }
        _ => None,
    }
}

/// Everything authentication needs, built once from the configuration.
pub struct Authenticator {
    mode: AuthMode,
    config: Arc<Config>,
    accounts: Arc<dyn AccountStore>,
    cookie: SessionCookie,
    flow_cookie: SessionCookie,
    lifetimes: SessionLifetimes,
    throttle: Throttle,
    oidc: oidc::OidcProviders,
}

/// A successful sign-in: the cookie to set, and whose session it is.
pub struct NewSession {
    pub cookie: HeaderValue,
    pub user: lore_core::accounts::UserId,
    pub display_name: String,
}

impl Authenticator {
    /// Fails when an identity provider's client secret file cannot be read.
    pub fn new(config: Arc<Config>, accounts: Arc<dyn AccountStore>) -> anyhow::Result<Self> {
        let auth = &config.auth;
        let lifetimes = auth.session_lifetimes();
        let public_url = config.server.public_url.as_deref();
        Ok(Self {
            mode: auth.effective_mode(&config.server),
            cookie: SessionCookie::new(public_url, lifetimes.absolute_ms / 1000),
            flow_cookie: SessionCookie::sign_in_flow(public_url, oidc::FLOW_LIFETIME_MS / 1000),
            lifetimes,
            throttle: Throttle::new(auth.max_failed_sign_ins, Duration::from_secs(auth.sign_in_window_minutes * 60)),
            oidc: oidc::OidcProviders::new(&auth.providers, accounts.clone())?,
            accounts,
            config,
        })
    }

    /// The identity providers people may sign in with.
    pub fn oidc(&self) -> &oidc::OidcProviders {
        &self.oidc
    }

    /// The cookie that binds an OpenID sign-in to its browser.
    pub fn flow_cookie(&self) -> &SessionCookie {
        &self.flow_cookie
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    pub fn accounts(&self) -> &dyn AccountStore {
        self.accounts.as_ref()
    }

    /// Who the request acts as; `Ok(None)` for nobody (`accounts` mode without a live session).
    pub async fn caller(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Option<Caller>, ApiError> {
        let caller = match self.mode {
            AuthMode::Open => Ok(Some(Caller { access: Access::everyone(), is_admin: true, user: None, client: None })),
            AuthMode::Proxy => self.proxied_caller(headers, peer).map(Some),
            AuthMode::Accounts => match bearer_token(headers)? {
                Some(token) => {
                    if self.cookie.read(headers).is_some() {
                        return Err(ApiError::BadRequest(
                            "send either a session cookie or an API token, not both".into(),
                        ));
                    }
                    self.token_caller(&token, method, path).await.map(Some)
                }
                None => self.session_caller(headers).await,
            },
        };
        caller.map(|caller| caller.map(|caller| Caller { client: peer, ..caller }))
    }

    async fn token_caller(&self, token: &str, method: &Method, path: &str) -> Result<Caller, ApiError> {
        let now = now_ms();
        let found = self
            .accounts
            .token(&secret::fingerprint(token), now)
            .await
            .map_err(|e| ApiError::internal("cannot read the API token", e))?;
        let Some((token, owner)) = found else {
            return Err(ApiError::Unauthorized("this API token is not valid: unknown, revoked or expired".into()));
        };
        let Some(scope) = token_scope(method, path) else {
            return Err(ApiError::Forbidden(format!(
                "API tokens are for the API: {method} {path} needs a browser session"
            )));
        };
        if !token.scopes.contains(&scope) {
            return Err(ApiError::Forbidden(format!(
                "this API token may not {}: its scopes are {}",
                scope.as_str(),
                token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        if token.last_used_ms.is_none_or(|used| now - used >= RENEW_EVERY_MS) {
            let (accounts, id) = (self.accounts.clone(), token.id);
            tokio::spawn(async move {
                if let Err(error) = accounts.mark_token_used(id, now).await {
                    tracing::warn!(%error, "cannot record an API token's use");
                }
            });
        }
        let mut principals = token.principals_of(&owner);
        principals.truncate(MAX_PRINCIPALS);
        let administers = owner.is_admin || self.administers(&principals);
        Ok(Caller {
            is_admin: administers && token.scopes.contains(&Scope::Admin),
            access: Access::Principals(principals),
            user: Some(SignedIn {
                id: owner.id,
                display_name: owner.display_name.clone(),
                credential: Credential::Token(token.id),
            }),
            client: None,
        })
    }

    fn proxied_caller(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<Caller, ApiError> {
        let server = &self.config.server;
        let header = server.principal_header.as_deref().expect("proxy mode has a principal header (validated)");
        let mut values = headers.get_all(header).iter();
        let (value, repeated) = (values.next(), values.next().is_some());
        if value.is_some() && !peer.is_some_and(|ip| server.trusted_proxies.iter().any(|net| net.contains(ip))) {
            return Err(ApiError::Forbidden(format!(
                "the {header} header is accepted only from a trusted proxy (server.trusted_proxies)"
            )));
        }
        if repeated {
            return Err(ApiError::BadRequest(format!("the {header} header appears more than once")));
        }
        let principals: Vec<String> = match value.map(|v| v.to_str()) {
            None => Vec::new(),
            Some(Ok(value)) => value.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
            Some(Err(_)) => return Err(ApiError::BadRequest(format!("the {header} header is not plain text"))),
        };
        // Each principal is a filter clause in both engines.
        if principals.len() > MAX_PRINCIPALS {
            return Err(ApiError::BadRequest(format!(
                "the {header} header names {} principals; at most {MAX_PRINCIPALS} are accepted",
                principals.len()
            )));
        }
        let is_admin = self.administers(&principals);
        Ok(Caller { access: Access::Principals(principals), is_admin, user: None, client: None })
    }

    async fn session_caller(&self, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
        let Some(secret) = self.cookie.read(headers) else { return Ok(None) };
        let fingerprint = secret::fingerprint(&secret);
        let now = now_ms();
        let session = self
            .accounts
            .session(&fingerprint, now, self.lifetimes)
            .await
            .map_err(|e| ApiError::internal("cannot read the session", e))?;
        let Some(session) = session else { return Ok(None) };
        if now - session.last_seen_ms >= RENEW_EVERY_MS {
            // The request does not wait for the write; a failed renewal only shortens the session.
            let (accounts, fingerprint) = (self.accounts.clone(), fingerprint.clone());
            tokio::spawn(async move {
                if let Err(error) = accounts.renew_session(&fingerprint, now).await {
                    tracing::warn!(%error, "cannot renew a session");
                }
            });
        }
        Ok(Some(self.session_user(&session.user, fingerprint)))
    }

    fn session_user(&self, user: &UserRecord, fingerprint: String) -> Caller {
        let mut principals = user.principals.clone();
        principals.truncate(MAX_PRINCIPALS);
        Caller {
            is_admin: user.is_admin || self.administers(&principals),
            access: Access::Principals(principals),
            user: Some(SignedIn {
                id: user.id,
                display_name: user.display_name.clone(),
                credential: Credential::Session(fingerprint),
            }),
            client: None,
        }
    }

    /// Whether these principals administer (`server.admin_principal`, `server.admins`).
    fn administers(&self, principals: &[String]) -> bool {
        let server = &self.config.server;
        principals.iter().any(|p| *p == server.admin_principal || server.admins.contains(p))
    }

    /// Checks a local account's password and starts a session: a new secret every time, so a session
    /// id planted before sign-in is never the one signed in (no fixation). A wrong login name and a
    /// wrong password take the same time and get the same answer.
    pub async fn sign_in(&self, login: &str, password: &str, client: Option<IpAddr>) -> Result<NewSession, ApiError> {
        if self.mode != AuthMode::Accounts {
            return Err(ApiError::NotFound("signing in is not enabled here (auth.mode = \"accounts\")".into()));
        }
        let login = login.trim().to_ascii_lowercase();
        let keys = [format!("login:{login}"), format!("client:{}", client.map_or("-".into(), |ip| ip.to_string()))];
        if let Some(wait) = keys.iter().filter_map(|k| self.throttle.wait_for(k)).max() {
            return Err(ApiError::RateLimited {
                message: "too many failed sign-ins: wait a few minutes and try again".into(),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let found = self
            .accounts
            .local_credentials(&login)
            .await
            .map_err(|e| ApiError::internal("cannot read the account", e))?;
        let (hash, user) = match found {
            Some((user, hash)) if !user.disabled => (Some(hash), Some(user)),
            _ => (None, None),
        };
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || match hash {
            Some(hash) => password::verify(&password, &hash),
            None => password::verify(&password, password::decoy_hash()) && false,
        })
        .await
        .map_err(|e| ApiError::internal("the password check crashed", e))?;
        let Some(user) = user.filter(|_| matches) else {
            keys.iter().for_each(|k| self.throttle.failed(k));
            tracing::info!(login = %login, client = ?client, "failed sign-in");
            return Err(ApiError::Unauthorized("wrong login name or password".into()));
        };
        keys.iter().for_each(|k| self.throttle.succeeded(k));
        tracing::info!(user = user.id.0, login = %login, "signed in");
        self.start_session(&user).await
    }

    /// Admits a sign-in leaving for an identity provider from `client`: each one is a row in the
    /// catalog, so a client that starts more than `auth.max_failed_sign_ins` of them without finishing
    /// one waits for the window (429).
    pub fn admit_sign_in_flow(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        let key = flow_key(client);
        if let Some(wait) = self.throttle.wait_for(&key) {
            return Err(ApiError::RateLimited {
                message: "too many sign-ins started without finishing: wait a few minutes and try again".into(),
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        self.throttle.failed(&key);
        Ok(())
    }

    /// A client's sign-in through a provider finished: its started ones no longer count.
    pub fn sign_in_flow_finished(&self, client: Option<IpAddr>) {
        self.throttle.succeeded(&flow_key(client));
    }

    /// A new session for a user who just proved who they are: a new secret every time, so a session id
    /// planted before sign-in is never the one signed in (no fixation).
    pub async fn start_session(&self, user: &UserRecord) -> Result<NewSession, ApiError> {
        let secret = secret::generate(SESSION_PREFIX);
        self.accounts
            .create_session(&secret::fingerprint(&secret), user.id, now_ms(), self.lifetimes)
            .await
            .map_err(|e| ApiError::internal("cannot start the session", e))?;
        Ok(NewSession { cookie: self.cookie.set(&secret), user: user.id, display_name: user.display_name.clone() })
    }

    /// Forgets sessions that have ended; returns how many.
    pub async fn purge_ended_sessions(&self) -> Result<u64, lore_core::catalog::CatalogError> {
        self.accounts.purge_sessions(now_ms(), self.lifetimes).await
    }

    /// Ends the caller's session; the returned value clears the cookie.
    pub async fn sign_out(&self, caller: &Caller) -> Result<HeaderValue, ApiError> {
        if let Some(session) = caller.session() {
            self.accounts.delete_session(session).await.map_err(|e| ApiError::internal("cannot end the session", e))?;
            tracing::info!(user = caller.user.as_ref().map(|u| u.id.0), "signed out");
        }
        Ok(self.cookie.clear())
    }
}

/// The throttle's key for the sign-in flows a client starts.
fn flow_key(client: Option<IpAddr>) -> String {
    format!("flow:{}", client.map_or("-".into(), |ip| ip.to_string()))
}

/// The API token in `Authorization: Bearer`, if the request carries one of ours. Another bearer secret
/// (the `/metrics` token) is not a sign-in and is left to its route.
fn bearer_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), repeated) = (values.next(), values.next().is_some()) else { return Ok(None) };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else {
        return Ok(None);
    };
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    if repeated {
        return Err(ApiError::BadRequest("the Authorization header appears more than once".into()));
    }
    if token.len() > secret::MAX_SECRET_CHARS {
        return Err(ApiError::Unauthorized("this API token is not valid: unknown, revoked or expired".into()));
    }
    Ok(Some(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_reach_the_api_only() {
        let get = Method::GET;
        assert_eq!(token_scope(&get, "/api/search"), Some(Scope::Search));
        assert_eq!(token_scope(&get, "/api/documents/7"), Some(Scope::Search));
        assert_eq!(token_scope(&get, "/documents/7/file"), Some(Scope::Search));
        assert_eq!(token_scope(&Method::POST, "/v1/chat/completions"), Some(Scope::Ask));
        assert_eq!(token_scope(&Method::POST, "/api/ask"), Some(Scope::Ask));
        assert_eq!(token_scope(&Method::DELETE, "/api/conversations/3"), Some(Scope::Ask));
        assert_eq!(token_scope(&Method::DELETE, "/api/sources/wiki"), Some(Scope::Admin));
        for page in ["/", "/documents/7", "/admin", "/tokens", "/signout"] {
            assert_eq!(token_scope(&get, page), None, "{page}");
        }
        assert_eq!(token_scope(&Method::POST, "/api/search"), None);
    }
}
