//! The Users page (administrators, `auth.mode = "accounts"`): every account, what it reads as, when it
//! last signed in; disabling one ends its sessions and stops its tokens at once.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use lore_core::accounts::{UserId, LOCAL_ISSUER};
use lore_core::audit::AuditAction;
use lore_core::types::format_utc;

use super::{page, PageResult};
use crate::access::Caller;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    users: Vec<UserRow>,
    groups: Vec<(String, usize)>,
    signed_in_as: Option<String>,
}

struct UserRow {
    id: i64,
    name: String,
    login: String,
    issuer: String,
    principals: String,
    admin: bool,
    disabled: bool,
    last_sign_in: String,
}

/// `GET /admin/users`.
pub async fn users(State(state): State<AppState>, caller: Caller) -> PageResult {
    caller.require_admin()?;
    let users = state.auth.accounts().users().await.map_err(|e| ApiError::internal("cannot list the users", e))?;
    let mut groups: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for user in &users {
        for group in user.principals.iter().filter(|p| p.starts_with("group:")) {
            *groups.entry(group.clone()).or_default() += 1;
        }
    }
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            id: u.id.0,
            name: u.display_name,
            login: u.subject,
            issuer: if u.issuer == LOCAL_ISSUER { "local account".into() } else { u.issuer },
            principals: u.principals.join(", "),
            admin: u.is_admin,
            disabled: u.disabled,
            last_sign_in: u.last_sign_in_ms.map_or("never".into(), format_utc),
        })
        .collect();
    Ok(page(&UsersPage {
        users: rows,
        groups: groups.into_iter().collect(),
        signed_in_as: caller.display_name().map(str::to_string),
    }))
}

/// `POST /admin/users/{id}/disable` and `/enable`.
pub async fn disable(state: State<AppState>, caller: Caller, id: Path<i64>) -> PageResult {
    set_disabled(state, caller, id, true).await
}

pub async fn enable(state: State<AppState>, caller: Caller, id: Path<i64>) -> PageResult {
    set_disabled(state, caller, id, false).await
}

async fn set_disabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    disabled: bool,
) -> PageResult {
    caller.require_admin()?;
    if disabled && caller.user.as_ref().is_some_and(|u| u.id == UserId(id)) {
        return Err(ApiError::BadRequest("you cannot disable your own account".into()).into());
    }
    let changed = state
        .auth
        .accounts()
        .set_disabled(UserId(id), disabled)
        .await
        .map_err(|e| ApiError::internal("cannot change the account", e))?;
    if !changed {
        return Err(ApiError::NotFound(format!("there is no user {id}")).into());
    }
    let action = if disabled { "disabled" } else { "enabled" };
    state.audit.record(&caller, AuditAction::UserChange, &format!("user {id} {action}")).await;
    Ok(Redirect::to("/admin/users").into_response())
}
