//! The leak suite: a corpus where each reading class holds a canary word of its own, and for every
//! identity (administrator, group members, a one-user reader, a narrowed API token, anonymous, a forged
//! proxy header) no canary it may not read appears in any byte of any response (search hits, pages,
//! documents and downloads, answers and their event stream, conversations, the OpenAI endpoint, sources, metrics,
//! administrators' pages), with caches warmed by others first, and right after ACLs narrow and widen
//! (a source's, an ACL file's, a page's front matter). Each allowed canary must show up in the identity's search, so the suite cannot pass by
//! seeing nothing. No request names a canary (queries ask for "the secret word of the eng folder"):
//! pages echo queries and the audit log keeps them, so a canary in a response came from a document.

use reqwest::header::COOKIE;
use serde_json::json;

use crate::accounts::{accounts_app, add_folder_as, create_user, make_token, post_from_page, session_of, with_token};
use crate::helpers::TestApp;

/// (name, the file that holds its canary, canary): one reading class each. The first four are sources
/// of their own (readers in `SOURCES`); the last two live in the public source, narrowed below it: a
/// subtree by an ACL file, a page by its front matter.
const CLASSES: [(&str, &str, &str); 6] = [
    ("public", "public/notes.md", "publicquokka"),
    ("eng", "eng/notes.md", "engocelot"),
    ("hr", "hr/notes.md", "hrpangolin"),
    ("dave", "dave/notes.md", "daveaxolotl"),
    ("payroll", "public/payroll/notes.md", "payrollibex"),
    ("memo", "public/memo.md", "memotapir"),
];

/// (folder and source, its readers).
const SOURCES: [(&str, &str); 4] =
    [("public", "everyone"), ("eng", "group:eng"), ("hr", "group:hr"), ("dave", "user:dave")];

/// The notes of one class; `front` is the page's front matter, if any.
fn notes(name: &str, canary: &str, front: &str) -> String {
    format!("{front}# Notes of {name}\n\nThe secret word of the {name} folder is {canary}. Keep it safe.\n")
}

/// How an identity proves who it is.
#[derive(Clone)]
enum Credential {
    Session(String),
    Token(String),
    Headers(Vec<(&'static str, &'static str)>),
}

struct Identity {
    name: &'static str,
    credential: Credential,
    /// Canaries it may read.
    reads: Vec<&'static str>,
}

fn request(app: &TestApp, method: reqwest::Method, path: &str, who: &Credential) -> reqwest::RequestBuilder {
    match who {
        Credential::Session(cookie) if method == reqwest::Method::GET => {
            app.client.get(format!("{}{path}", app.url)).header(COOKIE, cookie)
        }
        Credential::Session(cookie) => post_from_page(app, path, cookie),
        Credential::Token(token) => with_token(app, method, path, token),
        Credential::Headers(headers) => {
            let mut request = app.client.request(method, format!("{}{path}", app.url));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request
        }
    }
}

async fn text_of(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.unwrap();
    let head = format!("{} {:?}", response.status(), response.headers());
    format!("{head} {}", response.text().await.unwrap())
}

/// Every response `who` gets from every route that could show a document's content, as one text.
async fn everything_seen(app: &TestApp, who: &Credential, documents: &[i64], with_admin_pages: bool) -> String {
    let get = reqwest::Method::GET;
    let mut seen = String::new();
    let queries = CLASSES.map(|(name, _, _)| query_for(name)).into_iter().chain(["secret word folder".to_string()]);
    for query in queries {
        let path = format!("/api/search?q={}&limit=20", query.replace(' ', "%20"));
        seen += &text_of(request(app, get.clone(), &path, who)).await;
    }
    seen += &text_of(request(app, get.clone(), "/?q=secret+word+folder", who)).await;
    for id in documents {
        for path in [format!("/api/documents/{id}"), format!("/documents/{id}"), format!("/documents/{id}/file")] {
            seen += &text_of(request(app, get.clone(), &path, who)).await;
        }
    }
    for path in ["/api/sources", "/api/ingest", "/v1/models", "/metrics"] {
        seen += &text_of(request(app, get.clone(), path, who)).await;
    }
    if with_admin_pages {
        for path in ["/admin", "/audit", "/api/audit", "/tokens"] {
            seen += &text_of(request(app, get.clone(), path, who)).await;
        }
    }
    let question = "What is the secret word of each folder?";
    let ask = request(app, reqwest::Method::POST, "/api/ask", who).json(&json!({"question": question}));
    seen += &text_of(ask).await;
    let chat = json!({"messages": [{"role": "user", "content": question}]});
    seen += &text_of(request(app, reqwest::Method::POST, "/v1/chat/completions", who).json(&chat)).await;
    // Conversations, each one listed, and the page that shows it.
    let listed = text_of(request(app, get.clone(), "/api/conversations", who)).await;
    for id in listed.split("\"id\":").skip(1).filter_map(|rest| rest.split([',', '}']).next()) {
        seen += &text_of(request(app, get.clone(), &format!("/api/conversations/{id}"), who)).await;
        seen += &text_of(request(app, get.clone(), &format!("/?conversation={id}"), who)).await;
    }
    seen + &listed
}

/// A search that finds `folder`'s notes without naming their canary.
fn query_for(folder: &str) -> String {
    format!("secret word of the {folder} folder")
}

/// What `who` finds searching for every canary, as one text.
async fn searched(app: &TestApp, who: &Credential) -> String {
    let mut seen = String::new();
    for (name, _, _) in CLASSES {
        let path = format!("/api/search?q={}", query_for(name).replace(' ', "%20"));
        seen += &text_of(request(app, reqwest::Method::GET, &path, who)).await;
    }
    seen
}

fn assert_sees_only(identity: &Identity, seen: &str, found: &str) {
    for (_, _, canary) in CLASSES {
        if identity.reads.contains(&canary) {
            assert!(found.contains(canary), "{} cannot find {canary}, which it may read:\n{found}", identity.name);
        } else {
            assert!(!seen.contains(canary), "{canary} reached {}:\n{seen}", identity.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_identity_sees_a_canary_it_may_not_read_anywhere() {
    let app = accounts_app(|_| {}).await;
    create_user(&app, "carol", false, &["group:hr"]).await;
    create_user(&app, "dave", false, &[]).await;
    let alice = session_of(&app, "alice").await;
    for (name, file, canary) in CLASSES {
        let front = if name == "memo" { "---\nacl: [user:dave]\n---\n" } else { "" };
        app.write(file, notes(name, canary, front));
    }
    app.write("public/payroll/.lore-acl", "group:hr\n");
    for (folder, readers) in SOURCES {
        add_folder_as(&app, &alice, &app.docs_path().join(folder), folder, &[readers]).await;
    }
    app.wait_until_ready().await;
    let catalog = lore_core::catalog::SqliteCatalog::open(&app.data_dir.join("catalog.sqlite")).await.unwrap();
    let mut documents = Vec::new();
    for source in lore_core::catalog::Catalog::sources(&catalog).await.unwrap() {
        for document in lore_core::catalog::Catalog::documents(&catalog, source.id).await.unwrap() {
            documents.push(document.id.0);
        }
    }
    assert_eq!(documents.len(), 6);

    let bob = session_of(&app, "bob").await;
    let narrowed = make_token(&app, &bob, "narrowed", &["search", "ask"], "user:bob").await;
    let forged = vec![("X-Lore-Principals", "group:eng,group:hr,user:dave,role:admin")];
    let identities = [
        Identity {
            name: "alice (administrator)",
            credential: Credential::Session(alice.clone()),
            reads: vec!["publicquokka"],
        },
        Identity {
            name: "bob (group:eng)",
            credential: Credential::Session(bob.clone()),
            reads: vec!["publicquokka", "engocelot"],
        },
        Identity {
            name: "carol (group:hr)",
            credential: Credential::Session(session_of(&app, "carol").await),
            reads: vec!["publicquokka", "hrpangolin", "payrollibex"],
        },
        Identity {
            name: "dave (user:dave)",
            credential: Credential::Session(session_of(&app, "dave").await),
            reads: vec!["publicquokka", "daveaxolotl", "memotapir"],
        },
        Identity {
            name: "bob's token narrowed to user:bob",
            credential: Credential::Token(narrowed),
            reads: vec!["publicquokka"],
        },
        Identity { name: "anonymous", credential: Credential::Headers(Vec::new()), reads: Vec::new() },
        Identity { name: "a forged proxy header", credential: Credential::Headers(forged), reads: Vec::new() },
    ];
    // Administrators' pages first: the audit log holds what others later type, canaries included.
    for identity in &identities {
        let seen = everything_seen(&app, &identity.credential, &documents, identity.name.starts_with("alice")).await;
        let found = searched(&app, &identity.credential).await;
        assert_sees_only(identity, &seen, &found);
    }
    // Every cache is warm with every identity's results now: each reads again.
    for identity in &identities {
        let found = searched(&app, &identity.credential).await;
        assert_sees_only(identity, &found, &found);
    }

    // Narrowing eng to group:hr, widening hr to everyone, moving the payroll subtree from group:hr to
    // group:eng and opening the memo page count at once, for everyone.
    app.write("public/payroll/.lore-acl", "group:eng\n");
    app.write("public/memo.md", notes("memo", "memotapir", ""));
    add_folder_as(&app, &alice, &app.docs_path().join("public"), "public", &["everyone"]).await;
    add_folder_as(&app, &alice, &app.docs_path().join("eng"), "eng", &["group:hr"]).await;
    add_folder_as(&app, &alice, &app.docs_path().join("hr"), "hr", &["everyone"]).await;
    let after = [
        ("alice", Credential::Session(alice.clone()), vec!["publicquokka", "hrpangolin", "memotapir"]),
        ("bob", Credential::Session(bob.clone()), vec!["publicquokka", "hrpangolin", "payrollibex", "memotapir"]),
        ("carol", identities[2].credential.clone(), vec!["publicquokka", "hrpangolin", "engocelot", "memotapir"]),
        ("dave", identities[3].credential.clone(), vec!["publicquokka", "hrpangolin", "daveaxolotl", "memotapir"]),
    ];
    for (name, credential, reads) in after {
        let identity = Identity { name, credential, reads };
        let seen = everything_seen(&app, &identity.credential, &documents, false).await;
        let found = searched(&app, &identity.credential).await;
        assert_sees_only(&identity, &seen, &found);
    }
}
