//! `POST /api/ask` (server-sent events ending in the `lore ask --json` object), the OpenAI-compatible
//! endpoint, and refusal beyond the model's capacity. On SmolLM2-135M: the answers are weak, so the
//! tests check the protocol and the guarantees that hold whatever it writes.

use lore_testkit::docs;
use serde_json::{json, Value};

use crate::helpers::{keys, read_events, spawn_app, spawn_app_with, TestApp};

const QUESTION: &str = "On which day does the canteen serve soup?";

/// Every citation's quote is the cited document's text at the cited span.
async fn assert_citations_resolve(app: &TestApp, answer: &Value) {
    for citation in answer["citations"].as_array().unwrap() {
        let document = app.get_json(&format!("/api/documents/{}", citation["document_id"])).await;
        let (start, end) = (citation["start"].as_u64().unwrap() as usize, citation["end"].as_u64().unwrap() as usize);
        let text: String = document["text"].as_str().unwrap().chars().skip(start).take(end - start).collect();
        assert_eq!(text, citation["quote"].as_str().unwrap(), "{citation}");
        assert_eq!(document["path"], citation["document_path"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_streams_tokens_and_ends_with_the_cli_answer_object() {
    let app = spawn_app().await;
    docs::sample_folder(app.docs_path());
    app.add_source("handbook", &[], &[]).await;
    app.wait_until_ready().await;

    let response = app.post_json("/api/ask", &json!({"question": QUESTION})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = read_events(response).await;
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"passages"), "{names:?}");
    assert_eq!(names.last(), Some(&"answer"), "{names:?}");
    let (_, answer) = events.last().unwrap();
    for key in ["abstained", "answer", "citations", "sources", "support", "best_evidence"] {
        assert!(keys(answer).contains(&key.to_string()), "{key} missing from {answer}");
    }
    // The best evidence sentence comes right after the passages, before any token, as a citation of
    // its passage whose quote is the sentence; the final answer repeats it.
    assert_eq!(names.get(1), Some(&"evidence"), "{names:?}");
    let (_, evidence) = &events[1];
    assert_eq!(evidence, &answer["best_evidence"]);
    assert!(evidence["quote"].as_str().is_some_and(|q| !q.is_empty()), "{evidence}");
    assert_citations_resolve(&app, &json!({"citations": [evidence]})).await;
    if answer["abstained"] == false {
        assert!(names.contains(&"token"), "an answer is streamed token by token: {names:?}");
        // After a `retry` the earlier tokens are void: the tokens since the last one are the draft.
        let since_retry = events.iter().rposition(|(n, _)| n == "retry").map_or(0, |i| i + 1);
        let streamed: String = events[since_retry..]
            .iter()
            .filter(|(n, _)| n == "token")
            .map(|(_, v)| v["text"].as_str().unwrap())
            .collect();
        assert_eq!(streamed.trim(), answer["draft"].as_str().unwrap(), "the tokens are the draft the guard checked");
        assert!(!answer["citations"].as_array().unwrap().is_empty(), "{answer}");
    }
    assert_citations_resolve(&app, answer).await;

    let empty = app.post_json("/api/ask", &json!({"question": "  "})).await;
    assert_eq!(empty.status(), 400);
    let malformed = app
        .client
        .post(format!("{}/api/ask", app.url))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let huge = app.post_json("/api/ask", &json!({"question": "why ".repeat(40_000)})).await;
    assert_eq!(huge.status(), 413, "bodies beyond server.max_request_kb are refused");
    let body: Value = huge.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questions_beyond_the_models_queue_get_503_with_retry_after() {
    let app = spawn_app_with(|config| config.generation.queue = 1).await;
    docs::sample_folder(app.docs_path());
    app.add_source("handbook", &[], &[]).await;
    app.wait_until_ready().await;

    // The first question holds the only place until its stream ends.
    let first = app.post_json("/api/ask", &json!({"question": QUESTION})).await;
    assert_eq!(first.status(), 200);
    let second = app.post_json("/api/ask", &json!({"question": "Which tray takes paper?"})).await;
    assert_eq!(second.status(), 503);
    let retry_after: u64 = second.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "busy");
    let openai =
        app.post_json("/v1/chat/completions", &json!({"messages": [{"role": "user", "content": QUESTION}]})).await;
    assert_eq!(openai.status(), 503, "the OpenAI endpoint shares the queue");

    let events = read_events(first).await;
    assert_eq!(events.last().unwrap().0, "answer");
    let third = app.post_json("/api/ask", &json!({"question": QUESTION})).await;
    assert_eq!(third.status(), 200, "the place is free again once the first answer is done");
    read_events(third).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("lore_answers_total{outcome="), "{metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_chat_completions_answer_from_the_documents_streamed_or_not() {
    let app = spawn_app().await;
    docs::sample_folder(app.docs_path());
    app.add_source("handbook", &[], &[]).await;
    app.wait_until_ready().await;

    let models = app.get_json("/v1/models").await;
    assert_eq!(models["data"][0]["id"], "lore");

    let request = json!({"model": "anything", "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
    ]});
    let completion = app.post_json("/v1/chat/completions", &request).await;
    assert_eq!(completion.status(), 200);
    let completion: Value = completion.json().await.unwrap();
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["choices"][0]["message"]["role"], "assistant");
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    let content = completion["choices"][0]["message"]["content"].as_str().unwrap();
    let answer = &completion["lore"];
    assert!(content.starts_with(answer["answer"].as_str().unwrap()), "{content}");
    assert!(content.contains("Sources:") || content.contains("Closest sources:"), "{content}");
    assert_citations_resolve(&app, answer).await;

    let mut streaming = request.clone();
    streaming["stream"] = json!(true);
    let stream = app.post_json("/v1/chat/completions", &streaming).await;
    assert_eq!(stream.status(), 200);
    let events = read_events(stream).await;
    assert_eq!(events.last().unwrap().1, Value::String("[DONE]".into()));
    let chunks: Vec<&Value> = events.iter().map(|(_, v)| v).filter(|v| v.is_object()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"), "{chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let streamed: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(streamed, content, "the stream carries the same checked reply");
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "stop");

    let no_question =
        app.post_json("/v1/chat/completions", &json!({"messages": [{"role": "system", "content": "x"}]})).await;
    assert_eq!(no_question.status(), 400);
    app.stop().await;
}
