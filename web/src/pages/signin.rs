//! Signing in and out (`auth.mode = "accounts"`): `GET /signin` (the form and a button per identity
//! provider), `POST /signin` (a login name and password checked, a new session, back to where the
//! browser was going), `GET /signin/oidc/{provider}` (off to the provider) and its `/callback` (back,
//! checked, a new session), `POST /signout`.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lore_core::audit::AuditAction;
use lore_core::config::AuthMode;
use serde::Deserialize;

use super::{page, PageResult};
use crate::access::Caller;
use crate::auth::oidc::OidcError;
use crate::error::ApiError;
use crate::extract::{Form, Query};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    next: String,
    login: String,
    error: Option<String>,
    /// `(name, label)` of each identity provider.
    providers: Vec<(String, String)>,
    /// The `next` parameter, encoded for the providers' links.
    next_query: String,
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

fn sign_in_page(state: &AppState, next: &str, login: &str, error: Option<String>) -> Response {
    let next = local_path(next);
    page(&SignInPage {
        next_query: crate::access::percent_encode(&next),
        next,
        login: login.to_string(),
        error,
        providers: state.auth.oidc().list(),
        signed_in_as: None,
    })
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
    Ok(sign_in_page(&state, &params.next, "", None))
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
            let mut response = sign_in_page(&state, &form.next, &form.login, Some(error.to_string()));
            *response.status_mut() = error.status();
            if let ApiError::RateLimited { retry_after_secs, .. } = error {
                response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            Ok(response)
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ProviderParams {
    #[serde(default)]
    next: String,
    /// Passed on to the provider (which account to sign in with).
    login_hint: Option<String>,
}

/// Where the provider sends the browser back: on `server.public_url`, else on the address the browser
/// used (its `Host` passed the allowed-hosts check in front of every route).
fn callback_url(state: &AppState, headers: &HeaderMap, provider: &str) -> Result<String, ApiError> {
    let base = match &state.config.server.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            format!("http://{}", host.ok_or_else(|| ApiError::BadRequest("the request names no host".into()))?)
        }
    };
    Ok(format!("{base}/signin/oidc/{provider}/callback"))
}

/// `GET /signin/oidc/{provider}`: off to the provider, with the flow's cookie.
pub async fn provider(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    params: Result<Query<ProviderParams>, ApiError>,
) -> PageResult {
    require_accounts(&state)?;
    let params = params.map(|Query(params)| params).unwrap_or_default();
    state.auth.admit_sign_in_flow(Some(peer.ip()))?;
    let callback = callback_url(&state, &headers, &provider)?;
    let started = state
        .auth
        .oidc()
        .start(&provider, &callback, &local_path(&params.next), params.login_hint.as_deref())
        .await
        .map_err(oidc_error)?;
    let location = header::HeaderValue::from_str(&started.authorize_url)
        .map_err(|_| ApiError::internal("the provider's address is not a valid header", "location"))?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location), (header::SET_COOKIE, state.auth.flow_cookie().set(&started.browser_secret))],
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /signin/oidc/{provider}/callback`: the provider's answer, checked; a new session.
pub async fn provider_callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    params: Result<Query<CallbackParams>, ApiError>,
) -> PageResult {
    require_accounts(&state)?;
    let Query(params) = params?;
    let client = Some(peer.ip());
    let finished = match (&params.code, &params.state, &params.error) {
        (Some(code), Some(flow), None) => {
            let callback = callback_url(&state, &headers, &provider)?;
            let browser = state.auth.flow_cookie().read(&headers);
            state.auth.oidc().finish(&provider, &callback, code, flow, browser.as_deref()).await.map_err(oidc_error)
        }
        (_, _, Some(error)) => {
            let detail: String = params.error_description.as_deref().unwrap_or_default().chars().take(200).collect();
            let error: String = error.chars().take(64).collect();
            Err(ApiError::Unauthorized(format!("the identity provider did not sign you in: {error} {detail}")))
        }
        _ => Err(ApiError::BadRequest("the provider's answer has no code and state".into())),
    };
    let signed_in = match finished {
        Ok(signed_in) => signed_in,
        Err(error) => {
            state
                .audit
                .record_as(None, format!("oidc:{provider}"), client, AuditAction::SignInFailed, &error.to_string())
                .await;
            let mut response = sign_in_page(&state, "/", "", Some(error.to_string()));
            *response.status_mut() = error.status();
            response.headers_mut().append(header::SET_COOKIE, state.auth.flow_cookie().clear());
            return Ok(response);
        }
    };
    state.auth.sign_in_flow_finished(client);
    let session = state.auth.start_session(&signed_in.user).await?;
    tracing::info!(user = signed_in.user.id.0, provider = %signed_in.provider, "signed in");
    let subject = format!("oidc:{}", signed_in.provider);
    state.audit.record_as(Some(session.user), session.display_name, client, AuditAction::SignIn, &subject).await;
    let mut response = Redirect::to(&local_path(&signed_in.next_path)).into_response();
    response.headers_mut().append(header::SET_COOKIE, session.cookie);
    response.headers_mut().append(header::SET_COOKIE, state.auth.flow_cookie().clear());
    Ok(response)
}

fn oidc_error(error: OidcError) -> ApiError {
    match error {
        OidcError::UnknownProvider(_) => ApiError::NotFound(error.to_string()),
        OidcError::Unreachable { .. } => ApiError::NotReady(error.to_string()),
        OidcError::Store(e) => ApiError::internal("cannot record the sign-in", e),
        _ => ApiError::Unauthorized(error.to_string()),
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
