//! Conversations in the browser and the API: a signed-in user's questions are kept per user, follow-ups
//! are read with the earlier turns, nobody else finds them, and an old answer is hidden once its user
//! may no longer read what it was written from.

use reqwest::header::COOKIE;
use serde_json::{json, Value};

use crate::accounts::{accounts_app, add_folder_as, create_user, get_with, post_from_page, session_of};
use crate::helpers::{read_events, TestApp};

/// Asks as the browser of `cookie`, in `conversation` if given; returns the conversation's id and the
/// final answer.
async fn ask(app: &TestApp, cookie: &str, question: &str, conversation: Option<i64>) -> (i64, Value) {
    let mut body = json!({ "question": question });
    if let Some(id) = conversation {
        body["conversation"] = json!(id);
    }
    let response = post_from_page(app, "/api/ask", cookie).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let events = read_events(response).await;
    assert_eq!(events[0].0, "conversation", "the conversation is named first: {events:?}");
    let id = events[0].1["id"].as_i64().unwrap();
    let answer = events.iter().find(|(name, _)| name == "answer").expect("an answer").1.clone();
    (id, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_conversations_are_kept_for_them_alone_and_hide_what_they_may_no_longer_read() {
    let app = accounts_app(|_| {}).await;
    create_user(&app, "carol", false, &["group:hr"]).await;
    app.write("hr/leave.md", "# Leave policy\n\nEmployees take parental leave of sixteen weeks at full pay.\n");
    let alice = session_of(&app, "alice").await;
    add_folder_as(&app, &alice, &app.docs_path().join("hr"), "hr", &["group:hr"]).await;
    app.wait_until_ready().await;
    let (carol, bob) = (session_of(&app, "carol").await, session_of(&app, "bob").await);

    let (id, first) = ask(&app, &carol, "How long is parental leave?", None).await;
    let (again, _) = ask(&app, &carol, "Is it paid?", Some(id)).await;
    assert_eq!(again, id, "a follow-up stays in its conversation");
    let listed: Value = get_with(&app, "/api/conversations", &carol).await.json().await.unwrap();
    assert_eq!(listed["conversations"][0]["id"], id);
    assert_eq!(listed["conversations"][0]["title"], "How long is parental leave?");
    assert_eq!(listed["conversations"][0]["turns"], 2);
    let shown: Value = get_with(&app, &format!("/api/conversations/{id}"), &carol).await.json().await.unwrap();
    let turns = shown["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[1]["question"], "Is it paid?");
    assert_eq!(turns[0]["answer"]["text"], first["answer"], "the turn keeps the answer as it was given");
    let page = get_with(&app, &format!("/?conversation={id}"), &carol).await.text().await.unwrap();
    assert!(page.contains("Is it paid?") && page.contains("name=\"conversation\" id=\"conversation\" value=\""));

    // Nobody else finds it: the same answer as for one that never existed.
    for path in [format!("/api/conversations/{id}"), "/api/conversations/999999".to_string()] {
        let response = get_with(&app, &path, &bob).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let others: Value = get_with(&app, "/api/conversations", &bob).await.json().await.unwrap();
    assert_eq!(others["conversations"], json!([]));
    let taken = post_from_page(&app, "/api/ask", &bob).json(&json!({"question": "x", "conversation": id})).send().await;
    assert_eq!(taken.unwrap().status(), 404, "bob cannot continue carol's conversation");
    assert_eq!(get_with(&app, &format!("/?conversation={id}"), &bob).await.status(), 404);
    let delete = app.client.delete(format!("{}/api/conversations/{id}", app.url)).header(COOKIE, &bob);
    assert_eq!(delete.header("Origin", &app.url).send().await.unwrap().status(), 404);

    // HR's folder is narrowed to group:exec: carol's old answers were written from it, so they hide.
    add_folder_as(&app, &alice, &app.docs_path().join("hr"), "hr", &["group:exec"]).await;
    let hidden: Value = get_with(&app, &format!("/api/conversations/{id}"), &carol).await.json().await.unwrap();
    for turn in hidden["turns"].as_array().unwrap() {
        assert_eq!((turn["hidden"].as_bool(), turn["answer"].is_null()), (Some(true), true), "{turn}");
    }
    assert!(!hidden.to_string().contains("sixteen"), "{hidden}");
    let page = get_with(&app, &format!("/?conversation={id}"), &carol).await.text().await.unwrap();
    assert!(!page.contains("sixteen") && page.contains("This answer is hidden"), "{page}");

    // Deleted by its user: gone.
    let delete = app.client.delete(format!("{}/api/conversations/{id}", app.url)).header(COOKIE, &carol);
    assert_eq!(delete.header("Origin", &app.url).send().await.unwrap().status(), 204);
    assert_eq!(get_with(&app, &format!("/api/conversations/{id}"), &carol).await.status(), 404);
}
