//! The routes and the middleware every request passes: give it the state, get the router (timeouts,
//! body limits, allowed hosts, security headers, same-origin writes, request metrics, panics caught).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::access::is_api_path;
use crate::api;
use crate::error::ApiError;
use crate::exposure::{self, AllowedHosts};
use crate::metrics;
use crate::pages;
use crate::state::AppState;

/// Every route with its limits and the middleware every response passes.
pub fn routes(state: AppState, hosts: AllowedHosts) -> Router {
    let server = &state.config.server;
    let body_limit = server.max_request_kb * 1024;
    // Everything but answers (which wait for the model) and streams must finish in time.
    let timed = Router::new()
        .route("/", get(pages::search::home))
        .route("/documents/{id}", get(pages::document::document))
        .route("/signin", get(pages::signin::form).post(pages::signin::sign_in))
        .route("/signin/oidc/{provider}", get(pages::signin::provider))
        .route("/signin/oidc/{provider}/callback", get(pages::signin::provider_callback))
        .route("/signout", post(pages::signin::sign_out))
        .route("/tokens", get(pages::tokens::tokens).post(pages::tokens::create))
        .route("/tokens/{id}/revoke", post(pages::tokens::revoke))
        .route("/admin", get(pages::admin::admin))
        .route("/admin/sources", post(pages::admin::add))
        .route("/admin/sources/{name}/sync", post(pages::admin::sync))
        .route("/admin/sources/{name}/remove", post(pages::admin::remove))
        .route("/static/{name}", get(pages::assets::asset))
        .route("/api/search", get(api::search::search))
        .route("/api/documents/{id}", get(api::documents::document))
        .route("/api/sources", get(api::sources::sources).post(api::sources::add_source))
        .route("/api/sources/{name}", axum::routing::delete(api::sources::remove_source))
        .route("/api/sources/{name}/sync", post(api::sources::sync_source))
        .route("/api/ingest", get(api::sources::ingest_status))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/audit", get(api::audit::audit))
        .route("/api/conversations", get(api::conversations::conversations))
        .route("/api/conversations/{id}", get(api::conversations::conversation).delete(api::conversations::delete))
        .route("/conversations/{id}/delete", post(pages::search::delete_conversation))
        .route("/audit", get(pages::audit::audit))
        .route("/admin/users", get(pages::users::users))
        .route("/admin/why", get(pages::why::why))
        .route("/admin/users/{id}/disable", post(pages::users::disable))
        .route("/admin/users/{id}/enable", post(pages::users::enable))
        .route("/v1/models", get(api::openai::models))
        .route("/healthz", get(api::health::healthz))
        .route("/readyz", get(api::health::readyz))
        .route("/metrics", get(api::health::metrics))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(server.request_timeout_secs),
        ));
    let streaming = Router::new()
        .route("/ask", get(pages::search::ask_form).post(pages::search::ask_page))
        .route("/documents/{id}/file", get(api::documents::download))
        .route("/api/ask", post(api::ask::ask))
        .route("/api/ingest/events", get(api::sources::ingest_events))
        .route("/v1/chat/completions", post(api::openai::chat_completions));
    let vary = Arc::new(vary_header(server.principal_header.as_deref()));
    timed
        .merge(streaming)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), identify))
        .layer(middleware::from_fn(same_origin_writes))
        .layer(middleware::from_fn_with_state(vary, security_headers))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), metrics::track_requests))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(server.header_timeout_secs)))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(hosts, exposure::require_allowed_host))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("the request crashed; the error is in the server log".into()).into_response()
        }))
        .with_state(state)
}

/// Resolves who every request acts as and leaves it for the `Caller` extractor; refuses a request
/// whose credentials are malformed or come from where they may not, and a signed-in browser's write
/// that cannot show it comes from Lore's own pages.
async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let refuse =
        |path: &str, error: ApiError| if is_api_path(path) { error.into_response() } else { pages::error_page(error) };
    let path = request.uri().path().to_string();
    match state.auth.caller(request.method(), &path, request.headers(), peer).await {
        Ok(Some(caller)) => {
            if caller.session().is_some() && !says_where_it_comes_from(request.method(), request.headers()) {
                let error = ApiError::Forbidden(
                    "this change came without proof that it was sent from Lore's own pages (Origin)".into(),
                );
                return refuse(&path, error);
            }
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(error) => refuse(&path, error),
    }
}

/// A cookie-authenticated write must say where it comes from: browsers send `Origin` (or
/// `Sec-Fetch-Site`) with every POST and DELETE, and `same_origin_writes` compares it with the host.
/// A write with neither did not come from a browser page of ours.
fn says_where_it_comes_from(method: &Method, headers: &axum::http::HeaderMap) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || headers.contains_key(header::ORIGIN)
        || headers.get("sec-fetch-site").is_some_and(|v| v == "same-origin")
}

/// What a response depends on besides its URL: who is asking.
fn vary_header(principal_header: Option<&str>) -> HeaderValue {
    let mut names = vec!["Cookie", "Authorization"];
    names.extend(principal_header);
    HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static("Cookie, Authorization"))
}

async fn not_found(request: Request) -> Response {
    let error = ApiError::NotFound(format!("there is nothing at {}", request.uri().path()));
    if is_api_path(request.uri().path()) {
        error.into_response()
    } else {
        pages::error_page(error)
    }
}

/// Pages load only this site's scripts and styles; nothing is framed, sniffed, or kept by a cache: every
/// response but the static assets depends on who asks.
async fn security_headers(State(vary): State<Arc<HeaderValue>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'; object-src 'none'",
    ));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, (*vary).clone());
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("same-origin"));
    response
}

/// Refuses writes that a browser sends on behalf of another site (cross-site request forgery): a page
/// elsewhere must not add `/etc` as a source through a user's browser. Clients that are not browsers
/// send no `Origin` and are unaffected.
async fn same_origin_writes(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site");
    let foreign_origin = match (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), headers.get(header::HOST)) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split("://").nth(1).unwrap_or(origin);
            host.to_str().map_or(true, |host| origin_host != host)
        }
        _ => false,
    };
    if cross_site || foreign_origin {
        let error = ApiError::Forbidden("requests from other sites may not change anything here".into());
        return (StatusCode::FORBIDDEN, error).into_response();
    }
    next.run(request).await
}
