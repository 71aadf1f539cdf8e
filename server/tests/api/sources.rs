//! `/api/sources` and `/api/ingest`: adding a folder, re-syncing, removing, live status, bad input, and
//! writes from other sites refused.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_are_added_resynced_and_removed_in_the_background() {
    let app = spawn_app().await;
    app.write("a.md", "# Parking\n\nVisitors park on level minus two.\n");
    app.write("broken.pdf", "%PDF-1.4 not really");
    app.add_source("facilities", &[], &[]).await;

    let sources = app.get_json("/api/sources").await;
    let source = &sources["sources"][0];
    assert_eq!((source["name"].as_str(), source["documents"].as_u64()), (Some("facilities"), Some(1)), "{sources}");
    assert_eq!(source["failed"], 1);
    assert_eq!(source["acl"], json!(["everyone"]));
    let status = app.get_json("/api/ingest").await;
    assert_eq!(status["recent"][0]["outcome"], "completed", "{status}");
    assert_eq!(status["failures"][0]["path"], "broken.pdf");
    assert!(status["failures"][0]["error"].as_str().unwrap().len() > 5);

    app.write("b.md", "# Bikes\n\nBikes go in the courtyard shed.\n");
    let resync = app.client.post(format!("{}/api/sources/facilities/sync", app.url)).send().await.unwrap();
    assert_eq!(resync.status(), 202);
    let status = app.wait_for_ingest(&[]).await;
    assert_eq!(status["recent"][0]["indexed"], 1, "only the new file is read: {status}");
    assert_eq!(app.get_json("/api/search?q=courtyard%20shed").await["hits"][0]["document_path"], "b.md");

    let remove = app.client.delete(format!("{}/api/sources/facilities", app.url)).send().await.unwrap();
    assert_eq!(remove.status(), 202);
    app.wait_for_ingest(&[]).await;
    assert_eq!(app.get_json("/api/sources").await["sources"], json!([]));
    assert_eq!(app.get_json("/api/search?q=courtyard%20shed").await["hits"], json!([]));
    assert!(app.docs_path().join("b.md").exists(), "removing a source leaves its files alone");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sources_are_refused_with_the_reason() {
    let app = spawn_app().await;
    for (body, status, needle) in [
        (json!({"path": "/no/such/folder"}), 400, "cannot use /no/such/folder"),
        (json!({"path": ""}), 400, "give the path"),
        (json!({"name": "x"}), 400, "path"),
    ] {
        let response = app.post_json("/api/sources", &body).await;
        assert_eq!(response.status(), status, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains(needle), "{error}");
    }
    let file = app.docs_path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    let not_a_folder = app.post_json("/api/sources", &json!({"path": file})).await;
    assert_eq!(not_a_folder.status(), 400);
    let unknown = app.client.post(format!("{}/api/sources/nope/sync", app.url)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    // A page on another site cannot make a visitor's browser add a folder.
    let forged = app
        .client
        .post(format!("{}/admin/sources", app.url))
        .header("Origin", "http://evil.example")
        .form(&[("path", "/etc")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let same_site = app
        .client
        .post(format!("{}/admin/sources", app.url))
        .header("Origin", app.url.clone())
        .form(&[("path", app.docs_path().to_str().unwrap()), ("name", "docs")])
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 303, "the admin form redirects back to the admin page");
    assert!(same_site.headers()["location"].to_str().unwrap().starts_with("/admin?notice="));
    app.stop().await;
}
