//! Accounts: give it people (local accounts with a password, or users an OpenID provider vouches for)
//! and their browser sessions, get back who a session belongs to and what they may read. It lives in
//! the catalog's database (`users`, `sessions`), so every web replica sees the same sign-ins.
//!
//! - **Secrets are never stored.** A session is a random 256-bit secret in the browser's cookie; the
//!   database keeps its SHA-256 ([`secret`]), so a copy of the database opens no session. Passwords
//!   are kept as Argon2id hashes.
//! - **Principals are read on every request.** [`AccountStore::session`] returns the user as the
//!   database has it now: a disabled user or a changed group list takes effect on the next request.
//! - **API tokens act as their owner, as the owner is now**, within their scopes and optionally
//!   narrowed to some of the owner's principals: [`AccountStore::token`] returns the owner with the
//!   token, so a revoked group, a disabled owner or a revoked token count at once.
//! - **Sessions end two ways**: unused for the idle lifetime, or past the absolute one, whichever
//!   comes first. Times are passed in (milliseconds since the epoch), so tests and every replica agree
//!   on what "now" means for a call.

pub mod password;
pub mod secret;
pub(crate) mod sql;

use async_trait::async_trait;
use serde::Serialize;

use crate::catalog::CatalogError;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// The issuer of accounts whose password Lore keeps itself.
pub const LOCAL_ISSUER: &str = "local";

/// What an API token starts with (so a leaked one is recognisable, e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "lore_t_";

/// The longest name of a token or display name of a user.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest login name of a local account.
pub const MAX_LOGIN_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// One person, as the accounts store has them now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserRecord {
    pub id: UserId,
    /// [`LOCAL_ISSUER`], or the OpenID issuer URL.
    pub issuer: String,
    /// The login name of a local account; the OpenID subject otherwise.
    pub subject: String,
    pub display_name: String,
    pub email: Option<String>,
    /// What the user reads with (`user:...`, `group:...`).
    pub principals: Vec<String>,
    /// A local account made to administer.
    pub is_admin: bool,
    pub disabled: bool,
    pub created_ms: i64,
    pub last_sign_in_ms: Option<i64>,
}

/// A new local account.
#[derive(Debug, Clone)]
pub struct NewLocalUser<'a> {
    pub login: &'a str,
    pub display_name: &'a str,
    /// Argon2id PHC string ([`password::hash`]).
    pub password_hash: &'a str,
    pub principals: &'a [String],
    pub is_admin: bool,
}

/// A person an OpenID provider vouched for, as their latest sign-in maps them.
#[derive(Debug, Clone)]
pub struct ProviderUser<'a> {
    /// The provider's issuer URL.
    pub issuer: &'a str,
    /// The ID token's `sub`.
    pub subject: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    /// What the claims map to (`user:...`, `group:...`); replaces what an earlier sign-in mapped.
    pub principals: &'a [String],
}

/// Flows older than this are deleted whenever a new one is saved (a flow is valid for far less).
pub const SIGN_IN_FLOW_KEPT_MS: i64 = 3_600_000;

/// A sign-in that has gone to an OpenID provider and not come back yet.
#[derive(Debug, Clone, PartialEq)]
pub struct SignInFlow {
    /// SHA-256 of the secret in the browser's flow cookie.
    pub browser_hash: String,
    /// The provider's name in the configuration.
    pub provider: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub next_path: String,
    pub created_ms: i64,
}

/// A session found for a cookie: whose it is and when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
}

/// How long sessions live, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// A session unused for this long has ended.
    pub idle_ms: i64,
    /// A session this old has ended, however much it was used.
    pub absolute_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TokenId(pub i64);

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Search, open and download documents.
    Search,
    /// Ask questions (the answer API and the OpenAI-compatible endpoint).
    Ask,
    /// Administer sources (only if the owner administers).
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Search, Scope::Ask, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Search => "search",
            Self::Ask => "ask",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

/// An API token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    pub id: TokenId,
    pub user: UserId,
    pub name: String,
    /// The token's first characters.
    pub hint: String,
    pub scopes: Vec<Scope>,
    /// The owner's principals it is narrowed to; `None`: all of them.
    pub principals: Option<Vec<String>>,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

impl TokenRecord {
    /// Whether it works at `now_ms`, and if not why: "expires in 30 days", "revoked"...
    pub fn state(&self, now_ms: i64) -> String {
        const DAY: i64 = 86_400_000;
        match (self.revoked_ms, self.expires_ms) {
            (Some(_), _) => "revoked".into(),
            (None, Some(at)) if at <= now_ms => "expired".into(),
            (None, Some(at)) => format!("expires in {} days", (at - now_ms + DAY - 1) / DAY),
            (None, None) => "never expires".into(),
        }
    }

    pub fn is_live(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|at| at > now_ms)
    }

    /// What the token reads with: its owner's principals now, narrowed to the token's own when it has
    /// some (a principal the owner lost is lost to the token too).
    pub fn principals_of(&self, owner: &UserRecord) -> Vec<String> {
        match &self.principals {
            None => owner.principals.clone(),
            Some(narrowed) => owner.principals.iter().filter(|p| narrowed.contains(p)).cloned().collect(),
        }
    }
}

/// A new API token.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub user: UserId,
    pub name: &'a str,
    /// [`secret::fingerprint`] of the token.
    pub secret_hash: &'a str,
    pub hint: &'a str,
    pub scopes: &'a [Scope],
    pub principals: Option<&'a [String]>,
    pub expires_ms: Option<i64>,
}

/// What someone asks for when they make a token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub user: UserId,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// Narrow the token to these of the owner's principals; `None`: all of them.
    pub principals: Option<Vec<String>>,
    pub expires_ms: Option<i64>,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token needs a name of 1 to {MAX_NAME_CHARS} characters")]
    Name,
    #[error("a token needs at least one scope (search, ask, admin)")]
    NoScope,
    #[error("a token can only be narrowed to principals its owner has; the owner does not have {0}")]
    NotOwned(String),
    #[error("the expiry must be in the future")]
    Expired,
    #[error("no such user")]
    NoUser,
    #[error(transparent)]
    Store(#[from] CatalogError),
}

/// Makes an API token: returns the token, to show once (only its fingerprint is stored), and its
/// record.
pub async fn issue_token(
    store: &dyn AccountStore,
    request: TokenRequest,
    now_ms: i64,
) -> std::result::Result<(String, TokenRecord), TokenError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(TokenError::Name);
    }
    let mut scopes = request.scopes.clone();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(TokenError::NoScope);
    }
    if request.expires_ms.is_some_and(|at| at <= now_ms) {
        return Err(TokenError::Expired);
    }
    let owner = store.user(request.user).await?.ok_or(TokenError::NoUser)?;
    if let Some(missing) = request.principals.iter().flatten().find(|p| !owner.principals.contains(p)) {
        return Err(TokenError::NotOwned(missing.clone()));
    }
    let token = secret::generate(TOKEN_PREFIX);
    let hint: String = token.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let fingerprint = secret::fingerprint(&token);
    let new = NewToken {
        user: owner.id,
        name,
        secret_hash: &fingerprint,
        hint: &hint,
        scopes: &scopes,
        principals: request.principals.as_deref(),
        expires_ms: request.expires_ms,
    };
    let record = store.create_token(&new, now_ms).await?;
    Ok((token, record))
}

/// Why a local account could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginNameError {
    #[error("a login name needs 1 to {MAX_LOGIN_CHARS} characters")]
    Length,
    #[error(
        "login name {0:?} may hold only lowercase letters, digits, '.', '_' and '-', and must start with a \
         letter or digit"
    )]
    Characters(String),
}

/// Checks a local login name: short, lowercase ASCII, so that `user:<login>` is one unambiguous
/// principal and no name looks like another (no case or Unicode look-alikes).
pub fn check_login(login: &str) -> std::result::Result<(), LoginNameError> {
    if login.is_empty() || login.chars().count() > MAX_LOGIN_CHARS {
        return Err(LoginNameError::Length);
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    let starts_well = login.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !starts_well || !login.chars().all(allowed) {
        return Err(LoginNameError::Characters(login.to_string()));
    }
    Ok(())
}

/// The principal a local account reads with.
pub fn local_user_principal(login: &str) -> String {
    format!("user:{login}")
}

/// Users and their sessions, in the catalog's database. Both catalogs implement it.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Makes a local account; `None` when the login is taken.
    async fn create_local_user(&self, user: &NewLocalUser<'_>, now_ms: i64) -> Result<Option<UserRecord>>;
    /// Replaces a local account's password and ends its sessions; false when there is no such account.
    async fn set_local_password(&self, login: &str, password_hash: &str) -> Result<bool>;
    /// A local account and its password hash, to check a sign-in against.
    async fn local_credentials(&self, login: &str) -> Result<Option<(UserRecord, String)>>;
    async fn user(&self, id: UserId) -> Result<Option<UserRecord>>;
    /// Every user, local accounts first, then by issuer and subject.
    async fn users(&self) -> Result<Vec<UserRecord>>;
    /// Records a sign-in through an OpenID provider: the user is made the first time, and their name,
    /// e-mail and principals are replaced by what the provider says now. Returns them as stored (a
    /// disabled user stays disabled).
    async fn provider_user(&self, user: &ProviderUser<'_>, now_ms: i64) -> Result<UserRecord>;
    /// Keeps a sign-in that is leaving for its provider, under the SHA-256 of its `state`.
    async fn save_sign_in_flow(&self, state_hash: &str, flow: &SignInFlow) -> Result<()>;
    /// Takes (and deletes) the flow of a `state` coming back, if it started after `since_ms`; forgets
    /// every flow older than that.
    async fn take_sign_in_flow(&self, state_hash: &str, since_ms: i64) -> Result<Option<SignInFlow>>;
    /// Disables (or enables) a user; disabling ends their sessions. False when there is no such user.
    async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<bool>;

    async fn create_token(&self, token: &NewToken<'_>, now_ms: i64) -> Result<TokenRecord>;
    /// A user's tokens, newest first, revoked and expired ones included.
    async fn tokens_of(&self, user: UserId) -> Result<Vec<TokenRecord>>;
    /// Revokes one of `user`'s tokens; false when `user` has no such token.
    async fn revoke_token(&self, user: UserId, token: TokenId, now_ms: i64) -> Result<bool>;
    /// The live token whose secret hashes to `secret_hash` and its owner as stored now; `None` when it
    /// does not exist, is revoked or expired, or its owner is disabled.
    async fn token(&self, secret_hash: &str, now_ms: i64) -> Result<Option<(TokenRecord, UserRecord)>>;
    /// Records a use (callers do so at most once a minute per token).
    async fn mark_token_used(&self, token: TokenId, now_ms: i64) -> Result<()>;

    /// Records a sign-in: the session whose secret hashes to `id_hash` belongs to `user` from now on.
    async fn create_session(&self, id_hash: &str, user: UserId, now_ms: i64, lifetimes: SessionLifetimes)
        -> Result<()>;
    /// The live session whose secret hashes to `id_hash`, with its user as stored now; `None` when it
    /// does not exist, has ended, or its user is disabled. Use renews it (see [`Self::renew_session`]).
    async fn session(&self, id_hash: &str, now_ms: i64, lifetimes: SessionLifetimes) -> Result<Option<SessionRecord>>;
    /// Marks a session used at `now_ms` (callers do so at most once a minute: each is a write).
    async fn renew_session(&self, id_hash: &str, now_ms: i64) -> Result<()>;
    /// Signs out one session.
    async fn delete_session(&self, id_hash: &str) -> Result<()>;
    /// Signs a user out everywhere; returns how many sessions ended.
    async fn delete_sessions_of(&self, user: UserId) -> Result<u64>;
    /// Forgets sessions that have ended; returns how many.
    async fn purge_sessions(&self, now_ms: i64, lifetimes: SessionLifetimes) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_plain_lowercase_ascii() {
        for good in ["alice", "a", "bob.smith", "ops-2", "x_y", "0day"] {
            assert_eq!(check_login(good), Ok(()), "{good}");
        }
        for bad in ["Alice", "", "-lead", ".hidden", "al ice", "alice:admin", "ålice", "a/b", "group:hr"] {
            assert!(check_login(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(check_login(&"a".repeat(65)), Err(LoginNameError::Length));
    }
}
