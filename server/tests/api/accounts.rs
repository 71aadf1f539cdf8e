//! Signing in to Lore itself (`auth.mode = "accounts"`): nothing without a session, sessions that are
//! new at every sign-in and end at sign-out, cookies a script cannot read, writes that must come from
//! Lore's own pages, password guessing slowed down, and the proxy header trusted from proxies only.

use lore_core::accounts::{password, AccountStore, NewLocalUser};
use lore_core::catalog::SqliteCatalog;
use lore_core::config::{AuthMode, IpNetwork};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::json;

use crate::helpers::{spawn_app_with, TestApp};

const PASSWORD: &str = "correct horse battery staple";

/// The app where people sign in, with alice (administrator, no groups) and bob (`group:eng`).
pub(crate) async fn accounts_app(tweak: impl FnOnce(&mut lore_core::config::Config)) -> TestApp {
    let app = spawn_app_with(|config| {
        config.auth.mode = Some(AuthMode::Accounts);
        tweak(config);
    })
    .await;
    create_user(&app, "alice", true, &[]).await;
    create_user(&app, "bob", false, &["group:eng"]).await;
    app
}

/// A local account reading as `user:<login>` and `groups`, shown as the login in capitals.
pub(crate) async fn create_user(app: &TestApp, login: &str, admin: bool, groups: &[&str]) {
    let store = SqliteCatalog::open(&app.data_dir.join("catalog.sqlite")).await.unwrap();
    let mut principals = vec![format!("user:{login}")];
    principals.extend(groups.iter().map(|g| g.to_string()));
    let hash = password::hash(PASSWORD);
    let user = NewLocalUser {
        login,
        display_name: &login.to_uppercase(),
        password_hash: &hash,
        principals: &principals,
        is_admin: admin,
    };
    store.create_local_user(&user, lore_core::now_ms()).await.unwrap().unwrap();
}

/// Signs in through the form; returns the response (303 with the cookie on success).
async fn sign_in(app: &TestApp, login: &str, password: &str, next: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/signin", app.url))
        .header(ORIGIN, &app.url)
        .form(&[("login", login), ("password", password), ("next", next)])
        .send()
        .await
        .unwrap()
}

/// The `name=value` part of a successful sign-in's cookie.
pub(crate) async fn session_of(app: &TestApp, login: &str) -> String {
    let response = sign_in(app, login, PASSWORD, "/").await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    cookie.split(';').next().unwrap().to_string()
}

/// A POST as the signed-in browser of `cookie` sends it from one of Lore's own pages.
pub(crate) fn post_from_page(app: &TestApp, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    app.client.post(format!("{}{path}", app.url)).header(COOKIE, cookie).header(ORIGIN, &app.url)
}

/// Adds the docs folder as source `name` readable by `acl`, as the signed-in administrator of
/// `cookie`, and waits until it is indexed.
async fn add_source_as(app: &TestApp, cookie: &str, name: &str, acl: &[&str]) {
    add_folder_as(app, cookie, app.docs_path(), name, acl).await;
}

/// Adds `folder` as source `name` readable by `acl` (or re-adds it with new readers), as the signed-in
/// administrator of `cookie`, and waits until the worker is done.
pub(crate) async fn add_folder_as(app: &TestApp, cookie: &str, folder: &std::path::Path, name: &str, acl: &[&str]) {
    let add = json!({"path": folder, "name": name, "acl": acl});
    let request = post_from_page(&app, "/api/sources", cookie).json(&add);
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    app.wait_for_ingest(&[("Cookie", cookie)]).await;
}

pub(crate) async fn get_with(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client.get(format!("{}{path}", app.url)).header(COOKIE, cookie).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_served_without_a_session() {
    let app = accounts_app(|_| {}).await;

    let api = app.get("/api/search?q=zebracorn").await;
    assert_eq!(api.status(), 401);
    assert_eq!(api.headers()[WWW_AUTHENTICATE], "Bearer realm=\"lore\"");
    let body = api.text().await.unwrap();
    assert!(body.contains("\"unauthorized\""), "{body}");
    for path in ["/api/sources", "/api/ingest", "/api/documents/1", "/v1/models"] {
        assert_eq!(app.get(path).await.status(), 401, "{path}");
    }
    let ask = app.post_json("/api/ask", &json!({"question": "what is the canary word?"})).await;
    assert_eq!(ask.status(), 401);

    // Pages send the browser to sign in, and back afterwards.
    let page = app.get("/?q=zebracorn").await;
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()[LOCATION], "/signin?next=/%3Fq%3Dzebracorn");
    for path in ["/admin", "/documents/1"] {
        assert_eq!(app.get(path).await.status(), 303, "{path}");
    }
    let form = app.get("/signin?next=/%3Fq%3Dzebracorn").await;
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains("name=\"next\" value=\"/?q=zebracorn\""), "{html}");
    // What stays open: health, static assets.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/static/app.css").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_starts_a_new_private_session_and_sign_out_ends_it() {
    let app = accounts_app(|_| {}).await;

    let wrong = sign_in(&app, "alice", "not the password", "/").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    let wrong_text = wrong.text().await.unwrap();
    assert!(wrong_text.contains("wrong login name or password"), "{wrong_text}");
    let unknown = sign_in(&app, "mallory", "not the password", "/").await;
    assert_eq!(unknown.status(), 401);
    assert!(unknown.text().await.unwrap().contains("wrong login name or password"), "same answer for both");

    let response = sign_in(&app, "alice", PASSWORD, "/admin").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/admin");
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{attribute} missing: {set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let first = set_cookie.split(';').next().unwrap().to_string();

    let admin = get_with(&app, "/admin", &first).await;
    assert_eq!(admin.status(), 200);
    assert!(admin.text().await.unwrap().contains("Signed in as <strong>ALICE</strong>"));
    assert_eq!(get_with(&app, "/api/sources", &first).await.status(), 200);

    // Every sign-in is a new session; a planted value opens nothing.
    let second = session_of(&app, "alice").await;
    assert_ne!(first, second);
    let planted = format!("lore_session=lore_s_{}", "0".repeat(64));
    assert_eq!(get_with(&app, "/api/sources", &planted).await.status(), 401);
    // Redirects after sign-in stay on this site.
    let away = sign_in(&app, "alice", PASSWORD, "//evil.example/").await;
    assert_eq!(away.headers()[LOCATION], "/");

    let out = post_from_page(&app, "/signout", &first).send().await.unwrap();
    assert_eq!(out.status(), 303);
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(get_with(&app, "/api/sources", &first).await.status(), 401, "signed out");
    assert_eq!(get_with(&app, "/api/sources", &second).await.status(), 200, "the other session stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_writes_must_come_from_lores_own_pages() {
    let app = accounts_app(|_| {}).await;
    let alice = session_of(&app, "alice").await;
    let add = json!({"path": app.docs_path(), "name": "docs"});
    let post = |origin: Option<&str>| {
        let request = app.client.post(format!("{}/api/sources", app.url)).header(COOKIE, &alice).json(&add);
        match origin {
            Some(origin) => request.header(ORIGIN, origin),
            None => request,
        }
    };
    assert_eq!(post(None).send().await.unwrap().status(), 403, "no Origin: a forged form or a stripped header");
    assert_eq!(post(Some("http://evil.example")).send().await.unwrap().status(), 403, "another site");
    let own = post(Some(&app.url)).send().await.unwrap();
    assert_eq!(own.status(), 202, "{}", own.text().await.unwrap());
    // A non-administrator may not, even from the right page.
    let bob = session_of(&app, "bob").await;
    let response = post_from_page(&app, "/api/sources", &bob).json(&add).send().await.unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_reads_with_their_own_principals() {
    let app = accounts_app(|_| {}).await;
    app.write("eng/design.md", "# Design\n\nThe engineering canary is quetzalfrost.\n");
    let alice = session_of(&app, "alice").await;
    add_source_as(&app, &alice, "eng", &["group:eng"]).await;

    let bob = session_of(&app, "bob").await;
    let as_bob = get_with(&app, "/api/search?q=quetzalfrost", &bob).await.text().await.unwrap();
    assert!(as_bob.contains("quetzalfrost"), "bob is in group:eng: {as_bob}");
    let as_alice = get_with(&app, "/api/search?q=quetzalfrost", &alice).await.text().await.unwrap();
    assert!(!as_alice.contains("quetzalfrost"), "alice administers but is not in group:eng: {as_alice}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_guessing_is_slowed_down() {
    let app = accounts_app(|config| config.auth.max_failed_sign_ins = 3).await;
    for _ in 0..3 {
        assert_eq!(sign_in(&app, "bob", "guess guess guess", "/").await.status(), 401);
    }
    let locked = sign_in(&app, "bob", PASSWORD, "/").await;
    assert_eq!(locked.status(), 429, "even the right password waits out the window");
    assert!(locked.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_principal_header_is_trusted_only_from_the_configured_proxies() {
    let app = spawn_app_with(|config| {
        config.server.principal_header = Some("X-Lore-Principals".into());
        config.server.trusted_proxies = vec!["10.0.0.0/8".parse::<IpNetwork>().unwrap()];
    })
    .await;
    let forged = app
        .client
        .get(format!("{}/api/sources", app.url))
        .header("X-Lore-Principals", "role:admin")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "127.0.0.1 is not a trusted proxy here");
    assert!(forged.text().await.unwrap().contains("server.trusted_proxies"));
    assert_eq!(app.get("/api/sources").await.status(), 200, "without the header: no principals");
    assert_eq!(app.get("/signin").await.status(), 404, "no sign-in in proxy mode");
}

/// Makes an API token on the Tokens page and returns it (the page shows it once).
pub(crate) async fn make_token(app: &TestApp, cookie: &str, name: &str, scopes: &[&str], principals: &str) -> String {
    let mut form: Vec<(&str, &str)> = vec![("name", name), ("principals", principals), ("expires_days", "30")];
    form.extend(scopes.iter().map(|s| ("scope", *s)));
    let response = post_from_page(&app, "/tokens", cookie).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let start = html.find("value=\"lore_t_").unwrap_or_else(|| panic!("no token on the page: {html}")) + 7;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

pub(crate) fn with_token(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client.request(method, format!("{}{path}", app.url)).bearer_auth(token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_act_as_their_owner_within_their_scopes_until_revoked() {
    let app = accounts_app(|_| {}).await;
    app.write("eng/design.md", "# Design\n\nThe engineering canary is quetzalfrost.\n");
    let alice = session_of(&app, "alice").await;
    add_source_as(&app, &alice, "eng", &["group:eng"]).await;

    let bob = session_of(&app, "bob").await;
    let search = make_token(&app, &bob, "search script", &["search"], "").await;
    let found = with_token(&app, reqwest::Method::GET, "/api/search?q=quetzalfrost", &search).send().await.unwrap();
    assert_eq!(found.status(), 200);
    assert!(found.text().await.unwrap().contains("quetzalfrost"), "the token reads as bob");
    let ask = with_token(&app, reqwest::Method::POST, "/api/ask", &search).json(&json!({"question": "canary?"}));
    let refused = ask.send().await.unwrap();
    assert_eq!(refused.status(), 403, "no ask scope");
    assert!(refused.text().await.unwrap().contains("may not ask"));
    for page in ["/", "/tokens", "/admin"] {
        let response = with_token(&app, reqwest::Method::GET, page, &search).send().await.unwrap();
        assert_eq!(response.status(), 403, "{page}: pages need a session");
    }
    let sources = with_token(&app, reqwest::Method::GET, "/api/sources", &search).send().await.unwrap();
    assert_eq!(sources.status(), 403, "no admin scope");
    let both = with_token(&app, reqwest::Method::GET, "/api/search?q=x", &search).header(COOKIE, &bob);
    assert_eq!(both.send().await.unwrap().status(), 400, "a token is never combined with a cookie");

    // Narrowed to bob's user principal: group:eng's documents are not its to read.
    let narrow = make_token(&app, &bob, "narrow", &["search"], "user:bob").await;
    let hidden = with_token(&app, reqwest::Method::GET, "/api/search?q=quetzalfrost", &narrow).send().await.unwrap();
    assert!(!hidden.text().await.unwrap().contains("quetzalfrost"));
    // A principal bob does not have cannot be given to a token.
    let page = post_from_page(&app, "/tokens", &bob)
        .form(&[("name", "sneaky"), ("scope", "search"), ("principals", "group:hr")])
        .send()
        .await
        .unwrap();
    let text = page.text().await.unwrap();
    assert!(text.contains("the owner does not have group:hr") && !text.contains("value=\"lore_t_"), "{text}");

    // Revoked on the page: refused at once; a made-up token likewise.
    let listed = get_with(&app, "/tokens", &bob).await.text().await.unwrap();
    assert!(listed.contains("search script") && !listed.contains(&search), "the page never shows a token again");
    let row = &listed[listed.find("search script").unwrap()..];
    let id = row.split("action=\"/tokens/").nth(1).and_then(|rest| rest.split('/').next()).unwrap().to_string();
    let revoke = post_from_page(&app, &format!("/tokens/{id}/revoke"), &bob).send().await.unwrap();
    assert_eq!(revoke.status(), 303);
    let after = with_token(&app, reqwest::Method::GET, "/api/search?q=x", &search).send().await.unwrap();
    assert_eq!(after.status(), 401, "revoked");
    assert_eq!(after.headers()[WWW_AUTHENTICATE], "Bearer realm=\"lore\"");
    let made_up = format!("lore_t_{}", "a".repeat(64));
    let response = with_token(&app, reqwest::Method::GET, "/api/search?q=x", &made_up).send().await.unwrap();
    assert_eq!(response.status(), 401);
    // alice's session cannot revoke bob's tokens.
    let other = post_from_page(&app, &format!("/tokens/{id}/revoke"), &alice).send().await.unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_client_authenticates_with_a_token_as_its_api_key() {
    let app = accounts_app(|_| {}).await;
    app.write("handbook.md", "# Handbook\n\nThe office opens at nine o'clock every weekday.\n");
    let alice = session_of(&app, "alice").await;
    add_source_as(&app, &alice, "handbook", &["everyone"]).await;
    app.wait_until_ready().await;

    let key = make_token(&app, &alice, "chat client", &["ask"], "").await;
    let models = with_token(&app, reqwest::Method::GET, "/v1/models", &key).send().await.unwrap();
    assert_eq!(models.status(), 200);
    let chat = json!({"model": "lore", "messages": [{"role": "user", "content": "When does the office open?"}]});
    let response =
        with_token(&app, reqwest::Method::POST, "/v1/chat/completions", &key).json(&chat).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["choices"][0]["message"]["content"].is_string(), "{body}");
    let anonymous = app.client.post(format!("{}/v1/chat/completions", app.url)).json(&chat).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // The official OpenAI Python client, with the token as its API key.
    let (url, key) = (app.url.clone(), key.clone());
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(lore_testkit::openai_client_python())
            .args(["-c", OPENAI_CLIENT_SCRIPT])
            .env("LORE_URL", url)
            .env("LORE_KEY", key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["models"], json!(["lore"]));
    assert!(!seen["reply"].as_str().unwrap().is_empty() && !seen["streamed"].as_str().unwrap().is_empty(), "{seen}");
    assert_eq!(seen["has_lore_answer"], true, "the answer object rides along under `lore`");
    assert_eq!(seen["made_up_key"], "AuthenticationError");
}

/// Lists the models, asks once whole and once streamed, then tries a made-up key; prints what it saw.
const OPENAI_CLIENT_SCRIPT: &str = r#"
import json, os, openai
client = openai.OpenAI(base_url=os.environ["LORE_URL"] + "/v1", api_key=os.environ["LORE_KEY"], max_retries=0)
messages = [{"role": "user", "content": "When does the office open?"}]
models = [m.id for m in client.models.list()]
reply = client.chat.completions.create(model="lore", messages=messages)
stream = client.chat.completions.create(model="lore", messages=messages, stream=True)
streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
try:
    openai.OpenAI(base_url=client.base_url, api_key="lore_t_" + "a" * 64, max_retries=0).models.list()
    made_up = "accepted"
except openai.AuthenticationError as error:
    made_up = type(error).__name__
print(json.dumps({
    "models": models,
    "reply": reply.choices[0].message.content,
    "has_lore_answer": "lore" in (reply.model_extra or {}),
    "streamed": streamed,
    "made_up_key": made_up,
}))
"#;

/// The audit log as `/api/audit` serves it (JSON lines), once it holds at least `at_least` events of
/// `action` (events are written in the background).
async fn audit_events(app: &TestApp, cookie: &str, action: &str, at_least: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = get_with(app, &format!("/api/audit?action={action}"), cookie).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        let events: Vec<serde_json::Value> =
            response.text().await.unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        if events.len() >= at_least || std::time::Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_who_did_what_and_only_administrators_read_it() {
    let app = accounts_app(|_| {}).await;
    app.write("eng/design.md", "# Design\n\nThe engineering canary is quetzalfrost.\n");
    assert_eq!(sign_in(&app, "bob", "a wrong password here", "/").await.status(), 401);
    let alice = session_of(&app, "alice").await;
    add_source_as(&app, &alice, "eng", &["group:eng"]).await;
    let bob = session_of(&app, "bob").await;
    let hits: serde_json::Value = get_with(&app, "/api/search?q=quetzalfrost", &bob).await.json().await.unwrap();
    let id = hits["hits"][0]["document_id"].as_i64().expect("bob reads group:eng");
    assert_eq!(get_with(&app, &format!("/documents/{id}"), &bob).await.status(), 200);

    let searches = audit_events(&app, &alice, "search", 1).await;
    assert_eq!(searches.len(), 1, "{searches:?}");
    assert_eq!(searches[0]["actor"], "BOB");
    assert_eq!(searches[0]["subject"], "quetzalfrost");
    assert_eq!(searches[0]["client"], "127.0.0.1");
    assert!(searches[0]["user"].is_i64() && searches[0]["at_ms"].is_i64());
    let opened = audit_events(&app, &alice, "open", 1).await;
    assert_eq!(opened[0]["subject"], id.to_string());
    let failed = audit_events(&app, &alice, "sign_in_failed", 1).await;
    assert_eq!(failed[0]["actor"], "bob");
    assert!(failed[0]["user"].is_null());
    assert_eq!(audit_events(&app, &alice, "sign_in", 2).await.len(), 2);
    assert_eq!(audit_events(&app, &alice, "source_add", 1).await[0]["actor"], "ALICE");

    // Only administrators read it; alice, who may not read group:eng, sees the document's id, not its title.
    assert_eq!(get_with(&app, "/api/audit", &bob).await.status(), 403);
    assert_eq!(get_with(&app, "/audit", &bob).await.status(), 403);
    let page = get_with(&app, "/audit", &alice).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("quetzalfrost") && html.contains(&format!("document {id}")), "{html}");
    assert!(!html.contains("design.md") && !html.contains(">Design"), "a title alice may not read: {html}");
    let bad = get_with(&app, "/api/audit?action=dance", &alice).await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sees_the_users_and_disabling_one_stops_it_at_once() {
    let app = accounts_app(|_| {}).await;
    let alice = session_of(&app, "alice").await;
    let bob = session_of(&app, "bob").await;
    let token = make_token(&app, &bob, "script", &["search"], "").await;

    assert_eq!(get_with(&app, "/admin/users", &bob).await.status(), 403);
    let page = get_with(&app, "/admin/users", &alice).await.text().await.unwrap();
    assert!(page.contains("user:bob, group:eng") && page.contains("group:eng: 1 member"), "{page}");
    let bob_id = page.split("action=\"/admin/users/").map(|rest| rest.split('/').next().unwrap()).nth(2).unwrap();
    let alice_id = page.split("action=\"/admin/users/").map(|rest| rest.split('/').next().unwrap()).nth(1).unwrap();

    let own = post_from_page(&app, &format!("/admin/users/{alice_id}/disable"), &alice).send().await.unwrap();
    assert_eq!(own.status(), 400, "nobody locks themselves out");
    let disabled = post_from_page(&app, &format!("/admin/users/{bob_id}/disable"), &alice).send().await.unwrap();
    assert_eq!(disabled.status(), 303);
    assert_eq!(get_with(&app, "/api/sources", &bob).await.status(), 401, "the session ended");
    let stopped = with_token(&app, reqwest::Method::GET, "/api/search?q=x", &token).send().await.unwrap();
    assert_eq!(stopped.status(), 401, "the token stopped");
    assert_eq!(sign_in(&app, "bob", PASSWORD, "/").await.status(), 401, "no sign-in either");
    let enabled = post_from_page(&app, &format!("/admin/users/{bob_id}/enable"), &alice).send().await.unwrap();
    assert_eq!(enabled.status(), 303);
    assert_eq!(sign_in(&app, "bob", PASSWORD, "/").await.status(), 303);
    let changes = audit_events(&app, &alice, "user_change", 2).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_why_page_names_the_acl_a_document_has_and_where_it_comes_from() {
    let app = accounts_app(|_| {}).await;
    create_user(&app, "carol", false, &["group:hr"]).await;
    app.write("handbook/welcome.md", "# Welcome\n\nThe canteen opens at eight.\n");
    app.write("handbook/payroll/.lore-acl", "group:hr\n");
    app.write("handbook/payroll/rates.md", "# Rates\n\nOvertime pays one and a half.\n");
    app.write("handbook/memo.md", "---\nacl: [group:eng, group:sales]\n---\n# Memo\n\nThe offsite is in May.\n");
    let alice = session_of(&app, "alice").await;
    add_folder_as(&app, &alice, &app.docs_path().join("handbook"), "handbook", &["everyone"]).await;

    let why = |who: &str, document: &str| format!("/admin/why?who={who}&document={document}");
    let page = get_with(&app, &why("carol", "handbook:payroll/rates.md"), &alice).await.text().await.unwrap();
    assert!(page.contains("Yes: both name group:hr"), "{page}");
    assert!(page.contains("the ACL file payroll/.lore-acl in source handbook"), "{page}");
    let page = get_with(&app, &why("bob", "handbook:payroll/rates.md"), &alice).await.text().await.unwrap();
    assert!(page.contains("No: none of their principals is among the document&#39;s group:hr"), "{page}");
    let page = get_with(&app, &why("group:sales", "handbook:memo.md"), &alice).await.text().await.unwrap();
    assert!(page.contains("Yes: both name group:sales"), "{page}");
    assert!(page.contains("narrowed by the page's front matter"), "{page}");
    let page = get_with(&app, &why("bob", "handbook:welcome.md"), &alice).await.text().await.unwrap();
    assert!(page.contains("readable by everyone") && page.contains("source handbook&#39;s ACL"), "{page}");

    let missing = get_with(&app, &why("bob", "handbook:nope.md"), &alice).await;
    assert_eq!(missing.status(), 404);
    let hostile = get_with(&app, &why("group%3Ahr%07", "1"), &alice).await;
    assert_eq!(hostile.status(), 400, "a control character is no principal");
    let bob = session_of(&app, "bob").await;
    assert_eq!(get_with(&app, &why("carol", "1"), &bob).await.status(), 403, "administrators only");
}
