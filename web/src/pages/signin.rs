//! Signing in and out (`auth.mode = "accounts"`): `GET /signin` (the form), `POST /signin` (a login
//! name and password checked, a new session, back to where the browser was going), `POST /signout`.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lore_core::audit::AuditAction;
use lore_core::config::AuthMode;
use serde::Deserialize;

use super::{page, PageResult};
use crate::access::Caller;
use crate::error::ApiError;
use crate::extract::{Form, Query};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    next: String,
    login: String,
    error: Option<String>,
    signed_in_as: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NextParam {
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Where to go after signing in: a path on this site only. Anything else (`//evil.example`,
/// `https://...`, `/\evil`) would make the sign-in page an open redirect.
fn local_path(next: &str) -> String {
    let safe = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if safe {
        next.to_string()
    } else {
        "/".into()
    }
}

fn sign_in_page(next: &str, login: &str, error: Option<String>) -> Response {
    page(&SignInPage { next: local_path(next), login: login.to_string(), error, signed_in_as: None })
}

fn require_accounts(state: &AppState) -> Result<(), ApiError> {
    match state.auth.mode() {
        AuthMode::Accounts => Ok(()),
        _ => Err(ApiError::NotFound("signing in is not enabled here (auth.mode = \"accounts\")".into())),
    }
}

/// `GET /signin`.
pub async fn form(State(state): State<AppState>, params: Result<Query<NextParam>, ApiError>) -> PageResult {
    require_accounts(&state)?;
    let params = params.map(|Query(params)| params).unwrap_or_default();
    Ok(sign_in_page(&params.next, "", None))
}

/// `POST /signin`.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    form: Result<Form<SignInForm>, ApiError>,
) -> PageResult {
    require_accounts(&state)?;
    let Form(form) = form?;
    let client = Some(peer.ip());
    match state.auth.sign_in(&form.login, &form.password, client).await {
        Ok(session) => {
            state
                .audit
                .record_as(Some(session.user), session.display_name, client, AuditAction::SignIn, "password")
                .await;
            let mut response = Redirect::to(&local_path(&form.next)).into_response();
            response.headers_mut().insert(header::SET_COOKIE, session.cookie);
            Ok(response)
        }
        Err(error @ (ApiError::Unauthorized(_) | ApiError::RateLimited { .. })) => {
            let attempted: String = form.login.trim().chars().take(64).collect();
            state.audit.record_as(None, attempted, client, AuditAction::SignInFailed, &error.to_string()).await;
            let mut response = sign_in_page(&form.next, &form.login, Some(error.to_string()));
            *response.status_mut() = error.status();
            if let ApiError::RateLimited { retry_after_secs, .. } = error {
                response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            Ok(response)
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /signout`: the session ends here and in the database; the cookie is cleared.
pub async fn sign_out(State(state): State<AppState>, caller: Caller) -> PageResult {
    let clear = state.auth.sign_out(&caller).await?;
    if caller.session().is_some() {
        state.audit.record(&caller, AuditAction::SignOut, "").await;
    }
    let target = if state.auth.mode() == AuthMode::Accounts { "/signin" } else { "/" };
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, target.parse().expect("a fixed path")), (header::SET_COOKIE, clear)],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path("/documents/3?start=1"), "/documents/3?start=1");
        for foreign in ["//evil.example/", "https://evil.example", "/\\evil.example", "evil", "", "/a\nb"] {
            assert_eq!(local_path(foreign), "/", "{foreign:?}");
        }
    }
}
