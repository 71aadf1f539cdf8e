//! `GET /api/documents/{id}` and the original file's download: only ingested files, nothing else.

use lore_testkit::docs;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_gives_its_pages_and_its_original_file_and_nothing_else() {
    let app = spawn_app().await;
    docs::sample_folder(app.docs_path());
    std::fs::write(app.docs_path().parent().unwrap().join("secret.txt"), "not in any source").unwrap();
    app.add_source("handbook", &[], &[]).await;

    let hits = app.get_json("/api/search?q=toner%20light%20blinks&type=pdf").await;
    let id = hits["hits"][0]["document_id"].as_i64().unwrap();
    let document = app.get_json(&format!("/api/documents/{id}")).await;
    assert_eq!(document["path"], "manual.pdf");
    assert_eq!(document["pages"], 2);
    assert_eq!(document["page_starts"].as_array().unwrap().len(), 2);
    assert!(document["text"].as_str().unwrap().contains("Replace toner"), "{document}");

    let file = app.get(document["download_url"].as_str().unwrap()).await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "application/pdf");
    assert!(file.headers()["content-disposition"].to_str().unwrap().contains("manual.pdf"));
    let bytes = file.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), std::fs::read(app.docs_path().join("manual.pdf")).unwrap());

    for path in [
        "/documents/999999/file".to_string(),
        "/api/documents/999999".to_string(),
        "/documents/..%2F..%2Fsecret.txt/file".to_string(),
        "/documents/%2e%2e/file".to_string(),
        "/static/..%2F..%2FCargo.toml".to_string(),
    ] {
        let response = app.get(&path).await;
        assert!(matches!(response.status().as_u16(), 400 | 404), "{path}: {}", response.status());
        assert!(!response.text().await.unwrap().contains("not in any source"), "{path}");
    }

    // The file is gone from the folder: the download says so, the indexed text stays readable.
    std::fs::remove_file(app.docs_path().join("manual.pdf")).unwrap();
    assert_eq!(app.get(&format!("/documents/{id}/file")).await.status(), 404);
    assert_eq!(app.get(&format!("/api/documents/{id}")).await.status(), 200);
    app.stop().await;
}
