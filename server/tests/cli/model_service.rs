//! The model served apart from the web tier: `lore serve-model` with the smallest real model, and
//! `lore ask` using it through `generation.url` (its own model file pointed nowhere, so that only the
//! remote one can answer); keys, bounds and a server that never answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::ingest::sample_folder;
use crate::workspace::{exits_within, kill, Workspace};

struct ModelServer {
    child: Child,
    url: String,
}

impl ModelServer {
    fn start(ws: &Workspace, key: Option<&str>) -> Self {
        let mut command = ws.command(&["serve-model", "--addr", "127.0.0.1:0"]);
        if let Some(key) = key {
            command.env("LORE_GENERATION__API_KEY", key);
        }
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("serve-model starts");
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split(" at http://").nth(1) {
                    let _ = sender.send(format!("http://{}", rest.split_whitespace().next().unwrap_or_default()));
                }
            }
        });
        let url = receiver.recv_timeout(Duration::from_secs(120)).expect("the model server starts");
        Self { child, url }
    }

    fn stop(mut self) {
        kill(&self.child, "-INT");
        exits_within(&mut self.child, Duration::from_secs(30));
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// One raw HTTP/1.1 exchange: status line and body.
fn http(url: &str, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}

#[test]
fn ask_answers_with_a_model_another_process_serves() {
    let ws = Workspace::new();
    sample_folder(&ws);
    ws.run_ok(&["ingest", ws.docs_path(), "--source", "handbook", "--quiet"]);
    let server = ModelServer::start(&ws, Some("s3cret"));

    let out = ws
        .command(&["ask", "On which day does the canteen serve soup?", "--json"])
        .env("LORE_GENERATION__URL", &server.url)
        .env("LORE_GENERATION__API_KEY", "s3cret")
        .env("LORE_GENERATION__MODEL", ws.dir.path().join("no-model-here.gguf"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(answer["answer"].is_string() && answer["abstained"].is_boolean(), "{answer}");

    // The raw API: streamed pieces and the end marker; no key, no answer; hostile bodies refused.
    let body = r#"{"messages":[{"role":"user","content":"Say hello."}],"stream":true,"max_tokens":8}"#;
    let (status, streamed) = http(&server.url, "POST", "/v1/chat/completions", &["Authorization: Bearer s3cret"], body);
    assert_eq!(status, 200, "{streamed}");
    assert!(streamed.contains("chat.completion.chunk") && streamed.contains("[DONE]"), "{streamed}");
    let (status, _) = http(&server.url, "POST", "/v1/chat/completions", &[], body);
    assert_eq!(status, 401);
    let (status, _) = http(&server.url, "POST", "/v1/chat/completions", &["Authorization: Bearer wrong!"], body);
    assert_eq!(status, 401);
    let (status, refused) =
        http(&server.url, "POST", "/v1/chat/completions", &["Authorization: Bearer s3cret"], r#"{"messages":[]}"#);
    assert_eq!(status, 400, "{refused}");
    let (status, counted) =
        http(&server.url, "POST", "/tokenize", &["Authorization: Bearer s3cret"], r#"{"content":"hello world"}"#);
    assert_eq!(status, 200);
    assert!(counted.contains("\"count\":"), "{counted}");
    let (status, _) = http(&server.url, "GET", "/healthz", &[], "");
    assert_eq!(status, 200, "health checks need no key");
    server.stop();
}

#[test]
fn serve_model_refuses_the_network_without_a_key() {
    let ws = Workspace::new();
    let out = ws.run(&["serve-model", "--addr", "0.0.0.0:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("generation.api_key"));
}

#[test]
fn a_model_server_that_never_answers_fails_the_question_in_bounded_time() {
    let ws = Workspace::new();
    sample_folder(&ws);
    ws.run_ok(&["ingest", ws.docs_path(), "--source", "handbook", "--quiet"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // accepted, never answered
        }
    });
    let started = Instant::now();
    let out = ws
        .command(&["ask", "On which day does the canteen serve soup?", "--json"])
        .env("LORE_GENERATION__URL", &url)
        .env("LORE_GENERATION__TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not") && stderr.contains(&url), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
