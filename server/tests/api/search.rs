//! `GET /api/search`: the hit objects of `lore search --json`, facets, pages, permissions, errors.

use lore_testkit::docs;

use crate::helpers::{keys, spawn_app, spawn_app_with};

const HIT_KEYS: [&str; 14] = [
    "also_in",
    "chunk_id",
    "document_id",
    "document_path",
    "end",
    "heading",
    "kind",
    "page",
    "score",
    "snippet",
    "source",
    "start",
    "text",
    "title",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_returns_the_cli_hit_objects_with_facets_and_pages() {
    let app = spawn_app().await;
    docs::sample_folder(app.docs_path());
    app.add_source("handbook", &[], &[]).await;

    let results = app.get_json("/api/search?q=canteen%20soup").await;
    assert_eq!(keys(&results), ["hits", "mode", "query_truncated", "timings_ms"]);
    let first = &results["hits"][0];
    assert_eq!(keys(first), HIT_KEYS);
    assert_eq!(first["document_path"], "notes/lunch.md");
    assert!(first["snippet"].as_str().unwrap().contains("<mark>soup</mark>"), "{first}");

    let pdf_only = app.get_json("/api/search?q=toner&type=pdf").await;
    assert!(pdf_only["hits"].as_array().unwrap().iter().all(|h| h["kind"] == "pdf"), "{pdf_only}");
    assert_eq!(pdf_only["hits"][0]["page"], 2);
    let other_source = app.get_json("/api/search?q=toner&source=elsewhere").await;
    assert_eq!(other_source["hits"].as_array().unwrap().len(), 0);

    let page_one = app.get_json("/api/search?q=the&limit=2").await;
    let page_two = app.get_json("/api/search?q=the&limit=2&offset=2").await;
    assert_eq!(page_one["hits"].as_array().unwrap().len(), 2);
    assert_ne!(page_one["hits"][0]["chunk_id"], page_two["hits"][0]["chunk_id"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_searches_get_json_errors_with_their_status() {
    let app = spawn_app().await;
    for (path, status, code) in [
        ("/api/search?q=%20", 400, "bad_request"),
        ("/api/search", 400, "bad_request"),
        ("/api/search?q=x&type=spreadsheet", 400, "bad_request"),
        ("/api/search?q=x&limit=5000", 400, "bad_request"),
        ("/api/nothing-here", 404, "not_found"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty() && !message.starts_with(char::is_uppercase), "{path}: {message}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_source_is_invisible_without_its_principal() {
    let app = spawn_app_with(|config| config.server.principal_header = Some("X-Lore-Principals".into())).await;
    app.write("salaries.md", "# Salary bands\n\nEngineers in band four earn between 70k and 90k.\n");
    app.add_source("hr", &["group:hr"], &[("X-Lore-Principals", "role:admin")]).await;

    let search = |principals: &'static str| {
        let request = app.client.get(format!("{}/api/search?q=salary%20band%20engineers", app.url));
        async move {
            let request = if principals.is_empty() { request } else { request.header("X-Lore-Principals", principals) };
            request.send().await.unwrap().json::<serde_json::Value>().await.unwrap()
        }
    };
    let nobody = search("").await;
    assert_eq!(nobody["hits"].as_array().unwrap().len(), 0, "{nobody}");
    let hr = search("alice, group:hr").await;
    let hit = &hr["hits"][0];
    assert_eq!(hit["document_path"], "salaries.md", "{hr}");

    let id = hit["document_id"].as_i64().unwrap();
    for path in [format!("/api/documents/{id}"), format!("/documents/{id}/file"), format!("/documents/{id}")] {
        assert_eq!(app.get(&path).await.status(), 404, "{path} must not exist for a caller without group:hr");
    }
    let sources = app.get_json("/api/sources").await;
    assert_eq!(sources["sources"].as_array().unwrap().len(), 0, "{sources}");
    let refused = app.post_json("/api/sources", &serde_json::json!({"path": app.docs})).await;
    assert_eq!(refused.status(), 403);
    app.stop().await;
}
