//! `lore bench auth`: what signing in costs, and what checking a session or an API token adds to every
//! request, on the catalog the configuration names (a temporary SQLite one by default; with
//! `catalog.url`, a database of its own on that PostgreSQL server).
//!
//! Measured in process, through the same `Authenticator` the web service runs in front of every route,
//! so the numbers are the checks themselves, without HTTP around them. With `--oidc-issuer`, also a
//! sign-in through an OpenID provider: the whole round trip of a browser that follows the redirects
//! (Lore's start, the provider's login, the code exchanged and the ID token checked, the session).

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue, Method};
use clap::Args;
use lore_core::accounts::{self, password, NewLocalUser, Scope, TokenRequest};
use lore_core::config::{AuthMode, Config, OidcProviderConfig};
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
    /// Also sign in through this OpenID provider, as `--oidc-login` (by `login_hint`), with client
    /// `lore` and the redirect URI `http://127.0.0.1:9/signin/oidc/bench/callback` registered (the test
    /// provider: `node testkit/oidc-provider/provider.mjs PORT lore only-for-tests-on-loopback URI`).
    #[arg(long, value_name = "URL")]
    oidc_issuer: Option<String>,
    #[arg(long, default_value = "ann")]
    oidc_login: String,
    #[arg(long, default_value = "only-for-tests-on-loopback")]
    oidc_client_secret: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Where the provider sends the browser back; never contacted (the benchmark takes the code from the
/// redirect itself).
const OIDC_REDIRECT: &str = "http://127.0.0.1:9/signin/oidc/bench/callback";

#[derive(Serialize)]
struct AuthBench {
    catalog: &'static str,
    /// Password checked (Argon2id) and a session written.
    sign_in: Latency,
    /// A sign-in through the OpenID provider, redirects followed, token checked, session written.
    oidc_sign_in: Option<Latency>,
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
        if let Some(oidc) = &result.oidc_sign_in {
            row("sign-in through the provider", oidc);
        }
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
    if let Some(issuer) = &args.oidc_issuer {
        config.auth.providers = vec![OidcProviderConfig {
            name: "bench".into(),
            label: None,
            issuer: issuer.clone(),
            client_id: "lore".into(),
            client_secret: Some(args.oidc_client_secret.clone()),
            client_secret_file: None,
            scopes: vec!["email".into(), "profile".into(), "groups".into()],
            user_claim: "sub".into(),
            groups_claim: "groups".into(),
            max_groups: 200,
        }];
    }
    let auth = Authenticator::new(Arc::new(config.clone()), store.clone())?;
    let oidc_sign_in = match &args.oidc_issuer {
        Some(_) => Some(oidc_sign_ins(&auth, &args.oidc_login, args.sign_ins).await?),
        None => None,
    };
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
        oidc_sign_in,
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

/// `count` sign-ins through the provider (after one that reads its metadata and keys), each as a new
/// browser: Lore's start, every redirect at the provider with its cookies, the code back to Lore.
async fn oidc_sign_ins(auth: &Authenticator, login: &str, count: usize) -> anyhow::Result<Latency> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let mut samples = Vec::with_capacity(count);
    for n in 0..=count {
        let started = Instant::now();
        let flow = auth.oidc().start("bench", OIDC_REDIRECT, "/", Some(login)).await?;
        let (code, state) = follow_provider(&http, flow.authorize_url).await?;
        let signed_in = auth.oidc().finish("bench", OIDC_REDIRECT, &code, &state, Some(&flow.browser_secret)).await?;
        auth.start_session(&signed_in.user).await?;
        if n > 0 {
            samples.push(ms(started));
        }
    }
    Ok(Latency::of(&samples))
}

/// Follows the provider's redirects (keeping its cookies, as a browser would) until it sends the
/// browser back to Lore; returns the code and state it sends.
async fn follow_provider(http: &reqwest::Client, mut url: String) -> anyhow::Result<(String, String)> {
    let mut cookies: std::collections::BTreeMap<String, String> = Default::default();
    for _ in 0..12 {
        let jar = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let response = http.get(&url).header(header::COOKIE, jar).send().await?;
        for set in response.headers().get_all(header::SET_COOKIE) {
            if let Some((name, value)) = set.to_str()?.split(';').next().and_then(|pair| pair.split_once('=')) {
                cookies.insert(name.to_string(), value.to_string());
            }
        }
        let Some(location) = response.headers().get(header::LOCATION) else {
            anyhow::bail!("the provider stopped at {url} with {}", response.status());
        };
        let next = reqwest::Url::parse(&url)?.join(location.to_str()?)?;
        if next.as_str().starts_with(OIDC_REDIRECT) {
            let param = |name: &str| next.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
            return Ok((param("code").unwrap_or_default(), param("state").unwrap_or_default()));
        }
        url = next.to_string();
    }
    anyhow::bail!("the provider redirected more than 12 times")
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
