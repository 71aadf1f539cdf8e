//! The HTML pages without JavaScript: search with highlights and facets, the no-script answer, the
//! document view with the cited span, the admin page and its forms.

use lore_testkit::docs;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_work_without_javascript() {
    let app = spawn_app().await;
    docs::sample_folder(app.docs_path());
    app.add_source("handbook", &[], &[]).await;

    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("<label for=\"q\""), "the query box has a label");
    assert!(!html.contains("https://"), "no asset comes from elsewhere");

    let results = app.get("/?q=canteen+soup&type=markdown").await.text().await.unwrap();
    assert!(results.contains("<mark>soup</mark>"), "{results}");
    assert!(results.contains("notes/lunch.md"));
    assert!(results.contains("value=\"markdown\" checked"), "the chosen facet stays checked");
    let link_start = results.find("href=\"/documents/").expect("hits link to the document view");
    let link = &results[link_start + 6..];
    // Attribute values are HTML-escaped (askama writes `&` as `&#38;`).
    let link = &link[..link.find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&");

    let document = app.get(link).await.text().await.unwrap();
    assert!(document.contains("<mark id=\"cited\">"), "{document}");
    assert!(document.contains("Download the original"));

    let escaped = app.get("/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await.text().await.unwrap();
    assert!(!escaped.contains("<script>alert(1)"), "queries are escaped");

    for asset in ["/static/app.css", "/static/app.js", "/static/favicon.svg"] {
        assert_eq!(app.get(asset).await.status(), 200, "{asset}");
    }
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Not found"));

    let admin = app.get("/admin").await.text().await.unwrap();
    assert!(admin.contains("handbook") && admin.contains("broken.pdf"), "sources and failed files are listed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_no_script_answer_page_shows_a_checked_answer_with_linked_citations() {
    let app = spawn_app().await;
    docs::sample_folder(app.docs_path());
    app.add_source("handbook", &[], &[]).await;
    app.wait_until_ready().await;
    let page = app
        .client
        .post(format!("{}/ask", app.url))
        .form(&[("q", "On which day does the canteen serve soup?")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let panel = &html[html.find("id=\"answer\"").expect("the answer panel")..];
    assert!(!panel[..panel.find('>').unwrap()].contains("hidden"), "the answer panel is shown");
    assert!(
        panel.contains("class=\"cite\" href=\"/documents/")
            || panel.contains("No answer: here are the closest sources."),
        "an answer cites, an abstention shows the closest sources: {panel}"
    );
    // The best evidence sentence, quoted from the canteen page and linked to its place.
    let figure = &panel[panel.find("id=\"answer-evidence\"").expect("the evidence figure")..];
    assert!(!figure[..figure.find('>').unwrap()].contains("hidden"), "the evidence is shown: {figure}");
    let quote = &figure[figure.find("<blockquote").unwrap()..figure.find("</blockquote>").unwrap()];
    assert!(quote.to_lowercase().contains("soup"), "the evidence is the soup sentence: {quote}");
    assert!(figure.contains("id=\"answer-evidence-source\" href=\"/documents/"), "{figure}");
    app.stop().await;
}
