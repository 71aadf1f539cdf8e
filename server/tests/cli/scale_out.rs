//! Lore scaled out on loopback: a PostgreSQL catalog and queue, a Qdrant server, two `lore worker`s and
//! two `lore serve --no-worker` replicas. A folder added through one replica is searched and asked
//! through the other, deleted, and a worker killed in the middle of a sync loses nothing. Needs a Qdrant
//! server (`LORE_TEST_QDRANT_URL`); skipped, loudly, without one.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lore_core::qdrant_server::{QdrantServerIndex, ServerSettings};
use serde_json::{json, Value};

use crate::workspace::{exits_within, kill, wait_until, Workspace};

struct Cluster {
    workspace: Workspace,
    catalog_url: String,
    vectors_url: String,
    collection: String,
    workers: Vec<Child>,
    webs: Vec<(Child, String)>,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Cluster {
    fn start(vectors_url: String) -> Self {
        let workspace = Workspace::new();
        let collection = format!("lore_e2e_{}", std::process::id());
        let mut cluster = Self {
            catalog_url: lore_testkit::postgres::database(),
            vectors_url,
            collection,
            workers: Vec::new(),
            webs: Vec::new(),
            client: reqwest::Client::new(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
            workspace,
        };
        for name in ["worker-a", "worker-b"] {
            let worker = cluster.worker(name);
            cluster.workers.push(worker);
        }
        for name in ["web-a", "web-b"] {
            let web = cluster.web(name);
            cluster.webs.push(web);
        }
        cluster
    }

    fn command(&self, args: &[&str], data_dir: &Path) -> std::process::Command {
        let mut command = self.workspace.command(args);
        command
            .arg("--data-dir")
            .arg(data_dir)
            .env("LORE_CATALOG__URL", &self.catalog_url)
            .env("LORE_VECTORS__URL", &self.vectors_url)
            .env("LORE_VECTORS__COLLECTION", &self.collection)
            .env("LORE_QUEUE__LEASE_SECS", "4")
            .env("LORE_QUEUE__BACKOFF_SECS", "0")
            .env("LORE_SERVER__RESYNC_MINUTES", "0")
            .env("LORE_SERVER__SOURCE_ROOTS", format!("[\"{}\"]", self.workspace.docs_path()));
        command
    }

    fn worker(&self, name: &str) -> Child {
        let data_dir = self.workspace.dir.path().join(name);
        self.command(&["worker", "--name", name], &data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("lore worker starts")
    }

    /// A replica on a free port; returns it with its URL (read from its first line on stderr).
    fn web(&self, name: &str) -> (Child, String) {
        let data_dir = self.workspace.dir.path().join(name);
        let mut child = self
            .command(&["serve", "--no-worker", "--addr", "127.0.0.1:0"], &data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lore serve starts");
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("Lore is serving ").nth(1) {
                    let _ = sender.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
            }
        });
        let url = receiver.recv_timeout(Duration::from_secs(120)).expect("the replica starts serving");
        (child, url)
    }

    fn url(&self, web: usize) -> &str {
        &self.webs[web].1
    }

    fn get(&self, web: usize, path: &str) -> Value {
        let url = format!("{}{path}", self.url(web));
        self.runtime.block_on(async {
            let response = self.client.get(&url).send().await.unwrap();
            assert!(response.status().is_success(), "GET {url}: {}", response.status());
            response.json().await.unwrap()
        })
    }

    fn send(&self, web: usize, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::StatusCode {
        let url = format!("{}{path}", self.url(web));
        self.runtime.block_on(async {
            let mut request = self.client.request(method, &url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request.send().await.unwrap().status()
        })
    }

    fn search(&self, web: usize, query: &str) -> Vec<Value> {
        let hits = self.get(web, &format!("/api/search?q={}", query.replace(' ', "+")));
        hits["hits"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the replica's language model has loaded (`/readyz`): it searches at once, answers
    /// only then.
    fn wait_until_ready(&self, web: usize, timeout: Duration) {
        let url = format!("{}/readyz", self.url(web));
        wait_until(&format!("replica {web} is ready"), timeout, || {
            self.runtime.block_on(async { self.client.get(&url).send().await.unwrap().status() }).is_success()
        });
    }

    /// Waits until the replica's status shows nothing queued or running and `done` finished jobs.
    fn wait_for_jobs(&self, web: usize, done: usize, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let status = self.get(web, "/api/ingest");
            let idle = status["queued"].as_array().is_some_and(Vec::is_empty)
                && status["running_jobs"].as_array().is_some_and(Vec::is_empty);
            if idle && status["recent"].as_array().map_or(0, Vec::len) >= done {
                return status;
            }
            assert!(started.elapsed() < timeout, "jobs not finished after {timeout:?}: {status:#}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn stop(mut self) {
        let webs = std::mem::take(&mut self.webs).into_iter().map(|(child, _)| child);
        for mut child in webs.chain(std::mem::take(&mut self.workers)) {
            if child.try_wait().unwrap().is_none() {
                kill(&child, "-INT");
                exits_within(&mut child, Duration::from_secs(60));
            }
        }
        let check = self.command(&["status", "--check"], &self.workspace.dir.path().join("checker")).output().unwrap();
        assert!(check.status.success(), "the stores disagree:\n{}", String::from_utf8_lossy(&check.stdout));
    }
}

impl Drop for Cluster {
    /// The processes and the test's collection go, whatever happened.
    fn drop(&mut self) {
        for child in self.webs.iter_mut().map(|(child, _)| child).chain(self.workers.iter_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let settings = ServerSettings {
            url: self.vectors_url.clone(),
            api_key: None,
            collection: self.collection.clone(),
            dimensions: lore_core::config::Config::default().embedding.dimensions,
            on_disk: false,
            batch_size: 64,
            timeout: Duration::from_secs(10),
            retries: 1,
        };
        if let Err(error) = QdrantServerIndex::connect(settings).and_then(|index| index.delete_collection()) {
            eprintln!("cannot delete the test collection {}: {error}", self.collection);
        }
    }
}

fn folder(workspace: &Workspace, name: &str, files: usize) {
    for n in 0..files {
        workspace.write(
            &format!("{name}/page-{n}.md"),
            format!("# {name} page {n}\n\nThe {name} team keeps rota number {n} on this page.\n"),
        );
    }
}

#[test]
fn two_workers_and_two_replicas_share_one_catalog_and_one_qdrant_server() {
    let Some(vectors_url) = std::env::var("LORE_TEST_QDRANT_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("SKIPPED the scale-out end-to-end run: set LORE_TEST_QDRANT_URL=http://127.0.0.1:6334");
        return;
    };
    let cluster = Cluster::start(vectors_url);
    let docs = cluster.workspace.docs.clone();
    cluster.workspace.write(
        "handbook/vpn.md",
        "# Remote access\n\nConnect to the corporate VPN with the Lore client before opening the wiki from a hotel.\n",
    );
    let added = cluster.send(
        0,
        reqwest::Method::POST,
        "/api/sources",
        Some(json!({"path": docs.join("handbook").to_str().unwrap(), "name": "handbook"})),
    );
    assert!(added.is_success(), "adding a source through replica A: {added}");

    // Replica B shows the job replica A queued and a worker ran; it searches and answers from it.
    let status = cluster.wait_for_jobs(1, 1, Duration::from_secs(180));
    assert_eq!(status["recent"][0]["outcome"], "completed", "{status:#}");
    let hits = cluster.search(1, "vpn hotel");
    assert_eq!(hits.first().map(|h| h["document_path"].clone()), Some(json!("vpn.md")), "{hits:?}");
    cluster.wait_until_ready(1, Duration::from_secs(120));
    let answer = cluster.runtime.block_on(async {
        let url = format!("{}/api/ask", cluster.url(1));
        let response = cluster
            .client
            .post(&url)
            .json(&json!({"question": "How do I reach the wiki from a hotel?"}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.unwrap()
    });
    assert!(answer.contains("event: answer"), "the stream ends with the answer: {answer}");

    // Deleted through replica B, gone from replica A's search (its cached results too).
    assert!(!cluster.search(0, "vpn hotel").is_empty());
    let removed = cluster.send(1, reqwest::Method::DELETE, "/api/sources/handbook", None);
    assert!(removed.is_success(), "{removed}");
    cluster.wait_for_jobs(0, 2, Duration::from_secs(120));
    assert!(cluster.search(0, "vpn hotel").is_empty(), "a removed source is gone on every replica");

    // A worker killed in the middle of a sync: the other takes the job over when the lease runs out.
    folder(&cluster.workspace, "rota", 300);
    let mut cluster = cluster;
    let added = cluster.send(
        0,
        reqwest::Method::POST,
        "/api/sources",
        Some(json!({"path": docs.join("rota").to_str().unwrap(), "name": "rota"})),
    );
    assert!(added.is_success());
    let started = Instant::now();
    let running = loop {
        let status = cluster.get(1, "/api/ingest");
        let job = status["running_jobs"].as_array().and_then(|jobs| jobs.first().cloned());
        if let Some(job) = job.filter(|j| j["progress"]["done"].as_u64().unwrap_or(0) > 0) {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the rota sync never got going: {status:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let holder = running["worker"].as_str().unwrap().to_string();
    let index = if holder == "worker-a" { 0 } else { 1 };
    let mut doomed = cluster.workers.remove(index);
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    let status = cluster.wait_for_jobs(1, 3, Duration::from_secs(300));
    let rota = status["recent"].as_array().unwrap().iter().find(|j| j["source"] == "rota").cloned().unwrap();
    assert_eq!(rota["outcome"], "completed", "{rota:#}");
    let hits = cluster.search(0, "rota number 299");
    assert!(hits.iter().any(|h| h["document_path"] == "page-299.md"), "{hits:?}");
    let sources = cluster.get(1, "/api/sources");
    let rota = sources["sources"].as_array().unwrap().iter().find(|s| s["name"] == "rota").cloned().unwrap();
    assert_eq!(rota["documents"], 300, "every file once: {rota:#}");
    cluster.stop();
}
