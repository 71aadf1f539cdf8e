//! Signing in through an OpenID provider: a real one (`oidc-provider`, OpenID Certified, on loopback;
//! see `lore_testkit::oidc`), the code flow with PKCE, the ID token checked, claims mapped to
//! principals (groups failing closed), the flow bound to its browser and used once.

use std::collections::HashMap;

use lore_core::config::OidcProviderConfig;
use lore_testkit::oidc::{free_port, OidcProvider, CLIENT_ID, CLIENT_SECRET};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::accounts::{accounts_app, add_folder_as, get_with, session_of};
use crate::helpers::TestApp;

/// Lore with the provider `corp` (issuer on `port`) and the provider itself, started once Lore's
/// address is known (the provider must know where to send browsers back).
async fn app_with_provider(tweak: impl FnOnce(&mut lore_core::config::Config)) -> (TestApp, OidcProvider) {
    let port = free_port();
    let app = accounts_app(|config| {
        config.auth.providers = vec![OidcProviderConfig {
            name: "corp".into(),
            label: Some("Corp Login".into()),
            issuer: format!("http://127.0.0.1:{port}"),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            client_secret_file: None,
            scopes: vec!["email".into(), "profile".into(), "groups".into()],
            user_claim: "sub".into(),
            groups_claim: "groups".into(),
            max_groups: 100,
        }];
        tweak(config);
    })
    .await;
    let provider = OidcProvider::start(port, &[format!("{}/signin/oidc/corp/callback", app.url)]);
    (app, provider)
}

/// A browser without JavaScript: follows redirects itself and keeps each host's cookies.
struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, HashMap<String, String>>,
}

/// Where a walk through redirects ended.
struct Landed {
    url: String,
    status: u16,
    body: String,
}

impl Browser {
    fn new() -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, cookies: HashMap::new() }
    }

    fn host(url: &str) -> String {
        url.split('/').nth(2).unwrap_or_default().to_string()
    }

    fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.cookies.get(&Self::host(url)).and_then(|jar| jar.get(name)).cloned()
    }

    /// GETs `url` with this host's cookies and keeps the cookies it sets.
    async fn step(&mut self, url: &str) -> reqwest::Response {
        let host = Self::host(url);
        let jar = self.cookies.entry(host.clone()).or_default();
        let cookie = jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut request = self.client.get(url);
        if !cookie.is_empty() {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            let jar = self.cookies.entry(host.clone()).or_default();
            if set.contains("Max-Age=0") || value.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        response
    }

    /// Where a redirect sends the browser, as an absolute URL.
    fn redirect(url: &str, response: &reqwest::Response) -> Option<String> {
        let next = response.headers().get(LOCATION)?.to_str().unwrap().to_string();
        let redirected = response.status().is_redirection();
        redirected.then(|| if next.starts_with('/') { format!("http://{}{next}", Self::host(url)) } else { next })
    }

    /// GETs `url` and follows redirects until a page answers.
    async fn walk(&mut self, url: &str) -> Landed {
        let mut url = url.to_string();
        for _ in 0..12 {
            let response = self.step(&url).await;
            match Self::redirect(&url, &response) {
                Some(next) => url = next,
                None => {
                    let status = response.status().as_u16();
                    return Landed { url, status, body: response.text().await.unwrap() };
                }
            }
        }
        panic!("too many redirects from {url}");
    }

    /// Signs in at Lore through the provider as `user` (by `login_hint`), going to `next` (encoded).
    async fn sign_in(&mut self, app: &TestApp, user: &str, next: &str) -> Landed {
        self.walk(&format!("{}/signin/oidc/corp?next={next}&login_hint={user}", app.url)).await
    }
}

fn session(browser: &Browser, app: &TestApp) -> String {
    format!("lore_session={}", browser.cookie(&app.url, "lore_session").expect("signed in"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_with_the_identity_provider_and_read_as_their_groups() {
    let (app, provider) = app_with_provider(|config| config.server.admins = vec!["group:hr".into()]).await;
    let alice = session_of(&app, "alice").await;
    for (folder, readers, canary) in [("hr", "group:hr", "hrmarmot"), ("eng", "group:eng", "engwombat")] {
        app.write(&format!("{folder}/notes.md"), format!("# {folder}\n\nThe {folder} codeword is {canary}.\n"));
        add_folder_as(&app, &alice, &app.docs_path().join(folder), folder, &[readers]).await;
    }

    let page = app.get("/signin").await.text().await.unwrap();
    assert!(page.contains("href=\"/signin/oidc/corp?next=/\">Sign in with Corp Login"), "{page}");

    // Ann (groups hr and eng) lands where she was going, signed in, and reads both folders.
    let mut ann = Browser::new();
    let landed = ann.sign_in(&app, "ann", "%2Fadmin").await;
    assert_eq!((landed.status, landed.url.as_str()), (200, format!("{}/admin", app.url).as_str()), "{}", landed.body);
    assert!(landed.body.contains("Signed in as <strong>Ann Archer</strong>"), "{}", landed.body);
    assert!(ann.cookie(&app.url, "lore_sign_in").is_none(), "the flow's cookie is gone");
    let ann_session = session(&ann, &app);
    let found = get_with(&app, "/api/search?q=codeword", &ann_session).await.text().await.unwrap();
    assert!(found.contains("hrmarmot") && found.contains("engwombat"), "{found}");
    assert_eq!(get_with(&app, "/admin/users", &ann_session).await.status(), 200, "server.admins names group:hr");

    // Ben (group eng) reads eng only and does not administer.
    let mut ben = Browser::new();
    assert_eq!(ben.sign_in(&app, "ben", "%2F").await.status, 200);
    let ben_session = session(&ben, &app);
    let found = get_with(&app, "/api/search?q=codeword", &ben_session).await.text().await.unwrap();
    assert!(found.contains("engwombat") && !found.contains("hrmarmot"), "{found}");
    assert_eq!(get_with(&app, "/admin/users", &ben_session).await.status(), 403);

    // Too many groups, no groups claim, or a group that is no plain name: the user principal only.
    for user in ["crowd", "loner", "mallory"] {
        let mut browser = Browser::new();
        assert_eq!(browser.sign_in(&app, user, "%2F").await.status, 200, "{user}");
        let found = get_with(&app, "/api/search?q=codeword", &session(&browser, &app)).await.text().await.unwrap();
        assert!(!found.contains("engwombat") && !found.contains("hrmarmot"), "{user}: {found}");
    }
    let users = get_with(&app, "/admin/users", &ann_session).await.text().await.unwrap();
    assert!(users.contains("user:ann, group:hr, group:eng"), "{users}");
    assert!(users.contains("<td>user:crowd</td>") && users.contains("<td>user:mallory</td>"), "{users}");
    assert!(users.contains(&format!("<td>{}</td>", provider.issuer)), "signs in with the provider: {users}");

    // Signing out ends the session.
    let out = crate::accounts::post_from_page(&app, "/signout", &ben_session).send().await.unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(
        app.client
            .get(format!("{}/api/search?q=x", app.url))
            .header(COOKIE, &ben_session)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_is_bound_to_its_browser_used_once_and_refused_for_disabled_users() {
    let (app, _provider) = app_with_provider(|_| {}).await;

    // Stop where the provider sends the browser back, and replay that from elsewhere.
    let mut victim = Browser::new();
    let start = format!("{}/signin/oidc/corp?next=%2F&login_hint=ben", app.url);
    let mut url = start;
    let callback = loop {
        let response = victim.step(&url).await;
        let next = Browser::redirect(&url, &response).expect("the provider redirects until it sends the browser back");
        if next.contains("/signin/oidc/corp/callback") {
            break next;
        }
        url = next;
    };
    let attacker = app.client.get(&callback).send().await.unwrap();
    assert_eq!(attacker.status(), 401, "no flow cookie: another browser");
    assert!(attacker.text().await.unwrap().contains("started in another browser"));
    let replayed = victim.walk(&callback).await;
    assert_eq!(replayed.status, 401, "the flow was taken by the first try: {}", replayed.body);
    assert!(replayed.body.contains("unknown, was already used"), "{}", replayed.body);

    // A fresh sign-in works; an error from the provider is shown, not trusted.
    let mut ben = Browser::new();
    assert_eq!(ben.sign_in(&app, "ben", "%2F").await.status, 200);
    let refused = app.get("/signin/oidc/corp/callback?error=access_denied&error_description=nope").await;
    assert_eq!(refused.status(), 401);
    assert_eq!(app.get("/signin/oidc/nobody").await.status(), 404);

    // An administrator disables Ben: his next sign-in through the provider is refused.
    let alice = session_of(&app, "alice").await;
    let users = get_with(&app, "/admin/users", &alice).await.text().await.unwrap();
    let row = &users[users.find("Ben Baker").unwrap()..];
    let id = row.split("/admin/users/").nth(1).unwrap().split('/').next().unwrap().to_string();
    let disabled = crate::accounts::post_from_page(&app, &format!("/admin/users/{id}/disable"), &alice).send().await;
    assert_eq!(disabled.unwrap().status(), 303);
    let mut again = Browser::new();
    let landed = again.sign_in(&app, "ben", "%2F").await;
    assert_eq!(landed.status, 401, "{}", landed.body);
    assert!(landed.body.contains("disabled"), "{}", landed.body);
    assert!(again.cookie(&app.url, "lore_session").is_none());

    let events = get_with(&app, "/api/audit?action=sign_in", &alice).await.text().await.unwrap();
    assert!(events.contains("\"subject\":\"oidc:corp\"") && events.contains("Ben Baker"), "{events}");

    // Each start writes a row: a client that only starts sign-ins is slowed down (the limit is 10).
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.get("/signin/oidc/corp?next=%2F").await.status().as_u16());
    }
    assert_eq!(statuses[0], 303, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_through_the_provider_in_chromium() {
    let (app, _provider) = app_with_provider(|_| {}).await;
    let alice = session_of(&app, "alice").await;
    app.write("hr/notes.md", "# HR\n\nThe hr codeword is hrmarmot.\n");
    add_folder_as(&app, &alice, &app.docs_path().join("hr"), "hr", &["group:hr"]).await;

    let artifacts = crate::browser::artifacts_dir();
    let args = [app.url.clone(), artifacts.display().to_string(), "ann".into(), "hrmarmot".into()];
    crate::browser::run_script("signin.mjs", &args).await;
    assert!(artifacts.join("signed-in.png").is_file());
}
