//! `lore bench auth`: what signing in costs, and what checking a session or an API token adds to every
//! request, on the catalog the configuration names (a temporary SQLite one by default; with
//! `catalog.url`, a database of its own on that PostgreSQL server).
//!
//! Measured in process, through the same `Authenticator` the web service runs in front of every route,
//! so the numbers are the checks themselves, without HTTP around them.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue, Method};
use clap::Args;
use lore_core::accounts::{self, password, NewLocalUser, Scope, TokenRequest};
use lore_core::config::{AuthMode, Config};
use lore_core::now_ms;
use lore_engine as engine;
use lore_web::auth::Authenticator;
use serde::Serialize;

use super::workers::Scratch;
use super::Latency;

const PASSWORD: &str = "a benchmark's long password";

#[derive(Args)]
pub struct AuthBenchArgs {
    /// Requests checked per credential kind.
    #[arg(long, default_value_t = 5000)]
    requests: usize,
    /// Sign-ins measured (each hashes a password: tens of milliseconds).
    #[arg(long, default_value_t = 30)]
    sign_ins: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct AuthBench {
    catalog: &'static str,
    /// Password checked (Argon2id) and a session written.
    sign_in: Latency,
    /// Who a request acts as, by credential: nobody signs in (`open`), a session cookie, an API token.
    open: Latency,
    session: Latency,
    token: Latency,
    requests: usize,
}

pub async fn run(config: Config, args: AuthBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.requests > 0 && args.sign_ins > 0, "--requests and --sign-ins must be positive");
    let dir = tempfile::tempdir()?;
    let mut config = Config { data_dir: dir.path().join("data"), ..config };
    config.server.principal_header = None;
    let scratch = match config.catalog.url.clone() {
        Some(url) => Some(Scratch::create(&config, &url, &format!("lore_bench_auth_{}", std::process::id())).await?),
        None => None,
    };
    if let Some(scratch) = &scratch {
        config.catalog.url = scratch.config.catalog.url.clone();
    }
    let result = measure(config, &args).await;
    if let Some(scratch) = scratch {
        scratch.remove().await;
    }
    let result = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("lore bench auth: {} catalog, {} requests per credential", result.catalog, result.requests);
        let row = |name: &str, l: &Latency| l.print_row(name, 30, 4);
        row("sign-in (Argon2id + session)", &result.sign_in);
        row("request, nobody signs in", &result.open);
        row("request with a session cookie", &result.session);
        row("request with an API token", &result.token);
    }
    Ok(ExitCode::SUCCESS)
}

async fn measure(mut config: Config, args: &AuthBenchArgs) -> anyhow::Result<AuthBench> {
    let catalog = if config.catalog.url.is_some() { "postgresql" } else { "sqlite" };
    let store = engine::open_accounts_db(&config).await?.accounts;
    let hash = tokio::task::spawn_blocking(|| password::hash(PASSWORD)).await?;
    let principals = vec!["user:bench".to_string(), "group:bench".to_string()];
    let user = NewLocalUser {
        login: "bench",
        display_name: "Bench",
        password_hash: &hash,
        principals: &principals,
        is_admin: false,
    };
    let user = store.create_local_user(&user, now_ms()).await?.expect("a fresh catalog");

    config.auth.mode = Some(AuthMode::Accounts);
    config.auth.max_failed_sign_ins = u32::MAX;
    let auth = Authenticator::new(Arc::new(config.clone()), store.clone())?;
    let client = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut sign_ins = Vec::with_capacity(args.sign_ins);
    let mut cookie = None;
    for _ in 0..args.sign_ins {
        let started = Instant::now();
        cookie = Some(auth.sign_in("bench", PASSWORD, client).await?.cookie);
        sign_ins.push(ms(started));
    }
    let set_cookie = cookie.expect("at least one sign-in").to_str()?.to_string();
    let session = headers(header::COOKIE, set_cookie.split(';').next().unwrap_or_default())?;

    let request = TokenRequest {
        user: user.id,
        name: "bench".into(),
        scopes: vec![Scope::Search],
        principals: None,
        expires_ms: None,
    };
    let (token, _) = accounts::issue_token(store.as_ref(), request, now_ms()).await?;
    let token = headers(header::AUTHORIZATION, &format!("Bearer {token}"))?;

    config.auth.mode = Some(AuthMode::Open);
    let open = Authenticator::new(Arc::new(config), store)?;
    Ok(AuthBench {
        catalog,
        sign_in: Latency::of(&sign_ins),
        open: checks(&open, &HeaderMap::new(), args.requests).await?,
        session: checks(&auth, &session, args.requests).await?,
        token: checks(&auth, &token, args.requests).await?,
        requests: args.requests,
    })
}

fn headers(name: header::HeaderName, value: &str) -> anyhow::Result<HeaderMap> {
    let mut map = HeaderMap::new();
    map.insert(name, HeaderValue::from_str(value)?);
    Ok(map)
}

/// Resolves the caller of a `GET /api/search` `requests` times (after a warm-up); each must succeed.
async fn checks(auth: &Authenticator, headers: &HeaderMap, requests: usize) -> anyhow::Result<Latency> {
    let peer = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut samples = Vec::with_capacity(requests);
    for n in 0..requests + 100 {
        let started = Instant::now();
        let caller = auth.caller(&Method::GET, "/api/search", headers, peer).await?;
        anyhow::ensure!(caller.is_some(), "the benchmark's credential was refused");
        if n >= 100 {
            samples.push(ms(started));
        }
    }
    Ok(Latency::of(&samples))
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
