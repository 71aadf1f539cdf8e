//! `spawn_app`: the whole server (real models, real stores) on port 0 with a fresh data directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lore_core::config::Config;
use lore_web::{Application, ServeOptions};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    /// A folder of documents the tests fill (not yet a source).
    pub docs: PathBuf,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The app with a tweaked configuration (principal header, queue sizes...).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("company-docs");
    std::fs::create_dir_all(&docs).unwrap();
    let data_dir = dir.path().join("data");
    let mut config = lore_testkit::config(&data_dir);
    config.server.resync_minutes = 0;
    config.server.source_roots = vec![dir.path().to_path_buf()];
    tweak(&mut config);
    let options = ServeOptions { addr: "127.0.0.1:0".parse().unwrap(), ingest: Vec::new(), no_worker: false };
    let app = Application::build(config, options).await.expect("the app builds");
    let url = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestApp { url, client, docs, data_dir, stop: Some(stop), server: Some(server), _dir: dir }
}

impl TestApp {
    pub fn write(&self, relative: &str, bytes: impl AsRef<[u8]>) {
        let path = self.docs.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub fn docs_path(&self) -> &Path {
        &self.docs
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.url)).send().await.expect("the server answers")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path} gave no JSON ({e}): {body}"))
    }

    /// `get_json` with extra headers (a principal header, say).
    pub async fn get_json_as(&self, path: &str, headers: &[(&str, &str)]) -> Value {
        let mut request = self.client.get(format!("{}{path}", self.url));
        for (key, value) in headers {
            request = request.header(*key, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path} gave no JSON ({e}): {body}"))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.url)).json(body).send().await.expect("the server answers")
    }

    /// Adds the docs folder as source `name` (with `acl`) and waits until the worker has indexed it.
    pub async fn add_source(&self, name: &str, acl: &[&str], headers: &[(&str, &str)]) {
        let mut request = self
            .client
            .post(format!("{}/api/sources", self.url))
            .json(&serde_json::json!({"path": self.docs, "name": name, "acl": acl}));
        for (key, value) in headers {
            request = request.header(*key, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        assert_eq!(status, 202, "{}", response.text().await.unwrap());
        self.wait_for_ingest(headers).await;
    }

    /// Waits until the ingestion worker is idle with at least one finished job; returns its status.
    pub async fn wait_for_ingest(&self, headers: &[(&str, &str)]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let mut request = self.client.get(format!("{}/api/ingest", self.url));
            for (key, value) in headers {
                request = request.header(*key, *value);
            }
            let status: Value = request.send().await.unwrap().json().await.unwrap();
            let idle = status["running"].is_null() && status["queued"].as_array().is_some_and(|q| q.is_empty());
            if idle && status["recent"].as_array().is_some_and(|r| !r.is_empty()) {
                return status;
            }
            assert!(Instant::now() < deadline, "ingestion did not finish: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the language model is loaded.
    pub async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let response = self.get("/readyz").await;
            if response.status() == 200 {
                return;
            }
            let body: Value = response.json().await.unwrap();
            assert_ne!(body["model"], "failed", "the model failed to load: {body}");
            assert!(Instant::now() < deadline, "the model did not load: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server as Ctrl-C would and waits for it to finish; the returned directory holds the
    /// data directory until it drops.
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server task does not panic").expect("the server stops cleanly");
        }
        self._dir
    }
}

/// Server-sent events as (name, JSON data) pairs, read to the end of the stream.
pub async fn read_events(response: reqwest::Response) -> Vec<(String, Value)> {
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = "message".to_string();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if data.is_empty() {
                return None;
            }
            let joined = data.join("\n");
            let value = serde_json::from_str(&joined).unwrap_or(Value::String(joined));
            Some((name, value))
        })
        .collect()
}

/// The sorted keys of a JSON object.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> =
        value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().cloned().collect();
    keys.sort();
    keys
}
