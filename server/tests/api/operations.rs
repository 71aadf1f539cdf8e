//! What operators rely on: health and readiness, Prometheus metrics, the OpenAPI document, a clean
//! shutdown that finishes the ingest in flight, and other `lore` commands refused clearly meanwhile.

use std::process::Command;

use lore_testkit::docs;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_the_openapi_document() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.wait_until_ready().await;
    let ready = app.get_json("/readyz").await;
    assert_eq!((ready["ready"].as_bool(), ready["model"].as_str()), (Some(true), Some("ready")));

    app.get("/api/search?q=anything").await;
    let metrics = app.get("/metrics").await;
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let metrics = metrics.text().await.unwrap();
    for needle in [
        "lore_http_request_duration_seconds_bucket{",
        "route=\"/api/search\"",
        "lore_search_duration_seconds_count 1",
        "lore_answer_queue_depth 0",
        "lore_ingest_queue_depth",
        "lore_answer_first_token_seconds",
        "lore_ingest_chunks_embedded_total",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from\n{metrics}");
    }

    let openapi = app.get_json("/api/openapi.json").await;
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/search", "/api/ask", "/api/documents/{id}", "/api/sources", "/v1/chat/completions"] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    assert!(openapi["components"]["schemas"].get("HitJson").is_some());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_commands_are_refused_while_serving_and_shutdown_leaves_consistent_stores() {
    let app = spawn_app().await;
    for i in 0..40 {
        app.write(&format!("notes/{i:02}.md"), format!("# Note {i}\n\n{}\n", docs::filler(i, 30)));
    }
    let added = app.post_json("/api/sources", &serde_json::json!({"path": app.docs, "name": "notes"})).await;
    assert_eq!(added.status(), 202);

    let lore = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lore"))
            .arg("--data-dir")
            .arg(&app.data_dir)
            .args(args)
            .env("LORE_MODELS_DIR", lore_testkit::models_dir())
            .output()
            .unwrap()
    };
    let refused = lore(&["ingest", app.docs_path().to_str().unwrap(), "--quiet"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("lore serve") && stderr.contains(&app.url), "{stderr}");

    // Stop while the worker is (most likely) still indexing: it commits what is in flight.
    let data_dir = app.data_dir.clone();
    let _kept = app.stop().await;
    let check = Command::new(env!("CARGO_BIN_EXE_lore"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["status", "--check"])
        .env("LORE_MODELS_DIR", lore_testkit::models_dir())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(
        !lore_core::datadir::DataDir::new(&data_dir).server_note_path().exists(),
        "the server note is removed on shutdown"
    );
}
