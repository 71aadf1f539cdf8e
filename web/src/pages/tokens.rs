//! The Tokens page (`auth.mode = "accounts"`): a signed-in user's API tokens, made (and shown once)
//! and revoked here. Browser sessions only: a token cannot make or see tokens.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use lore_core::accounts::{self, Scope, TokenError, TokenId, TokenRecord, TokenRequest};
use lore_core::audit::AuditAction;
use lore_core::now_ms;
use serde::Deserialize;

use super::{page, PageResult};
use crate::access::Caller;
use crate::error::ApiError;
use crate::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    tokens: Vec<TokenRow>,
    /// A token just made: shown this once.
    new_token: Option<String>,
    error: Option<String>,
    principals: Vec<String>,
    signed_in_as: Option<String>,
}

struct TokenRow {
    id: i64,
    name: String,
    hint: String,
    scopes: String,
    narrowed: String,
    state: String,
    last_used: String,
    live: bool,
}

impl TokenRow {
    fn new(token: &TokenRecord, now: i64) -> Self {
        Self {
            id: token.id.0,
            name: token.name.clone(),
            hint: token.hint.clone(),
            scopes: token_scopes(token),
            narrowed: token.principals.as_ref().map(|p| p.join(", ")).unwrap_or_else(|| "all of yours".into()),
            state: token.state(now),
            last_used: token
                .last_used_ms
                .map_or("never".into(), |at| format!("{} min ago", (now - at).max(0) / 60_000)),
            live: token.is_live(now),
        }
    }
}

fn token_scopes(token: &TokenRecord) -> String {
    token.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Deserialize)]
pub struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: Vec<String>,
    /// Comma-separated; empty: all of the owner's principals.
    #[serde(default)]
    principals: String,
    #[serde(default)]
    expires_days: String,
}

/// The signed-in user, or why this page is not for the caller.
fn owner(caller: &Caller) -> Result<lore_core::accounts::UserId, ApiError> {
    match (&caller.user, caller.session()) {
        (Some(user), Some(_)) => Ok(user.id),
        _ => Err(ApiError::NotFound("API tokens belong to signed-in users (auth.mode = \"accounts\")".into())),
    }
}

async fn render(state: &AppState, caller: &Caller, new_token: Option<String>, error: Option<String>) -> PageResult {
    let user = owner(caller)?;
    let store = state.auth.accounts();
    let now = now_ms();
    let tokens = store.tokens_of(user).await.map_err(|e| ApiError::internal("cannot list the tokens", e))?;
    let principals = match store.user(user).await.map_err(|e| ApiError::internal("cannot read the user", e))? {
        Some(record) => record.principals,
        None => Vec::new(),
    };
    Ok(page(&TokensPage {
        tokens: tokens.iter().map(|t| TokenRow::new(t, now)).collect(),
        new_token,
        error,
        principals,
        signed_in_as: caller.display_name().map(str::to_string),
    }))
}

/// `GET /tokens`.
pub async fn tokens(State(state): State<AppState>, caller: Caller) -> PageResult {
    render(&state, &caller, None, None).await
}

/// `POST /tokens`: makes one and shows it once.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    form: Result<Form<NewTokenForm>, ApiError>,
) -> PageResult {
    let user = owner(&caller)?;
    let Form(form) = form?;
    let scopes: Option<Vec<Scope>> = form.scope.iter().map(|s| Scope::parse(s)).collect();
    let Some(scopes) = scopes else { return Err(ApiError::BadRequest("unknown scope".into()).into()) };
    let principals: Vec<String> =
        form.principals.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    let days: u32 = match form.expires_days.trim() {
        "" => 90,
        days => days.parse().map_err(|_| ApiError::BadRequest("the expiry is a number of days".into()))?,
    };
    let now = now_ms();
    let request = TokenRequest {
        user,
        name: form.name,
        scopes,
        principals: (!principals.is_empty()).then_some(principals),
        expires_ms: (days > 0).then(|| now + i64::from(days) * 86_400_000),
    };
    match accounts::issue_token(state.auth.accounts(), request, now).await {
        Ok((token, record)) => {
            tracing::info!(user = user.0, token = record.id.0, "made an API token");
            let subject = format!("{} ({}: {})", record.id.0, record.name, token_scopes(&record));
            state.audit.record(&caller, AuditAction::TokenCreate, &subject).await;
            render(&state, &caller, Some(token), None).await
        }
        Err(TokenError::Store(e)) => Err(ApiError::internal("cannot make the token", e).into()),
        Err(refused) => render(&state, &caller, None, Some(refused.to_string())).await,
    }
}

/// `POST /tokens/{id}/revoke`.
pub async fn revoke(State(state): State<AppState>, caller: Caller, Path(id): Path<i64>) -> PageResult {
    let user = owner(&caller)?;
    let revoked = state
        .auth
        .accounts()
        .revoke_token(user, TokenId(id), now_ms())
        .await
        .map_err(|e| ApiError::internal("cannot revoke the token", e))?;
    if !revoked {
        return Err(ApiError::NotFound("you have no live token with that id".into()).into());
    }
    tracing::info!(user = user.0, token = id, "revoked an API token");
    state.audit.record(&caller, AuditAction::TokenRevoke, &id.to_string()).await;
    Ok(Redirect::to("/tokens").into_response())
}
